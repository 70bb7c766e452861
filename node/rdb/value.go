package rdb

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Kind is the Redis type of a Value.
type Kind byte

// The types a DUMP payload carries here. Streams are not among them yet
// (see decodeStream).
const (
	KindString Kind = iota + 1
	KindList
	KindSet
	KindHash
	KindZSet
)

// The RDB object types (Redis's RDB_TYPE_*) a 7.0 payload may start with.
const (
	typeString          = 0
	typeList            = 1
	typeSet             = 2
	typeZSet            = 3
	typeHash            = 4
	typeZSet2           = 5
	typeModule          = 6
	typeModule2         = 7
	typeHashZipmap      = 9
	typeListZiplist     = 10
	typeSetIntset       = 11
	typeZSetZiplist     = 12
	typeHashZiplist     = 13
	typeListQuicklist   = 14
	typeStreamListpacks = 15
	typeHashListpack    = 16
	typeZSetListpack    = 17
	typeListQuicklist2  = 18
	typeStreamListpack2 = 19
)

// The containers of a quicklist (type 18) node.
const (
	qlPlain  = 1
	qlPacked = 2
)

// ZMember is one member of a sorted set.
type ZMember struct {
	Member []byte
	Score  float64
}

// Value is a key's value as DUMP writes it and RESTORE reads it. Only the
// field of its Kind is used: Str (a string), Items (a list's items in
// order, or a set's members), Fields (a hash's field and value pairs) or
// ZSet (a sorted set's members).
type Value struct {
	Kind   Kind
	Str    []byte
	Items  [][]byte
	Fields [][2][]byte
	ZSet   []ZMember
}

// Limits are the redis.conf parameters that choose a value's encoding.
type Limits struct {
	HashEntries, HashValue int64 // hash-max-listpack-entries, -value
	ZSetEntries, ZSetValue int64 // zset-max-listpack-entries, -value
	SetIntsetEntries       int64 // set-max-intset-entries
	ListSize               int64 // list-max-listpack-size
	Compress               bool  // rdbcompression
}

// DefaultLimits are redis-server 7.0's defaults.
func DefaultLimits() Limits {
	return Limits{HashEntries: 512, HashValue: 64, ZSetEntries: 128, ZSetValue: 64,
		SetIntsetEntries: 512, ListSize: -2, Compress: true}
}

// The encodings OBJECT ENCODING names.
const (
	EncInt       = "int"
	EncEmbstr    = "embstr"
	EncRaw       = "raw"
	EncListpack  = "listpack"
	EncHashtable = "hashtable"
	EncIntset    = "intset"
	EncSkiplist  = "skiplist"
	EncQuicklist = "quicklist"
)

// embstrMax is the longest string Redis 7.0 keeps embedded with its object.
const embstrMax = 44

// StringEncoding is the encoding redis-server 7.0 gives a string value
// set by SET: int for the canonical decimal form of an int64 of at most
// 20 bytes, embstr up to 44 bytes, raw beyond.
func StringEncoding(s []byte) string {
	if _, ok := canonicalInt(s); ok {
		return EncInt
	}
	if len(s) <= embstrMax {
		return EncEmbstr
	}
	return EncRaw
}

// HashEncoding is a hash's encoding given its length and its longest
// field or value.
func (l Limits) HashEncoding(n, maxLen int) string {
	if int64(n) <= l.HashEntries && int64(maxLen) <= l.HashValue {
		return EncListpack
	}
	return EncHashtable
}

// ZSetEncoding is a sorted set's encoding given its length and its
// longest member.
func (l Limits) ZSetEncoding(n, maxLen int) string {
	if int64(n) <= l.ZSetEntries && int64(maxLen) <= l.ZSetValue {
		return EncListpack
	}
	return EncSkiplist
}

// SetEncoding is a set's encoding given its length and whether every
// member is an integer (canonical int64).
func (l Limits) SetEncoding(n int, allInts bool) string {
	if allInts && int64(n) <= l.SetIntsetEntries {
		return EncIntset
	}
	return EncHashtable
}

// IsInt reports whether s is an integer as Redis's intsets take them.
func IsInt(s []byte) bool {
	_, ok := canonicalInt(s)
	return ok
}

// Encode returns the DUMP payload redis-server 7.0 writes for v under the
// limits l: the RDB type and object in the encoding Redis would keep v in
// (listpack, intset, a quicklist of listpacks, or the plain ones beyond
// the limits), then the trailer. A list is laid out in quicklist nodes as
// RPUSH of its items in order fills them; a set's or hash's members go in
// the order given, where Redis's own order is its hash table's.
func Encode(v *Value, l Limits) []byte {
	var b []byte
	switch v.Kind {
	case KindString:
		b = append(b, typeString)
		b = AppendString(b, v.Str, l.Compress)
	case KindList:
		b = encodeList(append(b, typeListQuicklist2), v.Items, l)
	case KindSet:
		b = encodeSet(b, v.Items, l)
	case KindHash:
		b = encodeHash(b, v.Fields, l)
	case KindZSet:
		b = encodeZSet(b, v.ZSet, l)
	}
	return Seal(b)
}

