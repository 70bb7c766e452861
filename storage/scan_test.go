package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// kv is one item a scan gave.
type kv struct{ k, v string }

func (p kv) String() string { return fmt.Sprintf("%q=%q", p.k, p.v) }

func scanAll(t *testing.T, txn *Txn, key string, ver uint64, from []byte, reverse bool) []kv {
	t.Helper()
	var got []kv
	err := txn.ScanMembers([]byte(key), ver, from, reverse, func(m, v []byte) bool {
		got = append(got, kv{string(m), string(v)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func wantItems(t *testing.T, what string, got []kv, want ...string) {
	t.Helper()
	var w []kv
	for _, s := range want {
		k, v, _ := strings.Cut(s, "=")
		w = append(w, kv{k, v})
	}
	if !slices.Equal(got, w) {
		t.Errorf("%s: got %v, want %v", what, got, w)
	}
}

// commitHash writes key as a hash of version ver with members (m=v).
func commitHash(t *testing.T, e *Engine, s SlotID, key string, members ...string) uint64 {
	t.Helper()
	var ver uint64
	err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error {
		txn := u.Txn(s)
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		ver = v
		for _, mv := range members {
			m, val, _ := strings.Cut(mv, "=")
			if err := txn.PutMember([]byte(key), v, []byte(m), []byte(val)); err != nil {
				return err
			}
		}
		return txn.PutMeta([]byte(key), &Meta{Type: TypeHash, Version: v, Count: uint64(len(members))})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

// A write Txn's member scans show its own puts (with their values), hide
// its deletes, in both directions and from any member; they see the
// pending state as it was when the scan began.
func TestScanSeesOwnMemberWrites(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	ver := commitHash(t, e, 2, "h", "a=1", "b=2", "c=3", "d=4")
	commitHash(t, e, 2, "hh", "a=other") // a neighbour key must not leak in
	err := e.Update(DefaultTable, []SlotID{2}, func(u *Update) error {
		txn := u.Txn(2)
		h := []byte("h")
		for _, op := range []struct{ m, v string }{{"b", "B"}, {"c", ""}, {"e", "5"}, {"aa", "x"}, {"aa", "X"}, {"d", ""}, {"d", "D"}} {
			var err error
			if op.v == "" {
				err = txn.DeleteMember(h, ver, []byte(op.m))
			} else {
				err = txn.PutMember(h, ver, []byte(op.m), []byte(op.v))
			}
			if err != nil {
				return err
			}
		}
		wantItems(t, "forward", scanAll(t, txn, "h", ver, nil, false), "a=1", "aa=X", "b=B", "d=D", "e=5")
		wantItems(t, "reverse", scanAll(t, txn, "h", ver, nil, true), "e=5", "d=D", "b=B", "aa=X", "a=1")
		wantItems(t, "forward from b", scanAll(t, txn, "h", ver, []byte("b"), false), "b=B", "d=D", "e=5")
		wantItems(t, "forward from c", scanAll(t, txn, "h", ver, []byte("c"), false), "d=D", "e=5")
		wantItems(t, "reverse from c", scanAll(t, txn, "h", ver, []byte("c"), true), "b=B", "aa=X", "a=1")
		wantItems(t, "reverse from aa", scanAll(t, txn, "h", ver, []byte("aa"), true), "aa=X", "a=1")
		wantItems(t, "reverse from a", scanAll(t, txn, "h", ver, []byte("a"), true), "a=1")
		var first []kv
		err := txn.ScanMembers(h, ver, nil, false, func(m, v []byte) bool {
			first = append(first, kv{string(m), string(v)})
			return len(first) < 2
		})
		if err != nil {
			return err
		}
		wantItems(t, "stopped after two", first, "a=1", "aa=X")
		// Writes fn makes during a scan are not seen by that scan (a
		// list's LINSERT shifts items ahead of its own scan).
		var during []kv
		err = txn.ScanMembers(h, ver, nil, false, func(m, v []byte) bool {
			during = append(during, kv{string(m), string(v)})
			if string(m) == "a" {
				_ = txn.DeleteMember(h, ver, []byte("b"))
				_ = txn.PutMember(h, ver, []byte("c"), []byte("new"))
			}
			return true
		})
		if err != nil {
			return err
		}
		wantItems(t, "written during the scan", during, "a=1", "aa=X", "b=B", "d=D", "e=5")
		wantItems(t, "after the scan", scanAll(t, txn, "h", ver, nil, false), "a=1", "aa=X", "c=new", "d=D", "e=5")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, "committed", scanAll(t, e.View(DefaultTable).Txn(2), "h", ver, nil, false), "a=1", "aa=X", "c=new", "d=D", "e=5")
}

// DEL h; HSET h g w; HGETALL h in one batch shows only g: the new version's
// scan sees the pending member, and the old version's members are not in
// its range. ScanKeys of a write Txn sees pending meta puts and deletes.
func TestScanAfterDeleteKeyAndRecreate(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	commitHash(t, e, 5, "h", "f=v", "x=y")
	commitHash(t, e, 5, "other", "o=1")
	b := e.NewBatch(nil)
	defer b.release()
	cmd := func(fn func(txn *Txn) error) {
		t.Helper()
		if err := b.Update(DefaultTable, []SlotID{5}, func(u *Update) error { return fn(u.Txn(5)) }); err != nil {
			t.Fatal(err)
		}
	}
	cmd(func(txn *Txn) error { return txn.DeleteKey([]byte("h")) })
	var ver uint64
	cmd(func(txn *Txn) error {
		if _, ok, err := txn.Meta([]byte("h")); err != nil || ok {
			t.Fatalf("h after DEL: ok %v err %v", ok, err)
		}
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		ver = v
		if err := txn.PutMember([]byte("h"), v, []byte("g"), []byte("w")); err != nil {
			return err
		}
		return txn.PutMeta([]byte("h"), &Meta{Type: TypeHash, Version: v, Count: 1})
	})
	cmd(func(txn *Txn) error {
		m, ok, err := txn.Meta([]byte("h"))
		if err != nil || !ok || m.Version != ver {
			t.Fatalf("h: %+v %v %v", m, ok, err)
		}
		wantItems(t, "HGETALL h", scanAll(t, txn, "h", m.Version, nil, false), "g=w")
		wantItems(t, "HGETALL h reversed", scanAll(t, txn, "h", m.Version, nil, true), "g=w")
		return nil
	})
	keys := func(txn *Txn) []string {
		var ks []string
		if err := txn.ScanKeys(nil, func(k []byte, _ Meta) bool { ks = append(ks, string(k)); return true }); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	cmd(func(txn *Txn) error {
		if err := txn.DeleteKey([]byte("other")); err != nil {
			return err
		}
		if err := txn.PutMeta([]byte("a"), &Meta{Type: TypeString, Value: []byte("1")}); err != nil {
			return err
		}
		if got := keys(txn); !slices.Equal(got, []string{"a", "h"}) {
			t.Errorf("ScanKeys of the write Txn: %q, want [a h]", got)
		}
		return nil
	})
	if got := keys(e.View(DefaultTable).Txn(5)); !slices.Equal(got, []string{"h", "other"}) {
		t.Errorf("ScanKeys of a reader before commit: %q, want [h other]", got)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := keys(e.View(DefaultTable).Txn(5)); !slices.Equal(got, []string{"a", "h"}) {
		t.Errorf("ScanKeys after commit: %q, want [a h]", got)
	}
}

type scored struct {
	s float64
	m string
}

func scanScores(t *testing.T, txn *Txn, key string, ver uint64, lo, hi float64, reverse bool) []scored {
	t.Helper()
	var got []scored
	err := txn.ScanScores([]byte(key), ver, lo, hi, reverse, func(s float64, m []byte) bool {
		got = append(got, scored{s, string(m)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The score index's pending puts and deletes show in ScanScores, forward
// and reverse, within its bounds only.
func TestScanScoresSeesPendingIndex(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	var ver uint64
	committed := []scored{{1, "a"}, {2, "b"}, {3, "c"}, {3, "d"}, {5, "e"}}
	err := e.Update(DefaultTable, []SlotID{7}, func(u *Update) error {
		txn := u.Txn(7)
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		ver = v
		for _, it := range committed {
			if err := txn.PutScore([]byte("z"), v, it.s, []byte(it.m)); err != nil {
				return err
			}
		}
		return txn.PutScore([]byte("zz"), v, 2.5, []byte("neighbour"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Update(DefaultTable, []SlotID{7}, func(u *Update) error {
		txn := u.Txn(7)
		z := []byte("z")
		for _, op := range []struct {
			put bool
			s   float64
			m   string
		}{
			{false, 2, "b"}, {true, 4, "b"}, // b moves from 2 to 4
			{false, 3, "c"}, {true, 3, "cb"}, {false, 3, "cb"}, // c leaves, cb comes and goes
			{true, 0, "f"}, {true, 3, "ca"}, {true, 6, "g"}, // new members at the edges and inside
			{true, math.Inf(-1), "ninf"}, {true, math.Inf(1), "pinf"},
			{false, 5, "e"}, {true, 5, "e"}, // deleted and put back
			{true, 7, "h"}, {false, 7, "h"}, // put and deleted
		} {
			var err error
			if op.put {
				err = txn.PutScore(z, ver, op.s, []byte(op.m))
			} else {
				err = txn.DeleteScore(z, ver, op.s, []byte(op.m))
			}
			if err != nil {
				return err
			}
		}
		all := []scored{{math.Inf(-1), "ninf"}, {0, "f"}, {1, "a"}, {3, "ca"}, {3, "d"}, {4, "b"}, {5, "e"}, {6, "g"}, {math.Inf(1), "pinf"}}
		check := func(lo, hi float64) {
			t.Helper()
			var want []scored
			for _, it := range all {
				if it.s >= lo && it.s <= hi {
					want = append(want, it)
				}
			}
			if got := scanScores(t, txn, "z", ver, lo, hi, false); !slices.Equal(got, want) {
				t.Errorf("[%v, %v]: got %v, want %v", lo, hi, got, want)
			}
			slices.Reverse(want)
			if got := scanScores(t, txn, "z", ver, lo, hi, true); !slices.Equal(got, want) {
				t.Errorf("[%v, %v] reversed: got %v, want %v", lo, hi, got, want)
			}
		}
		inf := math.Inf(1)
		check(-inf, inf)
		check(1, 4)
		check(2, 3)
		check(3, 3)
		check(0, 0)
		check(4.5, 6)
		check(7, inf)
		check(inf, inf)
		check(-inf, -inf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deleteRange appends an OpDeleteRange of [start, end) of cf to txn, as
// FlushSlots does for a whole slot.
func deleteRange(txn *Txn, cf CF, start, end []byte) {
	txn.eff.Ops = append(txn.eff.Ops, Op{Kind: OpDeleteRange, CF: cf, Key: start, Value: end})
}

// A pending OpDeleteRange hides the stored keys in its range; a put after
// it shows, a put before it does not.
func TestScanSeesPendingDeleteRange(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	var members []string
	for i := range 40 {
		members = append(members, fmt.Sprintf("m%02d=%d", i, i))
	}
	ver := commitHash(t, e, 9, "h", members...)
	other := commitHash(t, e, 9, "o", "x=1")
	b := e.NewBatch(nil)
	defer b.release()
	p := memberPrefix(DefaultTable, 9, []byte("h"), ver)
	at := func(m string) []byte { return append(slices.Clip(p), m...) }
	err := b.Update(DefaultTable, []SlotID{9}, func(u *Update) error {
		txn := u.Txn(9)
		h := []byte("h")
		if err := txn.PutMember(h, ver, []byte("m05"), []byte("lost")); err != nil {
			return err
		}
		deleteRange(txn, CFData, at("m03"), at("m10")) // m03..m09
		if err := txn.PutMember(h, ver, []byte("m07"), []byte("back")); err != nil {
			return err
		}
		deleteRange(txn, CFData, at("m08"), at("m12")) // m08..m11, overlapping
		deleteRange(txn, CFData, at("m20"), at("m25"))
		deleteRange(txn, CFData, at("m30"), prefixEnd(p)) // to the end of h
		deleteRange(txn, CFScore, at("m00"), at("m99"))   // another CF: no effect on members
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 30 {
		switch {
		case i == 7:
			want = append(want, "m07=back")
		case i >= 3 && i < 12, i >= 20 && i < 25:
		default:
			want = append(want, fmt.Sprintf("m%02d=%d", i, i))
		}
	}
	err = b.Update(DefaultTable, []SlotID{9}, func(u *Update) error {
		txn := u.Txn(9)
		wantItems(t, "forward", scanAll(t, txn, "h", ver, nil, false), want...)
		rev := slices.Clone(want)
		slices.Reverse(rev)
		wantItems(t, "reverse", scanAll(t, txn, "h", ver, nil, true), rev...)
		wantItems(t, "forward from m04", scanAll(t, txn, "h", ver, []byte("m04"), false), want[3:]...)
		wantItems(t, "reverse from m22", scanAll(t, txn, "h", ver, []byte("m22"), true), rev[len(rev)-(3+1+8):]...)
		wantItems(t, "reverse from m35", scanAll(t, txn, "h", ver, []byte("m35"), true), rev...)
		wantItems(t, "the other key", scanAll(t, txn, "o", other, nil, false), "x=1")
		// The whole slot, as FlushSlots deletes it, then one new member.
		start := SlotPrefix(DefaultTable, 9)
		deleteRange(txn, CFData, start, prefixEnd(start))
		if err := txn.PutMember([]byte("h"), ver, []byte("new"), []byte("1")); err != nil {
			return err
		}
		wantItems(t, "after the slot's range delete", scanAll(t, txn, "h", ver, nil, false), "new=1")
		wantItems(t, "after the slot's range delete, reversed", scanAll(t, txn, "h", ver, nil, true), "new=1")
		wantItems(t, "the other key after the slot's range delete", scanAll(t, txn, "o", other, nil, true))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The second command of a batch scans the first's pending writes (through
// its Txn's base), its own on top; a failed command's writes are not seen.
func TestBatchScansSeeEarlierCommands(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	ver := commitHash(t, e, 3, "h", "a=1", "c=3")
	b := e.NewBatch(nil)
	defer b.release()
	h := []byte("h")
	var zver uint64
	err := b.Update(DefaultTable, []SlotID{3}, func(u *Update) error { // HSET h b 2 + ZADD z 1 x 2 y
		txn := u.Txn(3)
		if err := txn.PutMember(h, ver, []byte("b"), []byte("2")); err != nil {
			return err
		}
		if err := txn.DeleteMember(h, ver, []byte("c")); err != nil {
			return err
		}
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		zver = v
		for i, m := range []string{"x", "y"} {
			if err := txn.PutMember([]byte("z"), v, []byte(m), EncodeScore(nil, float64(i+1))); err != nil {
				return err
			}
			if err := txn.PutScore([]byte("z"), v, float64(i+1), []byte(m)); err != nil {
				return err
			}
		}
		return txn.PutMeta([]byte("z"), &Meta{Type: TypeZSet, Version: v, Count: 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := errors.New("failed")
	err = b.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		txn := u.Txn(3)
		if err := txn.PutMember(h, ver, []byte("lost"), []byte("!")); err != nil {
			return err
		}
		if err := txn.DeleteScore([]byte("z"), zver, 1, []byte("x")); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("err = %v", err)
	}
	err = b.Update(DefaultTable, []SlotID{3}, func(u *Update) error {
		txn := u.Txn(3)
		wantItems(t, "HGETALL after HSET", scanAll(t, txn, "h", ver, nil, false), "a=1", "b=2")
		if got := scanScores(t, txn, "z", zver, math.Inf(-1), math.Inf(1), true); !slices.Equal(got, []scored{{2, "y"}, {1, "x"}}) {
			t.Errorf("ZREVRANGE after ZADD: %v", got)
		}
		// Its own writes on top of the batch's.
		if err := txn.DeleteMember(h, ver, []byte("b")); err != nil {
			return err
		}
		if err := txn.PutMember(h, ver, []byte("a"), []byte("one")); err != nil {
			return err
		}
		if err := txn.DeleteScore([]byte("z"), zver, 2, []byte("y")); err != nil {
			return err
		}
		if err := txn.PutScore([]byte("z"), zver, 0, []byte("y")); err != nil {
			return err
		}
		wantItems(t, "own writes over the batch's", scanAll(t, txn, "h", ver, nil, true), "a=one")
		if got := scanScores(t, txn, "z", zver, math.Inf(-1), math.Inf(1), false); !slices.Equal(got, []scored{{0, "y"}, {1, "x"}}) {
			t.Errorf("scores after moving y: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantItems(t, "reader before commit", scanAll(t, e.View(DefaultTable).Txn(3), "h", ver, nil, false), "a=1", "c=3")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	wantItems(t, "reader after commit", scanAll(t, e.View(DefaultTable).Txn(3), "h", ver, nil, false), "a=one")
}

// scanModel is the expected content of one column family's range: the
// committed keys with the pending ops of the batch and the command applied.
type scanModel map[string]string

func (m scanModel) clone() scanModel {
	c := make(scanModel, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m scanModel) apply(op Op) {
	switch op.Kind {
	case OpPut:
		m[string(op.Key)] = string(op.Value)
	case OpDelete:
		delete(m, string(op.Key))
	case OpDeleteRange:
		for k := range m {
			if k >= string(op.Key) && k < string(op.Value) {
				delete(m, k)
			}
		}
	}
}

// items returns the keys in [lower, upper) (upper nil: unbounded) in order.
func (m scanModel) items(lower, upper []byte, reverse bool) []kv {
	var out []kv
	for k, v := range m {
		if k >= string(lower) && (upper == nil || k < string(upper)) {
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// Txn scans (ScanMembers and the iterate under every scan) agree with a
// sorted-map model over random sequences of committed writes, pending
// puts, deletes and range deletes of a batch's commands (some failing),
// with random bounds, starting members, directions and early stops.
func TestScanMatchesModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5ca9))
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	const slot SlotID = 4
	hkey := []byte("h")
	const ver = 77
	p := memberPrefix(DefaultTable, slot, hkey, ver)
	// Members are short strings over an alphabet with 0x00 and 0xff, so
	// that a reverse scan's "from" successor (from|0x00) and prefixEnd are
	// exercised; neighbours are other keys and versions around h's range.
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xfe, 0xff}
	member := func() []byte {
		m := make([]byte, r.IntN(4))
		for i := range m {
			m[i] = alphabet[r.IntN(len(alphabet))]
		}
		return m
	}
	neighbours := [][]byte{
		memberPrefix(DefaultTable, slot, hkey, ver-1),
		memberPrefix(DefaultTable, slot, hkey, ver+1),
		memberPrefix(DefaultTable, slot, []byte("g"), ver),
	}
	// key returns a data CF key: mostly h's members, sometimes a
	// neighbour's, whose writes must never show in h's scans.
	key := func() []byte {
		if r.IntN(8) == 0 {
			return append(slices.Clip(neighbours[r.IntN(len(neighbours))]), member()...)
		}
		return append(slices.Clip(p), member()...)
	}
	randomOp := func(i int) Op {
		switch n := r.IntN(10); {
		case n < 5:
			return Op{Kind: OpPut, CF: CFData, Key: key(), Value: fmt.Appendf(nil, "v%d", i)}
		case n < 8:
			return Op{Kind: OpDelete, CF: CFData, Key: key()}
		default:
			a, b := key(), key()
			if r.IntN(6) == 0 {
				a = append(slices.Clip(p), member()...)
				b = prefixEnd(p)
			}
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			return Op{Kind: OpDeleteRange, CF: CFData, Key: a, Value: b}
		}
	}
	record := func(txn *Txn, op Op) {
		switch op.Kind {
		case OpPut:
			txn.members.set(op.Key, op.Value)
		case OpDelete:
			txn.members.set(op.Key, nil)
		}
		txn.eff.Ops = append(txn.eff.Ops, op)
	}
	committed := scanModel{}
	check := func(txn *Txn, m scanModel) {
		t.Helper()
		reverse := r.IntN(2) == 0
		limit := -1 // a scan stopped by fn after limit items
		if r.IntN(4) == 0 {
			limit = 1 + r.IntN(4)
		}
		var got, want []kv
		var what string
		if r.IntN(2) == 0 {
			var from []byte
			lower, upper := p, prefixEnd(p)
			if r.IntN(3) > 0 {
				from = member()
				if reverse {
					upper = append(append(slices.Clip(p), from...), 0)
				} else {
					lower = append(slices.Clip(p), from...)
				}
			}
			what = fmt.Sprintf("ScanMembers(from %q, reverse %v, limit %d)", from, reverse, limit)
			err := txn.ScanMembers(hkey, ver, from, reverse, func(k, v []byte) bool {
				got = append(got, kv{string(k), string(v)})
				return len(got) != limit
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range m.items(lower, upper, reverse) {
				want = append(want, kv{it.k[len(p):], it.v})
			}
		} else {
			lower, upper := key(), key()
			if bytes.Compare(lower, upper) > 0 {
				lower, upper = upper, lower
			}
			if r.IntN(4) == 0 {
				upper = nil
			}
			what = fmt.Sprintf("iterate([%q, %q), reverse %v, limit %d)", lower, upper, reverse, limit)
			err := txn.iterate(CFData, lower, upper, reverse, func(k, v []byte) bool {
				got = append(got, kv{string(k), string(v)})
				return len(got) != limit
			})
			if err != nil {
				t.Fatal(err)
			}
			want = m.items(lower, upper, reverse)
		}
		if limit > 0 && len(want) > limit {
			want = want[:limit]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
		}
	}
	var b *Batch
	defer func() { // before Close, which waits for every lock
		if b != nil {
			b.release()
		}
	}()
	for round := range 60 {
		// Commit some random writes.
		err := e.Update(DefaultTable, []SlotID{slot}, func(u *Update) error {
			txn := u.Txn(slot)
			for i := range r.IntN(20) {
				op := randomOp(round*1000 + i)
				if op.Kind == OpDeleteRange && r.IntN(2) == 0 {
					continue
				}
				record(txn, op)
				committed.apply(op)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check(e.View(DefaultTable).Txn(slot), committed)
		// A batch of commands writing and scanning.
		b = e.NewBatch(nil)
		batch := committed.clone()
		for c := range 1 + r.IntN(4) {
			fail := r.IntN(5) == 0
			cmdErr := errors.New("command fails")
			err := b.Update(DefaultTable, []SlotID{slot}, func(u *Update) error {
				txn := u.Txn(slot)
				cur := batch.clone()
				check(txn, cur)
				for i := range r.IntN(12) {
					op := randomOp(round*1000 + c*100 + i)
					record(txn, op)
					cur.apply(op)
					if r.IntN(3) == 0 {
						check(txn, cur)
					}
				}
				check(txn, cur)
				if fail {
					return cmdErr
				}
				batch = cur
				return nil
			})
			if fail != errors.Is(err, cmdErr) || (!fail && err != nil) {
				t.Fatalf("command: %v", err)
			}
		}
		check(e.View(DefaultTable).Txn(slot), committed)
		if r.IntN(4) == 0 {
			b.release()
			continue
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		committed = batch
		check(e.View(DefaultTable).Txn(slot), committed)
	}
}

// A scan with no pending op in its column family and range allocates no
// more than a reader's: write Txns with pending writes elsewhere, in
// another CF, or no writes at all, take the reader's path.
func TestScanWithoutPendingOpsAllocatesAsAReader(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	ver := commitHash(t, e, 1, "h", "a=1", "b=2", "c=3")
	allocs := func(txn *Txn) float64 {
		return testing.AllocsPerRun(50, func() {
			n := 0
			if err := txn.ScanMembers([]byte("h"), ver, nil, false, func(_, _ []byte) bool { n++; return true }); err != nil || n != 3 {
				t.Fatalf("scan: %d members, %v", n, err)
			}
		})
	}
	reader := allocs(e.View(DefaultTable).Txn(1))
	b := e.NewBatch(nil)
	defer b.release()
	err := b.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
		txn := u.Txn(1)
		if got := allocs(txn); got != reader {
			t.Errorf("write Txn without writes: %v allocs per scan, a reader's: %v", got, reader)
		}
		for i := range 20 {
			if err := txn.PutMember([]byte("g"), ver, []byte{byte(i)}, []byte("x")); err != nil {
				return err
			}
		}
		if err := txn.PutScore([]byte("h"), ver, 1, []byte("a")); err != nil {
			return err
		}
		return txn.PutMeta([]byte("h"), &Meta{Type: TypeHash, Version: ver, Count: 3})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
		txn := u.Txn(1)
		if err := txn.PutMember([]byte("h"), ver+1, []byte("a"), []byte("x")); err != nil {
			return err
		}
		if got := allocs(txn); got != reader {
			t.Errorf("write Txn with writes elsewhere: %v allocs per scan, a reader's: %v", got, reader)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkScanMembers scans a 16-member collection: by a reader, by a
// write Txn whose batch has 100 pending ops outside the range (the fast
// path), and by one with a pending put inside it (the merge).
func BenchmarkScanMembers(b *testing.B) {
	now := int64(1000)
	e, err := Open(Options{Dir: b.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if err := e.EnsureTable(DefaultTable, 16); err != nil {
		b.Fatal(err)
	}
	const ver = 9
	err = e.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
		for i := range 16 {
			if err := u.Txn(1).PutMember([]byte("h"), ver, []byte{'m', byte(i)}, []byte("value")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	scan := func(b *testing.B, txn *Txn) {
		b.ReportAllocs()
		for b.Loop() {
			if err := txn.ScanMembers([]byte("h"), ver, nil, false, func(_, _ []byte) bool { return true }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("reader", func(b *testing.B) { scan(b, e.View(DefaultTable).Txn(1)) })
	for _, inside := range []bool{false, true} {
		name := "writer-pending-elsewhere"
		if inside {
			name = "writer-pending-inside"
		}
		b.Run(name, func(b *testing.B) {
			batch := e.NewBatch(nil)
			defer batch.release()
			err := batch.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
				for i := range 100 {
					if err := u.Txn(1).PutMember([]byte("other"), ver, []byte{byte(i)}, []byte("x")); err != nil {
						return err
					}
				}
				if inside {
					return u.Txn(1).PutMember([]byte("h"), ver, []byte("m"), []byte("new"))
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			err = batch.Update(DefaultTable, []SlotID{1}, func(u *Update) error { scan(b, u.Txn(1)); return nil })
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
