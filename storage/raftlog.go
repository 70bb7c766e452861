package storage

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/linxGnu/grocksdb"
)

// Raft-mode slots. A table in raft mode replicates each slot through a raft
// group (replication/multiraft drives them); its log and state live here,
// beside the async slot log but in their own key space, so that the async
// log's retention and bounds never read them:
//
//	log CF:     0xFF | table u32 | slot u32 | index u64  ->  raft entry (raftpb.Entry bytes)
//	system CF:  "raft-hs|" prefix    ->  hard state (raftpb.HardState bytes)
//	system CF:  "raft-ap|" prefix    ->  RaftApplied
//
// The entry and state bytes are opaque to storage: the raft driver marshals
// them. What storage owns is that one RaftWrite (the persisted part of many
// groups' ready states plus the effects of their committed entries) is one
// atomic RocksDB write, so a crash leaves each group's log, hard state,
// applied index and data consistent with each other.
//
// Writes of a raft slot are evaluated on the leader under the slot's lock
// like any write, but committed by the caller's Committer (the slot's raft
// group: it proposes each slot's effect and returns once the group applied
// it here, then releases the batch); the data is written only by
// ApplyRaft, on every replica alike. A local commit of a raft slot is
// refused (ErrRaftSlot).

const raftLogMark = 0xFF

func raftLogKey(t TableID, s SlotID, i LogIndex) []byte {
	b := make([]byte, 0, 1+prefixLen+8)
	b = append(b, raftLogMark)
	b = appendPrefix(b, t, s)
	return binary.BigEndian.AppendUint64(b, uint64(i))
}

func raftHardStateKey(t TableID, s SlotID) []byte {
	return append([]byte("raft-hs|"), SlotPrefix(t, s)...)
}

func raftAppliedKey(t TableID, s SlotID) []byte {
	return append([]byte("raft-ap|"), SlotPrefix(t, s)...)
}

// isRaft reports whether slot s of table t is replicated by raft.
func (e *Engine) isRaft(t TableID, s SlotID) bool {
	c, err := e.slotCount(t, s)
	return err == nil && c.raft.Load()
}

// RaftApplied is a group's applied state: what ApplyRaft last applied, and
// how far its log was compacted. Conf is the group's configuration as of
// Index (raftpb.ConfState bytes).
type RaftApplied struct {
	Index, Term               uint64
	CompactIndex, CompactTerm uint64
	Conf                      []byte
}

func (a *RaftApplied) encode() []byte {
	b := make([]byte, 0, 32+len(a.Conf))
	b = binary.BigEndian.AppendUint64(b, a.Index)
	b = binary.BigEndian.AppendUint64(b, a.Term)
	b = binary.BigEndian.AppendUint64(b, a.CompactIndex)
	b = binary.BigEndian.AppendUint64(b, a.CompactTerm)
	return append(b, a.Conf...)
}

func decodeRaftApplied(b []byte) (RaftApplied, error) {
	if len(b) < 32 {
		return RaftApplied{}, fmt.Errorf("%w: raft applied state of %d bytes", ErrCorruptLog, len(b))
	}
	return RaftApplied{
		Index:        binary.BigEndian.Uint64(b),
		Term:         binary.BigEndian.Uint64(b[8:]),
		CompactIndex: binary.BigEndian.Uint64(b[16:]),
		CompactTerm:  binary.BigEndian.Uint64(b[24:]),
		Conf:         append([]byte(nil), b[32:]...),
	}, nil
}

// RaftGroupState is what a group persisted: its hard state (nil if none),
// its applied state, and its log entries after CompactIndex.
type RaftGroupState struct {
	HardState []byte
	Applied   RaftApplied
	Entries   [][]byte
	Exists    bool // anything was persisted
}

