package router

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/pika-node/pika-node/manager/meta"
)

// Route is where one slot lives.
type Route struct {
	Epoch    meta.Epoch
	Leader   meta.NodeID
	Replicas []meta.NodeID
	// Learners are replicas being added (raft mode).
	Learners []meta.NodeID
	// Removing are raft replicas being removed (they keep their group
	// running until it no longer counts them).
	Removing []meta.NodeID
	// Handover: the leader is fenced while its leadership moves.
	Handover bool
}

// Table is a served table and its slots' routes.
type Table struct {
	meta.TableInfo
	routes []Route
	// leaders are the distinct nodes leading its slots ("" for a slot
	// without a leader), sorted.
	leaders []meta.NodeID
	// allSelf: the snapshot's node leads every slot.
	allSelf bool
	// handovers counts slots whose leadership is moving.
	handovers int
	// replicated counts slots with more than one replica.
	replicated int
}

// Handovers reports how many of the table's slots are being handed over.
func (t *Table) Handovers() int { return t.handovers }

// Replicated reports how many of the table's slots have more than one
// replica (a one-replica table's slot gets a second one during a move).
func (t *Table) Replicated() int { return t.replicated }

// Leaders returns the distinct nodes that lead the table's slots, sorted;
// "" is among them when a slot has no leader.
func (t *Table) Leaders() []meta.NodeID { return t.leaders }

// AllLocal reports whether the snapshot's own node leads every slot.
func (t *Table) AllLocal() bool { return t.allSelf }

// Route returns slot s's route; s must be below t.Slots.
func (t *Table) Route(s SlotID) Route { return t.routes[s] }

// Snapshot is the routing view of one metadata revision. It is never
// changed after NewSnapshot returns, so it may be shared freely.
type Snapshot struct {
	// Revision is the etcd revision the snapshot reflects.
	Revision int64
	// Self is the node the snapshot is for.
	Self meta.NodeID
	// Manager is the node holding the manager role, "" if none.
	Manager meta.NodeID
	byID    map[meta.TableID]*Table
	byName  map[string]*Table
	nodes   map[meta.NodeID]meta.NodeInfo
	// Dropped lists table ids the cluster allocated that no longer exist:
	// their data may be deleted. (Ids are never reused.)
	Dropped []meta.TableID
	// NextTableID is the cluster's table id counter (0: never a table).
	NextTableID meta.TableID
	// Secret authenticates nodes to each other's peer port.
	Secret string
}

// NewSnapshot builds the routing view of st for node self. Only complete
// tables (every slot record present) are served.
func NewSnapshot(st *meta.State, self meta.NodeID) *Snapshot {
	s := &Snapshot{
		Revision:    st.Revision,
		Self:        self,
		Manager:     st.Manager(),
		byID:        map[meta.TableID]*Table{},
		byName:      map[string]*Table{},
		nodes:       make(map[meta.NodeID]meta.NodeInfo, len(st.Alive)),
		NextTableID: st.NextTableID,
		Secret:      st.Secret,
	}
	for id, n := range st.Alive {
		s.nodes[id] = n
	}
	creating := map[meta.TableID]bool{}
	for _, j := range st.Jobs {
		if j.Kind == meta.JobCreateTable {
			creating[j.Table.ID] = true
		}
	}
	for _, ti := range st.Tables {
		if !st.Complete(ti) {
			continue
		}
		t := &Table{TableInfo: ti, routes: make([]Route, ti.Slots)}
		for n, si := range st.Slots[ti.ID] {
			if uint32(n) < ti.Slots {
				t.routes[n] = Route{Epoch: si.Epoch, Leader: si.Leader, Replicas: si.Replicas, Learners: si.Learners, Removing: si.Removing, Handover: si.State == meta.SlotHandover}
			}
		}
		seen := map[meta.NodeID]bool{}
		for _, r := range t.routes {
			seen[r.Leader] = true
			if r.Handover {
				t.handovers++
			}
			if len(r.Replicas) > 1 {
				t.replicated++
			}
		}
		t.leaders = slices.Sorted(maps.Keys(seen))
		t.allSelf = len(t.leaders) == 1 && t.leaders[0] == self
		s.byID[ti.ID] = t
		s.byName[ti.Name] = t
	}
	for id := meta.TableID(0); id < st.NextTableID; id++ {
		if _, ok := s.byID[id]; !ok && !creating[id] {
			if _, ok := st.TableByID(id); !ok {
				s.Dropped = append(s.Dropped, id)
			}
		}
	}
	return s
}

