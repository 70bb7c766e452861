package storage

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// recordWriter writes one unit record entry of slot s: as a raft group's
// apply does, or as an async leader does (WriteUnitRecord).
type recordWriter func(t *testing.T, e *Engine, s SlotID, entry []byte)

var recordWriters = map[string]recordWriter{
	"raft": func(t *testing.T, e *Engine, s SlotID, entry []byte) {
		t.Helper()
		if err := e.ApplyRaft([]RaftGroupWrite{{Table: DefaultTable, Slot: s, Effects: [][]byte{entry}}}); err != nil {
			t.Fatal(err)
		}
	},
	"async": func(t *testing.T, e *Engine, s SlotID, entry []byte) {
		t.Helper()
		if _, err := e.WriteUnitRecord(DefaultTable, s, entry); err != nil {
			t.Fatal(err)
		}
	},
}

// A unit's part, as a raft group applies its entries or an async leader
// writes them: once
// recorded, the slot is pending (reads wait, holds find it busy, the part
// is listed, and after a restart too); the decision in the home slot is
// the first one recorded; the end entry applies the part's effect and
// ends the pending state, and applied again (a second UAPPLY, a
// resolver) changes nothing; FLUSHDB's deletion leaves the records.
func TestPartRecords(t *testing.T) {
	for name, w := range recordWriters {
		t.Run(name, func(t *testing.T) { testPartRecords(t, w) })
	}
}

