package storage

import (
	"slices"
	"sync"
	"testing"
)

// A write that puts a wanted key's meta calls the ready hook with its
// table and key; other keys' writes, and writes after the last release,
// do not.
func TestWantedKeys(t *testing.T) {
	var now int64
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	var mu sync.Mutex
	var got []string
	e.SetReadyHook(func(tb TableID, key []byte) {
		mu.Lock()
		got = append(got, string(key))
		mu.Unlock()
	})
	put := func(key string) {
		t.Helper()
		if err := e.Update(DefaultTable, []SlotID{3}, func(u *Update) error { putString(t, u, 3, key, "v"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	release1 := e.WantKey(DefaultTable, 3, []byte("q"))
	release2 := e.WantKey(DefaultTable, 3, []byte("q"))
	put("q")
	put("other")
	release1()
	release1() // a second release is a no-op
	put("q")
	release2()
	put("q")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{"q", "q"}) {
		t.Fatalf("ready keys %q, want [q q] (two writes while wanted)", got)
	}
}

// The expired hook hears of each key the sweep deleted on a slot this
// node leads, after the deletion; a follower's slot is not swept.
func TestExpiredHook(t *testing.T) {
	now := int64(1000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	var got []string
	e.SetExpiredHook(func(tb TableID, key []byte) {
		if _, ok, err := e.View(tb).Txn(1).Meta(key); err != nil || ok {
			t.Errorf("hook for %q ran before its deletion (present %v, err %v)", key, ok, err)
		}
		got = append(got, string(key))
	})
	for _, k := range []struct {
		slot SlotID
		key  string
		exp  int64
	}{{1, "gone", 1500}, {1, "kept", 0}, {1, "later", 2500}, {2, "followed", 1500}} {
		err := e.Update(DefaultTable, []SlotID{k.slot}, func(u *Update) error {
			return u.Txn(k.slot).PutMeta([]byte(k.key), &Meta{Type: TypeString, ExpireMS: k.exp, Value: []byte("v")})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.SetSlotRole(DefaultTable, 2, SlotRole{Follower: true})
	now = 2000
	if _, deleted, err := e.sweepOnce(nil, 100, nil); err != nil || deleted != 1 {
		t.Fatalf("sweep deleted %d, err %v", deleted, err)
	}
	if !slices.Equal(got, []string{"gone"}) {
		t.Fatalf("expired keys %q, want [gone]", got)
	}
}
