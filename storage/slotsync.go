package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/linxGnu/grocksdb"
)

// Full sync: a follower too far behind its leader's retained log, or one
// that diverged, gets the slot's data copied from a snapshot of the leader
// at one log position, then the log from that position on.

// SlotSnapshot reads one slot's data as of one log position.
type SlotSnapshot struct {
	e    *Engine
	t    TableID
	s    SlotID
	snap *grocksdb.Snapshot
	ro   *grocksdb.ReadOptions
	it   *grocksdb.Iterator
	cf   int // index into syncCFs
	// Index and Epoch are the slot's log position the data is at;
	// Keys and Expires its counts there.
	Index         LogIndex
	Epoch         Epoch
	Keys, Expires int64
}

var syncCFs = []CF{CFMeta, CFData, CFScore}

// OpenSlotSnapshot takes a snapshot of slot s of table t, consistent with
// the slot's log position (no write of the slot runs while it is taken).
func (e *Engine) OpenSlotSnapshot(t TableID, s SlotID) (*SlotSnapshot, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	c, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return nil, err
	}
	snap := e.db.NewSnapshot()
	ss := &SlotSnapshot{e: e, t: t, s: s, snap: snap,
		Index: LogIndex(c.logLast.Load()), Epoch: Epoch(c.logEpoch.Load()),
		Keys: c.keys.Load(), Expires: c.expires.Load()}
	unlock()
	return ss, nil
}

// Next returns the next puts of the slot's data, about maxBytes of them;
// done when there are no more.
func (ss *SlotSnapshot) Next(maxBytes int) (ops []Op, done bool, err error) {
	size := 0
	start := SlotPrefix(ss.t, ss.s)
	for ss.cf < len(syncCFs) {
		if ss.it == nil {
			ss.ro = grocksdb.NewDefaultReadOptions()
			ss.ro.SetSnapshot(ss.snap)
			ss.ro.SetFillCache(false)
			ss.ro.SetIterateUpperBound(prefixEnd(start))
			ss.it = ss.e.db.NewIteratorCF(ss.ro, ss.e.cfs[syncCFs[ss.cf]])
			ss.it.Seek(start)
		}
		for ; ss.it.Valid(); ss.it.Next() {
			if size >= maxBytes {
				return ops, false, nil
			}
			k, v := ss.it.Key().Data(), ss.it.Value().Data()
			ops = append(ops, Op{Kind: OpPut, CF: syncCFs[ss.cf], Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
			size += len(k) + len(v)
		}
		if err := ss.it.Err(); err != nil {
			return nil, false, err
		}
		ss.closeIter()
		ss.cf++
	}
	return ops, true, nil
}

func (ss *SlotSnapshot) closeIter() {
	if ss.it != nil {
		ss.it.Close()
		ss.ro.Destroy()
		ss.it, ss.ro = nil, nil
	}
}

// Close releases the snapshot.
func (ss *SlotSnapshot) Close() {
	ss.closeIter()
	ss.e.db.ReleaseSnapshot(ss.snap)
}

// ResetSlot deletes a slot's data, log and counts (a follower about to
// load a full sync, or a node that no longer holds a slot), under the
// slot's lock; for a raft slot also its raft log, state and staging.
func (e *Engine) ResetSlot(t TableID, s SlotID) error {
	c, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return err
	}
	defer unlock()
	start := SlotPrefix(t, s)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, cf := range []CF{CFMeta, CFData, CFScore} {
		wb.DeleteRangeCF(e.cfs[cf], start, prefixEnd(start))
	}
	wb.DeleteRangeCF(e.cfs[CFLog], logKey(t, s, 0), logKey(t, s, math.MaxUint64))
	if c.raft.Load() {
		e.deleteRaftState(wb, t, s)
	}
	wb.PutCF(e.cfs[CFSystem], countKey(t, s), encodeCounts([2]int64{0, 0}))
	if err := e.db.Write(e.wo, wb); err != nil {
		return fmt.Errorf("storage: reset table %d slot %d: %w", t, s, err)
	}
	e.mcache.clearAll()
	e.touchSlot(t, s)
	e.forgetParts(t, s, false)
	c.keys.Store(0)
	c.expires.Store(0)
	c.logFirst.Store(0)
	c.logLast.Store(0)
	c.logEpoch.Store(0)
	return nil
}

// FinishSlotLoad ends a full sync: the slot's counts, and its log position
// as a marker entry (no effect) at index with epoch, so the follower's log
// continues from there.
func (e *Engine) FinishSlotLoad(t TableID, s SlotID, index LogIndex, epoch Epoch, keys, expires int64) error {
	c, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return err
	}
	defer unlock()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.PutCF(e.cfs[CFSystem], countKey(t, s), encodeCounts([2]int64{keys, expires}))
	if index > 0 {
		var empty Effect
		wb.PutCF(e.cfs[CFLog], logKey(t, s, index), appendLogEntry(nil, epoch, e.opts.Now(), &empty))
	}
	if err := e.db.Write(e.wo, wb); err != nil {
		return fmt.Errorf("storage: finish load of table %d slot %d: %w", t, s, err)
	}
	c.keys.Store(keys)
	c.expires.Store(expires)
	if index > 0 {
		c.logFirst.Store(uint64(index))
		c.logLast.Store(uint64(index))
		c.logEpoch.Store(uint64(epoch))
	}
	// The copy carries the units' parts pending on the slot.
	return e.loadParts(t, s)
}

// SlotSum is a checksum of a slot's live data at one log position.
type SlotSum struct {
	Index LogIndex
	Epoch Epoch
	Sum   uint64
	Keys  int64
}

