package pubsub

import (
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// What a node knows of another's interest decides where messages go: a
// node never heard of, or whose change was missed, gets every message
// until its whole interest is installed; then only what it wants, kept up
// by the changes that follow in order.
func TestRemoteInterest(t *testing.T) {
	c := NewCluster(NewHub(), ClusterConfig{Self: "a", Incarnation: 1})
	var r resp.Reply
	wants := func(ch string) bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		rm := c.remotes["b"]
		return rm == nil || rm.wants(1, peer.PubsubChannel, []byte(ch))
	}
	change := func(seq uint64, added bool, k peer.PubsubKind, names ...string) {
		var bs [][]byte
		for _, n := range names {
			bs = append(bs, []byte(n))
		}
		c.HandleInterest(&r, peer.PubsubInterest{Origin: "b", Incarnation: 7, Seq: seq, Added: added, Table: 1, Kind: k, Names: bs})
	}
	if !wants("x") {
		t.Fatal("a node never heard of must get every message")
	}
	change(1, true, peer.PubsubChannel, "news")
	if !wants("x") {
		t.Fatal("a change from a node whose interest is unknown must not make it known")
	}
	// Its whole interest, as PSSTATE answers it (seq 1: news).
	var st resp.Reply
	st.Array(5)
	st.BulkString("7")
	st.BulkString("1")
	st.BulkString("1")
	st.Bulk([]byte{byte(peer.PubsubChannel)})
	st.BulkString("news")
	if err := c.install("b", st.B); err != nil {
		t.Fatal(err)
	}
	if !wants("news") || wants("x") {
		t.Fatalf("after its state: news %v, x %v; want true, false", wants("news"), wants("x"))
	}
	change(2, true, peer.PubsubChannel, "x")
	change(3, false, peer.PubsubChannel, "news")
	if !wants("x") || wants("news") {
		t.Fatalf("after changes 2 and 3: x %v, news %v; want true, false", wants("x"), wants("news"))
	}
	change(4, true, peer.PubsubPattern, "w*")
	if !wants("anything") {
		t.Fatal("a node with a pattern in the table must get every channel's messages of it")
	}
	change(6, false, peer.PubsubPattern, "w*") // 5 was missed
	if !wants("y") {
		t.Fatal("after a missed change the node's interest must be unknown")
	}
	// A state older than a change seen is not installed.
	if err := c.install("b", st.B); err != nil {
		t.Fatal(err)
	}
	c.mu.RLock()
	known := c.remotes["b"].known
	c.mu.RUnlock()
	if known {
		t.Fatal("a state older than a change seen was installed")
	}
	// Another incarnation (a restart) starts over.
	c.HandleInterest(&r, peer.PubsubInterest{Origin: "b", Incarnation: 8, Seq: 1, Added: true, Table: 1, Kind: peer.PubsubChannel, Names: [][]byte{[]byte("z")}})
	if !wants("q") {
		t.Fatal("a restarted node's interest must be unknown until fetched")
	}
}

// A subscriber gets a message once per subscription that matches (the
// channel and each pattern), in its protocol, and none once it
// unsubscribed; messages wait while a confirmation is unsent.
func TestHubDelivery(t *testing.T) {
	h := NewHub()
	var sent [][]byte
	s := NewSub(1, func() bool { return false }, func(b []byte) error { sent = append(sent, b); return nil }, func() {}, 1<<20)
	var out resp.Reply
	h.Subscribe(s, 1, peer.PubsubChannel, [][]byte{[]byte("news")}, &out)
	h.Subscribe(s, 1, peer.PubsubPattern, [][]byte{[]byte("n*")}, &out)
	if n := h.PublishHere(1, peer.PubsubChannel, []byte("news"), []byte("hi"), nil, nil); n != 2 {
		t.Fatalf("receivers %d, want 2", n)
	}
	if len(sent) != 0 {
		t.Fatal("a message overtook the confirmation")
	}
	s.Release()
	want := []string{"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n", "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"}
	if len(sent) != 2 || string(sent[0]) != want[0] && string(sent[1]) != want[0] {
		t.Fatalf("sent %q, want %q (any order)", sent, want)
	}
	if n := h.PublishHere(2, peer.PubsubChannel, []byte("news"), []byte("hi"), nil, nil); n != 0 {
		t.Fatalf("another table's message reached %d", n)
	}
	h.Unsubscribe(s, 1, peer.PubsubChannel, nil, &out)
	h.Unsubscribe(s, 1, peer.PubsubPattern, nil, &out)
	if n := h.PublishHere(1, peer.PubsubChannel, []byte("news"), []byte("hi"), nil, nil); n != 0 || s.Subscribed() {
		t.Fatalf("after unsubscribing: %d receivers, subscribed %v", n, s.Subscribed())
	}
	if c, p, sh := h.Counts(); c+p+sh != 0 || len(h.tables) != 0 {
		t.Fatalf("counts %d %d %d, tables %d after the last unsubscribe", c, p, sh, len(h.tables))
	}
}

