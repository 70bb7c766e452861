package storage

import "testing"

// A watch is marked by every write of its keys (the same value too, a
// member, a removal, FLUSH of its table while it exists) and by their
// expiry, and by nothing else: another key's write, a flush while the key
// did not exist, the removal of a key that had expired when watched.
func TestWatchMarksWritesOfItsKeys(t *testing.T) {
	now := int64(1_000_000)
	e := openTest(t, t.TempDir(), &now)
	defer e.Close()
	write := func(s SlotID, fn func(*Txn) error) {
		t.Helper()
		if err := e.Update(DefaultTable, []SlotID{s}, func(u *Update) error { return fn(u.Txn(s)) }); err != nil {
			t.Fatal(err)
		}
	}
	set := func(s SlotID, key, val string, expireMS int64) {
		write(s, func(tx *Txn) error {
			return tx.PutMeta([]byte(key), &Meta{Type: TypeString, Value: []byte(val), ExpireMS: expireMS})
		})
	}
	watch := func(s SlotID, keys ...string) *Watch {
		t.Helper()
		w := &Watch{}
		for _, k := range keys {
			if err := e.Watch(w, DefaultTable, s, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	check := func(what string, w *Watch, want bool) {
		t.Helper()
		if got := w.Changed(now); got != want {
			t.Errorf("%s: Changed = %v, want %v", what, got, want)
		}
	}

	set(1, "a", "1", 0)
	w := watch(1, "a")
	set(1, "b", "1", 0)
	set(2, "a", "1", 0) // the same name in another slot is another key
	check("another key written", w, false)
	set(1, "a", "1", 0)
	check("the key written with its own value", w, true)
	e.Unwatch(w)
	check("after Unwatch", w, false)
	set(1, "a", "2", 0)
	check("a write after Unwatch", w, false)

	// A collection's member write marks its key.
	var version uint64
	write(3, func(tx *Txn) error {
		v, err := tx.NewVersion()
		version = v
		if err != nil {
			return err
		}
		if err := tx.PutMeta([]byte("h"), &Meta{Type: TypeHash, Version: v, Count: 1}); err != nil {
			return err
		}
		return tx.PutMember([]byte("h"), v, []byte("f"), []byte("1"))
	})
	w = watch(3, "h")
	write(3, func(tx *Txn) error { return tx.PutMember([]byte("h"), version, []byte("f"), []byte("2")) })
	check("a member written", w, true)
	e.Unwatch(w)

	// Expiry: a key with a TTL expiring after the WATCH changed it; one
	// already expired when watched did not, nor did its removal.
	set(4, "ttl", "x", now+100)
	set(4, "gone", "x", now+50)
	now += 60
	w = watch(4, "ttl", "gone")
	check("before the deadline", w, false)
	write(4, func(tx *Txn) error { return tx.DeleteKey([]byte("gone")) })
	check("an expired-when-watched key removed", w, false)
	set(4, "gone", "back", 0)
	check("that key written again", w, true)
	e.Unwatch(w)
	w = watch(4, "ttl")
	now += 50
	check("past the deadline", w, true)
	e.Unwatch(w)

	// FLUSH of the table marks the watched keys that exist only.
	absent := watch(5, "never")
	present := watch(1, "a")
	if err := e.FlushTable(DefaultTable); err != nil {
		t.Fatal(err)
	}
	check("flush, key absent", absent, false)
	check("flush, key present", present, true)
	e.Unwatch(absent)
	e.Unwatch(present)
	if n := e.watches.n.Load(); n != 0 {
		t.Fatalf("%d keys still registered after every Unwatch", n)
	}
}
