package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/linxGnu/grocksdb"
)

// Slot images. A unit (a MULTI ... EXEC block) whose slots several nodes
// lead is evaluated on one of them, the coordinator, over copies of the
// others' data: each participant locks its slots and exports the unit's
// keys (ExportKeys); the coordinator decodes the images and evaluates the
// unit on a Batch whose Txns of those slots read the images instead of its
// own RocksDB (Batch.UseImage), then takes the slots' effects
// (Batch.Effects) for the participants to apply, and Releases the batch:
// it never commits an image slot itself.
//
// Coverage. An image covers the user keys it was exported for, whether
// they exist or not. A read of an uncovered key fails with ErrNotInImage
// rather than answering "absent": the coordinator must not evaluate a
// command over data it did not fetch. A member (data or score CF) range is
// covered when its user key is, under any version: the image holds the
// members of the key's exported version, and under any other one there is
// no stored member to read (a version the batch made with NewVersion has
// only its pending writes, a stale one is invisible to commands anyway).
// ScanKeys, which reads the whole slot, is never covered. The members of a
// large collection are left out and read on demand (imagemembers.go).

// ErrNotInImage is a read, through a slot image, of a key the image does
// not cover (Batch.UseImage).
var ErrNotInImage = errors.New("storage: key not in the slot image")

// ErrCorruptImage reports an encoded slot image that does not decode.
var ErrCorruptImage = errors.New("storage: corrupt slot image")

// ErrImageCommit is a commit of a batch whose image slots have effects:
// their leaders apply those (Batch.Effects), never the coordinator.
var ErrImageCommit = errors.New("storage: image slots are not committed here")

// SlotImage is a copy of some keys of one slot: for each covered user key
// its meta CF value (or none: the key is absent) and, for a collection,
// every data and score CF entry of its version, all as stored (an expired
// key included: the reading Txn applies expiry itself). It is read-only
// once built, and may be read by several batches at once.
type SlotImage struct {
	table TableID
	slot  SlotID
	// keys are the covered user keys, ascending and unique.
	keys [][]byte
	// cfs holds the entries of the meta, data and score CFs (full
	// encoded keys), each ascending and unique.
	cfs [CFScore + 1][]imageEntry
	// lazy are the covered collections whose members were left out
	// (ascending), read through src.
	lazy [][]byte
	src  MemberSource
}

type imageEntry struct{ key, val []byte }

// Table is the image's table.
func (im *SlotImage) Table() TableID { return im.table }

// Slot is the image's slot.
func (im *SlotImage) Slot() SlotID { return im.slot }

// Keys returns the covered user keys in ascending order. The caller must
// not modify them.
func (im *SlotImage) Keys() [][]byte { return im.keys }

// Covers reports whether key is one of the image's keys.
func (im *SlotImage) Covers(key []byte) bool {
	_, ok := slices.BinarySearchFunc(im.keys, key, bytes.Compare)
	return ok
}

func (im *SlotImage) notIn(key []byte) error {
	return fmt.Errorf("%w: table %d slot %d key %q", ErrNotInImage, im.table, im.slot, key)
}

// find returns the value of key k in cf.
func (im *SlotImage) find(cf CF, k []byte) ([]byte, bool) {
	ents := im.cfs[cf]
	i, ok := slices.BinarySearchFunc(ents, k, func(e imageEntry, k []byte) int { return bytes.Compare(e.key, k) })
	if !ok {
		return nil, false
	}
	return ents[i].val, true
}

// meta reads the meta value of key (meta key mk).
func (im *SlotImage) meta(key, mk []byte) ([]byte, bool, error) {
	if !im.Covers(key) {
		return nil, false, im.notIn(key)
	}
	v, ok := im.find(CFMeta, mk)
	return v, ok, nil
}

// member reads data CF key k, a member of key. The value is the caller's,
// as the engine's reads are.
func (im *SlotImage) member(key, k []byte) ([]byte, bool, error) {
	if !im.Covers(key) {
		return nil, false, im.notIn(key)
	}
	if im.lazyKey(key) {
		return im.fetchMember(k)
	}
	v, ok := im.find(CFData, k)
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), v...), true, nil
}