func testPartRecords(t *testing.T, applyEntry recordWriter) {
	now := int64(1000)
	dir := t.TempDir()
	e := openTest(t, dir, &now)
	const home, slot SlotID = 0, 1
	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, slot, []byte("k")),
		Value: (&Meta{Type: TypeString, Value: []byte("v")}).encode()}}, KeyDelta: 1}
	applyEntry(t, e, slot, PartEffect(DefaultTable, slot, "u", home, eff.Encode(nil)))

	if ps := e.PendingParts(); len(ps) != 1 || ps[0].Slot != slot || ps[0].Unit != "u" || ps[0].Home != home {
		t.Fatalf("PendingParts = %+v", ps)
	}
	if _, err := e.TryHold(DefaultTable, []SlotID{slot}); !errors.Is(err, ErrBusy) {
		t.Fatalf("hold of a pending slot: %v, want ErrBusy", err)
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
	applyEntry(t, e, home, DecisionEffect(DefaultTable, home, "u", Committed))
	applyEntry(t, e, home, DecisionEffect(DefaultTable, home, "u", Aborted))
	if d, err := e.RecordedDecision(DefaultTable, home, "u"); err != nil || d != Committed {
		t.Fatalf("decision = %v %v, want commit", d, err)
	}

	// The home's part applied with the commit: written with its decision,
	// never pending; dropped whole where an outcome is recorded.
	homeEff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, home, []byte("hk")),
		Value: (&Meta{Type: TypeString, Value: []byte("hv")}).encode()}}, KeyDelta: 1}
	commit, err := CommitEffect(DefaultTable, home, "u3", homeEff.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, home, DecisionEffect(DefaultTable, home, "u3", Aborted))
	applyEntry(t, e, home, commit)
	if keys, _ := e.SlotCounts(DefaultTable, home); keys != 0 {
		t.Fatalf("a commit after a recorded abort applied the home's part: the slot counts %d keys", keys)
	}
	if d, err := e.RecordedDecision(DefaultTable, home, "u3"); err != nil || d != Aborted {
		t.Fatalf("decision of u3 = %v %v, want abort", d, err)
	}
	commit, err = CommitEffect(DefaultTable, home, "u4", homeEff.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, home, commit)
	if v, ok := getString(t, e.View(DefaultTable).Txn(home), "hk"); !ok || v != "hv" {
		t.Fatalf("the home's part applied with the commit: hk = %q %v, want hv", v, ok)
	}
	if d, err := e.RecordedDecision(DefaultTable, home, "u4"); err != nil || d != Committed {
		t.Fatalf("decision of u4 = %v %v, want commit", d, err)
	}
	if keys, _ := e.SlotCounts(DefaultTable, home); keys != 1 {
		t.Fatalf("the home slot counts %d keys, want 1", keys)
	}
	applyEntry(t, e, home, ForgetEffect(DefaultTable, home, "u3", "u4"))
	for _, u := range []string{"u3", "u4"} {
		if d, err := e.RecordedDecision(DefaultTable, home, u); err != nil || d != Undecided {
			t.Fatalf("decision of %s after forget = %v %v", u, d, err)
		}
	}

	// FLUSHDB of the home slot (it has a key) keeps the decision.
	applyEntry(t, e, home, (&Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, home, []byte("h")),
		Value: (&Meta{Type: TypeString, Value: []byte("x")}).encode()}}, KeyDelta: 1}).Encode(nil))
	if err := e.FlushSlots(DefaultTable, 16, func(s SlotID) bool { return s == home }, nil); err != nil {
		t.Fatal(err)
	}
	if d, err := e.RecordedDecision(DefaultTable, home, "u"); err != nil || d != Committed {
		t.Fatalf("decision after FLUSHDB = %v %v, want commit", d, err)
	}

	end, recorded, err := e.EndEffect(DefaultTable, slot, "u", true)
	if err != nil || !recorded {
		t.Fatalf("EndEffect: %v %v", recorded, err)
	}
	applyEntry(t, e, slot, end)
	if v := <-read; v != "v" {
		t.Fatalf("the waiting read found k = %q, want the part's v", v)
	}
	if ps := e.PendingParts(); len(ps) != 0 {
		t.Fatalf("PendingParts after the end = %+v", ps)
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
	if _, recorded, _ := e.EndEffect(DefaultTable, slot, "u", true); recorded {
		t.Fatal("the part is still recorded")
	}
	applyEntry(t, e, home, ForgetEffect(DefaultTable, home, "u"))
	if d, err := e.RecordedDecision(DefaultTable, home, "u"); err != nil || d != Undecided {
		t.Fatalf("decision after forget = %v %v", d, err)
	}

	// A restart finds a pending part.
	applyEntry(t, e, 2, PartEffect(DefaultTable, 2, "u2", home, eff.Encode(nil)))
	e.Close()
	e = openTest(t, dir, &now)
	defer e.Close()
	if ps := e.PendingParts(); len(ps) != 1 || ps[0].Unit != "u2" || ps[0].Slot != 2 {
		t.Fatalf("PendingParts after a restart = %+v", ps)
	}
	if _, err := e.TryHold(DefaultTable, []SlotID{2}); !errors.Is(err, ErrBusy) {
		t.Fatalf("hold of a pending slot after a restart: %v, want ErrBusy", err)
	}
	abort, _, err := e.EndEffect(DefaultTable, 2, "u2", false)
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, 2, abort)
	if _, ok := getString(t, e.View(DefaultTable).Txn(2), "k"); ok || len(e.PendingParts()) != 0 {
		t.Fatal("an aborted part was applied, or is still pending")
	}
}

// A write of a slot with a pending part waits for the part's end.
func TestPartWriteWaits(t *testing.T) {
	for name, w := range recordWriters {
		t.Run(name, func(t *testing.T) { testPartWriteWaits(t, w) })
	}
}

func testPartWriteWaits(t *testing.T, applyEntry recordWriter) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 5
	applyEntry(t, e, slot, PartEffect(DefaultTable, slot, "u", slot, (&Effect{}).Encode(nil)))
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
	end, _, err := e.EndEffect(DefaultTable, slot, "u", false)
	if err != nil {
		t.Fatal(err)
	}
	applyEntry(t, e, slot, end)
	if err := <-wrote; err != nil {
		t.Fatalf("the write after the part ended: %v", err)
	}
}

