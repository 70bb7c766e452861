package storage

import (
	"errors"
	"testing"
	"time"
)

// A unit's part: held without waiting (busy when a slot is locked),
// prepared durably (found again after a restart, not applied), applied
// with its record deleted in one write; reads of a prepared part's slots
// wait until it ends.
func TestUnitPartLifecycle(t *testing.T) {
	now := int64(1000)
	dir := t.TempDir()
	e := openTest(t, dir, &now)

	h, err := e.TryHold(DefaultTable, []SlotID{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.TryHold(DefaultTable, []SlotID{2, 3}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second hold of slot 2: %v, want ErrBusy", err)
	}
	// The failed hold took nothing: slot 3 is free.
	h3, err := e.TryHold(DefaultTable, []SlotID{3})
	if err != nil {
		t.Fatalf("slot 3 after a busy hold: %v", err)
	}
	h3.Release()

	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, 1, []byte("k")),
		Value: (&Meta{Type: TypeString, Value: []byte("v")}).encode()}}, KeyDelta: 1}
	part := PreparedPart{Unit: "u1", Home: "n1", Table: DefaultTable, Slots: []SlotID{1}, Effects: [][]byte{eff.Encode(nil)}}
	if err := h.Prepare(part); err != nil {
		t.Fatal(err)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(3), "k"); ok {
		t.Fatal("slot 3 sees the key")
	}
	read := make(chan bool)
	go func() {
		_, ok := getString(t, e.View(DefaultTable).Txn(1), "k")
		read <- ok
	}()
	select {
	case <-read:
		t.Fatal("a read of a prepared part's slot did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	recs, err := e.ListPrepared()
	if err != nil || len(recs) != 1 || recs[0].Unit != "u1" || recs[0].Home != "n1" || recs[0].Slots[0] != 1 {
		t.Fatalf("ListPrepared = %+v, %v", recs, err)
	}
	if err := h.ApplyHold(recs[0]); err != nil {
		t.Fatal(err)
	}
	if ok := <-read; !ok {
		t.Fatal("the waiting read did not see the applied part")
	}
	if n := e.SlotKeyCount(DefaultTable, 1); n != 1 {
		t.Fatalf("slot 1 counts %d keys, want 1", n)
	}
	if recs, _ := e.ListPrepared(); len(recs) != 0 {
		t.Fatalf("the applied part's record stayed: %+v", recs)
	}

	// A prepared part survives a restart, unapplied; dropping it leaves
	// the slot as it was.
	h, err = e.TryHold(DefaultTable, []SlotID{2})
	if err != nil {
		t.Fatal(err)
	}
	eff2 := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, 2, []byte("x")),
		Value: (&Meta{Type: TypeString, Value: []byte("y")}).encode()}}, KeyDelta: 1}
	if err := h.Prepare(PreparedPart{Unit: "u2", Home: "n2", Table: DefaultTable, Slots: []SlotID{2}, Effects: [][]byte{eff2.Encode(nil)}}); err != nil {
		t.Fatal(err)
	}
	h.Release() // the process "dies": the record stays
	e.Close()
	e = openTest(t, dir, &now)
	defer e.Close()
	recs, err = e.ListPrepared()
	if err != nil || len(recs) != 1 || recs[0].Unit != "u2" {
		t.Fatalf("after a restart ListPrepared = %+v, %v", recs, err)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(2), "x"); ok {
		t.Fatal("a prepared part was applied by the restart")
	}
	h = e.Hold(DefaultTable, recs[0].Slots)
	if err := h.DropPrepared("u2"); err != nil {
		t.Fatal(err)
	}
	if recs, _ := e.ListPrepared(); len(recs) != 0 {
		t.Fatalf("a dropped part's record stayed: %+v", recs)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(2), "x"); ok {
		t.Fatal("a dropped part was applied")
	}
}

// The first outcome recorded for a unit is the one every later Decide
// answers: a commit after an abort gets the abort.
func TestDecideRecordsOneOutcome(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	if d, err := e.Decide("u", Undecided); err != nil || d != Undecided {
		t.Fatalf("Decide(undecided) on nothing = %v, %v", d, err)
	}
	if d, err := e.Decide("u", Aborted); err != nil || d != Aborted {
		t.Fatalf("Decide(abort) = %v, %v", d, err)
	}
	if d, err := e.Decide("u", Committed); err != nil || d != Aborted {
		t.Fatalf("Decide(commit) after the abort = %v, %v; want abort", d, err)
	}
	if d, err := e.Decide("v", Committed); err != nil || d != Committed {
		t.Fatalf("Decide(commit) = %v, %v", d, err)
	}
	if err := e.ForgetDecision("v"); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide("v", Undecided); d != Undecided {
		t.Fatalf("a forgotten decision is %v", d)
	}
}

// A part record that does not decode is refused.
func TestDecodePartRefusesGarbage(t *testing.T) {
	good := (&PreparedPart{Unit: "u", Home: "h", Table: 1, Slots: []SlotID{4}, Effects: [][]byte{(&Effect{}).Encode(nil)}}).encode()
	if _, err := decodePart(good); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		if _, err := decodePart(good[:i]); err == nil {
			t.Fatalf("a record cut at %d of %d decoded", i, len(good))
		}
	}
	if _, err := decodePart(append(good, 0)); err == nil {
		t.Fatal("a record with a trailing byte decoded")
	}
}
