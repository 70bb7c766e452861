package storage

import (
	"bytes"
	"errors"
	"math"
	"sort"
	"testing"

	"github.com/linxGnu/grocksdb"
)

func openTest(t *testing.T, dir string, now *int64) *Engine {
	t.Helper()
	e, err := Open(Options{Dir: dir, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureTable(DefaultTable, 16); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestScoreEncodingOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -1e300, -2.5, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, 2.5, 1e300, math.Inf(1)}
	var enc [][]byte
	for _, v := range vals {
		b := EncodeScore(nil, v)
		if got := DecodeScore(b); got != v {
			t.Errorf("round trip %v -> %v", v, got)
		}
		enc = append(enc, b)
	}
	if !sort.SliceIsSorted(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 }) {
		t.Fatal("encoded scores are not in numeric order")
	}
	if !bytes.Equal(EncodeScore(nil, math.Copysign(0, -1)), EncodeScore(nil, 0)) {
		t.Fatal("-0 and +0 encode differently")
	}
}

func TestEffectRoundTrip(t *testing.T) {
	e := Effect{KeyDelta: -3, ExpireDelta: 2, Ops: []Op{
		{Kind: OpPut, CF: CFMeta, Key: []byte("k"), Value: []byte("v")},
		{Kind: OpDelete, CF: CFData, Key: []byte("d")},
		{Kind: OpDeleteRange, CF: CFScore, Key: []byte("a"), Value: []byte("b")},
	}}
	got, err := DecodeEffect(e.Encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyDelta != e.KeyDelta || got.ExpireDelta != e.ExpireDelta || len(got.Ops) != len(e.Ops) {
		t.Fatalf("got %+v", got)
	}
	for i := range e.Ops {
		a, b := e.Ops[i], got.Ops[i]
		if a.Kind != b.Kind || a.CF != b.CF || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) {
			t.Fatalf("op %d: got %+v want %+v", i, b, a)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 0, 5}, {0, 0, 1, 9, 0, 0, 0}, append(e.Encode(nil), 1)} {
		if _, err := DecodeEffect(bad); err == nil {
			t.Errorf("DecodeEffect(%v) accepted garbage", bad)
		}
	}
}

