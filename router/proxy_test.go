package router

import (
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// localRunner is a Runner that answers every command routed here with
// reply, and records what it ran.
type localRunner struct {
	reply string
	ran   [][][]byte
}

func (r *localRunner) Run(_ *Table, args [][]byte) ([]byte, bool) {
	r.ran = append(r.ran, args)
	return []byte(r.reply), false
}

func (r *localRunner) RunPart(_ *Table, args [][]byte, _ bool) []byte {
	r.ran = append(r.ran, args)
	return []byte(r.reply)
}

func testProxy(t *testing.T) *Proxy {
	t.Helper()
	p := NewProxy(ProxyConfig{
		Self:           "a",
		ForwardTimeout: time.Second,
		Classify: func(args [][]byte) Command {
			return Command{Class: Keyed, Keys: args[1:2]}
		},
	})
	p.Publish(NewSnapshot(decideState(), "a"))
	return p
}

// A forwarded command that the peer refused (its routing moved on) is run
// again with the newer routing (here, locally), and its reply takes its
// place between the replies around it.
func TestRefusedForwardIsRetriedInPlace(t *testing.T) {
	p := testProxy(t)
	snap := p.Routing()
	run := &localRunner{reply: "+OK\r\n"}
	var out resp.Reply
	out.Simple("A")
	var pd Pending
	pd.rev = snap.Revision - 1 // routed with an older snapshot
	refusal := (&peer.RefusedError{Reason: "table 3 slot 1: asked at epoch 1, known epoch 2"}).Reply()
	pd.list = append(pd.list, pendingReply{
		at:     out.Len(),
		fut:    peer.Resolved([]byte("-" + refusal + "\r\n")),
		leader: "elsewhere",
		args:   [][]byte{[]byte("SET"), []byte("k"), []byte("v")},
		table:  3, // "mine": this node leads every slot
	})
	out.Simple("B")
	p.Resolve(&pd, run, &out)
	if got := string(out.B); got != "+A\r\n+OK\r\n+B\r\n" {
		t.Fatalf("replies = %q", got)
	}
	if len(run.ran) != 1 || string(run.ran[0][2]) != "v" {
		t.Fatalf("the refused SET was not run here once: %q", run.ran)
	}
	if pd.Len() != 0 {
		t.Fatalf("%d replies still pending", pd.Len())
	}
	// A table dropped meanwhile: its error, not a loop.
	if got := string(p.Reroute(run, 7, [][]byte{[]byte("GET"), []byte("k")})); got != "-ERR table 7 no longer exists (it was dropped); SELECT another\r\n" {
		t.Fatalf("retry in a dropped table: %q", got)
	}
}

// A command whose slot is being handed over waits for newer routing and is
// decided again once it comes; AwaitNewer wakes on Publish, not a timeout.
func TestWaitHandoverDecidesOnNewRouting(t *testing.T) {
	p := testProxy(t)
	snap := p.Routing()
	k := keyIn(t, 3, 4) // async slot 3: b leads it, handing over
	args := [][]byte{[]byte("GET"), k}
	tb, _ := snap.Table(1)
	if d := p.Decide(snap, tb, args); d.Kind != Wait {
		t.Fatalf("decision during the handover: %v", d.Kind)
	}
	st := decideState()
	st.Revision++
	si := st.Slots[1][3]
	si.State, si.Leader, si.Epoch = "", "a", 2
	st.Slots[1][3] = si
	done := make(chan Decision, 1)
	go func() {
		_, _, d := p.WaitHandover(snap, 1, args)
		done <- d
	}()
	p.Publish(NewSnapshot(st, "a"))
	select {
	case d := <-done:
		if d.Kind != Local {
			t.Fatalf("decision after the handover: %v (%s)", d.Kind, d.Err)
		}
	case <-time.After(handoverWait - time.Second):
		t.Fatal("WaitHandover did not wake on the new routing")
	}
}
