package storage

import (
	"errors"
	"testing"
	"time"
)

// applyEntry applies one raft entry of slot s as its group's apply does.
func applyEntry(t *testing.T, e *Engine, s SlotID, entry []byte) {
	t.Helper()
	if err := e.ApplyRaft([]RaftGroupWrite{{Table: DefaultTable, Slot: s, Effects: [][]byte{entry}}}); err != nil {
		t.Fatal(err)
	}
}

// A unit's part on a raft slot, as its group applies the entries: once
// recorded, the slot is pending (reads wait, holds find it busy, the part
// is listed, and after a restart too); the decision in the home slot is
// the first one recorded; the end entry applies the part's effect and
// ends the pending state, and applied again (a second UAPPLY, a
// resolver) changes nothing; FLUSHDB's deletion leaves the records.
func TestRaftPartRecords(t *testing.T) {
	now := int64(1000)
	dir := t.TempDir()
	e := openTest(t, dir, &now)
	const home, slot SlotID = 0, 1
	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, slot, []byte("k")),
		Value: (&Meta{Type: TypeString, Value: []byte("v")}).encode()}}, KeyDelta: 1}
	applyEntry(t, e, slot, RaftPartEffect(DefaultTable, slot, "u", home, eff.Encode(nil)))

	if ps := e.RaftParts(); len(ps) != 1 || ps[0].Slot != slot || ps[0].Unit != "u" || ps[0].Home != home {
		t.Fatalf("RaftParts = %+v", ps)
	}
	if _, err := e.TryHold(DefaultTable, []SlotID{slot}); !errors.Is(err, ErrBusy) {
		t.Fatalf("hold of a pending raft slot: %v, want ErrBusy", err)
	}
	read := make(chan string)
	go func(e *Engine) {
		v, _ := getString(t, e.View(DefaultTable).Txn(slot), "k")
		read <- v
	}(e)
	select {
	case v := <-read:
		t.Fatalf("a read of a pending slot did not wait (read %q)", v)
	case <-time.After(50 * time.Millisecond):
	}

	// The decision: the first outcome stays.
	applyEntry(t, e, home, RaftDecisionEffect(DefaultTable, home, "u", Committed, nil))
	applyEntry(t, e, home, RaftDecisionEffect(DefaultTable, home, "u", Aborted, nil))
	if d, err := e.RaftDecision(DefaultTable, home, "u"); err != nil || d != Committed {
		t.Fatalf("decision = %v %v, want commit", d, err)
	}

	// FLUSHDB of the home slot (it has a key) keeps the decision.
	applyEntry(t, e, home, (&Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, home, []byte("h")),
		Value: (&Meta{Type: TypeString, Value: []byte("x")}).encode()}}, KeyDelta: 1}).Encode(nil))
	if err := e.FlushSlots(DefaultTable, 16, func(s SlotID) bool { return s == home }, nil); err != nil {
		t.Fatal(err)
	}
	if d, err := e.RaftDecision(DefaultTable, home, "u"); err != nil || d != Committed {
		t.Fatalf("decision after FLUSHDB = %v %v, want commit", d, err)
	}

	end, recorded, err := e.RaftEndEffect(DefaultTable, slot, "u", true)
	if err != nil || !recorded {
		t.Fatalf("RaftEndEffect: %v %v", recorded, err)
	}
	applyEntry(t, e, slot, end)
	if v := <-read; v != "v" {
		t.Fatalf("the waiting read found k = %q, want the part's v", v)
	}
	if ps := e.RaftParts(); len(ps) != 0 {
		t.Fatalf("RaftParts after the end = %+v", ps)
	}
	h, err := e.TryHold(DefaultTable, []SlotID{slot})
	if err != nil {
		t.Fatalf("hold after the end: %v", err)
	}
	h.Release()
	keys, _ := e.SlotCounts(DefaultTable, slot)
	applyEntry(t, e, slot, end) // ended again: nothing
	if again, _ := e.SlotCounts(DefaultTable, slot); again != keys || keys != 1 {
		t.Fatalf("the slot counts %d keys, then %d after the end entry applied again; want 1", keys, again)
	}
	if _, recorded, _ := e.RaftEndEffect(DefaultTable, slot, "u", true); recorded {
		t.Fatal("the part is still recorded")
	}
	applyEntry(t, e, home, RaftForgetEffect(DefaultTable, home, "u"))
	if d, err := e.RaftDecision(DefaultTable, home, "u"); err != nil || d != Undecided {
		t.Fatalf("decision after forget = %v %v", d, err)
	}

	// A restart finds a pending part.
	applyEntry(t, e, 2, RaftPartEffect(DefaultTable, 2, "u2", home, eff.Encode(nil)))
	e.Close()
	e = openTest(t, dir, &now)
	defer e.Close()
	if ps := e.RaftParts(); len(ps) != 1 || ps[0].Unit != "u2" || ps[0].Slot != 2 {
		t.Fatalf("RaftParts after a restart = %+v", ps)
	}
	if _, err := e.TryHold(DefaultTable, []SlotID{2}); !errors.Is(err, ErrBusy) {
		t.Fatalf("hold of a pending raft slot after a restart: %v, want ErrBusy", err)
	}
	abort, _, err := e.RaftEndEffect(DefaultTable, 2, "u2", false)
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, 2, abort)
	if _, ok := getString(t, e.View(DefaultTable).Txn(2), "k"); ok || len(e.RaftParts()) != 0 {
		t.Fatal("an aborted part was applied, or is still pending")
	}
}

// A write of a raft slot with a pending part waits for the part's end.
func TestRaftPartWriteWaits(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 5
	applyEntry(t, e, slot, RaftPartEffect(DefaultTable, slot, "u", slot, (&Effect{}).Encode(nil)))
	wrote := make(chan error)
	go func() {
		b := e.NewBatch(nil)
		defer b.Release()
		wrote <- b.Update(DefaultTable, []SlotID{slot}, func(*Update) error { return nil })
	}()
	select {
	case err := <-wrote:
		t.Fatalf("a write of a pending slot did not wait: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	end, _, err := e.RaftEndEffect(DefaultTable, slot, "u", false)
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, slot, end)
	if err := <-wrote; err != nil {
		t.Fatalf("the write after the part ended: %v", err)
	}
}
