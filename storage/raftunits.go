package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"
)

// Units over raft slots (docs/transactions.md, "Raft tables"). A unit's
// part on a raft slot, and its decision in its home slot, are records of
// the slot's own state, written by the slot's raft group like any effect:
// every replica has them, a new leader finds them, a raft snapshot (and so
// a slot move) carries them. They live in the data CF under the slot's
// prefix, behind a key length no user key has (keys.go):
//
//	prefix | 0xFFFFFFFF | 'P' | unit  -> home slot u32 | the part's effect
//	prefix | 0xFFFFFFFF | 'D' | unit  -> outcome byte
//
// A slot with a part record is pending on its unit: on every replica its
// reads wait (the stripe's gate) and its writes wait (Batch.Update, Hold)
// or find it busy (TryHold), from the apply of the part's entry until the
// apply of the entry that ends it (RaftEndEffect), which applies the
// part's effect (commit) or drops it (abort) and deletes the record in one
// write. An end entry is applied only while its part is recorded, so a
// part ended twice (its coordinator's UAPPLY and a resolver on a new
// leader) is ended once; a decision entry records an outcome only if none
// is recorded (the first one wins on every replica).

const unitRecordLen = 0xFFFFFFFF

const (
	recordPart     byte = 'P'
	recordDecision byte = 'D'
)

// unitRecordPrefix is the start of slot s's unit records; every data key
// of the slot sorts before it.
func unitRecordPrefix(t TableID, s SlotID) []byte {
	return binary.BigEndian.AppendUint32(SlotPrefix(t, s), unitRecordLen)
}

func unitRecordKey(t TableID, s SlotID, kind byte, unit string) []byte {
	return append(append(unitRecordPrefix(t, s), kind), unit...)
}

// parseUnitRecord splits a data CF key that is a unit record.
func parseUnitRecord(key []byte) (kind byte, unit string, ok bool) {
	if len(key) < prefixLen+5 || binary.BigEndian.Uint32(key[prefixLen:]) != unitRecordLen {
		return 0, "", false
	}
	return key[prefixLen+4], string(key[prefixLen+5:]), true
}

// UnitPendingError is a write of a raft slot that waited too long for
// the unit pending on it to be resolved: nothing of it ran.
type UnitPendingError struct {
	Table TableID
	Slot  SlotID
}

func (e *UnitPendingError) Error() string {
	return fmt.Sprintf("storage: slot %d of table %d waits for the outcome of a multi-slot transaction", e.Slot, e.Table)
}

// RedisError is the client's reply: TRYAGAIN, as Redis Cluster answers
// a command a slot cannot take now.
func (e *UnitPendingError) RedisError() string {
	return fmt.Sprintf("TRYAGAIN slot %d waits for the outcome of a multi-slot transaction; retry", e.Slot)
}

// RaftPart is a unit's part recorded on a raft slot of this node (as a
// leader or a follower of the slot).
type RaftPart struct {
	Table TableID
	Slot  SlotID
	Unit  string
	// Home is the slot whose group records the unit's decision.
	Home SlotID
	// Since is when this process saw the part recorded.
	Since time.Time
}

type raftPartKey struct {
	t    TableID
	s    SlotID
	unit string
}

// raftParts is the engine's set of pending raft parts (kept with the
// records: applied entries, loaded tables, landed snapshots).
type raftParts struct {
	mu    sync.Mutex
	parts map[raftPartKey]RaftPart
	n     atomic.Int64
}

// notePart records that a part is (present) or is no longer recorded on
// its slot, and raises or lowers the slot's gate with it.
func (e *Engine) notePart(p RaftPart, present bool) {
	k := raftPartKey{p.Table, p.Slot, p.Unit}
	rp := &e.raftParts
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.parts == nil {
		rp.parts = map[raftPartKey]RaftPart{}
	}
	_, had := rp.parts[k]
	switch {
	case present && !had:
		rp.parts[k] = p
		rp.n.Add(1)
		e.gates.raise(e.stripeOf(p.Table, p.Slot))
	case !present && had:
		delete(rp.parts, k)
		rp.n.Add(-1)
		e.gates.lower(e.stripeOf(p.Table, p.Slot))
	}
}

