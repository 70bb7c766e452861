package stream

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		arg            string
		missing        uint64
		strict, auto   bool
		want           ID
		seqAuto, valid bool
	}{
		{"1-2", 0, true, false, ID{1, 2}, false, true},
		{"5", 0, true, false, ID{5, 0}, false, true},
		{"5", math.MaxUint64, true, false, ID{5, math.MaxUint64}, false, true},
		{"-", 0, false, false, ID{}, false, true},
		{"+", 0, false, false, MaxID, false, true},
		{"-", 0, true, false, ID{}, false, false},
		{"+", 0, true, false, ID{}, false, false},
		{"7-*", 0, true, true, ID{7, 0}, true, true},
		{"7-*", 0, true, false, ID{}, false, false},
		{"*", 0, true, true, ID{}, false, false},
		{"-1", 0, true, false, ID{}, false, false}, // a negative long long
		{"1-", 0, true, false, ID{}, false, false},
		{"1-x", 0, true, false, ID{}, false, false},
		{"", 0, true, false, ID{}, false, false},
		{" 7", 0, true, false, ID{7, 0}, false, true}, // strtoull skips spaces
		{"+8-1", 0, true, false, ID{8, 1}, false, true},
		{"009-001", 0, true, false, ID{9, 1}, false, true},
		{"-0", 0, true, false, ID{}, false, false}, // split at the first "-"
		{"18446744073709551615-18446744073709551615", 0, true, false, MaxID, false, true},
		{"18446744073709551616-0", 0, true, false, ID{}, false, false},
		{"5--1", 0, true, false, ID{}, false, false},
		{"5-18446744073709551615", 0, true, false, ID{5, math.MaxUint64}, false, true},
		{"1\x00-5", 0, true, false, ID{1, 0}, false, true}, // a C string ends at NUL
		{string(bytes.Repeat([]byte("1"), 128)), 0, true, false, ID{}, false, false},
	} {
		p, ok := Parse([]byte(tc.arg), tc.missing, tc.strict, tc.auto)
		if ok != tc.valid || ok && (p.ID != tc.want || p.SeqAuto != tc.seqAuto) {
			t.Errorf("Parse(%q) = %v %v, want %v %v (valid %v)", tc.arg, p, ok, tc.want, tc.seqAuto, tc.valid)
		}
	}
}

func TestIDOrderAndSteps(t *testing.T) {
	ids := []ID{{0, 0}, {0, 1}, {0, math.MaxUint64}, {1, 0}, {1 << 40, 3}, MaxID}
	for i := 1; i < len(ids); i++ {
		if !ids[i-1].Less(ids[i]) || bytes.Compare(ids[i-1].Encode(), ids[i].Encode()) >= 0 {
			t.Errorf("%v < %v: order or encoding wrong", ids[i-1], ids[i])
		}
		if n, ok := ids[i-1].Incr(); !ok || ids[i].Less(n) {
			t.Errorf("Incr(%v) = %v", ids[i-1], n)
		}
		if DecodeID(ids[i].Encode()) != ids[i] {
			t.Errorf("round trip of %v", ids[i])
		}
	}
	if _, ok := MaxID.Incr(); ok {
		t.Error("MaxID.Incr succeeded")
	}
	if _, ok := (ID{}).Decr(); ok {
		t.Error("0-0 Decr succeeded")
	}
	if d, _ := (ID{5, 0}).Decr(); d != (ID{4, math.MaxUint64}) {
		t.Errorf("Decr(5-0) = %v", d)
	}
	if n := Next(ID{10, 5}, 9); n != (ID{10, 6}) {
		t.Errorf("Next in the past = %v", n)
	}
	if n := Next(ID{10, 5}, 11); n != (ID{11, 0}) {
		t.Errorf("Next = %v", n)
	}
	if s := (ID{12, 34}).String(); s != "12-34" {
		t.Errorf("String = %q", s)
	}
}

func TestRecords(t *testing.T) {
	m := Meta{Length: 3, EntriesAdded: 9, LastID: ID{9, 1}, FirstID: ID{2, 0}, MaxDeleted: ID{5, 5}, LastNode: ID{1, 1}}
	if got, err := DecodeMeta(m.Encode()); err != nil || got != m {
		t.Errorf("meta round trip: %v %v", got, err)
	}
	e := Entry{Node: ID{1, 2}, Fields: [][]byte{[]byte("f"), {}, []byte("\x00\xff"), []byte("v")}}
	got, err := DecodeEntry(e.Encode())
	if err != nil || got.Node != e.Node || !slices.EqualFunc(got.Fields, e.Fields, bytes.Equal) {
		t.Errorf("entry round trip: %v %v", got, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 19), append(e.Encode(), 0), e.Encode()[:25]} {
		if _, err := DecodeEntry(bad); err == nil {
			t.Errorf("DecodeEntry(%x) accepted", bad)
		}
	}
	n := Node{Live: 3, Total: 100, Last: ID{7, 7}, Bytes: 4000, Master: [][]byte{[]byte("f"), {}}}
	if got, err := DecodeNode(n.Encode()); err != nil || got.Live != 3 || got.Total != 100 || got.Last != n.Last || got.Bytes != 4000 || len(got.Master) != 2 || string(got.Master[0]) != "f" {
		t.Errorf("node round trip: %v %v", got, err)
	}
	g := Group{LastID: ID{3, 3}, EntriesRead: -1}
	if got, err := DecodeGroup(g.Encode()); err != nil || got != g {
		t.Errorf("group round trip: %v %v", got, err)
	}
	p := Pending{DeliveryMS: 1234, Count: 2, Consumer: []byte("alice")}
	if got, err := DecodePending(p.Encode()); err != nil || got.DeliveryMS != 1234 || got.Count != 2 || string(got.Consumer) != "alice" {
		t.Errorf("pending round trip: %v %v", got, err)
	}
}

// TestMemberKeys checks the key layout's orders: a group's consumers and
// PEL sort apart from another group's whose name it starts with, and a
// consumer's PEL sorts by ID.
func TestMemberKeys(t *testing.T) {
	a, ab := []byte("a"), []byte("ab")
	if bytes.HasPrefix(PendingKey(ab, ID{}), PendingPrefix(a)) {
		t.Error("group ab's PEL is under group a's prefix")
	}
	if bytes.HasPrefix(ConsumerKey(ab, []byte("x")), ConsumerPrefix(a)) {
		t.Error("group ab's consumers are under group a's prefix")
	}
	if bytes.HasPrefix(OwnedKey(a, ab, ID{}), OwnedPrefix(a, a)) {
		t.Error("consumer ab's PEL is under consumer a's prefix")
	}
	if bytes.Compare(OwnedKey(a, a, ID{1, 0}), OwnedKey(a, a, ID{0, 5})) <= 0 {
		t.Error("a consumer's PEL is not in ID order")
	}
	if bytes.Compare(EntryKey(ID{1, 0}), EntryKey(ID{0, math.MaxUint64})) <= 0 {
		t.Error("entries are not in ID order")
	}
}
