package router

import (
	"fmt"
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
)

// keyIn returns a key of slot s of a table of n slots.
func keyIn(t *testing.T, s SlotID, n uint32) []byte {
	t.Helper()
	for i := range 100000 {
		k := []byte(fmt.Sprintf("k%d", i))
		if SlotOf(k, n) == s {
			return k
		}
	}
	t.Fatalf("no key in slot %d", s)
	return nil
}

// raftGroups is a RaftView of fixed leaders by slot.
type raftGroups map[SlotID]RaftLeader

func (g raftGroups) RaftLeader(_ meta.TableID, s SlotID) RaftLeader { return g[s] }

// decideState: node "a" (the snapshot's) and "b" alive, "c" dead. Table
// async (id 1) and raft (id 2), 4 slots each: slot 0 led by a, 1 by b,
// 2 by c (dead), 3 by b in a handover. Table mine (id 3): a leads all.
// Table nolead (id 4): slot 0 has no leader.
func decideState() *meta.State {
	st := meta.NewState()
	st.Revision = 7
	st.NextTableID = 5
	st.Alive["a"] = meta.NodeInfo{ID: "a"}
	st.Alive["b"] = meta.NodeInfo{ID: "b"}
	for _, tb := range []meta.TableInfo{
		{ID: 1, Name: "async", Slots: 4, Replicas: 2, Mode: meta.ModeAsync},
		{ID: 2, Name: "raft", Slots: 4, Replicas: 3, Mode: meta.ModeRaft},
	} {
		st.Tables[tb.Name] = tb
		st.Slots[tb.ID] = map[meta.SlotID]meta.SlotInfo{
			0: {Epoch: 1, Leader: "a", Replicas: []meta.NodeID{"a", "b"}},
			1: {Epoch: 1, Leader: "b", Replicas: []meta.NodeID{"a", "b"}},
			2: {Epoch: 1, Leader: "c", Replicas: []meta.NodeID{"c", "b"}},
			3: {Epoch: 1, Leader: "b", Replicas: []meta.NodeID{"a", "b"}, State: meta.SlotHandover},
		}
	}
	st.Tables["mine"] = meta.TableInfo{ID: 3, Name: "mine", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	st.Slots[3] = map[meta.SlotID]meta.SlotInfo{}
	for n := range meta.SlotID(4) {
		st.Slots[3][n] = meta.SlotInfo{Epoch: 1, Leader: "a", Replicas: []meta.NodeID{"a"}}
	}
	st.Tables["nolead"] = meta.TableInfo{ID: 4, Name: "nolead", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	st.Slots[4] = map[meta.SlotID]meta.SlotInfo{0: {Epoch: 1}, 1: {Epoch: 1, Leader: "a"}, 2: {Epoch: 1, Leader: "a"}, 3: {Epoch: 1, Leader: "a"}}
	return st
}

func TestDecide(t *testing.T) {
	snap := NewSnapshot(decideState(), "a")
	table := func(name string) *Table {
		tb, ok := snap.TableNamed(name)
		if !ok {
			t.Fatalf("no table %s", name)
		}
		return tb
	}
	k := func(s SlotID) []byte { return keyIn(t, s, 4) }
	keys := func(ss ...SlotID) [][]byte {
		var out [][]byte
		for _, s := range ss {
			out = append(out, k(s))
		}
		return out
	}
	// The raft groups here: slot 1's group elected this node before the
	// routing knows; slot 2's follows b (c is dead); slot 0's follows b
	// although the routing names this node.
	groups := raftGroups{
		0: {Known: true, Node: "b"},
		1: {Known: true, Self: true, Node: "a"},
		2: {Known: true, Node: "b"},
	}
	for _, c := range []struct {
		name  string
		table *Table
		cmd   Command
		raft  RaftView
		want  Decision
	}{
		{"dropped table runs here (its handler refuses)", nil, Command{Keys: keys(1)}, nil, Decision{Kind: Local}},
		{"server command", table("async"), Command{Class: Server}, nil, Decision{Kind: Local}},
		{"own slot", table("async"), Command{Keys: keys(0)}, nil, Decision{Kind: Local, Slot: 0, Leader: "a"}},
		{"another node's slot", table("async"), Command{Keys: keys(1)}, nil, Decision{Kind: Remote, Slot: 1, Leader: "b"}},
		{"dead leader", table("async"), Command{Keys: keys(2)}, nil,
			Decision{Kind: Refuse, Err: "CLUSTERDOWN slot 2 of table async is not served: its leader c is down"}},
		{"no leader", table("nolead"), Command{Keys: keys(0)}, nil,
			Decision{Kind: Refuse, Err: "CLUSTERDOWN slot 0 of table nolead has no leader"}},
		{"handover", table("async"), Command{Keys: keys(3)}, nil, Decision{Kind: Wait, Slot: 3}},
		{"all slots here", table("mine"), Command{Keys: keys(2)}, nil, Decision{Kind: Local}},
		{"keys of one slot (a hash tag)", table("async"), Command{Keys: [][]byte{[]byte("{" + string(k(1)) + "}a"), []byte("{" + string(k(1)) + "}b")}}, nil,
			Decision{Kind: Remote, Slot: 1, Leader: "b"}},
		{"keys of two slots, keyed", table("async"), Command{Keys: keys(0, 1)}, nil, Decision{Kind: Across}},
		{"keys of two raft slots, one in a handover", table("raft"), Command{Keys: keys(1, 3)}, nil, Decision{Kind: Wait}},
		{"keys of two slots, keyed, all here", table("mine"), Command{Keys: keys(0, 1)}, nil, Decision{Kind: Local}},
		{"keys of two slots, keyed, both led here", table("nolead"), Command{Keys: keys(1, 2)}, nil, Decision{Kind: Local}},
		{"keys of two slots, keyed, one without a leader", table("nolead"), Command{Keys: keys(0, 1)}, nil,
			Decision{Kind: Refuse, Err: "CLUSTERDOWN slot 0 of table nolead has no leader"}},
		{"keys of two slots, keyed, one in a handover", table("async"), Command{Keys: keys(0, 3)}, nil, Decision{Kind: Wait}},
		{"keys of two raft slots, keyed", table("raft"), Command{Keys: keys(0, 1)}, nil, Decision{Kind: Across}},
		{"keys of two slots, fan-out", table("async"), Command{Class: FanOut, Keys: keys(0, 1)}, nil, Decision{Kind: Across}},
		{"keys of two slots, fan-out, one node", table("nolead"), Command{Class: FanOut, Keys: keys(1, 2)}, nil, Decision{Kind: Local}},
		{"keys of two raft slots, fan-out", table("raft"), Command{Class: FanOut, Keys: keys(0, 1)}, nil, Decision{Kind: Across}},
		{"fan-out, all here", table("mine"), Command{Class: FanOut, Keys: keys(0, 1, 2)}, nil, Decision{Kind: Local}},
		{"fan-out over a handover", table("async"), Command{Class: FanOut, Keys: keys(0, 3)}, nil, Decision{Kind: Wait}},
		{"fan-out over a dead leader", table("async"), Command{Class: FanOut, Keys: keys(0, 2)}, nil,
			Decision{Kind: Refuse, Err: "CLUSTERDOWN slot 2 of table async is not served: its leader c is down"}},
		{"table-wide", table("async"), Command{Class: TableWide}, nil, Decision{Kind: Wait}}, // slot 3 is handed over
		{"table-wide, all here", table("mine"), Command{Class: TableWide}, nil, Decision{Kind: Local}},
		{"table-wide, no handover", table("nolead"), Command{Class: TableWide}, nil, Decision{Kind: Everywhere}},
		{"malformed key count runs here", table("async"), Command{BadKeys: true}, nil, Decision{Kind: Local}},
		{"keyed without keys runs here", table("async"), Command{}, nil, Decision{Kind: Local}},
		// Raft: the group here is the authority on its leader.
		{"raft: group elected here first", table("raft"), Command{Keys: keys(1)}, groups, Decision{Kind: Local, Slot: 1, Leader: "a"}},
		{"raft: group follows a live node", table("raft"), Command{Keys: keys(2)}, groups, Decision{Kind: Remote, Slot: 2, Leader: "b"}},
		{"raft: routing names us, group follows b", table("raft"), Command{Keys: keys(0)}, groups, Decision{Kind: Remote, Slot: 0, Leader: "b"}},
		{"raft: routing names us, group follows a node not known yet: wait", table("raft"), Command{Keys: keys(0)}, raftGroups{0: {Known: true}},
			Decision{Kind: Wait, Slot: 0}},
		{"raft: no group here: routing", table("raft"), Command{Keys: keys(1)}, raftGroups{}, Decision{Kind: Remote, Slot: 1, Leader: "b"}},
		{"raft: group's leader node unknown: routing", table("raft"), Command{Keys: keys(2)}, raftGroups{2: {Known: true}},
			Decision{Kind: Refuse, Err: "CLUSTERDOWN slot 2 of table raft is not served: its leader c is down"}},
		{"raft: group follows a dead node: routing", table("raft"), Command{Keys: keys(1)}, raftGroups{1: {Known: true, Node: "c"}},
			Decision{Kind: Remote, Slot: 1, Leader: "b"}},
		{"raft: handover first", table("raft"), Command{Keys: keys(3)}, groups, Decision{Kind: Wait, Slot: 3}},
		{"async ignores raft views", table("async"), Command{Keys: keys(0)}, groups, Decision{Kind: Local, Slot: 0, Leader: "a"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(snap, c.table, c.cmd, c.raft); got != c.want {
				t.Fatalf("Decide = %+v (%s), want %+v (%s)", got, got.Kind, c.want, c.want.Kind)
			}
		})
	}
}
