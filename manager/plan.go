package manager

import (
	"fmt"
	"slices"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// planRebalance plans, table by table, the replica moves and leader
// hand-overs that make each table's replicas and leaders even (to within
// one) over nodes, with no replica left on an excluded node. A slot never
// gets two replicas on one node; slots with a change under way, or
// without a live leader, are left alone. Moves come first in the plan;
// hand-overs are planned on the placement the moves leave (a moved leader
// replica hands its leadership to the target). Without even, it plans only
// the moves off the excluded nodes (node remove).
func planRebalance(st *meta.State, tables []meta.TableInfo, nodes []meta.NodeID, exclude map[meta.NodeID]bool, even bool) api.Plan {
	var plan api.Plan
	targets := slices.DeleteFunc(slices.Clone(nodes), func(n meta.NodeID) bool { return exclude[n] })
	slices.Sort(targets)
	before := map[meta.NodeID]*api.NodeLoad{}
	after := map[meta.NodeID]*api.NodeLoad{}
	for _, n := range nodes {
		before[n] = &api.NodeLoad{Node: n}
		after[n] = &api.NodeLoad{Node: n}
	}
	moves := activeMoves(st)
	for _, t := range tables {
		p := newTablePlan(t, targets)
		for n := range t.Slots {
			s := meta.SlotID(n)
			si, ok := st.Slots[t.ID][s]
			if !ok {
				continue
			}
			_, moving := moves[slotRef{t.ID, s}]
			_, leaderAlive := st.Alive[si.Leader]
			switch {
			case moving:
				p.hold(s, si, "a move is under way")
			case si.State != meta.SlotServing || len(si.Learners) > 0 || len(si.Removing) > 0:
				p.hold(s, si, "a replica change is under way")
			case !leaderAlive:
				p.hold(s, si, "no live leader")
			default:
				p.add(s, si)
			}
			addLoad(before, si.Leader, si.Replicas)
		}
		if len(targets) > 0 {
			p.evacuate(exclude)
			if even {
				p.evenReplicas()
				p.evenLeaders()
			}
		}
		plan.Steps = append(plan.Steps, p.moves...)
		plan.Steps = append(plan.Steps, p.leaders...)
		plan.Skipped = append(plan.Skipped, p.skipped...)
		for _, sl := range p.slots {
			addLoad(after, sl.leader, sl.replicas)
		}
		for _, si := range p.held {
			addLoad(after, si.Leader, si.Replicas)
		}
	}
	for _, n := range nodes {
		plan.Before = append(plan.Before, *before[n])
		plan.After = append(plan.After, *after[n])
	}
	return plan
}

// addLoad counts a slot's replicas and its leader into the loads of the
// nodes listed in loads.
func addLoad(loads map[meta.NodeID]*api.NodeLoad, leader meta.NodeID, replicas []meta.NodeID) {
	for _, r := range replicas {
		if l := loads[r]; l != nil {
			l.Replicas++
			if r == leader {
				l.Leaders++
			}
		}
	}
}

// tablePlan is one table's planning state: the placement as the planned
// steps leave it.
type tablePlan struct {
	t       meta.TableInfo
	targets []meta.NodeID
	slots   []*plannedSlot
	held    []meta.SlotInfo // slots left alone
	reps    map[meta.NodeID]int
	leads   map[meta.NodeID]int
	moves   []api.PlannedStep
	leaders []api.PlannedStep
	skipped []string
}

type plannedSlot struct {
	slot     meta.SlotID
	leader   meta.NodeID
	replicas []meta.NodeID
	moved    bool // planned to move already
}

func newTablePlan(t meta.TableInfo, targets []meta.NodeID) *tablePlan {
	p := &tablePlan{t: t, targets: targets, reps: map[meta.NodeID]int{}, leads: map[meta.NodeID]int{}}
	for _, n := range targets {
		p.reps[n], p.leads[n] = 0, 0
	}
	return p
}

func (p *tablePlan) skip(s meta.SlotID, why string) {
	if len(p.skipped) < 20 {
		p.skipped = append(p.skipped, fmt.Sprintf("%s/%d: %s", p.t.Name, s, why))
	}
}

// hold leaves slot s as it is.
func (p *tablePlan) hold(s meta.SlotID, si meta.SlotInfo, why string) {
	p.held = append(p.held, si)
	p.count(si)
	p.skip(s, why)
}

// add makes slot s one the plan may change.
func (p *tablePlan) add(s meta.SlotID, si meta.SlotInfo) {
	p.slots = append(p.slots, &plannedSlot{slot: s, leader: si.Leader, replicas: slices.Clone(si.Replicas)})
	p.count(si)
}

// count adds a slot's replicas and leader to the nodes' counts.
func (p *tablePlan) count(si meta.SlotInfo) {
	for _, r := range si.Replicas {
		p.reps[r]++
		if r == si.Leader {
			p.leads[r]++
		}
	}
}

// move plans moving slot sl's replica on from to to.
func (p *tablePlan) move(sl *plannedSlot, from, to meta.NodeID) {
	i := slices.Index(sl.replicas, from)
	sl.replicas[i] = to
	sl.moved = true
	p.reps[from]--
	p.reps[to]++
	if sl.leader == from {
		sl.leader = to
		p.leads[from]--
		p.leads[to]++
	}
	p.moves = append(p.moves, api.PlannedStep{Kind: api.PlanMove, Table: p.t.Name, Slot: sl.slot, From: from, To: to})
}

// leastLoaded returns the target with the fewest replicas (then leaders,
// then the lowest id) that does not hold sl, "" if every target does.
func (p *tablePlan) leastLoaded(sl *plannedSlot) meta.NodeID {
	var best meta.NodeID
	for _, n := range p.targets {
		if slices.Contains(sl.replicas, n) {
			continue
		}
		if best == "" || p.reps[n] < p.reps[best] || (p.reps[n] == p.reps[best] && p.leads[n] < p.leads[best]) {
			best = n
		}
	}
	return best
}

// evacuate moves every replica off the excluded nodes.
func (p *tablePlan) evacuate(exclude map[meta.NodeID]bool) {
	for _, sl := range p.slots {
		for _, r := range slices.Clone(sl.replicas) {
			if !exclude[r] {
				continue
			}
			to := p.leastLoaded(sl)
			if to == "" {
				p.skip(sl.slot, fmt.Sprintf("no node to move the replica on %s to", r))
				continue
			}
			p.move(sl, r, to)
		}
	}
}

// evenReplicas moves replicas from the most to the least loaded target
// until they differ by at most one.
func (p *tablePlan) evenReplicas() {
	for range len(p.slots) * max(p.t.Replicas, 1) {
		hi, lo := p.extremes(p.reps)
		if p.reps[hi]-p.reps[lo] <= 1 {
			return
		}
		// Moving a slot hi leads also evens leaders when hi leads more.
		preferLed := p.leads[hi] > p.leads[lo]
		// A slot not moved yet by this plan is better: a slot's moves
		// run one after the other.
		var pick *plannedSlot
		score := -1
		for _, sl := range p.slots {
			if !slices.Contains(sl.replicas, hi) || slices.Contains(sl.replicas, lo) {
				continue
			}
			sc := 0
			if !sl.moved {
				sc += 2
			}
			if (sl.leader == hi) == preferLed {
				sc++
			}
			if sc > score {
				pick, score = sl, sc
			}
			if score == 3 {
				break
			}
		}
		if pick == nil {
			return
		}
		p.move(pick, hi, lo)
	}
}

// evenLeaders plans hand-overs from the target leading most slots to a
// replica leading fewer, until leaders differ by at most one.
func (p *tablePlan) evenLeaders() {
	for range len(p.slots) {
		hi, lo := p.extremes(p.leads)
		if p.leads[hi]-p.leads[lo] <= 1 {
			return
		}
		var pick *plannedSlot
		var to meta.NodeID
		for _, sl := range p.slots {
			if sl.leader != hi {
				continue
			}
			for _, r := range sl.replicas {
				if r != hi && slices.Contains(p.targets, r) && p.leads[r] < p.leads[hi]-1 && (to == "" || p.leads[r] < p.leads[to]) {
					pick, to = sl, r
				}
			}
			if to == lo {
				break
			}
		}
		if pick == nil {
			return
		}
		pick.leader = to
		p.leads[hi]--
		p.leads[to]++
		p.leaders = append(p.leaders, api.PlannedStep{Kind: api.PlanLeader, Table: p.t.Name, Slot: pick.slot, From: hi, To: to})
	}
}

// extremes returns the targets with the most and the fewest of count
// (ties: the lowest id).
func (p *tablePlan) extremes(count map[meta.NodeID]int) (hi, lo meta.NodeID) {
	for _, n := range p.targets {
		if hi == "" || count[n] > count[hi] {
			hi = n
		}
		if lo == "" || count[n] < count[lo] {
			lo = n
		}
	}
	return hi, lo
}
