package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// A multi-slot unit over slots of several nodes (docs/transactions.md)
// holds this node's slots of it from the participant's LOCK to its APPLY or
// ABORT, across peer requests: a SlotHold. Once the unit's part here is
// prepared it is recorded durably in the system CF (a restart finds it,
// ListPrepared), and single-slot reads of the held slots wait until it is
// applied or dropped (a reader must not see the part of a unit another
// node has applied and this one's not yet). ApplyHold applies the part and
// deletes its record in one RocksDB write.

// ErrBusy is TryHold finding a slot locked: nothing is held.
var ErrBusy = errors.New("storage: a slot of the unit is busy")

// SlotHold is a unit's hold on slots of one table: their stripe locks,
// taken without waiting, kept until Release (or ApplyHold). A stripe lock
// is not tied to a goroutine, so the requests of a unit may come and go on
// any.
type SlotHold struct {
	e       *Engine
	table   TableID
	slots   []SlotID
	stripes []int
	mu      sync.Mutex
	gated   bool // reads of the stripes wait (Gate)
	done    bool
}

// Table and Slots are what the hold covers.
func (h *SlotHold) Table() TableID  { return h.table }
func (h *SlotHold) Slots() []SlotID { return h.slots }

// TryHold locks the stripes of slots of table t if every one is free now,
// or holds nothing and returns ErrBusy. Never waiting while holding is what
// keeps units of several nodes from deadlocking (the coordinator backs off
// and tries again).
func (e *Engine) TryHold(t TableID, slots []SlotID) (*SlotHold, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	need := e.stripesOf(t, slots)
	for i, s := range need {
		if !e.stripes[s].TryLock() {
			e.unlock(need[:i])
			return nil, ErrBusy
		}
	}
	if e.raftPending(t, slots) { // a raft slot's prepared part (raftunits.go)
		e.unlock(need)
		return nil, ErrBusy
	}
	return &SlotHold{e: e, table: t, slots: append([]SlotID(nil), slots...), stripes: need}, nil
}

// Hold locks the stripes of slots of table t, waiting for them: for a
// part restored at startup (ListPrepared), before anything else runs.
func (e *Engine) Hold(t TableID, slots []SlotID) *SlotHold {
	need := e.stripesOf(t, slots)
	for _, s := range need {
		e.stripes[s].Lock()
	}
	return &SlotHold{e: e, table: t, slots: append([]SlotID(nil), slots...), stripes: need}
}

// Export copies the hold's keys for a coordinator to evaluate the unit on
// (one image per slot; keys[i] are slot slots[i]'s keys).
func (h *SlotHold) Export(slots []SlotID, keys [][][]byte) ([]*SlotImage, error) {
	out := make([]*SlotImage, len(slots))
	for i, s := range slots {
		im, err := h.e.ExportKeys(h.table, s, keys[i])
		if err != nil {
			return nil, err
		}
		out[i] = im
	}
	return out, nil
}

// Gate makes single-slot reads of the held slots wait until the hold
// ends: called once the unit's part here is prepared, before PREPARE is
// answered.
func (h *SlotHold) Gate() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gated || h.done {
		return
	}
	h.gated = true
	for _, s := range h.stripes {
		h.e.gates.raise(s)
	}
}

// Release unlocks the hold without writing (a read-only part, or an
// aborted one). It may be called more than once.
func (h *SlotHold) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked()
}

func (h *SlotHold) releaseLocked() {
	if h.done {
		return
	}
	h.done = true
	if h.gated {
		for _, s := range h.stripes {
			h.e.gates.lower(s)
		}
	}
	h.e.unlock(h.stripes)
}

// awaitGate waits while slot s of table t is held by a prepared unit.
func (e *Engine) awaitGate(t TableID, s SlotID) { e.gates.wait(e.stripeOf(t, s)) }

// ---- records ----

// PreparedPart is a unit's part on this node, as recorded at PREPARE.
type PreparedPart struct {
	Unit  string // the unit's id (its text form)
	Home  string // the node that holds the unit's decision
	Table TableID
	// Slots and Effects: the part's slots and each one's encoded Effect.
	Slots   []SlotID
	Effects [][]byte
}

