package command

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/node/rdb"
	"github.com/pika-node/pika-node/storage"
)

// registerDump registers DUMP, RESTORE, OBJECT and MEMORY: a key's value
// as a redis-server 7.0 payload (node/rdb), and what redis-server would say
// of its encoding and size.
func registerDump(t *Table) {
	t.Register(
		Spec{Name: "dump", Arity: 2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdDump},
		Spec{Name: "restore", Arity: -4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdRestore},
		Spec{Name: "object", Arity: -2, Flags: ReadOnly, Keys: subcommandKey("encoding", "refcount", "idletime", "freq"), Handler: cmdObject},
		Spec{Name: "memory", Arity: -2, Flags: ReadOnly, Keys: subcommandKey("usage"), Handler: cmdMemory},
	)
}

// subcommandKey is the Keys of OBJECT and MEMORY: the key after one of
// the subcommands that take one, none otherwise (HELP, STATS, ...).
func subcommandKey(subs ...string) func(args [][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) {
		if len(args) < 3 {
			return nil, nil
		}
		for _, s := range subs {
			if isArg(args[1], s) {
				return [][]byte{args[2]}, nil
			}
		}
		return nil, nil
	}
}

// limits are the encoding thresholds now configured (CONFIG SET of
// hash-max-listpack-entries and the others on this node), Redis's defaults
// where the node gives none.
func (c *Ctx) limits() rdb.Limits {
	l := rdb.DefaultLimits()
	if c.Config == nil {
		return l
	}
	get := func(name string, into *int64) {
		if v, err := strconv.ParseInt(c.Config(name), 10, 64); err == nil {
			*into = v
		}
	}
	get("hash-max-listpack-entries", &l.HashEntries)
	get("hash-max-listpack-value", &l.HashValue)
	get("zset-max-listpack-entries", &l.ZSetEntries)
	get("zset-max-listpack-value", &l.ZSetValue)
	get("set-max-intset-entries", &l.SetIntsetEntries)
	get("list-max-listpack-size", &l.ListSize)
	if v := c.Config("rdbcompression"); v != "" {
		l.Compress = v == "yes"
	}
	return l
}

// valueOf turns a key read out of storage into the value DUMP writes.
func valueOf(d *dumped) *rdb.Value {
	v := &rdb.Value{}
	switch d.m.Type {
	case storage.TypeString:
		v.Kind, v.Str = rdb.KindString, d.m.Value
	case storage.TypeList:
		v.Kind = rdb.KindList
		for _, mv := range d.members {
			v.Items = append(v.Items, mv[1])
		}
	case storage.TypeSet:
		v.Kind = rdb.KindSet
		for _, mv := range d.members {
			v.Items = append(v.Items, mv[0])
		}
	case storage.TypeHash:
		v.Kind = rdb.KindHash
		v.Fields = d.members
	case storage.TypeZSet:
		v.Kind = rdb.KindZSet
		for _, mv := range d.members {
			v.ZSet = append(v.ZSet, rdb.ZMember{Member: mv[0], Score: storage.DecodeScore(mv[1])})
		}
	}
	return v
}

// dumpedOf is valueOf's reverse: the members storage keeps for v.
func dumpedOf(v *rdb.Value, expireMS int64) *dumped {
	d := &dumped{m: storage.Meta{ExpireMS: expireMS}}
	switch v.Kind {
	case rdb.KindString:
		d.m.Type, d.m.Value = storage.TypeString, v.Str
	case rdb.KindList:
		d.m.Type = storage.TypeList
		d.m.Head = storage.ListInitialIndex
		for i, it := range v.Items {
			d.members = append(d.members, [2][]byte{storage.ListMember(d.m.Head + uint64(i)), it})
		}
		d.m.Tail = d.m.Head + uint64(len(v.Items))
	case rdb.KindSet:
		d.m.Type = storage.TypeSet
		for _, it := range v.Items {
			d.members = append(d.members, [2][]byte{it, nil})
		}
	case rdb.KindHash:
		d.m.Type = storage.TypeHash
		d.members = v.Fields
	case rdb.KindZSet:
		d.m.Type = storage.TypeZSet
		for _, z := range v.ZSet {
			d.members = append(d.members, [2][]byte{z.Member, storage.EncodeScore(nil, z.Score)})
		}
	}
	d.m.Count = uint64(len(d.members))
	return d
}