// coveredRange reports whether the range [lower, upper) of cf lies within
// the members (of every version) of one covered key; it returns the key.
func (im *SlotImage) coveredRange(cf CF, lower, upper []byte) ([]byte, bool) {
	if cf != CFData && cf != CFScore {
		return nil, false
	}
	key, ok := im.memberOwner(lower)
	if !ok || !im.Covers(key) {
		return key, false
	}
	end := prefixEnd(lower[:prefixLen+4+len(key)])
	return key, end == nil || (upper != nil && bytes.Compare(upper, end) <= 0)
}

// under reports whether k is a key of the image's slot.
func (im *SlotImage) under(k []byte) bool {
	return len(k) >= prefixLen && binary.BigEndian.Uint32(k) == uint32(im.table) && binary.BigEndian.Uint32(k[4:]) == uint32(im.slot)
}

// memberOwner returns the user key of a data or score CF key of the
// image's slot (the key may stop short of its version).
func (im *SlotImage) memberOwner(k []byte) ([]byte, bool) {
	if len(k) < prefixLen+4 || !im.under(k) {
		return nil, false
	}
	n := uint64(binary.BigEndian.Uint32(k[prefixLen:]))
	if n > uint64(len(k)-prefixLen-4) {
		return nil, false
	}
	return k[prefixLen+4 : prefixLen+4+int(n)], true
}

// iterateImage is Txn.iterate over the slot's image: its entries in the
// range, with the pending ops merged as over RocksDB.
func (t *Txn) iterateImage(cf CF, lower, upper []byte, reverse bool, fn func(k, v []byte) bool) error {
	im := t.image
	if key, ok := im.coveredRange(cf, lower, upper); !ok {
		if key == nil {
			return fmt.Errorf("%w: table %d slot %d: a scan of %s keys %q..%q", ErrNotInImage, im.table, im.slot, cfNames[cf], lower, upper)
		}
		return im.notIn(key)
	} else if im.lazyKey(key) {
		it := newPagedIter(im, cf, lower, upper, reverse)
		t.mergeStored(it, cf, lower, upper, reverse, fn)
		return it.err
	}
	it := im.iter(cf, lower, upper)
	if reverse {
		it.i = len(it.ents) - 1
	}
	t.mergeStored(it, cf, lower, upper, reverse, fn)
	return nil
}