// forgetRaftParts drops the pending parts of slot s of table t (every
// slot's when all), whose records were deleted with the slot's data.
func (e *Engine) forgetRaftParts(t TableID, s SlotID, all bool) {
	e.dropRaftParts(func(k raftPartKey) bool { return k.t == t && (all || k.s == s) })
}

// dropRaftParts notes as no longer recorded the pending parts gone says.
func (e *Engine) dropRaftParts(gone func(raftPartKey) bool) {
	rp := &e.raftParts
	rp.mu.Lock()
	var drop []RaftPart
	for k, p := range rp.parts {
		if gone(k) {
			drop = append(drop, p)
		}
	}
	rp.mu.Unlock()
	for _, p := range drop {
		e.notePart(p, false)
	}
}

// loadRaftParts notes the part records slot s of table t has, dropping
// the pending parts noted for it that it has not (a snapshot landed).
func (e *Engine) loadRaftParts(t TableID, s SlotID) error {
	it := e.db.NewIteratorCF(e.ro, e.cfs[CFData])
	defer it.Close()
	return e.loadRaftPartsWith(it, t, s)
}

// loadRaftPartsWith is loadRaftParts reading with it, an iterator over the
// data CF (EnsureTable uses one for every slot of a table).
func (e *Engine) loadRaftPartsWith(it *grocksdb.Iterator, t TableID, s SlotID) error {
	found, err := scanRaftParts(it, t, s)
	if err != nil {
		return err
	}
	e.dropRaftParts(func(k raftPartKey) bool {
		_, ok := found[k.unit]
		return k.t == t && k.s == s && !ok
	})
	for _, p := range found {
		e.notePart(p, true)
	}
	return nil
}

// scanRaftParts reads the part records of slot s of table t with it.
func scanRaftParts(it *grocksdb.Iterator, t TableID, s SlotID) (map[string]RaftPart, error) {
	lower := append(unitRecordPrefix(t, s), recordPart)
	found := map[string]RaftPart{}
	for it.Seek(lower); it.Valid() && bytes.HasPrefix(it.Key().Data(), lower); it.Next() {
		_, unit, ok := parseUnitRecord(it.Key().Data())
		v := it.Value().Data()
		if !ok || len(v) < 4 {
			return nil, fmt.Errorf("%w: table %d slot %d", ErrCorruptPart, t, s)
		}
		found[unit] = RaftPart{Table: t, Slot: s, Unit: unit, Home: SlotID(binary.BigEndian.Uint32(v)), Since: time.Now()}
	}
	return found, it.Err()
}

// RaftParts returns the parts pending on this node's raft slots.
func (e *Engine) RaftParts() []RaftPart {
	rp := &e.raftParts
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := make([]RaftPart, 0, len(rp.parts))
	for _, p := range rp.parts {
		out = append(out, p)
	}
	return out
}

// raftPending reports whether a part is pending on one of slots of t.
func (e *Engine) raftPending(t TableID, slots []SlotID) bool {
	_, ok := e.pendingSlot(t, slots)
	return ok
}

