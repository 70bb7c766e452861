package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
)

func setKey(t *testing.T, e *Engine, s SlotID, key, val string) {
	t.Helper()
	err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
		return u.Txn(s).PutMeta([]byte(key), &Meta{Type: TypeString, Value: []byte(val)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every committed write is one log entry of its slot, in the same batch:
// indexes run from 1 without gaps, carry the slot's epoch and the write's
// effect, continue after a reopen, and a write that changes nothing logs
// nothing.
func TestSlotLogAppendsEveryWrite(t *testing.T) {
	dir := t.TempDir()
	now := int64(5000)
	e := openTest(t, dir, &now)
	e.SetSlotRole(DefaultTable, 3, SlotRole{Logged: true, Epoch: 7})
	e.SetSlotRole(DefaultTable, 4, SlotRole{Logged: true, Epoch: 1})
	setKey(t, e, 5, "unlogged", "v")
	if f, l, _ := e.LogBounds(DefaultTable, 5); f != 0 || l != 0 {
		t.Fatalf("a slot without a log logged: %d..%d", f, l)
	}
	for i := range 5 {
		setKey(t, e, 3, fmt.Sprint("k", i), "v")
	}
	setKey(t, e, 4, "other", "v")
	if err := e.Update(DefaultTable, []SlotID{3}, func(*Update) error { return nil }); err != nil {
		t.Fatal(err)
	}
	first, last, epoch := e.LogBounds(DefaultTable, 3)
	if first != 1 || last != 5 || epoch != 7 {
		t.Fatalf("bounds of slot 3: %d..%d epoch %d, want 1..5 epoch 7", first, last, epoch)
	}
	if f, l, _ := e.LogBounds(DefaultTable, 4); f != 1 || l != 1 {
		t.Fatalf("bounds of slot 4: %d..%d", f, l)
	}
	entries, err := e.ReadLog(DefaultTable, 3, 2, 1<<20)
	if err != nil || len(entries) != 4 {
		t.Fatalf("ReadLog from 2: %d entries, %v", len(entries), err)
	}
	for i, en := range entries {
		if en.Index != LogIndex(i+2) || en.Epoch != 7 || en.UnixMS != 5000 {
			t.Fatalf("entry %d: %+v", i, en)
		}
		eff, err := DecodeEffect(en.Effect)
		if err != nil || len(eff.Ops) != 1 || !bytes.HasSuffix(eff.Ops[0].Key, []byte(fmt.Sprint("k", i+1))) || eff.KeyDelta != 1 {
			t.Fatalf("entry %d effect: %+v %v", i, eff, err)
		}
	}
	if e.Close() != nil {
		t.Fatal("close")
	}
	e = openTest(t, dir, &now)
	defer e.Close()
	if f, l, ep := e.LogBounds(DefaultTable, 3); f != 1 || l != 5 || ep != 7 {
		t.Fatalf("after reopen: %d..%d epoch %d", f, l, ep)
	}
	e.SetSlotRole(DefaultTable, 3, SlotRole{Logged: true, Epoch: 8})
	setKey(t, e, 3, "after", "v")
	if _, l, ep := e.LogBounds(DefaultTable, 3); l != 6 || ep != 8 {
		t.Fatalf("after a write past the reopen: last %d epoch %d", l, ep)
	}
}

// A commit that appends to a slot log leaves one wake on LogWritten by the
// time it returns; wakes coalesce; a write to an unlogged slot and an
// entry applied from a leader leave none.
func TestLogWrittenWakesOnCommit(t *testing.T) {
	now := int64(1)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	pending := func() bool {
		select {
		case <-e.LogWritten():
			return true
		default:
			return false
		}
	}
	e.SetSlotRole(DefaultTable, 3, SlotRole{Logged: true, Epoch: 1})
	setKey(t, e, 5, "unlogged", "v")
	if pending() {
		t.Fatal("a write to a slot without a log woke the shipper")
	}
	setKey(t, e, 3, "a", "v")
	if !pending() {
		t.Fatal("a logged commit did not wake the shipper")
	}
	setKey(t, e, 3, "b", "v")
	setKey(t, e, 3, "c", "v")
	if !pending() || pending() {
		t.Fatal("two logged commits: want one coalesced wake")
	}

	f := openTest(t, t.TempDir(), &now)
	defer f.Close()
	f.SetSlotRole(DefaultTable, 3, SlotRole{Logged: true, Follower: true, Epoch: 1})
	entries, err := e.ReadLog(DefaultTable, 3, 1, 1<<20)
	if err != nil || len(entries) != 3 {
		t.Fatalf("leader's log: %d entries, %v", len(entries), err)
	}
	if err := f.ApplyLogEntry(DefaultTable, 3, entries[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.LogWritten():
		t.Fatal("an entry applied from the leader woke the follower's shipper")
	default:
	}
}

// A pipeline batch writes one entry per slot for all its commands.
func TestSlotLogOneEntryPerBatchSlot(t *testing.T) {
	now := int64(1)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	e.SetSlotRole(DefaultTable, 0, SlotRole{Logged: true, Epoch: 1})
	e.SetSlotRole(DefaultTable, 1, SlotRole{Logged: true, Epoch: 1})
	b := e.NewBatch(nil)
	for i := range 10 {
		s := SlotID(i % 2)
		if err := b.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
			return u.Txn(s).PutMeta([]byte(fmt.Sprint("k", i)), &Meta{Type: TypeString, Value: []byte("v")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for s := range SlotID(2) {
		entries, err := e.ReadLog(DefaultTable, s, 1, 1<<20)
		if err != nil || len(entries) != 1 {
			t.Fatalf("slot %d: %d entries %v", s, len(entries), err)
		}
		if eff, _ := DecodeEffect(entries[0].Effect); len(eff.Ops) != 5 || eff.KeyDelta != 5 {
			t.Fatalf("slot %d entry: %d ops, delta %d", s, len(eff.Ops), eff.KeyDelta)
		}
	}
}

// Retention deletes the oldest entries by age and by size, never the last.
func TestSlotLogRetention(t *testing.T) {
	now := int64(0)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	e.SetSlotRole(DefaultTable, 1, SlotRole{Logged: true, Epoch: 1})
	e.SetSlotRole(DefaultTable, 2, SlotRole{Logged: true, Epoch: 1})
	for i := range 100 {
		now = int64(i) * 1000 // one write per second
		setKey(t, e, 1, fmt.Sprint("k", i), "v")
	}
	now = 100_000
	if err := e.trimSlotLog(DefaultTable, 1, LogRetention{MaxAge: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	first, last, _ := e.LogBounds(DefaultTable, 1)
	if first != 71 || last != 100 {
		t.Fatalf("after age retention: %d..%d, want 71..100 (entries of the last 30 s)", first, last)
	}
	if entries, _ := e.ReadLog(DefaultTable, 1, 1, 1<<20); len(entries) != 30 || entries[0].Index != 71 {
		t.Fatalf("ReadLog after trim: %d entries from %d", len(entries), entries[0].Index)
	}
	// Everything too old: the last entry stays.
	now = 10_000_000
	if err := e.trimSlotLog(DefaultTable, 1, LogRetention{MaxAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	if first, last, _ := e.LogBounds(DefaultTable, 1); first != 100 || last != 100 {
		t.Fatalf("after trimming everything: %d..%d, want the last entry kept", first, last)
	}
	// Size: flush so RocksDB's estimate sees the entries, then bound it.
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := make([]byte, 200) // incompressible: the estimate is of stored bytes
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		setKey(t, e, 2, fmt.Sprint("key-", i), string(v))
	}
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	if err := e.db.FlushCF(e.cfs[CFLog], fo); err != nil {
		t.Fatal(err)
	}
	if err := e.trimSlotLog(DefaultTable, 2, LogRetention{MaxBytes: 100 << 10}); err != nil {
		t.Fatal(err)
	}
	first, last, _ = e.LogBounds(DefaultTable, 2)
	if last != 2000 || first <= 1 || first > 2000-300 {
		t.Fatalf("after size retention: %d..%d, want roughly the last ~100 KiB (~400 entries) kept", first, last)
	}
}

// A follower applying its leader's entries ends with the same data and the
// same log (indexes, epochs, times); an entry that does not follow is a gap.
func TestApplyLogEntryOnFollower(t *testing.T) {
	now := int64(42)
	leader := openTest(t, t.TempDir(), &now)
	defer leader.Close()
	follower := openTest(t, t.TempDir(), &now)
	defer follower.Close()
	leader.SetSlotRole(DefaultTable, 2, SlotRole{Logged: true, Epoch: 3})
	follower.SetSlotRole(DefaultTable, 2, SlotRole{Logged: true, Epoch: 3})
	for i := range 20 {
		setKey(t, leader, 2, fmt.Sprint("k", i%7), fmt.Sprint("v", i))
	}
	entries, err := leader.ReadLog(DefaultTable, 2, 1, 1<<20)
	if err != nil || len(entries) != 20 {
		t.Fatalf("leader log: %d %v", len(entries), err)
	}
	if err := follower.ApplyLogEntry(DefaultTable, 2, entries[1]); !errors.Is(err, ErrLogGap) {
		t.Fatalf("entry 2 first: %v, want a gap", err)
	}
	now = 99 // the follower's clock must not leak into the entries
	for _, en := range entries {
		wire := EncodeLogEntry(nil, en)
		got, err := DecodeLogEntry(wire)
		if err != nil {
			t.Fatal(err)
		}
		if err := follower.ApplyLogEntry(DefaultTable, 2, got); err != nil {
			t.Fatalf("apply %d: %v", en.Index, err)
		}
	}
	if err := follower.ApplyLogEntry(DefaultTable, 2, entries[5]); !errors.Is(err, ErrLogGap) {
		t.Fatalf("applying an old entry again: %v, want a gap", err)
	}
	if f, l, ep := follower.LogBounds(DefaultTable, 2); f != 1 || l != 20 || ep != 3 {
		t.Fatalf("follower bounds %d..%d epoch %d", f, l, ep)
	}
	fl, _ := follower.ReadLog(DefaultTable, 2, 1, 1<<20)
	for i := range entries {
		if fl[i].Index != entries[i].Index || fl[i].Epoch != entries[i].Epoch || fl[i].UnixMS != entries[i].UnixMS || !bytes.Equal(fl[i].Effect, entries[i].Effect) {
			t.Fatalf("follower entry %d differs: %+v vs %+v", i, fl[i], entries[i])
		}
	}
	if leader.SlotKeyCount(DefaultTable, 2) != 7 || follower.SlotKeyCount(DefaultTable, 2) != 7 {
		t.Fatalf("key counts: leader %d follower %d", leader.SlotKeyCount(DefaultTable, 2), follower.SlotKeyCount(DefaultTable, 2))
	}
	for i := range 7 {
		k := []byte(fmt.Sprint("k", i))
		lm, _, _ := leader.View(DefaultTable).Txn(2).Meta(k)
		fm, ok, err := follower.View(DefaultTable).Txn(2).Meta(k)
		if err != nil || !ok || !bytes.Equal(lm.Value, fm.Value) {
			t.Fatalf("key %s: leader %q follower %q %v", k, lm.Value, fm.Value, err)
		}
	}
	ls, err1 := leader.SlotChecksum(DefaultTable, 2)
	fs, err2 := follower.SlotChecksum(DefaultTable, 2)
	if err1 != nil || err2 != nil || ls != fs || ls.Index != 20 || ls.Keys != 7 {
		t.Fatalf("checksums: leader %+v %v, follower %+v %v", ls, err1, fs, err2)
	}
	setKey(t, follower, 2, "k3", "changed")
	if fs2, _ := follower.SlotChecksum(DefaultTable, 2); fs2.Sum == ls.Sum {
		t.Fatal("a changed value left the checksum equal")
	}
}

// FlushSlots empties the owned slots through logged effects that a
// follower applying them reproduces.
func TestFlushSlotsIsReplicated(t *testing.T) {
	now := int64(1)
	leader := openTest(t, t.TempDir(), &now)
	defer leader.Close()
	follower := openTest(t, t.TempDir(), &now)
	defer follower.Close()
	for s := range SlotID(4) {
		leader.SetSlotRole(DefaultTable, s, SlotRole{Logged: true, Epoch: 1})
		follower.SetSlotRole(DefaultTable, s, SlotRole{Logged: true, Epoch: 1, Follower: true})
		for i := range 3 {
			setKey(t, leader, s, fmt.Sprint("k", s, "-", i), "v")
		}
	}
	if err := leader.FlushSlots(DefaultTable, 16, func(s SlotID) bool { return s != 2 }, nil); err != nil {
		t.Fatal(err)
	}
	for s := range SlotID(4) {
		want := int64(0)
		if s == 2 {
			want = 3
		}
		if got := leader.SlotKeyCount(DefaultTable, s); got != want {
			t.Fatalf("leader slot %d: %d keys, want %d", s, got, want)
		}
		entries, err := leader.ReadLog(DefaultTable, s, 1, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if err := follower.ApplyLogEntry(DefaultTable, s, en); err != nil {
				t.Fatalf("slot %d entry %d: %v", s, en.Index, err)
			}
		}
		ls, _ := leader.SlotChecksum(DefaultTable, s)
		fs, _ := follower.SlotChecksum(DefaultTable, s)
		if ls != fs || follower.SlotKeyCount(DefaultTable, s) != want {
			t.Fatalf("slot %d: leader %+v follower %+v (%d keys)", s, ls, fs, follower.SlotKeyCount(DefaultTable, s))
		}
	}
}