// mergeStored calls fn for the entries of it (positioned on the scan's
// first) merged with the txn's pending ops in the range.
func (t *Txn) mergeStored(it storedIter, cf CF, lower, upper []byte, reverse bool, fn func(k, v []byte) bool) {
	if pending := t.pendingIn(cf, lower, upper); pending != nil {
		pending.merge(it, lower, upper, reverse, fn)
		return
	}
	for ; it.Valid(); stepStored(it, reverse) {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
}

// imageIter walks the image's entries of one CF in a range, like a
// RocksDB iterator with the same bounds.
type imageIter struct {
	ents []imageEntry // the entries in the range
	i    int          // the current one; out of ents: not valid
}

// iter returns an iterator over cf's entries in [lower, upper) (upper nil:
// unbounded), on the first.
func (im *SlotImage) iter(cf CF, lower, upper []byte) *imageIter {
	ents := im.cfs[cf]
	ents = ents[searchEntries(ents, lower):]
	if upper != nil {
		ents = ents[:searchEntries(ents, upper)]
	}
	return &imageIter{ents: ents}
}

// searchEntries returns the index of the first entry at or after k.
func searchEntries(ents []imageEntry, k []byte) int {
	return sort.Search(len(ents), func(i int) bool { return bytes.Compare(ents[i].key, k) >= 0 })
}

func (it *imageIter) Valid() bool   { return it.i >= 0 && it.i < len(it.ents) }
func (it *imageIter) Key() []byte   { return it.ents[it.i].key }
func (it *imageIter) Value() []byte { return it.ents[it.i].val }
func (it *imageIter) Next()         { it.i++ }
func (it *imageIter) Prev()         { it.i-- }

// Seek moves to the first entry at or after k.
func (it *imageIter) Seek(k []byte) { it.i = searchEntries(it.ents, k) }

// SeekForPrev moves to the last entry at or before k.
func (it *imageIter) SeekForPrev(k []byte) {
	it.i = sort.Search(len(it.ents), func(i int) bool { return bytes.Compare(it.ents[i].key, k) > 0 }) - 1
}

// ExportKeys copies keys of slot s of table t (duplicates are fine) into
// an image: their meta values and the members of their collections of at
// most Options.ExportMembersMax members (larger ones are read on demand:
// imagemembers.go), from one RocksDB snapshot. The caller holds the slot's lock (a participant of a
// unit, from when it exports until it applies the unit's effect), so the
// image stays what the slot holds.
func (e *Engine) ExportKeys(t TableID, s SlotID, keys [][]byte) (*SlotImage, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	im := &SlotImage{table: t, slot: s, keys: make([][]byte, 0, len(keys))}
	for _, k := range keys {
		im.keys = append(im.keys, append([]byte(nil), k...))
	}
	slices.SortFunc(im.keys, bytes.Compare)
	im.keys = slices.CompactFunc(im.keys, bytes.Equal)

	snap := e.db.NewSnapshot()
	defer e.db.ReleaseSnapshot(snap)
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetSnapshot(snap)
	var members [][]byte // member prefixes of the collections, in key order
	for _, k := range im.keys {
		mk := metaKey(t, s, k)
		v, err := e.db.GetPinnedCF(ro, e.cfs[CFMeta], mk)
		if err != nil {
			return nil, fmt.Errorf("storage: export: %w", err)
		}
		if !v.Exists() {
			v.Destroy()
			continue
		}
		val := append([]byte(nil), v.Data()...)
		v.Destroy()
		m, err := decodeMeta(val)
		if err != nil {
			return nil, fmt.Errorf("storage: export table %d slot %d key %q: %w", t, s, k, err)
		}
		im.cfs[CFMeta] = append(im.cfs[CFMeta], imageEntry{mk, val})
		switch {
		case m.Type == TypeString:
		case e.opts.ExportMembersMax < 0 || m.Count > uint64(e.opts.ExportMembersMax):
			im.lazy = append(im.lazy, k)
		default:
			members = append(members, memberPrefix(t, s, k, m.Version))
		}
	}
	for _, cf := range []CF{CFData, CFScore} {
		for _, p := range members {
			if err := e.exportRange(ro, cf, p, &im.cfs[cf]); err != nil {
				return nil, err
			}
		}
		// Member keys order by the key's length first: not the order of
		// the user keys.
		slices.SortFunc(im.cfs[cf], func(a, b imageEntry) int { return bytes.Compare(a.key, b.key) })
	}
	return im, nil
}

// exportRange appends every entry of cf under prefix p to out.
func (e *Engine) exportRange(ro *grocksdb.ReadOptions, cf CF, p []byte, out *[]imageEntry) error {
	if e.closed.Load() {
		return ErrClosed
	}
	it := e.db.NewIteratorCF(ro, e.cfs[cf])
	defer it.Close()
	for it.Seek(p); it.Valid(); it.Next() {
		k := it.Key().Data()
		if !bytes.HasPrefix(k, p) {
			break
		}
		*out = append(*out, imageEntry{append([]byte(nil), k...), append([]byte(nil), it.Value().Data()...)})
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("storage: export: %w", err)
	}
	return nil
}

// The first byte of an encoded image: format 1, or 2 when it left out
// the members of some collections (a format 1 image is what nodes of an
// earlier version read).
const (
	imageFormat     = 1
	imageFormatLazy = 2
)

// Encode appends im's wire form to dst: format byte 1, table u32 BE, slot
// u32 BE, uvarint count + covered keys (each uvarint len + bytes), then
// for the meta, data and score CFs in turn uvarint count + entries (each
// uvarint len + key, uvarint len + value), every list ascending; format 2
// (members left out) then has uvarint count + the indexes among the
// covered keys (uvarint each, ascending) of the collections left out.
func (im *SlotImage) Encode(dst []byte) []byte {
	format := byte(imageFormat)
	if len(im.lazy) > 0 {
		format = imageFormatLazy
	}
	dst = append(dst, format)
	dst = appendPrefix(dst, im.table, im.slot)
	dst = binary.AppendUvarint(dst, uint64(len(im.keys)))
	for _, k := range im.keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	for _, ents := range im.cfs {
		dst = binary.AppendUvarint(dst, uint64(len(ents)))
		for _, en := range ents {
			dst = binary.AppendUvarint(dst, uint64(len(en.key)))
			dst = append(dst, en.key...)
			dst = binary.AppendUvarint(dst, uint64(len(en.val)))
			dst = append(dst, en.val...)
		}
	}
	if len(im.lazy) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(im.lazy)))
		for _, k := range im.lazy {
			i, _ := slices.BinarySearchFunc(im.keys, k, bytes.Compare)
			dst = binary.AppendUvarint(dst, uint64(i))
		}
	}
	return dst
}