// readValue reads key's live value: nil when it does not exist.
func readValue(c *Ctx, key []byte) (*dumped, error) {
	txn := c.Txn(key)
	m, ok, err := txn.Meta(key)
	if err != nil || !ok {
		return nil, err
	}
	return dumpKey(txn, key, m)
}

// cmdDump is DUMP key: the payload redis-server 7.0 would give (rdb.Encode
// under the thresholds now configured), nil for a missing key.
func cmdDump(c *Ctx) error {
	d, err := readValue(c, c.Args[1])
	if err != nil {
		return err
	}
	if d == nil {
		c.R.Null()
		return nil
	}
	if d.m.Type == storage.TypeStream {
		return errDumpStream
	}
	c.R.Bulk(rdb.Encode(valueOf(d), c.limits()))
	return nil
}

// errDumpStream refuses DUMP of a stream: its RDB form (listpacks in a
// radix tree, groups and PELs) is not written yet.
const errDumpStream = Error("ERR DUMP of a stream is not supported by pika-node yet")

// cmdRestore is RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s]
// [FREQ f], checking in Redis's order: the options, an existing key
// (BUSYKEY), the TTL, the payload's trailer, then its object. A TTL that
// is already past creates nothing (deleting the old key under REPLACE)
// and replies OK, as Redis does. IDLETIME and FREQ are checked and then
// ignored: keys here keep no access clock.
func cmdRestore(c *Ctx) error {
	key := c.Args[1]
	var replace, absTTL bool
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(c.Args); j++ {
		more := len(c.Args) - j - 1
		switch a := c.Args[j]; {
		case isArg(a, "replace"):
			replace = true
		case isArg(a, "absttl"):
			absTTL = true
		case isArg(a, "idletime") && more >= 1 && freq == -1:
			j++
			v, err := parseInt(c.Args[j])
			if err != nil {
				return err
			}
			if v < 0 {
				return Error("ERR Invalid IDLETIME value, must be >= 0")
			}
			idle = v
		case isArg(a, "freq") && more >= 1 && idle == -1:
			j++
			v, err := parseInt(c.Args[j])
			if err != nil {
				return err
			}
			if v < 0 || v > 255 {
				return Error("ERR Invalid FREQ value, must be >= 0 and <= 255")
			}
			freq = v
		default:
			return ErrSyntax
		}
	}
	txn := c.Txn(key)
	_, exists, err := txn.Meta(key)
	if err != nil {
		return err
	}
	if exists && !replace {
		return Error("BUSYKEY Target key name already exists.")
	}
	ttl, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	if ttl < 0 {
		return Error("ERR Invalid TTL value, must be >= 0")
	}
	v, err := rdb.Decode(c.Args[3])
	if err != nil {
		var re rdb.Error
		if errors.As(err, &re) {
			return Error(string(re))
		}
		return err
	}
	now := c.NowMS()
	if ttl != 0 && !absTTL {
		if ttl > math.MaxInt64-now {
			ttl = math.MaxInt64
		} else {
			ttl += now
		}
	}
	if ttl != 0 && ttl <= now {
		if exists {
			if err := txn.DeleteKey(key); err != nil {
				return err
			}
			c.Notify(EventGeneric, "del", key)
		}
		c.R.OK()
		return nil
	}
	if replace {
		// An old value (live or expired) goes first: its members are
		// under its own version.
		if err := txn.DeleteKey(key); err != nil {
			return err
		}
	}
	if err := dumpedOf(v, ttl).restore(txn, key); err != nil {
		return err
	}
	c.Notify(EventGeneric, "restore", key)
	c.R.OK()
	return nil
}

