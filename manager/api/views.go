package api

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/pika-node/pika-node/manager/meta"
)

// StatusOf builds the cluster status from its metadata.
func StatusOf(cluster string, st *meta.State) Status {
	s := Status{
		Cluster:  cluster,
		Revision: st.Revision,
		Manager:  st.Manager(),
		Health:   HealthOK,
		Problems: slices.Clone(st.Problems),
		Nodes:    NodesOf(st),
		Tables:   TablesOf(st),
	}
	if s.Manager == "" {
		s.Problems = append(s.Problems, "no manager elected")
	}
	for _, t := range s.Tables {
		switch t.Health {
		case HealthDown:
			s.Health = HealthDown
			s.Problems = append(s.Problems, fmt.Sprintf("table %s: %d of %d slots have no live leader", t.Name, t.Unavailable, t.Slots))
		case HealthDegraded:
			if s.Health == HealthOK {
				s.Health = HealthDegraded
			}
			s.Problems = append(s.Problems, fmt.Sprintf("table %s: %d of %d slots have fewer than %d replicas (under-replicated)", t.Name, t.UnderReplicated, t.Slots, t.Replicas))
		}
	}
	for _, n := range s.Nodes {
		if n.Alive && n.DiskFull {
			if s.Health == HealthOK {
				s.Health = HealthDegraded
			}
			s.Problems = append(s.Problems, fmt.Sprintf("node %s: disk below --min-free-disk: it refuses writes to the slots it leads (leads %d)", n.ID, n.Leads))
		}
	}
	for _, j := range st.Jobs {
		s.Problems = append(s.Problems, fmt.Sprintf("job %s (%s %s) in flight", j.ID, j.Kind, j.Table.Name))
	}
	if len(s.Problems) > 0 && s.Health == HealthOK && s.Manager == "" {
		s.Health = HealthDegraded
	}
	return s
}

// NodesOf lists every known node (members and live ones), by id.
func NodesOf(st *meta.State) []Node {
	all := maps.Clone(st.Members)
	maps.Copy(all, st.Alive) // a live node's registration is the newer
	mgr := st.Manager()
	leads := map[meta.NodeID]int{}
	holds := map[meta.NodeID]int{}
	for _, slots := range st.Slots {
		for _, si := range slots {
			if si.Leader != "" {
				leads[si.Leader]++
			}
			for _, r := range si.Replicas {
				holds[r]++
				if _, ok := all[r]; !ok { // a replica on a node we have no record of
					all[r] = meta.NodeInfo{ID: r}
				}
			}
		}
	}
	out := make([]Node, 0, len(all))
	for id, info := range all {
		_, alive := st.Alive[id]
		out = append(out, Node{NodeInfo: info, Alive: alive, Manager: id == mgr, Leads: leads[id], Replicas: holds[id]})
	}
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// TablesOf lists the tables by id, with their health.
func TablesOf(st *meta.State) []Table {
	out := []Table{}
	for _, t := range st.SortedTables() {
		out = append(out, TableOf(st, t))
	}
	return out
}

// TableRecord is the view of a table's record alone, without the health
// its slots give it (TableOf).
func TableRecord(t meta.TableInfo) Table {
	return Table{ID: t.ID, Name: t.Name, Slots: t.Slots, Replicas: t.Replicas, Mode: t.Mode, HasPassword: t.HasPassword()}
}

// TableOf builds one table's view.
func TableOf(st *meta.State, t meta.TableInfo) Table {
	v := TableRecord(t)
	v.Health = HealthOK
	slots := st.Slots[t.ID]
	for n := range t.Slots {
		si, ok := slots[meta.SlotID(n)]
		if !ok {
			v.Unavailable++
			continue
		}
		if _, alive := st.Alive[si.Leader]; si.Leader == "" || !alive {
			v.Unavailable++
		}
		if len(si.Replicas) < t.Replicas {
			v.UnderReplicated++
		}
	}
	switch {
	case v.Unavailable > 0:
		v.Health = HealthDown
	case v.UnderReplicated > 0:
		v.Health = HealthDegraded
	}
	return v
}

// SlotsOf lists a table's slots in order.
func SlotsOf(st *meta.State, t meta.TableInfo) []Slot {
	out := make([]Slot, 0, t.Slots)
	for n := range t.Slots {
		if s, ok := SlotOf(st, t, meta.SlotID(n)); ok {
			out = append(out, s)
		}
	}
	return out
}

// SlotOf builds one slot's view; false when the slot has no record.
func SlotOf(st *meta.State, t meta.TableInfo, n meta.SlotID) (Slot, bool) {
	si, ok := st.Slots[t.ID][n]
	if !ok {
		return Slot{}, false
	}
	_, alive := st.Alive[si.Leader]
	return Slot{
		Table: t.Name, TableID: t.ID, Slot: n, Epoch: si.Epoch, Leader: si.Leader,
		LeaderAlive: alive && si.Leader != "", Replicas: nonNil(si.Replicas), Learners: si.Learners, Removing: si.Removing, State: si.State,
	}, true
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