// quicklist node limits (Redis's quicklist.c): a negative fill is a size
// class, a positive one an entry count under the safety limit.
var qlSizeClasses = [...]int{4096, 8192, 16384, 32768, 65536}

const (
	qlSafetyLimit      = 8192
	qlEstimateOverhead = 8
	qlFillMax          = 1 << 15
)

// qlAllowInsert is _quicklistNodeAllowInsert: whether an item of sz bytes
// still goes into a node of nodeSize bytes and count items.
func qlAllowInsert(nodeSize, count, sz int, fill int64) bool {
	newSz := nodeSize + sz + qlEstimateOverhead
	if fill < 0 {
		off := -fill - 1
		if off >= int64(len(qlSizeClasses)) {
			off = int64(len(qlSizeClasses)) - 1
		}
		if newSz <= qlSizeClasses[off] {
			return true
		}
	}
	if newSz > qlSafetyLimit {
		return false
	}
	if fill > qlFillMax {
		fill = qlFillMax
	}
	return int64(count) < fill
}

func encodeList(b []byte, items [][]byte, l Limits) []byte {
	var nodes [][]byte
	var lp *listpack
	for _, it := range items {
		if lp != nil && !qlAllowInsert(lp.size(), lp.n, len(it), l.ListSize) {
			nodes = append(nodes, lp.bytes())
			lp = nil
		}
		if lp == nil {
			lp = newListpack()
		}
		lp.appendEntry(it)
	}
	if lp != nil {
		nodes = append(nodes, lp.bytes())
	}
	b = AppendLen(b, uint64(len(nodes)))
	for _, n := range nodes {
		b = AppendLen(b, qlPacked)
		b = AppendString(b, n, l.Compress)
	}
	return b
}

func encodeSet(b []byte, members [][]byte, l Limits) []byte {
	if int64(len(members)) <= l.SetIntsetEntries {
		vals := make([]int64, 0, len(members))
		for _, m := range members {
			v, ok := canonicalInt(m)
			if !ok {
				vals = nil
				break
			}
			vals = append(vals, v)
		}
		if vals != nil {
			slices.Sort(vals)
			b = append(b, typeSetIntset)
			return AppendString(b, appendIntset(nil, vals), l.Compress)
		}
	}
	b = append(b, typeSet)
	b = AppendLen(b, uint64(len(members)))
	for _, m := range members {
		b = AppendString(b, m, l.Compress)
	}
	return b
}

func encodeHash(b []byte, fields [][2][]byte, l Limits) []byte {
	maxLen := 0
	for _, f := range fields {
		maxLen = max(maxLen, len(f[0]), len(f[1]))
	}
	if l.HashEncoding(len(fields), maxLen) == EncListpack {
		lp := newListpack()
		for _, f := range fields {
			lp.appendEntry(f[0])
			lp.appendEntry(f[1])
		}
		b = append(b, typeHashListpack)
		return AppendString(b, lp.bytes(), l.Compress)
	}
	b = append(b, typeHash)
	b = AppendLen(b, uint64(len(fields)))
	for _, f := range fields {
		b = AppendString(b, f[0], l.Compress)
		b = AppendString(b, f[1], l.Compress)
	}
	return b
}

// SortZSet orders members as a sorted set keeps them: by score, then
// member bytes.
func SortZSet(z []ZMember) {
	sort.Slice(z, func(i, j int) bool {
		if z[i].Score != z[j].Score {
			return z[i].Score < z[j].Score
		}
		return bytes.Compare(z[i].Member, z[j].Member) < 0
	})
}

// FormatScore writes a score as Redis's d2string does for a listpack: an
// integer in (-2^52, 2^52) in decimal, infinities as inf and -inf, others
// as %.17g.
func FormatScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

func encodeZSet(b []byte, z []ZMember, l Limits) []byte {
	z = slices.Clone(z)
	SortZSet(z)
	maxLen := 0
	for _, m := range z {
		maxLen = max(maxLen, len(m.Member))
	}
	if l.ZSetEncoding(len(z), maxLen) == EncListpack {
		lp := newListpack()
		var buf [32]byte
		for _, m := range z {
			lp.appendEntry(m.Member)
			lp.appendEntry(FormatScore(buf[:0], m.Score))
		}
		b = append(b, typeZSetListpack)
		return AppendString(b, lp.bytes(), l.Compress)
	}
	// Redis saves a skiplist from its greatest member down.
	b = append(b, typeZSet2)
	b = AppendLen(b, uint64(len(z)))
	for i := len(z) - 1; i >= 0; i-- {
		b = AppendString(b, z[i].Member, l.Compress)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(z[i].Score))
	}
	return b
}

