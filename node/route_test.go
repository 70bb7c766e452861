package node

import (
	"context"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// A forwarded command that the peer refused (its routing moved on) is run
// again once with the newer routing — here, locally — and its reply takes
// its place between the replies around it.
func TestRefusedForwardIsRetriedInPlace(t *testing.T) {
	n, addr, _ := startNodeN(t, t.TempDir(), nil)
	<-n.ready // serving: the snapshot has db0
	snap := n.snap.Load()
	var out resp.Reply
	out.Simple("A")
	cl := &client{}
	cl.pending.rev = snap.Revision - 1 // routed with an older snapshot
	cl.pending.list = append(cl.pending.list, pendingReply{
		at:     out.Len(),
		fut:    peer.Resolved([]byte("-" + refuse("table 0 slot 1: asked at epoch 1, known epoch 2") + "\r\n")),
		leader: "elsewhere",
		args:   [][]byte{[]byte("SET"), []byte("k"), []byte("v")},
		table:  0,
	})
	out.Simple("B")
	n.resolvePending(cl, &out)
	if got := string(out.B); got != "+A\r\n+OK\r\n+B\r\n" {
		t.Fatalf("replies = %q", got)
	}
	if v, err := newClient(t, addr, nil).Get(context.Background(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("the retried SET: GET = %q %v", v, err)
	}
	// Refused again after the retry (the routing keeps moving): CLUSTERDOWN, not a loop.
	if got := string(n.reroute(cl, 7, [][]byte{[]byte("GET"), []byte("k")})); got != "-ERR table 7 no longer exists (it was dropped); SELECT another\r\n" {
		t.Fatalf("retry in a dropped table: %q", got)
	}
}