const (
	partKeyPrefix     = "unitpart|"
	decisionKeyPrefix = "unitdecision|"
)

func partKey(unit string) []byte { return []byte(partKeyPrefix + unit) }

// encode: uvarint len + unit, uvarint len + home, table u32, uvarint n,
// n × (slot u32, uvarint len + effect).
func (p *PreparedPart) encode() []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(p.Unit)))
	b = append(b, p.Unit...)
	b = binary.AppendUvarint(b, uint64(len(p.Home)))
	b = append(b, p.Home...)
	b = binary.BigEndian.AppendUint32(b, uint32(p.Table))
	b = binary.AppendUvarint(b, uint64(len(p.Slots)))
	for i, s := range p.Slots {
		b = binary.BigEndian.AppendUint32(b, uint32(s))
		b = binary.AppendUvarint(b, uint64(len(p.Effects[i])))
		b = append(b, p.Effects[i]...)
	}
	return b
}

// check refuses a part whose slots and effects do not pair up or whose
// effects do not decode.
func (p *PreparedPart) check() error {
	if len(p.Slots) != len(p.Effects) {
		return fmt.Errorf("storage: prepare: %d slots, %d effects", len(p.Slots), len(p.Effects))
	}
	for _, eff := range p.Effects {
		if _, err := DecodeEffect(eff); err != nil {
			return err
		}
	}
	return nil
}

// ErrCorruptPart reports a part record this package could not have
// written.
var ErrCorruptPart = errors.New("storage: corrupt unit part record")

func decodePart(b []byte) (PreparedPart, error) {
	var p PreparedPart
	unit, b, ok := readLenBytes(b)
	if !ok {
		return p, ErrCorruptPart
	}
	home, b, ok := readLenBytes(b)
	if !ok || len(b) < 4 {
		return p, ErrCorruptPart
	}
	p.Unit, p.Home = string(unit), string(home)
	p.Table = TableID(binary.BigEndian.Uint32(b))
	b = b[4:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return p, ErrCorruptPart
	}
	b = b[k:]
	for range n {
		if len(b) < 4 {
			return p, ErrCorruptPart
		}
		p.Slots = append(p.Slots, SlotID(binary.BigEndian.Uint32(b)))
		var eff []byte
		if eff, b, ok = readLenBytes(b[4:]); !ok {
			return p, ErrCorruptPart
		}
		if _, err := DecodeEffect(eff); err != nil {
			return p, ErrCorruptPart
		}
		p.Effects = append(p.Effects, bytes.Clone(eff))
	}
	if len(b) != 0 {
		return p, ErrCorruptPart
	}
	return p, nil
}

// Prepare records the unit's part on the held slots durably (putRecord)
// and gates reads of them: after a crash, ListPrepared returns it. The
// effects are not applied.
func (h *SlotHold) Prepare(p PreparedPart) error {
	if h.e.closed.Load() {
		return ErrClosed
	}
	if err := p.check(); err != nil {
		return err
	}
	if err := h.e.putRecord(partKey(p.Unit), p.encode()); err != nil {
		return fmt.Errorf("storage: prepare unit %s: %w", p.Unit, err)
	}
	h.Gate()
	return nil
}