// An async leader's records reach its follower in the slot's log: the
// follower has the part pending (its new leader, after a failover, finds
// it), applies the end (which must not wait for the part it ends) and
// drops it; an end written twice is logged once.
func TestPartRecordsShipped(t *testing.T) {
	now := int64(1000)
	leader := openTest(t, t.TempDir(), &now)
	defer leader.Close()
	follower := openTest(t, t.TempDir(), &now)
	defer follower.Close()
	const home, slot SlotID = 0, 3
	for _, e := range []*Engine{leader, follower} {
		e.SetSlotRole(DefaultTable, slot, SlotRole{Logged: true})
	}
	ship := func() {
		t.Helper()
		_, last, _ := follower.LogBounds(DefaultTable, slot)
		entries, err := leader.ReadLog(DefaultTable, slot, last+1, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if err := follower.ApplyLogEntry(DefaultTable, slot, en); err != nil {
				t.Fatal(err)
			}
		}
	}
	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, slot, []byte("k")),
		Value: (&Meta{Type: TypeString, Value: []byte("v")}).encode()}}, KeyDelta: 1}
	idx, err := leader.WriteUnitRecord(DefaultTable, slot, PartEffect(DefaultTable, slot, "u", home, eff.Encode(nil)))
	if err != nil || idx == 0 {
		t.Fatalf("the part's record: index %d, %v; want a log entry", idx, err)
	}
	ship()
	if ps := follower.PendingParts(); len(ps) != 1 || ps[0].Unit != "u" || ps[0].Home != home {
		t.Fatalf("the follower's pending parts = %+v", ps)
	}
	end, recorded, err := leader.EndEffect(DefaultTable, slot, "u", true)
	if err != nil || !recorded {
		t.Fatalf("EndEffect: %v %v", recorded, err)
	}
	if idx, err = leader.WriteUnitRecord(DefaultTable, slot, end); err != nil || idx == 0 {
		t.Fatalf("the end: index %d, %v", idx, err)
	}
	if again, err := leader.WriteUnitRecord(DefaultTable, slot, end); err != nil || again != 0 {
		t.Fatalf("the end written again: index %d, %v; want it dropped", again, err)
	}
	ship()
	if ps := follower.PendingParts(); len(ps) != 0 {
		t.Fatalf("the follower's pending parts after the end = %+v", ps)
	}
	if v, ok := getString(t, follower.View(DefaultTable).Txn(slot), "k"); !ok || v != "v" {
		t.Fatalf("the follower's k = %q %v, want the part's v", v, ok)
	}
	if keys, _ := follower.SlotCounts(DefaultTable, slot); keys != 1 {
		t.Fatalf("the follower counts %d keys, want 1", keys)
	}
}

