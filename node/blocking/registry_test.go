package blocking

import (
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// oneNode is a registry over a real engine whose table (id 0, 4 slots)
// node "a" leads whole: every key is local.
func oneNode(t *testing.T) (*Registry, *storage.Engine, *router.Table) {
	t.Helper()
	eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.EnsureTable(0, 4); err != nil {
		t.Fatal(err)
	}
	st := meta.NewState()
	st.Revision = 1
	st.Alive["a"] = meta.NodeInfo{ID: "a"}
	st.Tables["db0"] = meta.TableInfo{ID: 0, Name: "db0", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	st.Slots[0] = map[meta.SlotID]meta.SlotInfo{}
	for s := range meta.SlotID(4) {
		st.Slots[0][s] = meta.SlotInfo{Epoch: 1, Leader: "a", Replicas: []meta.NodeID{"a"}}
	}
	snap := router.NewSnapshot(st, "a")
	tb, ok := snap.Table(0)
	if !ok {
		t.Fatal("no table 0 in the snapshot")
	}
	r := New(Config{Self: "a", Engine: eng, Routing: func() *router.Snapshot { return snap }})
	return r, eng, tb
}

// push writes key (a string, enough for the wanted-key hook: it watches
// metas).
func push(t *testing.T, eng *storage.Engine, key string) {
	t.Helper()
	s := router.SlotOf([]byte(key), 4)
	err := eng.Update(0, []storage.SlotID{s}, func(u *storage.Update) error {
		return u.Txn(s).PutMeta([]byte(key), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func woken(w *Waiter) bool {
	select {
	case <-w.Wake():
		return true
	default:
		return false
	}
}

// A write of a key wakes its first waiter only; the next one is woken
// when the first is done (first come, first served); a waiter on several
// keys is woken by any of them; Done forgets a waiter.
func TestRegistryFirstComeFirstServed(t *testing.T) {
	r, eng, tb := oneNode(t)
	w1 := r.Register(1, tb, [][]byte{[]byte("q")})
	w2 := r.Register(2, tb, [][]byte{[]byte("q")})
	w3 := r.Register(3, tb, [][]byte{[]byte("x"), []byte("q"), []byte("x")})
	if n := r.Blocked(); n != 3 {
		t.Fatalf("Blocked() = %d, want 3", n)
	}
	push(t, eng, "q")
	if !woken(w1) || woken(w2) || woken(w3) {
		t.Fatal("a write of q must wake its first waiter only")
	}
	r.Done(w1)
	if !woken(w2) || woken(w3) {
		t.Fatal("the first waiter done, the second must be woken (and only it)")
	}
	push(t, eng, "x")
	if !woken(w3) {
		t.Fatal("a write of x must wake the waiter on x and q")
	}
	r.Done(w2)
	r.Done(w3)
	if n := r.Blocked(); n != 0 || r.IsBlocked(2) {
		t.Fatalf("after Done: Blocked() = %d, IsBlocked(2) = %v", n, r.IsBlocked(2))
	}
	push(t, eng, "q") // nobody waits: no hook work left behind
}

// CLIENT UNBLOCK reaches a waiting client with its reason, and nobody
// else.
func TestRegistryUnblock(t *testing.T) {
	r, _, tb := oneNode(t)
	w := r.Register(7, tb, [][]byte{[]byte("q")})
	if !r.IsBlocked(7) || r.IsBlocked(8) {
		t.Fatal("IsBlocked must tell the waiting client from others")
	}
	if r.Unblock(8, UnblockError) {
		t.Fatal("Unblock of a client that does not wait reported true")
	}
	if !r.Unblock(7, UnblockError) {
		t.Fatal("Unblock of the waiting client reported false")
	}
	select {
	case how := <-w.Unblocked():
		if how != UnblockError {
			t.Fatalf("reason %v, want UnblockError", how)
		}
	default:
		t.Fatal("the waiter got no reason")
	}
	r.Done(w)
	if r.Unblock(7, UnblockTimeout) {
		t.Fatal("Unblock after Done reported true")
	}
}