// PrepareAndCommit is Prepare and Decide(commit) of a unit whose home is
// this node, in one write, unless an outcome of the unit is recorded
// already: then nothing is written (the part stays unprepared) and that
// outcome is returned (Aborted: a participant gave up on the unit).
func (h *SlotHold) PrepareAndCommit(p PreparedPart) (Decision, error) {
	if h.e.closed.Load() {
		return Undecided, ErrClosed
	}
	if err := p.check(); err != nil {
		return Undecided, err
	}
	e := h.e
	e.decideMu.Lock()
	defer e.decideMu.Unlock()
	key := decisionKey(p.Unit)
	if d, err := e.recordedDecision(key); err != nil || d != Undecided {
		return d, err
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.PutCF(e.cfs[CFSystem], partKey(p.Unit), p.encode())
	wb.PutCF(e.cfs[CFSystem], key, []byte{byte(Committed)})
	if err := e.db.Write(e.wo, wb); err != nil {
		return Undecided, fmt.Errorf("storage: prepare and commit unit %s: %w", p.Unit, err)
	}
	h.Gate()
	return Committed, nil
}

// DropPrepared deletes a unit's part record (an aborted unit) and ends
// the hold.
func (h *SlotHold) DropPrepared(unit string) error {
	defer h.Release()
	if h.e.closed.Load() {
		return ErrClosed
	}
	return h.e.deleteRecord(partKey(unit))
}

// ApplyHold applies a prepared part's effects on the held slots, logged as
// every local write (followers get them), and deletes the part's record,
// in one RocksDB write; then it ends the hold. After an error nothing of
// it was written and the hold stays: the caller may try again or drop it.
func (h *SlotHold) ApplyHold(p PreparedPart) error {
	txns := make([]*Txn, 0, len(p.Slots))
	for i, s := range p.Slots {
		eff, err := DecodeEffect(p.Effects[i])
		if err != nil {
			return err
		}
		ops := make([]Op, len(eff.Ops))
		copy(ops, eff.Ops)
		for j := range ops { // the meta cache keeps meta values: no aliasing
			if ops[j].CF == CFMeta && ops[j].Value != nil {
				ops[j].Value = bytes.Clone(ops[j].Value)
			}
		}
		eff.Ops = ops
		txns = append(txns, &Txn{e: h.e, table: p.Table, slot: s, write: true, eff: eff})
	}
	sys := []Op{{Kind: OpDelete, CF: CFSystem, Key: partKey(p.Unit)}}
	if err := h.e.commitWith(txns, sys, make(chan error, 1)); err != nil {
		return err
	}
	h.Release()
	return nil
}

// ListPrepared returns every part record on this node (at startup: the
// parts whose units were not resolved before it stopped).
func (e *Engine) ListPrepared() ([]PreparedPart, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	lower := []byte(partKeyPrefix)
	ro.SetIterateLowerBound(lower)
	ro.SetIterateUpperBound(prefixEnd(lower))
	it := e.db.NewIteratorCF(ro, e.cfs[CFSystem])
	defer it.Close()
	var out []PreparedPart
	for it.SeekToFirst(); it.Valid(); it.Next() {
		v := it.Value()
		p, err := decodePart(v.Data())
		v.Free()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, it.Err()
}

// Decision is a unit's outcome as its home node recorded it.
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

// Decide records the outcome of a unit whose home is this node, unless
// one is recorded already: it returns the recorded outcome (so a late
// commit after a participant's abort gets Aborted). Durable as a write
// (putRecord).
func (e *Engine) Decide(unit string, d Decision) (Decision, error) {
	if e.closed.Load() {
		return Undecided, ErrClosed
	}
	e.decideMu.Lock()
	defer e.decideMu.Unlock()
	key := decisionKey(unit)
	if got, err := e.recordedDecision(key); err != nil || got != Undecided {
		return got, err
	}
	if d == Undecided {
		return Undecided, nil
	}
	if err := e.putRecord(key, []byte{byte(d)}); err != nil {
		return Undecided, fmt.Errorf("storage: decide unit %s: %w", unit, err)
	}
	return d, nil
}

func decisionKey(unit string) []byte { return []byte(decisionKeyPrefix + unit) }

// recordedDecision reads the outcome recorded under key (Undecided when
// none is); decideMu is held.
func (e *Engine) recordedDecision(key []byte) (Decision, error) {
	v, ok, err := e.get(CFSystem, key)
	if err != nil || !ok || len(v) == 0 {
		return Undecided, err
	}
	return Decision(v[0]), nil
}

// ForgetDecision deletes a unit's recorded outcome once every part of it
// is resolved.
func (e *Engine) ForgetDecision(unit string) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return e.db.DeleteCF(e.wo, e.cfs[CFSystem], decisionKey(unit))
}

// putRecord and deleteRecord write a unit's record with the engine's
// write options: in the WAL before they return (a killed process keeps
// it), synced to disk when the node syncs every write (--sync-wal), as
// for the data itself.
func (e *Engine) putRecord(key, val []byte) error {
	return e.db.PutCF(e.wo, e.cfs[CFSystem], key, val)
}

func (e *Engine) deleteRecord(key []byte) error {
	return e.db.DeleteCF(e.wo, e.cfs[CFSystem], key)
}
