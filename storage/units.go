package storage

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// A multi-slot unit over slots of several nodes or raft groups
// (docs/transactions.md) holds this node's slots of it from the
// participant's LOCK to the end of its part here, across peer requests: a
// SlotHold. The part itself, once prepared, is a record of its slot
// (unitrecords.go), which makes the slot pending on every replica.

// ErrBusy is TryHold finding a slot locked (HoldWithin: still locked at
// its deadline): nothing is held.
var ErrBusy = errors.New("storage: a slot of the unit is busy")

// SlotHold is a unit's hold on slots of one table: their stripe locks,
// taken without waiting (TryHold) or waiting a bounded time (HoldWithin),
// kept until Release. A stripe lock
// is not tied to a goroutine, so the requests of a unit may come and go on
// any.
type SlotHold struct {
	e       *Engine
	table   TableID
	slots   []SlotID
	stripes []int
	mu      sync.Mutex
	done    bool
}

// Table and Slots are what the hold covers.
func (h *SlotHold) Table() TableID  { return h.table }
func (h *SlotHold) Slots() []SlotID { return h.slots }

// TryHold locks the stripes of slots of table t if every one is free now,
// or holds nothing and returns ErrBusy. Never waiting while holding is what
// keeps the units of several nodes from deadlocking (the coordinator backs
// off and tries again, waiting with HoldWithin where it holds nothing
// else).
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
	if e.partPending(t, slots) { // a unit's part (unitrecords.go)
		e.unlock(need)
		return nil, ErrBusy
	}
	return &SlotHold{e: e, table: t, slots: append([]SlotID(nil), slots...), stripes: need}, nil
}

// HoldWithin locks the stripes of slots of table t in ascending stripe
// order, waiting for each, and then for any unit's part pending on the
// slots, for at most wait in all; past it, it holds nothing and returns
// ErrBusy. A unit's try after a busy one waits so at the participant
// that was busy, holding nothing on other nodes (docs/transactions.md,
// "Locking"): it waits for this node's stripes in ascending order, as
// local units do, so no cycle of waits forms; the bound keeps a dead
// coordinator's hold (its lease) from stalling the waiter for longer.
func (e *Engine) HoldWithin(t TableID, slots []SlotID, wait time.Duration) (*SlotHold, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	deadline := time.Now().Add(wait)
	need := e.stripesOf(t, slots)
	for i, s := range need {
		if !lockBy(&e.stripes[s], deadline) {
			e.unlock(need[:i])
			return nil, ErrBusy
		}
	}
	// A part's end is a record write that takes no stripe: wait for it
	// while holding them all.
	if e.awaitPartsFor(t, slots, time.Until(deadline)) != nil { // a *UnitPendingError
		e.unlock(need)
		return nil, ErrBusy
	}
	if e.closed.Load() {
		e.unlock(need)
		return nil, ErrClosed
	}
	return &SlotHold{e: e, table: t, slots: append([]SlotID(nil), slots...), stripes: need}, nil
}

// lockBy locks m, waiting until deadline at most; false: not locked.
// sync.Mutex has no timed lock: a goroutine waits in Lock, and one that
// gets it after the deadline unlocks it at once.
func lockBy(m *sync.Mutex, deadline time.Time) bool {
	if m.TryLock() {
		return true
	}
	const (
		waiting int32 = iota
		taken
		abandoned
	)
	var state atomic.Int32
	got := make(chan struct{})
	go func() {
		m.Lock()
		if !state.CompareAndSwap(waiting, taken) {
			m.Unlock() // the waiter gave up
			return
		}
		close(got)
	}()
	tm := time.NewTimer(time.Until(deadline))
	defer tm.Stop()
	select {
	case <-got:
		return true
	case <-tm.C:
		if state.CompareAndSwap(waiting, abandoned) {
			return false
		}
		<-got // taken just now
		return true
	}
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

// Release unlocks the hold. It may be called more than once.
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
	h.e.unlock(h.stripes)
}

// awaitGate waits while a unit's part is pending on slot s of table t
// (or another slot of its stripe).
func (e *Engine) awaitGate(t TableID, s SlotID) { e.gates.wait(e.stripeOf(t, s)) }