// SlotChecksum hashes the slot's live data (meta values, and the members
// and scores of each collection's current version; stale versions not yet
// compacted away are left out, since replicas compact at different times)
// from a snapshot at one log position. Replicas at the same position must
// have the same sum.
func (e *Engine) SlotChecksum(t TableID, s SlotID) (SlotSum, error) {
	ss, err := e.OpenSlotSnapshot(t, s)
	if err != nil {
		return SlotSum{}, err
	}
	defer ss.Close()
	sum := SlotSum{Index: ss.Index, Epoch: ss.Epoch, Keys: ss.Keys}
	h := fnv.New64a()
	versions := map[string]uint64{} // collection meta key -> live version
	for {
		ops, done, err := ss.Next(1 << 20)
		if err != nil {
			return SlotSum{}, err
		}
		for _, op := range ops { // meta first: versions are known before members
			if op.CF == CFMeta {
				if m, err := decodeMeta(op.Value); err == nil && m.Type != TypeString {
					versions[string(op.Key)] = m.Version
				}
			} else {
				mk, v, _, ok := parseMemberKey(op.Key)
				if !ok {
					continue
				}
				if live, ok := versions[string(mk)]; !ok || live != v {
					continue // a stale version: garbage, not data
				}
			}
			h.Write([]byte{byte(op.CF)})
			h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(op.Key))))
			h.Write(op.Key)
			h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(op.Value))))
			h.Write(op.Value)
		}
		if done {
			break
		}
	}
	sum.Sum = h.Sum64()
	return sum, nil
}

// FlushSlots empties the slots of table t (of slots) that owns accepts
// (every one when owns is nil) through the write path: each slot's
// deletion is an effect (DeleteRange of its meta, data and score ranges,
// its counts to zero), logged and shipped to followers like any write.
// This is FLUSHDB on a node: it empties the slots it leads, on every
// replica. commits gives the table's Committer (nil: local).
func (e *Engine) FlushSlots(t TableID, slots uint32, owns func(SlotID) bool, commits func(TableID) Committer) error {
	b := e.NewBatch(commits)
	for i := range slots {
		s := SlotID(i)
		if owns != nil && !owns(s) {
			continue
		}
		if k, _ := e.SlotCounts(t, s); k == 0 {
			continue // no key (what may remain is garbage of old collection versions)
		}
		fn := func(u *Update) error {
			c, err := e.slotCount(t, s)
			if err != nil {
				return err
			}
			txn := u.Txn(s)
			start := SlotPrefix(t, s)
			end := prefixEnd(start)
			for _, cf := range []CF{CFMeta, CFData, CFScore} {
				e := end
				if cf == CFData { // a slot's unit records stay (unitrecords.go)
					e = unitRecordPrefix(t, s)
				}
				txn.eff.Ops = append(txn.eff.Ops, Op{Kind: OpDeleteRange, CF: cf, Key: start, Value: e})
			}
			txn.eff.KeyDelta -= c.keys.Load()
			txn.eff.ExpireDelta -= c.expires.Load()
			return nil
		}
		err := b.Update(t, []SlotID{s}, fn)
		if errors.Is(err, ErrBatchBusy) {
			if err := b.Commit(); err != nil {
				return err
			}
			b = e.NewBatch(commits)
			err = b.Update(t, []SlotID{s}, fn)
		}
		if err != nil {
			return err
		}
		if b.Len() >= 256 { // bound how many slots one batch holds locked
			if err := b.Commit(); err != nil {
				return err
			}
			b = e.NewBatch(commits)
		}
	}
	return b.Commit()
}

// StartLog gives a logged slot with an empty log a first entry (a marker
// without effect) at index 1: a slot that just got its first follower has
// data but no log, and a full sync needs a position the log continues
// from (a follower left at 0 would look empty again). A leader calls it
// before OpenSlotSnapshot for a full sync.
func (e *Engine) StartLog(t TableID, s SlotID) error {
	c, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return err
	}
	defer unlock()
	if !c.logged.Load() || c.raft.Load() || c.logLast.Load() != 0 {
		return nil
	}
	var empty Effect
	if err := e.db.PutCF(e.wo, e.cfs[CFLog], logKey(t, s, 1), appendLogEntry(nil, Epoch(c.epoch.Load()), e.opts.Now(), &empty)); err != nil {
		return fmt.Errorf("storage: log marker: %w", err)
	}
	c.logLast.Store(1)
	c.logEpoch.Store(c.epoch.Load())
	c.logFirst.Store(1)
	return nil
}

// SlotSize estimates the bytes a slot's data takes on disk (RocksDB's
// approximate sizes of its key range in SST files: data still in the
// memtable is not counted). Moves use it for progress and rate limits.
func (e *Engine) SlotSize(t TableID, s SlotID) (int64, error) {
	if e.closed.Load() {
		return 0, ErrClosed
	}
	start := SlotPrefix(t, s)
	r := []grocksdb.Range{{Start: start, Limit: prefixEnd(start)}}
	var total int64
	for _, cf := range []CF{CFMeta, CFData, CFScore} {
		sizes, err := e.db.GetApproximateSizesCF(e.cfs[cf], r)
		if err != nil {
			return 0, fmt.Errorf("storage: size of table %d slot %d: %w", t, s, err)
		}
		total += int64(sizes[0])
	}
	return total, nil
}

// CompactSlot compacts a slot's key range in the data column families
// (after a move, to give the deleted copy's space back at once).
func (e *Engine) CompactSlot(t TableID, s SlotID) error {
	if e.closed.Load() {
		return ErrClosed
	}
	start := SlotPrefix(t, s)
	for _, cf := range []CF{CFMeta, CFData, CFScore} {
		e.db.CompactRangeCF(e.cfs[cf], grocksdb.Range{Start: start, Limit: prefixEnd(start)})
	}
	return nil
}
