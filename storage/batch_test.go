package storage

import (
	"errors"
	"slices"
	"testing"
)

func putString(t *testing.T, u *Update, s SlotID, key, val string) {
	t.Helper()
	if err := u.Txn(s).PutMeta([]byte(key), &Meta{Type: TypeString, Value: []byte(val)}); err != nil {
		t.Fatal(err)
	}
}

func getString(t *testing.T, txn *Txn, key string) (string, bool) {
	t.Helper()
	m, ok, err := txn.Meta([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(m.Value), ok
}

// Later commands of a batch see earlier ones' pending writes; readers
// outside see nothing until Commit; a failed command leaves the rest.
func TestBatchReadsPendingWritesAndCommitsOnce(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	b := e.NewBatch(nil)
	if err := b.Update(DefaultTable, []SlotID{3}, func(u *Update) error { putString(t, u, 3, "a", "1"); return nil }); err != nil {
		t.Fatal(err)
	}
	err := b.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		if v, ok := getString(t, u.Txn(3), "a"); !ok || v != "1" {
			t.Errorf("second command read a=%q,%v; want the pending 1", v, ok)
		}
		putString(t, u, 3, "a", "2")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := errors.New("command failed")
	err = b.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		putString(t, u, 3, "a", "lost")
		putString(t, u, 3, "b", "lost")
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(3), "a"); ok {
		t.Fatal("pending write visible to a reader before Commit")
	}
	if b.Len() != 2 {
		t.Fatalf("batch holds %d commands, want 2", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	view := e.View(DefaultTable).Txn(3)
	if v, _ := getString(t, view, "a"); v != "2" {
		t.Fatalf("a = %q after commit, want 2", v)
	}
	if _, ok := getString(t, view, "b"); ok {
		t.Fatal("the failed command's write was committed")
	}
	if n := e.KeyCount(DefaultTable); n != 1 {
		t.Fatalf("KeyCount = %d, want 1", n)
	}
}

// A batch never blocks on a lock while holding another: it answers
// ErrBatchBusy instead, and works again once committed.
func TestBatchBusyInsteadOfDeadlock(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	a, b := e.NewBatch(nil), e.NewBatch(nil)
	noop := func(*Update) error { return nil }
	if err := a.Update(DefaultTable, []SlotID{1}, noop); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(DefaultTable, []SlotID{2}, noop); err != nil {
		t.Fatal(err)
	}
	// a wants 2 (held by b) while holding 1: busy, not a deadlock.
	if err := a.Update(DefaultTable, []SlotID{2}, noop); !errors.Is(err, ErrBatchBusy) {
		t.Fatalf("a.Update(2) = %v, want ErrBatchBusy", err)
	}
	if err := b.Update(DefaultTable, []SlotID{1}, noop); !errors.Is(err, ErrBatchBusy) {
		t.Fatalf("b.Update(1) = %v, want ErrBatchBusy", err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(DefaultTable, []SlotID{2}, noop); err != nil {
		t.Fatalf("after b committed: %v", err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	// Another table while holding locks: commit first.
	c := e.NewBatch(nil)
	if err := c.Update(DefaultTable, []SlotID{1}, noop); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(7, []SlotID{1}, noop); !errors.Is(err, ErrBatchBusy) {
		t.Fatalf("other table: %v, want ErrBatchBusy", err)
	}
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
}

// The meta cache never serves a value older than the last commit.
func TestMetaCacheFollowsCommits(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	for i := 0; i < 50; i++ {
		val := string(rune('a' + i%26))
		if err := e.Update(DefaultTable, []SlotID{5}, func(u *Update) error { putString(t, u, 5, "k", val); return nil }); err != nil {
			t.Fatal(err)
		}
		if v, ok := getString(t, e.View(DefaultTable).Txn(5), "k"); !ok || v != val {
			t.Fatalf("round %d: read %q, want %q", i, v, val)
		}
		if i%10 == 9 {
			if err := e.Update(DefaultTable, []SlotID{5}, func(u *Update) error { return u.Txn(5).DeleteKey([]byte("k")) }); err != nil {
				t.Fatal(err)
			}
			if _, ok := getString(t, e.View(DefaultTable).Txn(5), "k"); ok {
				t.Fatalf("round %d: deleted key still cached", i)
			}
		}
	}
	if err := e.FlushTable(DefaultTable); err != nil {
		t.Fatal(err)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(5), "k"); ok {
		t.Fatal("key cached across FLUSHDB")
	}
}

// recordingCommitter commits nothing itself: it records what it was asked
// and releases the batch, like a raft group's committer whose apply would
// write the data.
type recordingCommitter struct {
	admitted [][]SlotID
	effects  []SlotEffect
	refuse   error
	// term is the term Admit answers for every slot (0: none); terms
	// what Commit found for each effect (Batch.AdmittedTerm).
	term  uint64
	terms []uint64
}

func (r *recordingCommitter) Admit(_ TableID, slots []SlotID) ([]uint64, error) {
	if r.refuse != nil {
		return nil, r.refuse
	}
	r.admitted = append(r.admitted, slots)
	if r.term == 0 {
		return nil, nil
	}
	terms := make([]uint64, len(slots))
	for i := range terms {
		terms[i] = r.term
	}
	return terms, nil
}

func (r *recordingCommitter) Commit(b *Batch) error {
	defer b.Release()
	r.effects = append(r.effects, b.Effects()...)
	r.terms = r.terms[:0]
	for _, se := range b.Effects() {
		r.terms = append(r.terms, b.AdmittedTerm(se.Slot))
	}
	return nil
}

// A table's Committer is asked before each command (under its slots'
// locks) and given the batch's effects instead of a local write; a raft
// slot is never written by a local commit.
func TestCommitterReplacesTheLocalCommit(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	e.SetSlotRole(DefaultTable, 5, SlotRole{Raft: true})

	err := e.Update(DefaultTable, []SlotID{5}, func(u *Update) error { putString(t, u, 5, "k", "v"); return nil })
	if !errors.Is(err, ErrRaftSlot) {
		t.Fatalf("a local commit of a raft slot: %v, want ErrRaftSlot", err)
	}
	rc := &recordingCommitter{}
	commits := func(TableID) Committer { return rc }
	b := e.NewBatch(commits)
	for _, s := range []SlotID{5, 6} {
		if err := b.Update(DefaultTable, []SlotID{s}, func(u *Update) error { putString(t, u, s, "k", "v"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Update(DefaultTable, []SlotID{7}, func(u *Update) error { _, _, err := u.Txn(7).Meta([]byte("k")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(rc.admitted) != 3 {
		t.Fatalf("admitted %v, want each of the 3 commands", rc.admitted)
	}
	if len(rc.effects) != 3 || rc.effects[0].Effect == nil || rc.effects[1].Effect == nil || rc.effects[2].Effect != nil {
		t.Fatalf("effects %+v: want slots 5 and 6 written, 7 only read", rc.effects)
	}
	if _, ok := getString(t, e.View(DefaultTable).Txn(6), "k"); ok {
		t.Fatal("the committer's batch was written locally")
	}
	// The locks were released: a local write of slot 6 goes through.
	if err := e.Update(DefaultTable, []SlotID{6}, func(u *Update) error { putString(t, u, 6, "k", "local"); return nil }); err != nil {
		t.Fatal(err)
	}
	// Commit finds the term of each slot's first admission: slot 5 was
	// admitted in term 7, then again in 9 (a leader that lost the slot
	// and led it again in between: its raft commit must fail), slot 6 in 9.
	b = e.NewBatch(commits)
	for _, step := range []struct {
		slot SlotID
		term uint64
	}{{5, 7}, {5, 9}, {6, 9}} {
		rc.term = step.term
		if err := b.Update(DefaultTable, []SlotID{step.slot}, func(u *Update) error { putString(t, u, step.slot, "k", "v"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rc.terms, []uint64{7, 9}) {
		t.Fatalf("admitted terms at commit %v, want [7 9]", rc.terms)
	}
	// Release forgets them: a new batch starts with none.
	if b.AdmittedTerm(5) != 0 {
		t.Fatalf("a released batch still has slot 5's term %d", b.AdmittedTerm(5))
	}
	rc.term = 0
	// A refusal stops the command before it runs.
	rc.refuse = errors.New("not the leader")
	ran := false
	if err := e.UpdateWith(commits, DefaultTable, []SlotID{5}, func(u *Update) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("refused admission: err %v, ran %v", err, ran)
	}
}