// ErrBadFormat is RESTORE's reply to a payload whose trailer is right but
// whose object cannot be read.
const ErrBadFormat Error = "ERR Bad data format"

// errBadBlob: a listpack, ziplist, zipmap or intset is malformed.
const errBadBlob formatError = "malformed encoded blob"

// errDuplicate: a set, hash or sorted set names a member twice.
const errDuplicate formatError = "duplicate member"

// Decode reads a DUMP payload as redis-server 7.0's RESTORE does: the
// trailer (ErrPayload when the version is newer or the checksum wrong),
// then one object of any type and encoding Redis 7.0 reads, from the
// plain and listpack ones it writes to the ziplist, zipmap and quicklist
// ones of older versions. Anything it cannot read (a truncated or
// malformed object, an empty collection, a duplicate member, a NaN score,
// a stream or module type) is ErrBadFormat. Bytes after the object are
// ignored, and an object that runs into the trailer reads its bytes, as
// in Redis. The Value's slices may alias payload.
func Decode(payload []byte) (*Value, error) {
	if _, _, err := Open(payload); err != nil {
		return nil, err
	}
	// Redis reads the object from the whole payload: an object that runs
	// into the trailer takes its bytes, as it does.
	d := NewDecoder(payload)
	v, err := d.readObject()
	if err != nil {
		return nil, ErrBadFormat
	}
	return v, nil
}

