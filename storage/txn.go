package storage

import (
	"encoding/binary"
	"errors"

	"github.com/linxGnu/grocksdb"
)

// Txn is one command's access to one slot. A read Txn only reads; a write
// Txn (from Update.Txn) also records an Effect, which Engine.Update commits
// atomically after the command finishes. A Txn is used by one goroutine.
//
// Reads of a write Txn see the Txn's own earlier writes and its batch's
// (base): point reads through the overlays, scans by merging the pending
// ops in their range over RocksDB (pending.go; a scan with none in its
// range costs one pass over the ops).
//
// A write Txn of an image slot (Batch.UseImage) reads the slot's image
// wherever another reads RocksDB; reading, or writing members of, a key
// the image does not cover fails with ErrNotInImage.
type Txn struct {
	e     *Engine
	table TableID
	slot  SlotID
	nowMS int64
	write bool
	eff   Effect
	// metas caches the physical meta value of every key this write Txn
	// has read or written (nil = absent), for read-your-writes and to
	// count keys created and removed.
	metas overlay
	// members overlays member writes (nil = deleted) on the data CF.
	members overlay
	// base holds the pending writes of earlier commands of the same
	// Batch on this slot; reads fall through to it before storage.
	base *Txn
	// replicated, when set, is the leader's log entry this write
	// applies: it is logged with the leader's index and epoch.
	replicated *LogEntry
	// logIndex is the index of the slot's log entry the committer wrote
	// for it (0 when the slot keeps no log).
	logIndex LogIndex
	// image, when set, stands in for storage: the Txn is a coordinator's,
	// evaluating over a copy of another node's keys of the slot
	// (Batch.UseImage), and reads nothing of this node's RocksDB.
	image *SlotImage
}

// absorb appends a finished command's writes to the batch's Txn.
func (t *Txn) absorb(child *Txn) {
	if len(t.eff.Ops) == 0 {
		t.eff.Ops = child.eff.Ops // take over: child is discarded
	} else {
		t.eff.Ops = append(t.eff.Ops, child.eff.Ops...)
	}
	t.eff.KeyDelta += child.eff.KeyDelta
	t.eff.ExpireDelta += child.eff.ExpireDelta
	t.metas.merge(&child.metas)
	t.members.merge(&child.members)
	if child.replicated != nil {
		t.replicated = child.replicated
	}
}

// ErrReadOnly is returned when a read Txn is asked to write.
var ErrReadOnly = errors.New("storage: write on a read-only txn")

// NowMS is the command's clock in unix milliseconds.
func (t *Txn) NowMS() int64 { return t.nowMS }

// Slot is the Txn's slot.
func (t *Txn) Slot() SlotID { return t.slot }

func (t *Txn) rawMeta(key []byte) ([]byte, bool, error) {
	mk := metaKey(t.table, t.slot, key)
	if t.write {
		if v, ok := t.metas.get(mk); ok {
			return v, v != nil, nil
		}
	}
	var v []byte
	var ok bool
	var err error
	if pending, found := t.base.pendingMeta(mk); found {
		v, ok = pending, pending != nil
	} else if t.image != nil {
		// Only here: a key in the overlays was read or written before,
		// which checked it is covered.
		if v, ok, err = t.image.meta(key, mk); err != nil {
			return nil, false, err
		}
	} else if v, ok, err = t.e.getMeta(t.table, t.slot, mk, t.write); err != nil {
		return nil, false, err
	}
	if t.write {
		t.metas.set(mk, v)
	}
	return v, ok, nil
}

func (t *Txn) pendingMeta(mk []byte) ([]byte, bool) {
	if t == nil {
		return nil, false
	}
	return t.metas.get(mk)
}

// Meta returns the live meta of key: ok is false when the key does not exist
// or has expired.
func (t *Txn) Meta(key []byte) (m Meta, ok bool, err error) {
	v, ok, err := t.rawMeta(key)
	if err != nil || !ok {
		return m, false, err
	}
	m, err = decodeMeta(v)
	if err != nil {
		return m, false, err
	}
	if m.Expired(t.nowMS) {
		if !t.write { // a write Txn replaces or deletes it itself
			t.e.noteExpired(t.table, t.slot, key)
		}
		return Meta{}, false, nil
	}
	return m, true, nil
}

