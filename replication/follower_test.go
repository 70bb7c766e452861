package replication

import (
	"strings"
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The follower applies entries in order, skips what it has, answers a gap
// with the position to resend from, and refuses what the routing check
// refuses; a full sync's data or end without its begin is refused.
func TestFollowerAppliesInOrder(t *testing.T) {
	open := func() *storage.Engine {
		eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		if err := eng.EnsureTable(1, 4); err != nil {
			t.Fatal(err)
		}
		return eng
	}
	// The leader's log: entries 1 to 5, one key each.
	leader, eng := open(), open()
	leader.SetSlotRole(1, 2, storage.SlotRole{Logged: true, Epoch: 3})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := leader.Update(1, []storage.SlotID{2}, func(u *storage.Update) error {
			return u.Txn(2).PutMeta([]byte(k), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	log, err := leader.ReadLog(1, 2, 1, 1<<20)
	if err != nil || len(log) != 5 {
		t.Fatalf("leader's log: %d entries, %v", len(log), err)
	}
	entry := func(i storage.LogIndex, _ string) []byte { return storage.EncodeLogEntry(nil, log[i-1]) }
	eng.SetSlotRole(1, 2, storage.SlotRole{Logged: true, Follower: true, Epoch: 3})
	// The routing: node F follows slot 2 of table 1 at epoch 3, led by L.
	st := meta.NewState()
	st.Alive["L"], st.Alive["F"] = meta.NodeInfo{ID: "L"}, meta.NodeInfo{ID: "F"}
	st.Tables["t"] = meta.TableInfo{ID: 1, Name: "t", Slots: 4, Replicas: 2, Mode: meta.ModeAsync}
	st.Slots[1] = map[meta.SlotID]meta.SlotInfo{}
	for s := range meta.SlotID(4) {
		st.Slots[1][s] = meta.SlotInfo{Epoch: 3, Leader: "L", Replicas: []meta.NodeID{"L", "F"}}
	}
	snap := router.NewSnapshot(st, "F")
	f := NewFollower("F", eng, func() *router.Snapshot { return snap }, nil)
	call := func(req peer.Replicate) string {
		var r resp.Reply
		f.Replicate(&r, req)
		return string(r.B)
	}
	if got := call(peer.Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: [][]byte{entry(1, "a"), entry(2, "b")}}); got != "*2\r\n:2\r\n:3\r\n" {
		t.Fatalf("entries 1-2: %q", got)
	}
	if got := call(peer.Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: [][]byte{entry(2, "b"), entry(3, "c")}}); got != "*2\r\n:3\r\n:3\r\n" {
		t.Fatalf("entries 2-3 (2 had): %q", got)
	}
	if got := call(peer.Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: [][]byte{entry(5, "e")}}); got != "-"+(&peer.GapError{Last: 3}).Reply()+"\r\n" {
		t.Fatalf("entry 5 after 3: %q", got)
	}
	if k := eng.SlotKeyCount(1, 2); k != 3 {
		t.Fatalf("keys %d, want 3", k)
	}
	if got := call(peer.Replicate{Table: 1, Slot: 2, Epoch: 4, Entries: [][]byte{entry(4, "d")}}); !strings.HasPrefix(got, "-PIKAREFUSE not a follower of table 1 slot 2 at epoch 4") {
		t.Fatalf("an epoch the routing does not have: %q", got)
	}
	if got := call(peer.Replicate{Table: 2, Slot: 2, Epoch: 3, Entries: [][]byte{entry(4, "d")}}); !strings.HasPrefix(got, "-PIKAREFUSE no table 2 slot 2 here") {
		t.Fatalf("a table the routing does not have: %q", got)
	}
	st.Slots[1][2] = meta.SlotInfo{Epoch: 3, Leader: "F", Replicas: []meta.NodeID{"L", "F"}}
	snap = router.NewSnapshot(st, "F") // the routing says F leads the slot now
	if got := call(peer.Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: [][]byte{entry(4, "d")}}); !strings.HasPrefix(got, "-PIKAREFUSE not a follower") {
		t.Fatalf("a leader asked to follow: %q", got)
	}
	st.Slots[1][2] = meta.SlotInfo{Epoch: 3, Leader: "L", Replicas: []meta.NodeID{"L", "F"}}
	snap = router.NewSnapshot(st, "F")
	var r resp.Reply
	f.SyncData(&r, peer.SyncData{SyncHead: peer.SyncHead{Table: 1, Slot: 2, Epoch: 3}})
	if !strings.HasPrefix(string(r.B), "-PIKAREFUSE no full sync") {
		t.Fatalf("SYNCDATA without SYNCBEGIN: %q", r.B)
	}
}