// Unit records written without the slot's lock (WriteUnitRecord) and
// ordinary writes of the same logged slot, at once: the committer never
// gives two writes of one slot the same log index (a record meeting
// another write of its slot in a group waits for the next group), so the
// log has every write once, gap-free, and the counts add up.
func TestUnitRecordsBesideWrites(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 6
	e.SetSlotRole(DefaultTable, slot, SlotRole{Logged: true})
	const writers, records, each = 4, 4, 50
	errs := make(chan error, writers+records)
	for w := range writers {
		go func() {
			for i := range each {
				key := []byte("k" + strconv.Itoa(w) + "-" + strconv.Itoa(i))
				err := e.Update(DefaultTable, []SlotID{slot}, func(u *Update) error {
					return u.Txn(slot).PutMeta(key, &Meta{Type: TypeString, Value: []byte("v")})
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for r := range records {
		go func() {
			for i := range each {
				unit := "u" + strconv.Itoa(r) + "-" + strconv.Itoa(i)
				if _, err := e.WriteUnitRecord(DefaultTable, slot, DecisionEffect(DefaultTable, slot, unit, Committed)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers + records {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	first, last, _ := e.LogBounds(DefaultTable, slot)
	if want := LogIndex((writers + records) * each); first != 1 || last != want {
		t.Fatalf("the slot's log is [%d, %d], want [1, %d]", first, last, want)
	}
	entries, err := e.ReadLog(DefaultTable, slot, 1, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, en := range entries {
		if en.Index != LogIndex(i+1) {
			t.Fatalf("entry %d has index %d", i+1, en.Index)
		}
	}
	if len(entries) != (writers+records)*each {
		t.Fatalf("%d entries in the log, want %d", len(entries), (writers+records)*each)
	}
	if keys, _ := e.SlotCounts(DefaultTable, slot); keys != writers*each {
		t.Fatalf("the slot counts %d keys, want %d", keys, writers*each)
	}
}

// An end written again after the part ended and the key was written
// since (a resolver and the part's UAPPLY both ending it) changes
// nothing: not the data, not the meta cache a GET reads, not the WATCH
// registry.
func TestPartEndedTwiceAfterAWrite(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 4
	k := metaKey(DefaultTable, slot, []byte("k"))
	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: k, Value: (&Meta{Type: TypeString, Value: []byte("part")}).encode()}}, KeyDelta: 1}
	if _, err := e.WriteUnitRecord(DefaultTable, slot, PartEffect(DefaultTable, slot, "u", slot, eff.Encode(nil))); err != nil {
		t.Fatal(err)
	}
	end, _, err := e.EndEffect(DefaultTable, slot, "u", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteUnitRecord(DefaultTable, slot, end); err != nil {
		t.Fatal(err)
	}
	err = e.Update(DefaultTable, []SlotID{slot}, func(u *Update) error {
		return u.Txn(slot).PutMeta([]byte("k"), &Meta{Type: TypeString, Value: []byte("later")})
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := getString(t, e.View(DefaultTable).Txn(slot), "k"); v != "later" { // now in the cache
		t.Fatalf("k = %q, want later", v)
	}
	var w Watch
	if err := e.Watch(&w, DefaultTable, slot, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteUnitRecord(DefaultTable, slot, end); err != nil {
		t.Fatal(err)
	}
	if v, _ := getString(t, e.View(DefaultTable).Txn(slot), "k"); v != "later" {
		t.Fatalf("after the end was written again k = %q, want later", v)
	}
	if keys, _ := e.SlotCounts(DefaultTable, slot); keys != 1 {
		t.Fatalf("the slot counts %d keys, want 1", keys)
	}
	if w.Changed(now) {
		t.Fatal("an end that wrote nothing marked a WATCH")
	}
	e.Unwatch(&w)
}

// HoldWithin waits for a held slot and takes it once released; past its
// bound it holds nothing and says busy; it also waits for a part pending
// on the slot until the part's end.
func TestHoldWithin(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 5
	first, err := e.TryHold(DefaultTable, []SlotID{slot})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.HoldWithin(DefaultTable, []SlotID{slot, 6}, 20*time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Fatalf("HoldWithin of a held slot past its bound: %v, want ErrBusy", err)
	}
	if h, err := e.TryHold(DefaultTable, []SlotID{6}); err != nil {
		t.Fatalf("HoldWithin that gave up still holds slot 6: %v", err)
	} else {
		h.Release()
	}
	// waiting starts a HoldWithin of slot that must still wait 50 ms on.
	waiting := func(what string) <-chan error {
		got := make(chan error, 1)
		go func() {
			h, err := e.HoldWithin(DefaultTable, []SlotID{slot}, 10*time.Second)
			if err == nil {
				h.Release()
			}
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("HoldWithin returned %v while %s", err, what)
		case <-time.After(50 * time.Millisecond):
		}
		return got
	}
	got := waiting("the slot was held")
	first.Release()
	if err := <-got; err != nil {
		t.Fatalf("HoldWithin after the release: %v", err)
	}

	// A pending part: HoldWithin waits for its end.
	eff := Effect{Ops: []Op{{Kind: OpPut, CF: CFMeta, Key: metaKey(DefaultTable, slot, []byte("k")),
		Value: (&Meta{Type: TypeString, Value: []byte("v")}).encode()}}, KeyDelta: 1}
	if _, err := e.WriteUnitRecord(DefaultTable, slot, PartEffect(DefaultTable, slot, "u", slot, eff.Encode(nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.HoldWithin(DefaultTable, []SlotID{slot}, 20*time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Fatalf("HoldWithin of a pending slot past its bound: %v, want ErrBusy", err)
	}
	got = waiting("a part was pending")
	end, _, err := e.EndEffect(DefaultTable, slot, "u", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteUnitRecord(DefaultTable, slot, end); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("HoldWithin after the part's end: %v", err)
	}
}