// PutMeta writes key's meta. Writing a key that did not physically exist
// counts one key more in the slot; gaining or losing a TTL moves the count
// of keys with one.
func (t *Txn) PutMeta(key []byte, m *Meta) error {
	if !t.write {
		return ErrReadOnly
	}
	old, existed, err := t.rawMeta(key)
	if err != nil {
		return err
	}
	if !existed {
		t.eff.KeyDelta++
	}
	t.eff.ExpireDelta += hasTTL(m.ExpireMS != 0) - hasTTL(existed && rawHasTTL(old))
	v := m.encode()
	mk := metaKey(t.table, t.slot, key)
	t.metas.set(mk, v)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpPut, CF: CFMeta, Key: mk, Value: v})
	return nil
}

// DeleteKey removes key. A collection's members stay on disk under the old
// version, invisible, until compaction drops them: deleting a key of any
// size writes one tombstone.
func (t *Txn) DeleteKey(key []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	old, existed, err := t.rawMeta(key)
	if err != nil || !existed {
		return err
	}
	t.eff.KeyDelta--
	t.eff.ExpireDelta -= hasTTL(rawHasTTL(old))
	mk := metaKey(t.table, t.slot, key)
	t.metas.set(mk, nil)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpDelete, CF: CFMeta, Key: mk})
	return nil
}

func rawHasTTL(raw []byte) bool {
	exp, ok := metaExpireMS(raw)
	return ok && exp != 0
}

func hasTTL(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// NewVersion returns a version no collection has had on this node.
func (t *Txn) NewVersion() (uint64, error) { return t.e.versions.newVersion() }

func memberKey(t *Txn, key []byte, version uint64, member []byte) []byte {
	return append(memberPrefix(t.table, t.slot, key, version), member...)
}

// Member reads one member of a collection version from the data CF.
func (t *Txn) Member(key []byte, version uint64, member []byte) ([]byte, bool, error) {
	k := memberKey(t, key, version, member)
	for o := t; o != nil; o = o.base {
		if v, ok := o.members.get(k); ok {
			return v, v != nil, nil
		}
	}
	if t.image != nil {
		return t.image.member(key, k)
	}
	return t.e.get(CFData, k)
}

// PutMember writes one member of a collection version.
func (t *Txn) PutMember(key []byte, version uint64, member, value []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	if t.image != nil && !t.image.Covers(key) {
		return t.image.notIn(key)
	}
	k := memberKey(t, key, version, member)
	if value == nil {
		value = []byte{}
	}
	t.setMemberOverlay(k, value)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpPut, CF: CFData, Key: k, Value: value})
	return nil
}

// DeleteMember removes one member of a collection version.
func (t *Txn) DeleteMember(key []byte, version uint64, member []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	if t.image != nil && !t.image.Covers(key) {
		return t.image.notIn(key)
	}
	k := memberKey(t, key, version, member)
	t.setMemberOverlay(k, nil)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpDelete, CF: CFData, Key: k})
	return nil
}

func (t *Txn) setMemberOverlay(k, v []byte) {
	t.members.set(k, v)
}

// ScanMembers calls fn for the members of a collection version in member
// byte order (reverse: descending), starting at from (inclusive; nil = the
// first or, reversed, the last). fn returns false to stop. The slices passed
// to fn are valid only during the call.
func (t *Txn) ScanMembers(key []byte, version uint64, from []byte, reverse bool, fn func(member, value []byte) bool) error {
	return t.scan(CFData, memberPrefix(t.table, t.slot, key, version), from, reverse, fn)
}

// PutScore indexes member at score in the score CF.
func (t *Txn) PutScore(key []byte, version uint64, score float64, member []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	if t.image != nil && !t.image.Covers(key) {
		return t.image.notIn(key)
	}
	k := EncodeScore(memberPrefix(t.table, t.slot, key, version), score)
	k = append(k, member...)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpPut, CF: CFScore, Key: k, Value: []byte{}})
	return nil
}