// Table finds a served table by id.
func (s *Snapshot) Table(id meta.TableID) (*Table, bool) {
	t, ok := s.byID[id]
	return t, ok
}

// TableNamed finds a served table by name.
func (s *Snapshot) TableNamed(name string) (*Table, bool) {
	t, ok := s.byName[name]
	return t, ok
}

// Tables returns the served tables ordered by id.
func (s *Snapshot) Tables() []*Table {
	out := make([]*Table, 0, len(s.byID))
	for _, t := range s.byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Table) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Nodes returns the live nodes, in no particular order.
func (s *Snapshot) Nodes() []meta.NodeInfo { return slices.Collect(maps.Values(s.nodes)) }

// Node returns a live node's record.
func (s *Snapshot) Node(id meta.NodeID) (meta.NodeInfo, bool) {
	n, ok := s.nodes[id]
	return n, ok
}

// EpochError says a request for a slot carried a different epoch than the
// node knows: Asked < Known means the asker's routing is stale (it must
// refresh and retry); Asked > Known means this node's is (it refuses until
// its snapshot catches up).
type EpochError struct {
	Table        meta.TableID
	Slot         SlotID
	Asked, Known meta.Epoch
}

func (e *EpochError) Error() string {
	who := "the asker's"
	if e.Asked > e.Known {
		who = "this node's"
	}
	return fmt.Sprintf("table %d slot %d: asked at epoch %d, known epoch %d (%s routing is stale)", e.Table, e.Slot, e.Asked, e.Known, who)
}

// NotLeaderError says this node does not lead the slot.
type NotLeaderError struct {
	Table  meta.TableID
	Slot   SlotID
	Leader meta.NodeID
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("table %d slot %d is led by %q, not this node", e.Table, e.Slot, e.Leader)
}

// UnknownTableError says the table is not served (never was, dropped, or
// still being created).
type UnknownTableError struct{ Table meta.TableID }

func (e *UnknownTableError) Error() string { return fmt.Sprintf("no table %d", e.Table) }

// CheckLeader decides whether this node may serve slot s of table t as
// its leader for a request routed at epoch asked: the table must exist,
// this node must lead the slot, and the epochs must agree. Any error
// means "refresh your routing and retry".
func (s *Snapshot) CheckLeader(t meta.TableID, slot SlotID, asked meta.Epoch) error {
	tb, ok := s.byID[t]
	if !ok {
		return &UnknownTableError{Table: t}
	}
	if uint32(slot) >= tb.Slots {
		return fmt.Errorf("table %d has %d slots, not slot %d", t, tb.Slots, slot)
	}
	r := tb.routes[slot]
	if asked != r.Epoch {
		return &EpochError{Table: t, Slot: slot, Asked: asked, Known: r.Epoch}
	}
	if r.Leader != s.Self {
		return &NotLeaderError{Table: t, Slot: slot, Leader: r.Leader}
	}
	if r.Handover {
		return &HandoverError{Table: t, Slot: slot}
	}
	return nil
}

// HandoverError says the slot's leadership is moving: wait and retry.
type HandoverError struct {
	Table meta.TableID
	Slot  SlotID
}

func (e *HandoverError) Error() string {
	return fmt.Sprintf("table %d slot %d: leadership handover in progress", e.Table, e.Slot)
}

// Leads reports whether this node leads slot s of table t.
func (t *Table) Leads(self meta.NodeID, s SlotID) bool { return t.routes[s].Leader == self }