var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

var memoryHelp = []string{
	"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"DOCTOR",
	"    Return memory problems reports.",
	"MALLOC-STATS",
	"    Return internal statistics report from the memory allocator.",
	"PURGE",
	"    Attempt to purge dirty pages for reclamation by the allocator.",
	"STATS",
	"    Return information about the memory usage of the server.",
	"USAGE <key> [SAMPLES <count>]",
	"    Return memory in bytes used by <key> and its value. Nested values are",
	"    sampled up to <count> times (default: 5, 0 means sample all).",
	"HELP",
	"    Prints this help.",
}

// subcommand checks a container command's subcommand arity as Redis 7.0
// does (OBJECT|ENCODING is arity 3, ...), or refuses an unknown one, in
// Redis's words.
func subcommand(c *Ctx, parent string, subs map[string]int) (name string, err error) {
	for s, arity := range subs {
		if !isArg(c.Args[1], s) {
			continue
		}
		if (arity >= 0 && len(c.Args) != arity) || (arity < 0 && len(c.Args) < -arity) {
			return "", Error("ERR wrong number of arguments for '" + parent + "|" + s + "' command")
		}
		return s, nil
	}
	return "", Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try " + upper(parent) + " HELP.")
}

func upper(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 32
		}
	}
	return string(b)
}

func writeHelp(c *Ctx, lines []string) {
	c.R.Array(len(lines))
	for _, l := range lines {
		c.R.Simple(l)
	}
}

const lfuNote = " Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."

// cmdObject is OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key and OBJECT HELP.
// ENCODING answers what redis-server 7.0 would keep the value in, computed
// from its contents and the thresholds now configured (Redis never
// converts back, so a value that shrank below a threshold says listpack
// here where Redis may still say hashtable). REFCOUNT is 1, or Redis's
// 2147483647 for its shared integers (0 to 9999; a value set while
// maxmemory is set under an LRU or LFU policy is not shared in Redis, and
// would say 1 there). IDLETIME is 0 and FREQ
// (under an LFU maxmemory-policy) 0: no access clock is kept.
func cmdObject(c *Ctx) error {
	sub, err := subcommand(c, "object", map[string]int{"encoding": 3, "refcount": 3, "idletime": 3, "freq": 3, "help": 2})
	if err != nil {
		return err
	}
	if sub == "help" {
		writeHelp(c, objectHelp)
		return nil
	}
	key := c.Args[2]
	txn := c.Txn(key)
	m, ok, err := txn.Meta(key)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	// Redis shares the integers 0 to 9999 unless maxmemory is set under
	// an LRU or LFU policy (MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
	lfu, shared := false, true
	if c.Config != nil {
		p := c.Config("maxmemory-policy")
		lfu = p == "allkeys-lfu" || p == "volatile-lfu"
		if mm := c.Config("maxmemory"); mm != "" && mm != "0" {
			shared = !strings.Contains(p, "lru") && !lfu
		}
	}
	switch sub {
	case "encoding":
		enc, err := encodingOf(c, txn, key, m)
		if err != nil {
			return err
		}
		c.R.BulkString(enc)
	case "refcount":
		if m.Type == storage.TypeString && isSharedInt(m.Value) && shared {
			c.R.Int(math.MaxInt32)
		} else {
			c.R.Int(1)
		}
	case "idletime":
		if lfu {
			return Error("ERR An LFU maxmemory policy is selected, idle time not tracked." + lfuNote)
		}
		c.R.Int(0)
	case "freq":
		if !lfu {
			return Error("ERR An LFU maxmemory policy is not selected, access frequency not tracked." + lfuNote)
		}
		c.R.Int(0)
	}
	return nil
}

