package manager

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// planState builds a state with table t placed on nodes (as a create
// would) and live, member nodes alive.
func planState(t meta.TableInfo, placedOn, alive []meta.NodeID) *meta.State {
	st := meta.NewState()
	for _, n := range alive {
		st.Alive[n] = meta.NodeInfo{ID: n}
		st.Members[n] = meta.NodeInfo{ID: n}
	}
	st.Tables[t.Name] = t
	st.Slots[t.ID] = map[meta.SlotID]meta.SlotInfo{}
	for n, si := range place(placedOn, t) {
		st.Slots[t.ID][meta.SlotID(n)] = si
	}
	return st
}

// applyPlan plays a plan's steps on the state's slot records, checking
// each is legal: a move's source holds the slot and its target does not,
// a hand-over's target is a replica.
func applyPlan(t *testing.T, st *meta.State, tb meta.TableInfo, plan api.Plan) {
	t.Helper()
	for _, s := range plan.Steps {
		si := st.Slots[tb.ID][s.Slot]
		switch s.Kind {
		case api.PlanMove:
			i := slices.Index(si.Replicas, s.From)
			if i < 0 || slices.Contains(si.Replicas, s.To) {
				t.Fatalf("illegal move %+v of slot %+v", s, si)
			}
			si.Replicas = slices.Clone(si.Replicas)
			si.Replicas[i] = s.To
			if si.Leader == s.From {
				si.Leader = s.To
			}
		case api.PlanLeader:
			if si.Leader != s.From || !slices.Contains(si.Replicas, s.To) {
				t.Fatalf("illegal hand-over %+v of slot %+v", s, si)
			}
			si.Leader = s.To
		}
		st.Slots[tb.ID][s.Slot] = si
	}
}

// loads counts each node's replicas and leaders of table tb.
func loads(st *meta.State, tb meta.TableInfo) (reps, leads map[meta.NodeID]int) {
	reps, leads = map[meta.NodeID]int{}, map[meta.NodeID]int{}
	for _, si := range st.Slots[tb.ID] {
		for _, r := range si.Replicas {
			reps[r]++
		}
		leads[si.Leader]++
	}
	return reps, leads
}

func spread(count map[meta.NodeID]int, nodes []meta.NodeID) int {
	lo, hi := -1, 0
	for _, n := range nodes {
		c := count[n]
		hi = max(hi, c)
		if lo < 0 || c < lo {
			lo = c
		}
	}
	return hi - lo
}

func TestPlanRebalanceOntoNewNodes(t *testing.T) {
	for _, c := range []struct {
		slots    uint32
		replicas int
		from, to int // nodes placed on, nodes alive
	}{
		{16, 1, 1, 4}, {16, 2, 3, 4}, {16, 3, 3, 4}, {1024, 3, 3, 5}, {1024, 2, 4, 7}, {7, 3, 3, 3}, {100, 1, 2, 3},
	} {
		t.Run(fmt.Sprintf("%dslots-r%d-%dto%d", c.slots, c.replicas, c.from, c.to), func(t *testing.T) {
			var nodes []meta.NodeID
			for i := range c.to {
				nodes = append(nodes, meta.NodeID(fmt.Sprintf("n%d", i+1)))
			}
			tb := meta.TableInfo{ID: 1, Name: "t", Slots: c.slots, Replicas: c.replicas, Mode: meta.ModeAsync}
			st := planState(tb, nodes[:c.from], nodes)
			plan := planRebalance(st, []meta.TableInfo{tb}, nodes, nil, true)
			applyPlan(t, st, tb, plan)
			reps, leads := loads(st, tb)
			if d := spread(reps, nodes); d > 1 {
				t.Errorf("replicas differ by %d after the plan: %v", d, reps)
			}
			if d := spread(leads, nodes); d > 1 {
				t.Errorf("leaders differ by %d after the plan: %v", d, leads)
			}
			for n, si := range st.Slots[tb.ID] {
				if len(si.Replicas) != min(c.replicas, c.from) {
					t.Fatalf("slot %d has %d replicas", n, len(si.Replicas))
				}
				seen := map[meta.NodeID]bool{}
				for _, r := range si.Replicas {
					if seen[r] {
						t.Fatalf("slot %d has two replicas on %s", n, r)
					}
					seen[r] = true
				}
			}
			// The plan's after-loads are what applying it gives.
			for _, l := range plan.After {
				if l.Replicas != reps[l.Node] || l.Leaders != leads[l.Node] {
					t.Errorf("plan says %s ends with %d/%d, applying it gives %d/%d", l.Node, l.Replicas, l.Leaders, reps[l.Node], leads[l.Node])
				}
			}
			// Balanced already: a second plan is empty.
			if again := planRebalance(st, []meta.TableInfo{tb}, nodes, nil, true); len(again.Steps) > 0 {
				t.Errorf("a balanced table still gets %d steps: %+v", len(again.Steps), again.Steps[0])
			}
		})
	}
}