// Tracking interest (CLIENT TRACKING): a node that tracks a table is
// sent every key written in it; Tracking turns on as soon as any node may
// track (one unknown included) and off once none does; a node that
// restarts is reported gone.
func TestTrackingInterest(t *testing.T) {
	var on []bool
	var gone []string
	c := NewCluster(NewHub(), ClusterConfig{Self: "a", Incarnation: 1, Peers: func() []Peer { return []Peer{{ID: "b"}} },
		OnTracking: func(v bool) { on = append(on, v) }, OnPeerGone: func(id string) { gone = append(gone, id) }})
	var r resp.Reply
	state := func(inc, seq string, tracked bool) []byte {
		var st resp.Reply
		if tracked {
			st.Array(5)
		} else {
			st.Array(2)
		}
		st.BulkString(inc)
		st.BulkString(seq)
		if tracked {
			st.BulkString("1")
			st.Bulk([]byte{byte(peer.PubsubTracking)})
			st.BulkString("")
		}
		return st.B
	}
	if err := c.install("b", state("7", "0", false)); err != nil {
		t.Fatal(err)
	}
	if c.Tracking() || c.Tracked(1) {
		t.Fatal("nobody tracks")
	}
	c.HandleInterest(&r, peer.PubsubInterest{Origin: "b", Incarnation: 7, Seq: 1, Added: true, Table: 1, Kind: peer.PubsubTracking, Names: [][]byte{{}}})
	if !c.Tracking() || !c.Tracked(1) || c.Tracked(2) {
		t.Fatalf("b tracks table 1: Tracking %v, Tracked(1) %v, Tracked(2) %v", c.Tracking(), c.Tracked(1), c.Tracked(2))
	}
	c.mu.RLock()
	wantsKey := c.remotes["b"].wants(1, peer.PubsubTracking, []byte("any key"))
	c.mu.RUnlock()
	if !wantsKey {
		t.Fatal("a tracking node must be sent every key of its table")
	}
	c.HandleInterest(&r, peer.PubsubInterest{Origin: "b", Incarnation: 7, Seq: 2, Added: false, Table: 1, Kind: peer.PubsubTracking, Names: [][]byte{{}}})
	if c.Tracking() {
		t.Fatal("b no longer tracks")
	}
	if err := c.install("b", state("8", "0", false)); err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0] != "b" {
		t.Fatalf("gone %v after b restarted", gone)
	}
	if len(on) != 2 || !on[0] || on[1] {
		t.Fatalf("OnTracking calls %v, want [true false]", on)
	}
	// This node's own tracking (a hub alone: no change to announce).
	h := NewHub()
	h.Track(3)
	if !h.Tracks(3) || h.Tracks(1) || h.trackedN.Load() != 1 {
		t.Fatal("this node tracks table 3")
	}
	h.UntrackAll(func() bool { return false })
	if !h.Tracks(3) {
		t.Fatal("untracked while a client tracks")
	}
	h.UntrackAll(nil)
	if h.Tracks(3) || h.trackedN.Load() != 0 {
		t.Fatal("this node tracks nothing")
	}
}