// isSharedInt: Redis answers a SET of 0 to 9999 with its shared integer
// objects.
func isSharedInt(s []byte) bool {
	if !rdb.IsInt(s) {
		return false
	}
	v, _ := strconv.ParseInt(string(s), 10, 64)
	return v >= 0 && v < 10000
}

// encodingOf is the encoding redis-server 7.0 would report for key's
// value: for a collection within its count threshold it reads the members
// to check their lengths (or, for a set, that all are integers).
func encodingOf(c *Ctx, txn *storage.Txn, key []byte, m storage.Meta) (string, error) {
	l := c.limits()
	switch m.Type {
	case storage.TypeString:
		return rdb.StringEncoding(m.Value), nil
	case storage.TypeList:
		return rdb.EncQuicklist, nil
	case storage.TypeStream:
		return "stream", nil
	}
	var limit int64
	switch m.Type {
	case storage.TypeHash:
		limit = l.HashEntries
	case storage.TypeZSet:
		limit = l.ZSetEntries
	case storage.TypeSet:
		limit = l.SetIntsetEntries
	}
	if int64(m.Count) > limit {
		switch m.Type {
		case storage.TypeZSet:
			return rdb.EncSkiplist, nil
		}
		return rdb.EncHashtable, nil
	}
	maxLen, allInts := 0, true
	err := txn.ScanMembers(key, m.Version, nil, false, func(member, value []byte) bool {
		maxLen = max(maxLen, len(member))
		if m.Type == storage.TypeHash {
			maxLen = max(maxLen, len(value))
		}
		if m.Type == storage.TypeSet && !rdb.IsInt(member) {
			allInts = false
			return false
		}
		return true
	})
	if err != nil {
		return "", err
	}
	switch m.Type {
	case storage.TypeHash:
		return l.HashEncoding(int(m.Count), maxLen), nil
	case storage.TypeZSet:
		return l.ZSetEncoding(int(m.Count), maxLen), nil
	}
	return l.SetEncoding(int(m.Count), allInts), nil
}

