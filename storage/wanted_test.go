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