// DecodeSlotImage parses what Encode wrote. b comes from another node and
// is checked as hostile: besides its framing, every list must be strictly
// ascending, every meta entry the meta key of a covered key with a value
// that decodes, and every data or score entry a member of a covered
// collection under the version its meta names (a score entry with its 8
// score bytes). The caller checks that the image is of the table and slot
// it asked for. The image aliases b, which must stay unchanged while the
// image is used.
func DecodeSlotImage(b []byte) (*SlotImage, error) {
	if len(b) < 1+prefixLen || (b[0] != imageFormat && b[0] != imageFormatLazy) {
		return nil, ErrCorruptImage
	}
	format := b[0]
	im := &SlotImage{
		table: TableID(binary.BigEndian.Uint32(b[1:])),
		slot:  SlotID(binary.BigEndian.Uint32(b[5:])),
	}
	b = b[1+prefixLen:]
	n, b, ok := readCount(b, 1)
	if !ok {
		return nil, ErrCorruptImage
	}
	im.keys = make([][]byte, 0, n)
	for range n {
		var k []byte
		if k, b, ok = readLenBytes(b); !ok {
			return nil, ErrCorruptImage
		}
		if l := len(im.keys); l > 0 && bytes.Compare(im.keys[l-1], k) >= 0 {
			return nil, ErrCorruptImage
		}
		im.keys = append(im.keys, k)
	}
	for cf := range im.cfs {
		if n, b, ok = readCount(b, 2); !ok {
			return nil, ErrCorruptImage
		}
		ents := make([]imageEntry, 0, n)
		for range n {
			var en imageEntry
			if en.key, b, ok = readLenBytes(b); !ok {
				return nil, ErrCorruptImage
			}
			if en.val, b, ok = readLenBytes(b); !ok {
				return nil, ErrCorruptImage
			}
			if l := len(ents); l > 0 && bytes.Compare(ents[l-1].key, en.key) >= 0 {
				return nil, ErrCorruptImage
			}
			ents = append(ents, en)
		}
		im.cfs[cf] = ents
	}
	if format == imageFormatLazy {
		if n, b, ok = readCount(b, 1); !ok || n == 0 {
			return nil, ErrCorruptImage
		}
		last := -1
		for range n {
			i, l := binary.Uvarint(b)
			if l <= 0 || i >= uint64(len(im.keys)) || int(i) <= last {
				return nil, ErrCorruptImage
			}
			b, last = b[l:], int(i)
			im.lazy = append(im.lazy, im.keys[i])
		}
	}
	if len(b) != 0 {
		return nil, ErrCorruptImage
	}
	if err := im.check(); err != nil {
		return nil, err
	}
	return im, nil
}

// readCount reads a uvarint count of items of at least min bytes each,
// refusing one b cannot hold.
func readCount(b []byte, min int) (int, []byte, bool) {
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)-l)/uint64(min) {
		return 0, nil, false
	}
	return int(n), b[l:], true
}