// LoadRaftGroup reads a group's persisted state (at restart).
func (e *Engine) LoadRaftGroup(t TableID, s SlotID) (RaftGroupState, error) {
	var st RaftGroupState
	if e.closed.Load() {
		return st, ErrClosed
	}
	hs, ok, err := e.get(CFSystem, raftHardStateKey(t, s))
	if err != nil {
		return st, err
	}
	if ok {
		st.HardState, st.Exists = hs, true
	}
	ap, ok, err := e.get(CFSystem, raftAppliedKey(t, s))
	if err != nil {
		return st, err
	}
	if ok {
		if st.Applied, err = decodeRaftApplied(ap); err != nil {
			return st, err
		}
		st.Exists = true
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetIterateUpperBound(raftLogKey(t, s, math.MaxUint64))
	it := e.db.NewIteratorCF(ro, e.cfs[CFLog])
	defer it.Close()
	for it.Seek(raftLogKey(t, s, LogIndex(st.Applied.CompactIndex+1))); it.Valid(); it.Next() {
		st.Entries = append(st.Entries, append([]byte(nil), it.Value().Data()...))
		st.Exists = true
	}
	return st, it.Err()
}

// HasRaftState reports whether slot s of table t has a persisted raft
// group (hard or applied state): a node that no longer holds the slot
// deletes it.
func (e *Engine) HasRaftState(t TableID, s SlotID) (bool, error) {
	if e.closed.Load() {
		return false, ErrClosed
	}
	for _, k := range [][]byte{raftHardStateKey(t, s), raftAppliedKey(t, s)} {
		_, ok, err := e.get(CFSystem, k)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// RaftGroupWrite is one group's part of a RaftWrite.
type RaftGroupWrite struct {
	Table TableID
	Slot  SlotID
	// Entries are appended to the log at FirstIndex, FirstIndex+1, ...
	// With Truncate, the entries the log had from FirstIndex on are
	// deleted first (a new leader overwrote them); a range tombstone
	// costs every later read of the range, so only then.
	FirstIndex LogIndex
	Entries    [][]byte
	Truncate   bool
	// HardState, when not nil, replaces the group's hard state.
	HardState []byte
	// Effects are the encoded Effects of newly committed entries, applied
	// to the slot's data in order.
	Effects [][]byte
	// Applied, when not nil, replaces the group's applied state. When its
	// CompactIndex is above CompactedBefore, the log entries up to it are
	// deleted.
	Applied         *RaftApplied
	CompactedBefore uint64
	// FromStaging replaces the slot's data with what StageSlotChunk put
	// in its staging area (a snapshot lands), and empties the staging.
	FromStaging bool
	// TruncateAll deletes the group's whole log first (a snapshot
	// replaces it).
	TruncateAll bool
	// SetCounts, when not nil, sets the slot's key counts (a snapshot's).
	SetCounts *[2]int64
}

// ApplyRaft writes the persisted part of many groups' ready states, and
// applies their committed effects, in one RocksDB write. It does not take
// slot locks: on the leader the proposing writer holds the slot's lock
// while the group applies its effect, and followers serve no writes. A
// disk running low does not refuse it (a failed round stops the node's
// raft groups): leaders refuse clients' proposals instead
// (ClientWritesRefused).
func (e *Engine) ApplyRaft(groups []RaftGroupWrite) error {
	if e.closed.Load() {
		return ErrClosed
	}
	type countUpdate struct {
		c     *slotCounts
		n     [2]int64
		index uint64
		term  uint64
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	updates := make([]countUpdate, 0, len(groups))
	records := unitRecordApply{e: e}
	// What the write changes, for the watches and the wanted keys (kept
	// only when some key is watched or wanted): the effects applied and
	// the slots a snapshot replaced.
	watching := e.watches.n.Load() > 0 || e.wants.n.Load() > 0
	var applied []Effect
	var landed []struct {
		t TableID
		s SlotID
	}
	for i := range groups {
		g := &groups[i]
		c, err := e.slotCount(g.Table, g.Slot)
		if err != nil {
			return err
		}
		u := countUpdate{c: c, n: [2]int64{c.keys.Load(), c.expires.Load()}, index: c.logLast.Load(), term: c.logEpoch.Load()}
		if g.FromStaging {
			if err := e.landStaging(wb, g.Table, g.Slot); err != nil {
				return err
			}
			u.n = [2]int64{}
			if watching {
				landed = append(landed, struct {
					t TableID
					s SlotID
				}{g.Table, g.Slot})
			}
		}
		if g.TruncateAll {
			wb.DeleteRangeCF(e.cfs[CFLog], raftLogKey(g.Table, g.Slot, 0), raftLogKey(g.Table, g.Slot, math.MaxUint64))
		}
		if len(g.Entries) > 0 && g.Truncate {
			wb.DeleteRangeCF(e.cfs[CFLog], raftLogKey(g.Table, g.Slot, g.FirstIndex), raftLogKey(g.Table, g.Slot, math.MaxUint64))
		}
		if len(g.Entries) > 0 {
			for j, en := range g.Entries {
				wb.PutCF(e.cfs[CFLog], raftLogKey(g.Table, g.Slot, g.FirstIndex+LogIndex(j)), en)
			}
		}
		if g.HardState != nil {
			wb.PutCF(e.cfs[CFSystem], raftHardStateKey(g.Table, g.Slot), g.HardState)
		}
		counted := g.FromStaging
		for _, raw := range g.Effects {
			eff, err := DecodeEffect(raw)
			if err != nil {
				return fmt.Errorf("storage: raft entry of table %d slot %d: %w", g.Table, g.Slot, err)
			}
			if apply, err := records.filter(g.Table, g.Slot, &eff); err != nil {
				return fmt.Errorf("storage: raft entry of table %d slot %d: %w", g.Table, g.Slot, err)
			} else if !apply {
				continue // it ends a part that is not recorded (ended already)
			}
			for _, op := range eff.Ops {
				if len(op.Key) < prefixLen || binary.BigEndian.Uint32(op.Key) != uint32(g.Table) || binary.BigEndian.Uint32(op.Key[4:]) != uint32(g.Slot) {
					if op.CF != CFSystem {
						return fmt.Errorf("%w: raft entry op outside table %d slot %d", ErrCorruptEffect, g.Table, g.Slot)
					}
				}
			}
			eff.addTo(wb, &e.cfs)
			if watching {
				applied = append(applied, eff)
			}
			u.n[0] += eff.KeyDelta
			u.n[1] += eff.ExpireDelta
			counted = counted || eff.KeyDelta != 0 || eff.ExpireDelta != 0
		}
		if g.SetCounts != nil {
			u.n = *g.SetCounts
			counted = true
		}
		if counted {
			wb.PutCF(e.cfs[CFSystem], countKey(g.Table, g.Slot), encodeCounts(u.n))
		}
		if a := g.Applied; a != nil {
			wb.PutCF(e.cfs[CFSystem], raftAppliedKey(g.Table, g.Slot), a.encode())
			if a.CompactIndex > g.CompactedBefore {
				wb.DeleteRangeCF(e.cfs[CFLog], raftLogKey(g.Table, g.Slot, 0), raftLogKey(g.Table, g.Slot, LogIndex(a.CompactIndex+1)))
			}
			u.index, u.term = a.Index, a.Term
		}
		updates = append(updates, u)
	}
	if err := e.db.Write(e.woRaft, wb); err != nil {
		return fmt.Errorf("storage: raft write: %w", err)
	}
	// The counts first, right after the data: a reader that sees a key
	// the write added sees it counted but for these few instructions
	// (they lagged by the parts' reload of a landing, which a test
	// caught as the count behind the data).
	for _, u := range updates {
		u.c.keys.Store(u.n[0])
		u.c.expires.Store(u.n[1])
	}
	for i := range applied {
		e.touchEffect(&applied[i])
	}
	for _, r := range landed {
		e.touchSlot(r.t, r.s)
	}
	records.noted()
	for i := range groups {
		if g := &groups[i]; g.FromStaging {
			// The snapshot's part records replace the slot's.
			if err := e.loadParts(g.Table, g.Slot); err != nil {
				return err
			}
		}
	}
	for _, u := range updates {
		// A raft slot's position (slot check, positions) is its applied
		// index and the term of that entry: once its parts are loaded.
		u.c.logLast.Store(u.index)
		u.c.logEpoch.Store(u.term)
	}
	return nil
}

// A snapshot streams into a staging area of the slot, in the same column
// families under the prefix 0xFFFFFFFE | table | slot, so the slot's data,
// its raft log and state stay untouched until the last write lands it all
// at once (a crash mid-stream leaves only staging to clear). Table ids
// never reach 0xFFFFFFFE.
var stagingMark = []byte{0xFF, 0xFF, 0xFF, 0xFE}

func stagingPrefix(t TableID, s SlotID) []byte {
	return appendPrefix(append([]byte(nil), stagingMark...), t, s)
}

// ClearStaging empties a slot's staging area.
func (e *Engine) ClearStaging(t TableID, s SlotID) error {
	p := stagingPrefix(t, s)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, cf := range syncCFs {
		wb.DeleteRangeCF(e.cfs[cf], p, prefixEnd(p))
	}
	return e.db.Write(e.wo, wb)
}

// StageSlotChunk writes a snapshot's puts (keys of slot s of table t) into
// the slot's staging area.
func (e *Engine) StageSlotChunk(t TableID, s SlotID, ops []Op) error {
	if err := e.disk.refuse(false); err != nil {
		return err
	}
	prefix := SlotPrefix(t, s)
	sp := stagingPrefix(t, s)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	n := 0
	for _, op := range ops {
		if op.Kind != OpPut || op.CF > CFScore || len(op.Key) < prefixLen || string(op.Key[:prefixLen]) != string(prefix) {
			return fmt.Errorf("%w: snapshot op outside table %d slot %d", ErrCorruptEffect, t, s)
		}
		wb.PutCF(e.cfs[op.CF], append(sp[:len(sp):len(sp)], op.Key[prefixLen:]...), op.Value)
		n += len(op.Key) + len(op.Value)
	}
	defer e.disk.wrote(n)
	return e.db.Write(e.wo, wb)
}

// landStaging adds to wb: delete the slot's data, move its staging area in.
func (e *Engine) landStaging(wb *grocksdb.WriteBatch, t TableID, s SlotID) error {
	start := SlotPrefix(t, s)
	sp := stagingPrefix(t, s)
	for _, cf := range syncCFs {
		wb.DeleteRangeCF(e.cfs[cf], start, prefixEnd(start))
		ro := grocksdb.NewDefaultReadOptions()
		ro.SetFillCache(false)
		ro.SetIterateUpperBound(prefixEnd(sp))
		it := e.db.NewIteratorCF(ro, e.cfs[cf])
		for it.Seek(sp); it.Valid(); it.Next() {
			k := it.Key().Data()
			wb.PutCF(e.cfs[cf], append(start[:len(start):len(start)], k[len(sp):]...), it.Value().Data())
		}
		err := it.Err()
		it.Close()
		ro.Destroy()
		if err != nil {
			return err
		}
		wb.DeleteRangeCF(e.cfs[cf], sp, prefixEnd(sp))
	}
	e.mcache.clearAll()
	return nil
}

// OpenRaftSlotSnapshot takes a snapshot of a raft slot's data without the
// slot's lock: the caller is the group's driver, the only writer of raft
// slots, so the data is exactly at the driver's applied index. Keys and
// Expires are the slot's counts there.
func (e *Engine) OpenRaftSlotSnapshot(t TableID, s SlotID) (*SlotSnapshot, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	c, err := e.slotCount(t, s)
	if err != nil {
		return nil, err
	}
	return &SlotSnapshot{e: e, t: t, s: s, snap: e.db.NewSnapshot(), Keys: c.keys.Load(), Expires: c.expires.Load()}, nil
}

// loadRaftPosition sets a raft slot's position from its applied state.
func (e *Engine) loadRaftPosition(t TableID, s SlotID, c *slotCounts) error {
	v, ok, err := e.get(CFSystem, raftAppliedKey(t, s))
	if err != nil || !ok {
		return err
	}
	a, err := decodeRaftApplied(v)
	if err != nil {
		return err
	}
	c.logLast.Store(a.Index)
	c.logEpoch.Store(a.Term)
	return nil
}

// dropRaftState deletes the raft log and state of every slot of table t.
func (e *Engine) dropRaftState(t TableID) error {
	start := append([]byte{raftLogMark}, TablePrefix(t)...)
	if err := e.db.DeleteRangeCF(e.wo, e.cfs[CFLog], start, prefixEnd(start)); err != nil {
		return err
	}
	stage := append(append([]byte(nil), stagingMark...), TablePrefix(t)...)
	for _, cf := range syncCFs {
		if err := e.db.DeleteRangeCF(e.wo, e.cfs[cf], stage, prefixEnd(stage)); err != nil {
			return err
		}
	}
	for _, p := range []string{"raft-hs|", "raft-ap|"} {
		k := append([]byte(p), TablePrefix(t)...)
		if err := e.db.DeleteRangeCF(e.wo, e.cfs[CFSystem], k, prefixEnd(k)); err != nil {
			return err
		}
	}
	return nil
}

// deleteRaftState adds to wb the deletion of a raft slot's log, hard and
// applied state, and staging area (ResetSlot).
func (e *Engine) deleteRaftState(wb *grocksdb.WriteBatch, t TableID, s SlotID) {
	sp := stagingPrefix(t, s)
	for _, cf := range syncCFs {
		wb.DeleteRangeCF(e.cfs[cf], sp, prefixEnd(sp))
	}
	wb.DeleteRangeCF(e.cfs[CFLog], raftLogKey(t, s, 0), raftLogKey(t, s, math.MaxUint64))
	wb.DeleteCF(e.cfs[CFSystem], raftHardStateKey(t, s))
	wb.DeleteCF(e.cfs[CFSystem], raftAppliedKey(t, s))
}
