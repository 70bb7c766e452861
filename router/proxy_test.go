package router

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
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

func (r *localRunner) Resp3() bool { return false }

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
	if d := p.Decide(snap, tb, p.cfg.Classify(args)); d.Kind != Wait {
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

func TestAdmitForward(t *testing.T) {
	p := testProxy(t)
	p.cfg.Classify = func(args [][]byte) Command {
		switch string(args[0]) {
		case "DBSIZE":
			return Command{Class: TableWide, Name: "dbsize", Merge: MergeSum}
		case "SCAN":
			return Command{Class: TableWide, Name: "scan", Merge: MergeScan}
		}
		return Command{Class: Keyed, Name: "get", Keys: args[1:2]}
	}
	k0, k1 := keyIn(t, 0, 4), keyIn(t, 1, 4)
	get := func(k []byte) [][]byte { return [][]byte{[]byte("GET"), k} }
	fwd := func(table meta.TableID, cmd [][]byte, slots ...peer.SlotEpoch) peer.Forward {
		return peer.Forward{Table: table, Slots: slots, Command: cmd}
	}
	var raftHere raftGroups
	p.cfg.Raft = func() RaftView { return raftHere }
	for _, tc := range []struct {
		name    string
		req     peer.Forward
		raft    raftGroups
		refused bool // a peer refusal (the asker routes again)
		errPfx  string
		behind  *Behind
		owned   bool
	}{
		{name: "led here at its epoch", req: fwd(1, get(k0), peer.SlotEpoch{Slot: 0, Epoch: 1})},
		{name: "unknown table", req: fwd(9, get(k0), peer.SlotEpoch{Slot: 0, Epoch: 1}), refused: true, behind: &Behind{UnknownTable: true, T: 9}},
		{name: "asker's epoch newer", req: fwd(1, get(k0), peer.SlotEpoch{Slot: 0, Epoch: 3}), refused: true, behind: &Behind{T: 1, S: 0, Epoch: 3}},
		{name: "asker's epoch older", req: fwd(1, get(k0), peer.SlotEpoch{Slot: 0, Epoch: 0}), refused: true},
		{name: "slot led elsewhere", req: fwd(1, get(k1), peer.SlotEpoch{Slot: 1, Epoch: 1}), refused: true},
		{name: "key outside the slots named", req: fwd(1, get(k1), peer.SlotEpoch{Slot: 0, Epoch: 1}), refused: true},
		{name: "table-wide", req: fwd(1, [][]byte{[]byte("DBSIZE")}), owned: true},
		{name: "scan step", req: fwd(1, [][]byte{[]byte("SCAN"), []byte("0")}, peer.SlotEpoch{Slot: 0, Epoch: 1}), owned: true},
		{name: "keyed without slots", req: fwd(1, get(k0)), errPfx: "ERR not a table-wide command: get"},
		{name: "raft group here leads before the routing says so", req: fwd(2, get(k1), peer.SlotEpoch{Slot: 1, Epoch: 1}), raft: raftGroups{1: {Known: true, Self: true, Node: "a"}}},
		{name: "raft group here follows another leader", req: fwd(2, get(k0), peer.SlotEpoch{Slot: 0, Epoch: 1}), raft: raftGroups{0: {Known: true, Node: "b"}}, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raftHere = tc.raft
			adm, reply, behind := p.AdmitForward(tc.req)
			var re *peer.RefusedError
			isRefusal := reply != "" && errors.As(peer.ReplyErr([]byte("-"+reply+"\r\n")), &re)
			switch {
			case tc.refused != isRefusal:
				t.Fatalf("reply %q: refusal %v, want %v", reply, isRefusal, tc.refused)
			case !tc.refused && tc.errPfx == "" && reply != "":
				t.Fatalf("refused: %q", reply)
			case tc.errPfx != "" && !strings.HasPrefix(reply, tc.errPfx):
				t.Fatalf("reply %q, want %q", reply, tc.errPfx)
			case !reflect.DeepEqual(behind, tc.behind):
				t.Fatalf("behind %+v, want %+v", behind, tc.behind)
			case reply == "" && (adm.Table == nil || adm.Table.ID != tc.req.Table || adm.Owned != tc.owned):
				t.Fatalf("admitted %+v, want table %d owned %v", adm, tc.req.Table, tc.owned)
			}
		})
	}
}