// check verifies that every entry of a decoded image belongs to a covered
// key: the meta entries to the keys, the member entries to their
// collections' versions.
func (im *SlotImage) check() error {
	// The collection version of each covered key (has: it is one).
	type coll struct {
		version uint64
		has     bool
	}
	colls := make([]coll, len(im.keys))
	for _, en := range im.cfs[CFMeta] {
		if !im.under(en.key) {
			return ErrCorruptImage
		}
		i, ok := slices.BinarySearchFunc(im.keys, en.key[prefixLen:], bytes.Compare)
		if !ok {
			return ErrCorruptImage
		}
		m, err := decodeMeta(en.val)
		if err != nil {
			return ErrCorruptImage
		}
		colls[i] = coll{m.Version, m.Type != TypeString}
	}
	for _, k := range im.lazy {
		if i, _ := slices.BinarySearchFunc(im.keys, k, bytes.Compare); !colls[i].has {
			return ErrCorruptImage // members left out of a key that has none
		}
	}
	for _, cf := range []CF{CFData, CFScore} {
		for _, en := range im.cfs[cf] {
			key, ok := im.memberOwner(en.key)
			if !ok {
				return ErrCorruptImage
			}
			i, ok := slices.BinarySearchFunc(im.keys, key, bytes.Compare)
			if !ok || !colls[i].has || im.lazyKey(key) {
				return ErrCorruptImage
			}
			rest := en.key[prefixLen+4+len(key):]
			if len(rest) < 8 || binary.BigEndian.Uint64(rest) != colls[i].version ||
				(cf == CFScore && len(rest) < 16) {
				return ErrCorruptImage
			}
		}
	}
	return nil
}

// UseImage makes the batch evaluate slot im.Slot() of table im.Table()
// over im instead of this node's RocksDB: the slot's Txns read the image
// (keys it does not cover fail with ErrNotInImage), merged with the
// batch's pending writes as over storage, and count KeyDelta and
// ExpireDelta against its metas. The slot is not locked, not admitted by
// the Committer and not committed (Commit refuses its effects with
// ErrImageCommit): the coordinator takes Effects, then Releases the
// batch, which forgets the image. The batch may mix image slots with
// local ones, all of one table.
//
// Call it before the batch's commands use the slot: it refuses a slot the
// batch already has pending state for, and (ErrBatchBusy) an image of
// another table than the one the batch holds.
func (b *Batch) UseImage(im *SlotImage) error {
	busy := len(b.held) > 0 || len(b.txns) > 0 || len(b.images) > 0
	if busy && im.table != b.table {
		return ErrBatchBusy
	}
	for _, t := range b.txns {
		if t.slot == im.slot {
			return fmt.Errorf("storage: table %d slot %d already has pending state in the batch", im.table, im.slot)
		}
	}
	if b.imageOf(im.slot) != nil {
		return fmt.Errorf("storage: table %d slot %d already has an image in the batch", im.table, im.slot)
	}
	b.table = im.table
	b.images = append(b.images, im)
	return nil
}

// Covers reports whether the batch reads key of slot s: from its own
// storage, or from an image of s that covers key.
func (b *Batch) Covers(s SlotID, key []byte) bool {
	im := b.imageOf(s)
	return im == nil || im.Covers(key)
}

// Imaged reports whether slot s is read from an image (UseImage).
func (b *Batch) Imaged(s SlotID) bool { return b.imageOf(s) != nil }

// imageOf returns the image slot s is read from, or nil.
func (b *Batch) imageOf(s SlotID) *SlotImage {
	for _, im := range b.images {
		if im.slot == s {
			return im
		}
	}
	return nil
}

// localSlots returns the slots that are not images (slots itself when the
// batch has none).
func (b *Batch) localSlots(slots []SlotID) []SlotID {
	if len(b.images) == 0 {
		return slots
	}
	local := make([]SlotID, 0, len(slots))
	for _, s := range slots {
		if b.imageOf(s) == nil {
			local = append(local, s)
		}
	}
	return local
}

// dropImages takes the image slots out of the batch before a commit:
// those only read are left out; if one has an effect, the batch is
// released and the commit refused.
func (b *Batch) dropImages() error {
	if len(b.images) == 0 {
		return nil
	}
	for _, t := range b.txns {
		if t.image != nil && !t.eff.Empty() {
			b.release()
			return fmt.Errorf("%w: table %d slot %d", ErrImageCommit, t.table, t.slot)
		}
	}
	b.txns = slices.DeleteFunc(b.txns, func(t *Txn) bool { return t.image != nil })
	return nil
}