func TestPlanEvacuatesExcludedNode(t *testing.T) {
	nodes := []meta.NodeID{"a", "b", "c", "d"}
	tb := meta.TableInfo{ID: 2, Name: "t", Slots: 64, Replicas: 3, Mode: meta.ModeRaft}
	st := planState(tb, nodes, nodes)
	plan := planRebalance(st, []meta.TableInfo{tb}, nodes, map[meta.NodeID]bool{"b": true}, true)
	applyPlan(t, st, tb, plan)
	reps, leads := loads(st, tb)
	if reps["b"] != 0 || leads["b"] != 0 {
		t.Fatalf("b keeps %d replicas, %d leaders", reps["b"], leads["b"])
	}
	rest := []meta.NodeID{"a", "c", "d"}
	if d := spread(reps, rest); d > 1 {
		t.Errorf("replicas differ by %d: %v", d, reps)
	}
	if d := spread(leads, rest); d > 1 {
		t.Errorf("leaders differ by %d: %v", d, leads)
	}
}

func TestPlanLeavesBusySlots(t *testing.T) {
	nodes := []meta.NodeID{"a", "b"}
	tb := meta.TableInfo{ID: 3, Name: "t", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	st := planState(tb, nodes[:1], nodes)
	si := st.Slots[tb.ID][0]
	si.State = meta.SlotHandover
	st.Slots[tb.ID][0] = si
	st.Jobs["j"] = meta.Job{ID: "j", Kind: meta.JobMoveSlot, Table: tb, Move: &meta.Move{Slot: 1, From: "a", To: "b", Step: meta.MoveCatchUp}}
	plan := planRebalance(st, []meta.TableInfo{tb}, nodes, nil, true)
	for _, s := range plan.Steps {
		if s.Slot == 0 || s.Slot == 1 {
			t.Fatalf("plan touches busy slot %d: %+v", s.Slot, s)
		}
	}
	if len(plan.Skipped) != 2 {
		t.Fatalf("skipped: %v", plan.Skipped)
	}
	// a holds 4 (two of them busy), b none: both free slots move.
	if len(plan.Steps) != 2 {
		t.Fatalf("steps: %+v", plan.Steps)
	}
}

func TestPlanEvacuateOnly(t *testing.T) {
	nodes := []meta.NodeID{"a", "b", "c"}
	tb := meta.TableInfo{ID: 4, Name: "t", Slots: 30, Replicas: 1, Mode: meta.ModeAsync}
	st := planState(tb, nodes[:2], nodes) // c holds nothing
	plan := planRebalance(st, []meta.TableInfo{tb}, nodes, map[meta.NodeID]bool{"b": true}, false)
	for _, s := range plan.Steps {
		if s.Kind != api.PlanMove || s.From != "b" {
			t.Fatalf("an evacuation plan moves more than b's replicas: %+v", s)
		}
	}
	applyPlan(t, st, tb, plan)
	reps, _ := loads(st, tb)
	if reps["b"] != 0 || len(plan.Steps) != 15 {
		t.Fatalf("after %d steps: %v", len(plan.Steps), reps)
	}
	// b's 15 slots went to the least loaded: c until it had as many as a.
	if reps["c"] != 15 || reps["a"] != 15 {
		t.Fatalf("evacuated replicas went to %v", reps)
	}
}

// A hand-over never goes to a replica on a node that is down (or being
// emptied): only to the live nodes the plan spreads over.
func TestPlanLeadersOnlyToLiveNodes(t *testing.T) {
	all := []meta.NodeID{"a", "b", "c"}
	tb := meta.TableInfo{ID: 5, Name: "t", Slots: 12, Replicas: 2, Mode: meta.ModeAsync}
	st := planState(tb, all, all)
	for n, si := range st.Slots[tb.ID] { // a leads everything, c is a replica of most
		si.Leader = "a"
		if !slices.Contains(si.Replicas, "a") {
			si.Replicas = []meta.NodeID{"a", si.Replicas[0]}
		}
		st.Slots[tb.ID][n] = si
	}
	delete(st.Alive, "c")
	live := []meta.NodeID{"a", "b"}
	plan := planRebalance(st, []meta.TableInfo{tb}, live, nil, true)
	for _, s := range plan.Steps {
		if s.To == "c" {
			t.Fatalf("a step to the dead node: %+v", s)
		}
	}
}