// pendingSlot returns one of slots of t on which a part is pending.
func (e *Engine) pendingSlot(t TableID, slots []SlotID) (SlotID, bool) {
	rp := &e.raftParts
	if rp.n.Load() == 0 {
		return 0, false
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for k := range rp.parts {
		if k.t == t && slices.Contains(slots, k.s) {
			return k.s, true
		}
	}
	return 0, false
}

// unitPendingWait bounds how long a write waits for a unit pending on its
// raft slot (a resolver ends it within seconds while the unit's home slot
// has a leader).
const unitPendingWait = 10 * time.Second

// awaitRaftParts waits, holding the slots' stripe locks, until no part is
// pending on slots of t (ended by raft entries, which take no lock), for
// at most unitPendingWait (then a *UnitPendingError).
func (e *Engine) awaitRaftParts(t TableID, slots []SlotID) error {
	if e.raftParts.n.Load() == 0 {
		return nil
	}
	var timeout <-chan time.Time
	for {
		s, pending := e.pendingSlot(t, slots)
		if !pending {
			return nil
		}
		if timeout == nil {
			tm := time.NewTimer(unitPendingWait)
			defer tm.Stop()
			timeout = tm.C
		}
		// Its part raised its stripe's gate; wait for the gate to open
		// (or the limit).
		g := e.gates.ch[e.stripeOf(t, s)].Load()
		if g == nil {
			continue // ended meanwhile
		}
		select {
		case <-*g:
		case <-timeout:
			if _, still := e.pendingSlot(t, []SlotID{s}); still {
				return &UnitPendingError{Table: t, Slot: s}
			}
		}
	}
}

// ---- the entries ----

// RaftPartEffect is the raft entry (an encoded Effect) that prepares a
// unit's part on raft slot s: the record of the part (its home slot and
// its effect, not applied).
func RaftPartEffect(t TableID, s SlotID, unit string, home SlotID, effect []byte) []byte {
	eff := Effect{Ops: []Op{partRecordOp(t, s, unit, home, effect)}}
	return eff.Encode(nil)
}

// partRecordOp writes the record of unit's part on slot s of t.
func partRecordOp(t TableID, s SlotID, unit string, home SlotID, effect []byte) Op {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(effect)), uint32(home))
	return Op{Kind: OpPut, CF: CFData, Key: unitRecordKey(t, s, recordPart, unit), Value: append(v, effect...)}
}

// RaftDecisionEffect is the raft entry that records unit's outcome d in
// its home slot s (ignored where one is recorded), after the home's own
// part when part is not nil (prepare and commit in one entry).
func RaftDecisionEffect(t TableID, s SlotID, unit string, d Decision, part []byte) []byte {
	var eff Effect
	if part != nil {
		eff.Ops = append(eff.Ops, partRecordOp(t, s, unit, s, part))
	}
	eff.Ops = append(eff.Ops, Op{Kind: OpPut, CF: CFData, Key: unitRecordKey(t, s, recordDecision, unit), Value: []byte{byte(d)}})
	return eff.Encode(nil)
}

// RaftForgetEffect is the raft entry that deletes unit's decision from its
// home slot s, once every part is ended.
func RaftForgetEffect(t TableID, s SlotID, unit string) []byte {
	eff := Effect{Ops: []Op{{Kind: OpDelete, CF: CFData, Key: unitRecordKey(t, s, recordDecision, unit)}}}
	return eff.Encode(nil)
}

// RaftEndEffect returns the raft entry that ends unit's part on slot s:
// the part's effect (commit) and the deletion of its record, applied only
// while the record exists. recorded is false (and the entry nil) when no
// part of unit is recorded on the slot here.
func (e *Engine) RaftEndEffect(t TableID, s SlotID, unit string, commit bool) (entry []byte, recorded bool, err error) {
	key := unitRecordKey(t, s, recordPart, unit)
	v, ok, err := e.get(CFData, key)
	if err != nil || !ok {
		return nil, false, err
	}
	if len(v) < 4 {
		return nil, false, ErrCorruptPart
	}
	end := Effect{Ops: []Op{{Kind: OpDelete, CF: CFData, Key: key}}}
	if commit {
		part, err := DecodeEffect(v[4:])
		if err != nil {
			return nil, false, err
		}
		end.Ops = append(end.Ops, part.Ops...)
		end.KeyDelta, end.ExpireDelta = part.KeyDelta, part.ExpireDelta
	}
	return end.Encode(nil), true, nil
}

// RaftDecision returns the outcome of unit recorded in its home slot s
// here (Undecided when none is).
func (e *Engine) RaftDecision(t TableID, s SlotID, unit string) (Decision, error) {
	if e.closed.Load() {
		return Undecided, ErrClosed
	}
	v, ok, err := e.get(CFData, unitRecordKey(t, s, recordDecision, unit))
	if err != nil || !ok || len(v) == 0 {
		return Undecided, err
	}
	return Decision(v[0]), nil
}

