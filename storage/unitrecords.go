package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"
)

// A multi-slot unit's records (docs/transactions.md). A unit's part on a
// slot, and its decision in its home slot, are records of the slot's own
// state, written like any effect: by the slot's raft group in a raft
// table, as a logged write of the slot's leader in an async table
// (WriteUnitRecord), which ships it to the slot's followers. So every
// replica has them, a new leader finds them, and a raft snapshot or a full
// sync (and so a slot move) carries them. They live in the data CF under
// the slot's prefix, behind a key length no user key has (keys.go):
//
//	prefix | 0xFFFFFFFF | 'P' | unit  -> home slot u32 | the part's effect
//	prefix | 0xFFFFFFFF | 'D' | unit  -> outcome byte
//
// A slot with a part record is pending on its unit: on every replica its
// reads wait (the stripe's gate) and its writes wait (Batch.Update) or
// find it busy (TryHold), from the write of the part's record until the
// write that ends it (EndEffect), which applies the part's effect (commit)
// or drops it (abort) and deletes the record in one write. An end is
// applied only while its part is recorded, so a part ended twice (its
// coordinator's UAPPLY and a resolver on a new leader) is ended once; a
// decision records an outcome only if none is recorded (the first one
// wins on every replica). Raft applies these rules in ApplyRaft, an async
// leader in its committer (WriteUnitRecord); a follower applies what its
// leader logged.

// Decision is a unit's outcome as its home slot records it.
type Decision byte

// The outcomes. Stored: never renumber.
const (
	Undecided Decision = iota
	Committed
	Aborted
)

func (d Decision) String() string {
	switch d {
	case Committed:
		return "commit"
	case Aborted:
		return "abort"
	}
	return "undecided"
}

// ErrCorruptPart reports a part record this package could not have
// written.
var ErrCorruptPart = errors.New("storage: corrupt unit part record")

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

// UnitPendingError is a write of a slot that waited too long for
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

// PendingPart is a unit's part recorded on a slot of this node (as a
// leader or a follower of the slot).
type PendingPart struct {
	Table TableID
	Slot  SlotID
	Unit  string
	// Home is the slot whose group records the unit's decision.
	Home SlotID
	// Since is when this process saw the part recorded.
	Since time.Time
}

type partKey struct {
	t    TableID
	s    SlotID
	unit string
}

// pendingParts is the engine's set of pending parts (kept with the
// records: written and applied entries, loaded tables, landed snapshots
// and full syncs).
type pendingParts struct {
	mu    sync.Mutex
	parts map[partKey]PendingPart
	n     atomic.Int64
}