// DeleteScore removes member's index entry at score.
func (t *Txn) DeleteScore(key []byte, version uint64, score float64, member []byte) error {
	if !t.write {
		return ErrReadOnly
	}
	if t.image != nil && !t.image.Covers(key) {
		return t.image.notIn(key)
	}
	k := EncodeScore(memberPrefix(t.table, t.slot, key, version), score)
	k = append(k, member...)
	t.eff.Ops = append(t.eff.Ops, Op{Kind: OpDelete, CF: CFScore, Key: k})
	return nil
}

// ScanScores calls fn for the members of a zset version whose score is in
// [lo, hi], in (score, member) order (reverse: descending). Exclusive bounds
// are the caller's to skip. fn returns false to stop.
func (t *Txn) ScanScores(key []byte, version uint64, lo, hi float64, reverse bool, fn func(score float64, member []byte) bool) error {
	p := memberPrefix(t.table, t.slot, key, version)
	lower := EncodeScore(append([]byte(nil), p...), lo)
	upper := prefixEnd(EncodeScore(append([]byte(nil), p...), hi))
	if upper == nil {
		upper = prefixEnd(p)
	}
	return t.iterate(CFScore, lower, upper, reverse, func(k, _ []byte) bool {
		rest := k[len(p):]
		return fn(DecodeScore(rest[:8]), rest[8:])
	})
}

// scan iterates keys under prefix p from p|from; fn gets keys without p.
func (t *Txn) scan(cf CF, p, from []byte, reverse bool, fn func(k, v []byte) bool) error {
	lower := append([]byte(nil), p...)
	upper := prefixEnd(p)
	if from != nil {
		if reverse {
			// inclusive of from: upper bound is exclusive, so use from's successor
			upper = append(append(append([]byte(nil), p...), from...), 0)
		} else {
			lower = append(lower, from...)
		}
	}
	return t.iterate(cf, lower, upper, reverse, func(k, v []byte) bool { return fn(k[len(p):], v) })
}

func (t *Txn) iterate(cf CF, lower, upper []byte, reverse bool, fn func(k, v []byte) bool) error {
	if t.image != nil {
		return t.iterateImage(cf, lower, upper, reverse, fn)
	}
	if t.e.closed.Load() {
		return ErrClosed
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetIterateLowerBound(lower)
	if upper != nil {
		ro.SetIterateUpperBound(upper)
	}
	pending := t.pendingIn(cf, lower, upper)
	it := t.e.db.NewIteratorCF(ro, t.e.cfs[cf])
	defer it.Close()
	if reverse {
		it.SeekToLast()
	} else {
		it.SeekToFirst()
	}
	if pending != nil {
		pending.merge(rocksIter{it}, lower, upper, reverse, fn)
		return it.Err()
	}
	for ; it.Valid(); step(it, reverse) {
		k, v := it.Key(), it.Value()
		cont := fn(k.Data(), v.Data())
		k.Free()
		v.Free()
		if !cont {
			break
		}
	}
	return it.Err()
}

func step(it *grocksdb.Iterator, reverse bool) {
	if reverse {
		it.Prev()
	} else {
		it.Next()
	}
}

// ScanKeys calls fn for each live key of the slot in key order, starting at
// from (inclusive). fn returns false to stop.
func (t *Txn) ScanKeys(from []byte, fn func(key []byte, m Meta) bool) error {
	var derr error
	err := t.scan(CFMeta, SlotPrefix(t.table, t.slot), from, false, func(k, v []byte) bool {
		m, err := decodeMeta(v)
		if err != nil {
			derr = err
			return false
		}
		if m.Expired(t.nowMS) {
			return true
		}
		return fn(k, m)
	})
	if err == nil {
		err = derr
	}
	return err
}

// ListMember encodes a list index as a member (8 bytes BE), so items sort by
// index.
func ListMember(index uint64) []byte { return binary.BigEndian.AppendUint64(nil, index) }