// ---- applying them (ApplyRaft) ----

// unitRecordApply tracks the unit records of one ApplyRaft write: their
// state as the write leaves them (records written earlier in the write
// are not readable yet), and the parts it records or ends.
type unitRecordApply struct {
	e       *Engine
	present map[string]bool
	changes []partChange
}

type partChange struct {
	part    RaftPart
	present bool
}

func (a *unitRecordApply) exists(key []byte) (bool, error) {
	if p, ok := a.present[string(key)]; ok {
		return p, nil
	}
	_, ok, err := a.e.get(CFData, key)
	return ok, err
}

func (a *unitRecordApply) set(key []byte, p bool) {
	if a.present == nil {
		a.present = map[string]bool{}
	}
	a.present[string(key)] = p
}

// filter applies the rules of unit records to one effect of slot s of t:
// an effect that begins with the deletion of a part record (it ends the
// part) is dropped whole when the part is not recorded; a decision is not
// written over a recorded one. It reports whether to apply eff (whose
// ops it may shorten) and notes the parts it records or ends.
func (a *unitRecordApply) filter(t TableID, s SlotID, eff *Effect) (bool, error) {
	if len(eff.Ops) == 0 {
		return true, nil
	}
	if first := eff.Ops[0]; first.Kind == OpDelete && first.CF == CFData {
		if kind, _, ok := parseUnitRecord(first.Key); ok && kind == recordPart {
			if ok, err := a.exists(first.Key); err != nil || !ok {
				return false, err
			}
		}
	}
	// kept is eff.Ops without the decisions that are not written: nil
	// until one is dropped (every ordinary write drops none).
	var kept []Op
	for i, op := range eff.Ops {
		kind, unit, ok := parseUnitRecord(op.Key)
		if op.CF != CFData || !ok || op.Kind == OpDeleteRange {
			if kept != nil {
				kept = append(kept, op)
			}
			continue
		}
		had, err := a.exists(op.Key)
		if err != nil {
			return false, err
		}
		if kind == recordDecision && op.Kind == OpPut && had {
			if kept == nil {
				kept = append(make([]Op, 0, len(eff.Ops)-1), eff.Ops[:i]...)
			}
			continue // the first outcome stays
		}
		a.set(op.Key, op.Kind == OpPut)
		if kind == recordPart {
			p := RaftPart{Table: t, Slot: s, Unit: unit, Since: time.Now()}
			if op.Kind == OpPut && len(op.Value) >= 4 {
				p.Home = SlotID(binary.BigEndian.Uint32(op.Value))
			}
			a.changes = append(a.changes, partChange{p, op.Kind == OpPut})
		}
		if kept != nil {
			kept = append(kept, op)
		}
	}
	if kept != nil {
		eff.Ops = kept
	}
	return true, nil
}

// noted applies the parts' changes to the engine's pending set, once the
// write is done.
func (a *unitRecordApply) noted() {
	for _, c := range a.changes {
		a.e.notePart(c.part, c.present)
	}
}

// ---- gates ----

// stripeGates make reads of a stripe's slots wait while a unit's part is
// prepared on one of them: raised by a SlotHold's Gate or a raft part's
// record, lowered when it ends; reads wait until the last one ends.
type stripeGates struct {
	mu sync.Mutex
	n  [lockStripes]int32
	ch [lockStripes]atomic.Pointer[gateWait]
}

// gateWait is a gate's channel, closed when the gate is lowered.
type gateWait chan struct{}

func (g *stripeGates) raise(st int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[st] == 0 {
		c := make(gateWait)
		g.ch[st].Store(&c)
	}
	g.n[st]++
}

func (g *stripeGates) lower(st int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[st] == 0 {
		return
	}
	g.n[st]--
	if g.n[st] == 0 {
		if c := g.ch[st].Swap(nil); c != nil {
			close(*c)
		}
	}
}

// wait returns once stripe st has no gate raised.
func (g *stripeGates) wait(st int) {
	for {
		c := g.ch[st].Load()
		if c == nil {
			return
		}
		<-*c
	}
}