// notePart records that a part is (present) or is no longer recorded on
// its slot, and raises or lowers the slot's gate with it.
func (e *Engine) notePart(p PendingPart, present bool) {
	k := partKey{p.Table, p.Slot, p.Unit}
	rp := &e.pendingParts
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.parts == nil {
		rp.parts = map[partKey]PendingPart{}
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

// forgetParts drops the pending parts of slot s of table t (every
// slot's when all), whose records were deleted with the slot's data.
func (e *Engine) forgetParts(t TableID, s SlotID, all bool) {
	e.dropParts(func(k partKey) bool { return k.t == t && (all || k.s == s) })
}

// dropParts notes as no longer recorded the pending parts gone says.
func (e *Engine) dropParts(gone func(partKey) bool) {
	rp := &e.pendingParts
	rp.mu.Lock()
	var drop []PendingPart
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

// loadParts notes the part records slot s of table t has, dropping
// the pending parts noted for it that it has not (a snapshot landed).
func (e *Engine) loadParts(t TableID, s SlotID) error {
	it := e.db.NewIteratorCF(e.ro, e.cfs[CFData])
	defer it.Close()
	return e.loadPartsWith(it, t, s)
}

// loadPartsWith is loadParts reading with it, an iterator over the
// data CF (EnsureTable uses one for every slot of a table).
func (e *Engine) loadPartsWith(it *grocksdb.Iterator, t TableID, s SlotID) error {
	found, err := scanParts(it, t, s)
	if err != nil {
		return err
	}
	e.dropParts(func(k partKey) bool {
		_, ok := found[k.unit]
		return k.t == t && k.s == s && !ok
	})
	for _, p := range found {
		e.notePart(p, true)
	}
	return nil
}

// scanParts reads the part records of slot s of table t with it.
func scanParts(it *grocksdb.Iterator, t TableID, s SlotID) (map[string]PendingPart, error) {
	lower := append(unitRecordPrefix(t, s), recordPart)
	found := map[string]PendingPart{}
	for it.Seek(lower); it.Valid() && bytes.HasPrefix(it.Key().Data(), lower); it.Next() {
		_, unit, ok := parseUnitRecord(it.Key().Data())
		v := it.Value().Data()
		if !ok || len(v) < 4 {
			return nil, fmt.Errorf("%w: table %d slot %d", ErrCorruptPart, t, s)
		}
		found[unit] = PendingPart{Table: t, Slot: s, Unit: unit, Home: SlotID(binary.BigEndian.Uint32(v)), Since: time.Now()}
	}
	return found, it.Err()
}

// PendingParts returns the parts pending on this node's slots.
func (e *Engine) PendingParts() []PendingPart {
	rp := &e.pendingParts
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := make([]PendingPart, 0, len(rp.parts))
	for _, p := range rp.parts {
		out = append(out, p)
	}
	return out
}

// partPending reports whether a part is pending on one of slots of t.
func (e *Engine) partPending(t TableID, slots []SlotID) bool {
	_, ok := e.pendingSlot(t, slots)
	return ok
}

// pendingSlot returns one of slots of t on which a part is pending.
func (e *Engine) pendingSlot(t TableID, slots []SlotID) (SlotID, bool) {
	rp := &e.pendingParts
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

// partPendingWait bounds how long a write waits for a unit pending on its
// slot (a resolver ends it within seconds while the unit's home slot
// has a leader).
const partPendingWait = 10 * time.Second

// awaitParts waits, holding the slots' stripe locks, until no part is
// pending on slots of t (ended by record writes, which take no lock), for
// at most partPendingWait (then a *UnitPendingError).
func (e *Engine) awaitParts(t TableID, slots []SlotID) error {
	return e.awaitPartsFor(t, slots, partPendingWait)
}

// awaitPartsFor is awaitParts waiting at most wait.
func (e *Engine) awaitPartsFor(t TableID, slots []SlotID, wait time.Duration) error {
	if e.pendingParts.n.Load() == 0 {
		return nil
	}
	var timeout <-chan time.Time
	for {
		s, pending := e.pendingSlot(t, slots)
		if !pending {
			return nil
		}
		if timeout == nil {
			tm := time.NewTimer(wait)
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
			// The bound is for all of them (the timer fires once).
			if s, still := e.pendingSlot(t, slots); still {
				return &UnitPendingError{Table: t, Slot: s}
			}
			return nil
		}
	}
}

// ---- the entries ----

// PartEffect is the entry (an encoded Effect) that prepares a
// unit's part on slot s: the record of the part (its home slot and
// its effect, not applied).
func PartEffect(t TableID, s SlotID, unit string, home SlotID, effect []byte) []byte {
	eff := Effect{Ops: []Op{partRecordOp(t, s, unit, home, effect)}}
	return eff.Encode(nil)
}

// partRecordOp writes the record of unit's part on slot s of t.
func partRecordOp(t TableID, s SlotID, unit string, home SlotID, effect []byte) Op {
	v := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(effect)), uint32(home))
	return Op{Kind: OpPut, CF: CFData, Key: unitRecordKey(t, s, recordPart, unit), Value: append(v, effect...)}
}

// DecisionEffect is the entry that records unit's outcome d in its
// home slot s; it is dropped where an outcome is recorded (the first one
// stays).
func DecisionEffect(t TableID, s SlotID, unit string, d Decision) []byte {
	eff := Effect{Ops: []Op{decisionOp(t, s, unit, d)}}
	return eff.Encode(nil)
}

// CommitEffect is the entry that applies a unit's part on its home slot
// s (part, an encoded Effect of the slot) and records the commit, in one
// write: the unit commits and its home part is written at one point, and
// the home slot is never pending on it. It is dropped whole where an
// outcome is recorded (a unit aborted first leaves its part unapplied).
func CommitEffect(t TableID, s SlotID, unit string, part []byte) ([]byte, error) {
	eff, err := DecodeEffect(part)
	if err != nil {
		return nil, err
	}
	eff.Ops = append(eff.Ops, decisionOp(t, s, unit, Committed))
	return eff.Encode(nil), nil
}

func decisionOp(t TableID, s SlotID, unit string, d Decision) Op {
	return Op{Kind: OpPut, CF: CFData, Key: unitRecordKey(t, s, recordDecision, unit), Value: []byte{byte(d)}}
}

// ForgetEffect is the entry that deletes the decisions of units from
// their home slot s, once every part of each is ended.
func ForgetEffect(t TableID, s SlotID, units ...string) []byte {
	eff := Effect{Ops: make([]Op, len(units))}
	for i, u := range units {
		eff.Ops[i] = Op{Kind: OpDelete, CF: CFData, Key: unitRecordKey(t, s, recordDecision, u)}
	}
	return eff.Encode(nil)
}

// EndEffect returns the entry that ends unit's part on slot s:
// the part's effect (commit) and the deletion of its record, applied only
// while the record exists. recorded is false (and the entry nil) when no
// part of unit is recorded on the slot here.
func (e *Engine) EndEffect(t TableID, s SlotID, unit string, commit bool) (entry []byte, recorded bool, err error) {
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

// RecordedDecision returns the outcome of unit recorded in its home slot s
// here (Undecided when none is).
func (e *Engine) RecordedDecision(t TableID, s SlotID, unit string) (Decision, error) {
	if e.closed.Load() {
		return Undecided, ErrClosed
	}
	v, ok, err := e.get(CFData, unitRecordKey(t, s, recordDecision, unit))
	if err != nil || !ok || len(v) == 0 {
		return Undecided, err
	}
	return Decision(v[0]), nil
}

// ---- applying them (ApplyRaft, WriteUnitRecord) ----

// unitRecordApply tracks the unit records of one write (ApplyRaft's, the
// committer's): their
// state as the write leaves them (records written earlier in the write
// are not readable yet), and the parts it records or ends.
type unitRecordApply struct {
	e       *Engine
	present map[string]bool
	changes []partChange
}

type partChange struct {
	part    PendingPart
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
// part) is dropped whole when the part is not recorded; one that ends
// with a decision (DecisionEffect, CommitEffect) is
// dropped whole when an outcome is recorded. It reports whether to apply
// eff and notes the parts it records or ends.
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
	if last := eff.Ops[len(eff.Ops)-1]; last.Kind == OpPut && last.CF == CFData {
		if kind, _, ok := parseUnitRecord(last.Key); ok && kind == recordDecision {
			if had, err := a.exists(last.Key); err != nil || had {
				return false, err // the first outcome stays
			}
		}
	}
	a.track(t, s, eff)
	return true, nil
}

// track notes the unit records an effect puts or deletes (one the rules
// let through, an ordinary write, a follower's copy of its leader's
// entry), and the parts among them.
func (a *unitRecordApply) track(t TableID, s SlotID, eff *Effect) {
	for _, op := range eff.Ops {
		if op.CF != CFData || op.Kind == OpDeleteRange {
			continue
		}
		kind, unit, ok := parseUnitRecord(op.Key)
		if !ok {
			continue
		}
		a.set(op.Key, op.Kind == OpPut)
		if kind != recordPart {
			continue
		}
		p := PendingPart{Table: t, Slot: s, Unit: unit, Since: time.Now()}
		if op.Kind == OpPut && len(op.Value) >= 4 {
			p.Home = SlotID(binary.BigEndian.Uint32(op.Value))
		}
		a.changes = append(a.changes, partChange{p, op.Kind == OpPut})
	}
}

// SlotEntry is an encoded Effect of unit records (PartEffect,
// DecisionEffect, EndEffect, ForgetEffect) for one slot.
type SlotEntry struct {
	Slot  SlotID
	Entry []byte
}

// WriteUnitRecord writes one slot's entry (WriteUnitRecords).
func (e *Engine) WriteUnitRecord(t TableID, s SlotID, entry []byte) (LogIndex, error) {
	idx, err := e.WriteUnitRecords(t, []SlotEntry{{Slot: s, Entry: entry}})
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// WriteUnitRecords writes entries, each on its slot of t (an async
// table's slots this node leads, no two the same), in one write, with the
// rules of unit records (an end of a part not recorded, or a decision
// where an outcome is recorded, is not written), each logged as any write
// of its slot, so its followers get it. It takes no stripe lock: each
// slot may be held by the unit (its hold) or pending on it (writers wait
// for the end this writes); the committer keeps it apart from other
// writes of the slots. It returns each entry's log index (0 when its slot
// keeps no log or the entry was not written).
func (e *Engine) WriteUnitRecords(t TableID, entries []SlotEntry) ([]LogIndex, error) {
	txns := make([]*Txn, 0, len(entries))
	for i, en := range entries {
		for _, other := range entries[:i] {
			if other.Slot == en.Slot {
				return nil, fmt.Errorf("storage: two unit record entries of slot %d in one write", en.Slot)
			}
		}
		eff, err := DecodeEffect(en.Entry)
		if err != nil {
			return nil, err
		}
		ops := make([]Op, len(eff.Ops))
		copy(ops, eff.Ops)
		for i := range ops { // the meta cache keeps meta values: no aliasing
			if ops[i].CF == CFMeta && ops[i].Value != nil {
				ops[i].Value = bytes.Clone(ops[i].Value)
			}
		}
		eff.Ops = ops
		txns = append(txns, &Txn{e: e, table: t, slot: en.Slot, write: true, eff: eff})
	}
	e.records.RLock()
	defer e.records.RUnlock()
	if e.closed.Load() {
		return nil, ErrClosed
	}
	for _, en := range entries {
		if e.isRaft(t, en.Slot) {
			return nil, ErrRaftSlot
		}
	}
	idx := make([]LogIndex, len(entries))
	if !slices.ContainsFunc(txns, func(x *Txn) bool { return !x.eff.Empty() }) {
		return idx, nil
	}
	done := make(chan error, 1)
	e.commitCh <- &commitReq{txns: txns, records: true, done: done}
	if err := <-done; err != nil {
		return nil, err
	}
	for i, x := range txns {
		idx[i] = x.logIndex
	}
	return idx, nil
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
// prepared on one of them: raised by a part's
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