// cmdMemory is MEMORY USAGE|DOCTOR|MALLOC-STATS|PURGE|STATS|HELP. USAGE is
// memUsage's estimate of what redis-server would use for the key; STATS
// is refused (the data lives in RocksDB: see INFO); DOCTOR finds nothing
// to report; MALLOC-STATS says what Redis says without jemalloc.
func cmdMemory(c *Ctx) error {
	sub, err := subcommand(c, "memory", map[string]int{"usage": -3, "doctor": 2, "malloc-stats": 2, "purge": 2, "stats": 2, "help": 2})
	if err != nil {
		return err
	}
	switch sub {
	case "help":
		writeHelp(c, memoryHelp)
	case "doctor":
		c.R.Verbatim("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
	case "malloc-stats":
		c.R.Verbatim("Stats not supported for the current allocator")
	case "purge":
		c.R.OK()
	case "stats":
		return Error("ERR MEMORY STATS is not supported: pika-node keeps its data in RocksDB (see INFO)")
	case "usage":
		samples := int64(5)
		for j := 3; j < len(c.Args); j++ {
			if isArg(c.Args[j], "samples") && j+1 < len(c.Args) {
				j++
				v, err := parseInt(c.Args[j])
				if err != nil {
					return err
				}
				if v < 0 {
					return ErrSyntax
				}
				if v == 0 {
					v = math.MaxInt64
				}
				samples = v
				continue
			}
			return ErrSyntax
		}
		d, err := readValue(c, c.Args[2])
		if err != nil {
			return err
		}
		if d == nil {
			c.R.Null()
			return nil
		}
		c.R.Int(memUsage(c.Args[2], d, c.limits(), samples))
	}
	return nil
}

// jeSize rounds an allocation up to jemalloc's size class, as Redis's
// zmalloc_size reports it (x86-64: 8, 16, then four classes a doubling).
func jeSize(n int64) int64 {
	switch {
	case n <= 8:
		return 8
	case n <= 16:
		return 16
	case n <= 128:
		return (n + 15) &^ 15
	}
	lg := int64(bits.Len64(uint64(n-1))) - 3 // step: a quarter of the power of two below
	step := int64(1) << lg
	return (n + step - 1) &^ (step - 1)
}

// sdsSize is the allocation of an sds string of n bytes.
func sdsSize(n int, type5 bool) int64 {
	hdr := 9
	switch {
	case n < 32 && type5:
		hdr = 1
	case n < 256:
		hdr = 3
	case n < 65536:
		hdr = 5
	}
	return jeSize(int64(n + hdr + 1))
}

// memUsage estimates MEMORY USAGE as redis-server 7.0 computes it
// (objectComputeSize): the key's sds and dict entry, the object, and its
// encoding's allocations: exact for strings, listpacks and intsets (their
// sizes are computed from the payload Redis would hold); for hash tables,
// skiplists and quicklists it averages the first `samples` elements (or
// nodes) and multiplies, as Redis does over random ones.
func memUsage(key []byte, d *dumped, l rdb.Limits, samples int64) int64 {
	const robj, dictEntry, dictStruct = 16, 24, 56
	usage := sdsSize(len(key), true) + dictEntry
	if d.m.Type == storage.TypeStream {
		// Entries, nodes, groups and PELs as stored: the bytes they hold.
		for _, mv := range d.members {
			usage += int64(len(mv[0]) + len(mv[1]))
		}
		return usage + robj
	}
	v := valueOf(d)
	if v.Kind == rdb.KindString {
		s := v.Str
		switch rdb.StringEncoding(s) {
		case rdb.EncInt:
			return usage + robj
		case rdb.EncEmbstr:
			return usage + jeSize(int64(robj+3+len(s)+1))
		}
		return usage + robj + sdsSize(len(s), false)
	}
	payload := rdb.Encode(v, rdb.Limits{HashEntries: l.HashEntries, HashValue: l.HashValue, ZSetEntries: l.ZSetEntries,
		ZSetValue: l.ZSetValue, SetIntsetEntries: l.SetIntsetEntries, ListSize: l.ListSize})
	body := payload[:len(payload)-10]
	dec := rdb.NewDecoder(body[1:])
	switch body[0] {
	case 11, 16, 17: // intset, hash and zset listpacks: one blob
		blob, _ := dec.ReadString()
		return usage + robj + jeSize(int64(len(blob)))
	case 18: // quicklist: 48-byte header, 32-byte nodes and their listpacks
		n, _, _ := dec.ReadLen()
		var sampled, size int64
		for i := uint64(0); i < n && int64(i) < samples; i++ {
			_, _, _ = dec.ReadLen()
			blob, _ := dec.ReadString()
			size += 32 + jeSize(int64(len(blob)))
			sampled++
		}
		return usage + robj + 48 + int64(float64(size)/float64(max(sampled, 1))*float64(n))
	}
	// Hash tables (and a skiplist's dict): the table's buckets, then per
	// element its entry and sds strings (and skiplist node).
	n := int64(d.m.Count)
	buckets := int64(4)
	for buckets < n {
		buckets <<= 1
	}
	size := int64(robj+dictStruct) + 8*buckets
	if v.Kind == rdb.KindZSet {
		size += 16 + 32 + jeSize(32+16*32) // zset, zskiplist, its 32-level header
	}
	var sampled, elems int64
	for _, mv := range d.members {
		if sampled >= samples {
			break
		}
		e := int64(dictEntry) + sdsSize(len(mv[0]), true)
		switch v.Kind {
		case rdb.KindHash:
			e += sdsSize(len(mv[1]), true)
		case rdb.KindZSet:
			e += jeSize(32 + 16) // a node of level 1
		}
		elems += e
		sampled++
	}
	return usage + size + int64(float64(elems)/float64(max(sampled, 1))*float64(n))
}