// Counts, data and versions survive a close and reopen.
func TestReopenKeepsCountsAndVersions(t *testing.T) {
	dir := t.TempDir()
	now := int64(1000)
	e := openTest(t, dir, &now)
	var lastVersion uint64
	for i := 0; i < 10; i++ {
		s := SlotID(i % 16)
		err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
			txn := u.Txn(s)
			v, err := txn.NewVersion()
			lastVersion = v
			if err != nil {
				return err
			}
			if err := txn.PutMember([]byte{byte(i)}, v, []byte("m"), []byte("x")); err != nil {
				return err
			}
			return txn.PutMeta([]byte{byte(i)}, &Meta{Type: TypeSet, Version: v, Count: 1})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.KeyCount(DefaultTable); n != 10 {
		t.Fatalf("KeyCount = %d", n)
	}
	e.Close()
	e = openTest(t, dir, &now)
	defer e.Close()
	if n := e.KeyCount(DefaultTable); n != 10 {
		t.Fatalf("after reopen KeyCount = %d", n)
	}
	v, err := e.versions.newVersion()
	if err != nil || v <= lastVersion {
		t.Fatalf("version after reopen %d, last before %d (err %v)", v, lastVersion, err)
	}
}

// A deleted collection's members are dropped by compaction, while a live
// collection's stay.
func TestCompactionDropsStaleMembers(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	write := func(key string, members int) uint64 {
		var ver uint64
		err := e.Update(DefaultTable, []SlotID{0}, func(u *Update) error {
			txn := u.Txn(0)
			v, err := txn.NewVersion()
			if err != nil {
				return err
			}
			ver = v
			for i := 0; i < members; i++ {
				if err := txn.PutMember([]byte(key), v, []byte{byte(i >> 8), byte(i)}, []byte("val")); err != nil {
					return err
				}
			}
			return txn.PutMeta([]byte(key), &Meta{Type: TypeHash, Version: v, Count: uint64(members)})
		})
		if err != nil {
			t.Fatal(err)
		}
		return ver
	}
	deadVer := write("dead", 500)
	liveVer := write("live", 300)
	if err := e.Update(DefaultTable, []SlotID{0}, func(u *Update) error { return u.Txn(0).DeleteKey([]byte("dead")) }); err != nil {
		t.Fatal(err)
	}
	count := func(key string, ver uint64) int {
		n := 0
		txn := e.View(DefaultTable).Txn(0)
		if err := txn.ScanMembers([]byte(key), ver, nil, false, func(_, _ []byte) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("dead", deadVer) != 500 {
		t.Fatal("members should still be on disk before compaction")
	}
	e.db.CompactRangeCF(e.cfs[CFData], grocksdb.Range{})
	if n := count("dead", deadVer); n != 0 {
		t.Fatalf("%d stale members survived compaction", n)
	}
	if n := count("live", liveVer); n != 300 {
		t.Fatalf("live members after compaction: %d", n)
	}
}

func TestSweepDeletesOnlyExpired(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	for i, exp := range []int64{0, 1500, 2500} {
		err := e.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
			return u.Txn(1).PutMeta([]byte{'k', byte(i)}, &Meta{Type: TypeString, ExpireMS: exp, Value: []byte("v")})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	now = 2000
	if _, deleted, err := e.sweepOnce(nil, 100, nil); err != nil || deleted != 1 {
		t.Fatalf("sweep deleted %d, err %v", deleted, err)
	}
	if keys, expires := e.Counts(DefaultTable); keys != 2 || expires != 1 {
		t.Fatalf("Counts = %d keys, %d with TTL; want 2, 1", keys, expires)
	}
	// A bounded step resumes where it stopped.
	now = 3000
	next, deleted, err := e.sweepOnce(nil, 1, nil)
	if err != nil || next == nil {
		t.Fatalf("bounded sweep: next %q err %v", next, err)
	}
	_, d2, err := e.sweepOnce(next, 100, nil)
	if err != nil || deleted+d2 != 1 {
		t.Fatalf("resumed sweep deleted %d+%d, err %v", deleted, d2, err)
	}
}

func TestUpdateRejectsUndeclaredSlot(t *testing.T) {
	now := int64(0)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("writing an undeclared slot did not panic")
		}
	}()
	_ = e.Update(DefaultTable, []SlotID{1}, func(u *Update) error { u.Txn(2); return nil })
}

// A read that finds a key expired queues it for deletion (lazy expiry).
func TestReadQueuesExpiredKey(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	err := e.Update(DefaultTable, []SlotID{2}, func(u *Update) error {
		return u.Txn(2).PutMeta([]byte("k"), &Meta{Type: TypeString, ExpireMS: 1500, Value: []byte("v")})
	})
	if err != nil {
		t.Fatal(err)
	}
	now = 2000
	if _, ok, err := e.View(DefaultTable).Txn(2).Meta([]byte("k")); err != nil || ok {
		t.Fatalf("expired key visible: %v %v", ok, err)
	}
	select {
	case k := <-e.expired:
		if deleted, err := e.deleteIfExpired(k, nil); err != nil || !deleted {
			t.Fatalf("deleteIfExpired = %v, %v", deleted, err)
		}
	default:
		t.Fatal("the read did not queue the expired key")
	}
	if n := e.KeyCount(DefaultTable); n != 0 {
		t.Fatalf("KeyCount = %d after lazy deletion", n)
	}
}

// Compaction keeps the members of a collection that has only expired: a
// PERSIST evaluated just before the deadline may still keep it alive.
func TestCompactionKeepsExpiredCollectionMembers(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	var ver uint64
	err := e.Update(DefaultTable, []SlotID{0}, func(u *Update) error {
		txn := u.Txn(0)
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		ver = v
		if err := txn.PutMember([]byte("h"), v, []byte("f"), []byte("x")); err != nil {
			return err
		}
		return txn.PutMeta([]byte("h"), &Meta{Type: TypeHash, Version: v, Count: 1, ExpireMS: 1500})
	})
	if err != nil {
		t.Fatal(err)
	}
	now = 5000 // expired on the engine's clock and on the wall clock alike
	e.db.CompactRangeCF(e.cfs[CFData], grocksdb.Range{})
	if _, ok, err := e.View(DefaultTable).Txn(0).Member([]byte("h"), ver, []byte("f")); err != nil || !ok {
		t.Fatalf("member of an expired, undeleted collection was dropped: %v %v", ok, err)
	}
}

// A write to a table that was never loaded fails alone; the engine keeps
// committing other writes.
func TestCommitToUnloadedTableFailsAlone(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	err := e.Update(TableID(9), []SlotID{0}, func(u *Update) error {
		return u.Txn(0).PutMeta([]byte("k"), &Meta{Type: TypeString, Value: []byte("v")})
	})
	if err == nil {
		t.Fatal("write to an unloaded table committed")
	}
	if _, ok, err := e.View(TableID(9)).Txn(0).Meta([]byte("k")); err != nil || ok {
		t.Fatalf("the failed write is visible: %v %v", ok, err)
	}
	err = e.Update(DefaultTable, []SlotID{0}, func(u *Update) error {
		return u.Txn(0).PutMeta([]byte("k"), &Meta{Type: TypeString, Value: []byte("v")})
	})
	if err != nil || e.KeyCount(DefaultTable) != 1 {
		t.Fatalf("a later write: %v, %d keys", err, e.KeyCount(DefaultTable))
	}
}

// A closed engine refuses reads (cached ones too) and writes with
// ErrClosed instead of reaching into the freed RocksDB handles.
func TestClosedEngineRefusesUse(t *testing.T) {
	now := int64(1000)
	e, err := Open(Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, MetaCacheBytes: 1 << 20, Now: func() int64 { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureTable(DefaultTable, 16); err != nil {
		t.Fatal(err)
	}
	key := []byte("k")
	if err := e.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		return u.Txn(3).PutMeta(key, &Meta{Type: TypeString, Value: []byte("v")})
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.View(DefaultTable).Txn(3).Meta(key); err != nil || !ok {
		t.Fatalf("before close: ok %v err %v", ok, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.View(DefaultTable).Txn(3).Meta(key); !errors.Is(err, ErrClosed) {
		t.Errorf("Meta after close: %v, want ErrClosed", err)
	}
	if err := e.View(DefaultTable).Txn(3).ScanKeys(nil, func([]byte, Meta) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Errorf("ScanKeys after close: %v, want ErrClosed", err)
	}
	if err := e.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		return u.Txn(3).PutMeta(key, &Meta{Type: TypeString, Value: []byte("w")})
	}); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after close: %v, want ErrClosed", err)
	}
	if got := e.Stats("rocksdb.estimate-num-keys"); got != "" {
		t.Errorf("Stats after close: %q", got)
	}
	if e.SSTFiles() != 0 || e.ApproximateDiskBytes() != 0 {
		t.Error("file figures after close")
	}
}