func (d *Decoder) readObject() (*Value, error) {
	t, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	switch t {
	case typeString:
		s, err := d.ReadString()
		return &Value{Kind: KindString, Str: s}, err
	case typeList, typeSet:
		items, err := d.readStrings()
		if err != nil {
			return nil, err
		}
		if t == typeSet {
			return setValue(items)
		}
		return &Value{Kind: KindList, Items: items}, nil
	case typeHash:
		items, err := d.readStringsN(2)
		if err != nil {
			return nil, err
		}
		return hashValue(items)
	case typeZSet, typeZSet2:
		return d.readZSet(t == typeZSet2)
	case typeHashZipmap:
		blob, err := d.ReadString()
		if err != nil {
			return nil, err
		}
		var items [][]byte
		err = readZipmap(blob, func(f, v []byte) error {
			items = append(items, f, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return hashValue(items)
	case typeListZiplist, typeZSetZiplist, typeHashZiplist,
		typeHashListpack, typeZSetListpack, typeSetIntset:
		blob, err := d.ReadString()
		if err != nil {
			return nil, err
		}
		return blobValue(t, blob)
	case typeListQuicklist, typeListQuicklist2:
		return d.readQuicklist(t == typeListQuicklist2)
	case typeStreamListpacks, typeStreamListpack2:
		return decodeStream(d, t)
	}
	return nil, errBadBlob
}

// decodeStream reads a stream payload: not yet, so every one is refused.
// Streams arrive as a Value kind of their own; this is where they load.
func decodeStream(*Decoder, byte) (*Value, error) { return nil, errBadBlob }

// maxPrealloc bounds what a declared count reserves ahead: a count is
// at most the payload's length, but a slice header or map entry per byte
// would still multiply it; beyond this, room grows with what is read.
const maxPrealloc = 1024

// readStrings reads an RDB length then that many RDB strings; an empty
// collection is an error, as Redis refuses empty keys.
func (d *Decoder) readStrings() ([][]byte, error) { return d.readStringsN(1) }

// readStringsN reads an RDB length n then n*per strings.
func (d *Decoder) readStringsN(per int) ([][]byte, error) {
	n, _, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errBadBlob
	}
	// Every string takes at least one byte: a count the payload cannot
	// hold is refused before anything is allocated for it.
	if n > uint64(d.Len()) || n*uint64(per) > uint64(d.Len()) {
		return nil, errTooLong
	}
	items := make([][]byte, 0, min(n*uint64(per), maxPrealloc))
	for i := uint64(0); i < n*uint64(per); i++ {
		s, err := d.ReadString()
		if err != nil {
			return nil, err
		}
		items = append(items, s)
	}
	return items, nil
}

func setValue(items [][]byte) (*Value, error) {
	if len(items) == 0 {
		return nil, errBadBlob
	}
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		if _, dup := seen[string(it)]; dup {
			return nil, errDuplicate
		}
		seen[string(it)] = struct{}{}
	}
	return &Value{Kind: KindSet, Items: items}, nil
}

// hashValue pairs up items (field, value, field, value, ...).
func hashValue(items [][]byte) (*Value, error) {
	if len(items) == 0 || len(items)%2 != 0 {
		return nil, errBadBlob
	}
	v := &Value{Kind: KindHash, Fields: make([][2][]byte, 0, len(items)/2)}
	seen := make(map[string]struct{}, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		if _, dup := seen[string(items[i])]; dup {
			return nil, errDuplicate
		}
		seen[string(items[i])] = struct{}{}
		v.Fields = append(v.Fields, [2][]byte{items[i], items[i+1]})
	}
	return v, nil
}

// zsetValue pairs up items (member, score, ...), scores as text.
func zsetValue(items [][]byte) (*Value, error) {
	if len(items) == 0 || len(items)%2 != 0 {
		return nil, errBadBlob
	}
	v := &Value{Kind: KindZSet, ZSet: make([]ZMember, 0, len(items)/2)}
	seen := make(map[string]struct{}, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		f, ok := parseScore(items[i+1])
		if !ok {
			return nil, errBadBlob
		}
		if _, dup := seen[string(items[i])]; dup {
			return nil, errDuplicate
		}
		seen[string(items[i])] = struct{}{}
		v.ZSet = append(v.ZSet, ZMember{Member: items[i], Score: f})
	}
	return v, nil
}

// parseScore reads a score written as text (strtod's forms, inf among
// them); NaN is refused.
func parseScore(s []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		// strtod takes an out-of-range value as +-inf (HUGE_VAL).
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, !math.IsNaN(f)
}

// blobValue reads a collection held in one encoded blob.
func blobValue(t byte, blob []byte) (*Value, error) {
	var items [][]byte
	collect := func(e []byte) error {
		items = append(items, bytes.Clone(e))
		return nil
	}
	var err error
	switch t {
	case typeSetIntset:
		err = readIntset(blob, func(v int64) error {
			items = append(items, strconv.AppendInt(nil, v, 10))
			return nil
		})
	case typeListZiplist, typeZSetZiplist, typeHashZiplist:
		err = readZiplist(blob, collect)
	default:
		err = readListpack(blob, collect)
	}
	if err != nil {
		return nil, err
	}
	switch t {
	case typeSetIntset:
		return setValue(items)
	case typeListZiplist:
		if len(items) == 0 {
			return nil, errBadBlob
		}
		return &Value{Kind: KindList, Items: items}, nil
	case typeZSetZiplist, typeZSetListpack:
		return zsetValue(items)
	}
	return hashValue(items)
}

func (d *Decoder) readZSet(binary2 bool) (*Value, error) {
	n, _, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errBadBlob
	}
	if n > uint64(d.Len())/2 {
		return nil, errTooLong
	}
	v := &Value{Kind: KindZSet, ZSet: make([]ZMember, 0, min(n, maxPrealloc))}
	seen := make(map[string]struct{}, min(n, maxPrealloc))
	for i := uint64(0); i < n; i++ {
		m, err := d.ReadString()
		if err != nil {
			return nil, err
		}
		var f float64
		if binary2 {
			b, err := d.next(8)
			if err != nil {
				return nil, err
			}
			f = math.Float64frombits(binary.LittleEndian.Uint64(b))
		} else if f, err = d.readTextScore(); err != nil {
			return nil, err
		}
		if math.IsNaN(f) {
			return nil, errBadBlob
		}
		if _, dup := seen[string(m)]; dup {
			return nil, errDuplicate
		}
		seen[string(m)] = struct{}{}
		v.ZSet = append(v.ZSet, ZMember{Member: m, Score: f})
	}
	return v, nil
}

// readTextScore reads rdbLoadDoubleValue's form: a length byte (253 NaN,
// 254 +inf, 255 -inf) then that many bytes of decimal text.
func (d *Decoder) readTextScore() (float64, error) {
	c, err := d.ReadByte()
	if err != nil {
		return 0, err
	}
	switch c {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b, err := d.next(int(c))
	if err != nil {
		return 0, err
	}
	f, ok := parseScore(b)
	if !ok {
		return 0, errBadBlob
	}
	return f, nil
}

func (d *Decoder) readQuicklist(v2 bool) (*Value, error) {
	n, _, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	if n == 0 || n > uint64(d.Len()) {
		return nil, errTooLong
	}
	var items [][]byte
	collect := func(e []byte) error {
		items = append(items, bytes.Clone(e))
		return nil
	}
	for i := uint64(0); i < n; i++ {
		container := uint64(qlPacked)
		if v2 {
			if container, _, err = d.ReadLen(); err != nil {
				return nil, err
			}
			if container != qlPlain && container != qlPacked {
				return nil, errBadBlob
			}
		}
		blob, err := d.ReadString()
		if err != nil {
			return nil, err
		}
		switch {
		case container == qlPlain:
			items = append(items, bytes.Clone(blob))
		case v2:
			err = readListpack(blob, collect)
		default:
			err = readZiplist(blob, collect)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, errBadBlob
	}
	return &Value{Kind: KindList, Items: items}, nil
}
