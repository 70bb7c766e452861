package router

import (
	"errors"
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
)

func stateWith(t *testing.T) *meta.State {
	t.Helper()
	st := meta.NewState()
	st.Revision = 42
	st.NextTableID = 4
	st.Alive["a"] = meta.NodeInfo{ID: "a", RESP: "10.0.0.1:9221"}
	st.Tables["db0"] = meta.TableInfo{ID: 0, Name: "db0", Slots: 4, Replicas: 2, Mode: meta.ModeAsync}
	st.Tables["creating"] = meta.TableInfo{ID: 2, Name: "creating", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	st.Slots[0] = map[meta.SlotID]meta.SlotInfo{}
	for n := range meta.SlotID(4) {
		leader := meta.NodeID("a")
		if n == 3 {
			leader = "b"
		}
		st.Slots[0][n] = meta.SlotInfo{Epoch: meta.Epoch(n + 1), Leader: leader, Replicas: []meta.NodeID{leader}}
	}
	st.Slots[2] = map[meta.SlotID]meta.SlotInfo{0: {Epoch: 1, Leader: "a"}} // 1 of 4 records
	st.Jobs["j"] = meta.Job{ID: "j", Kind: meta.JobCreateTable, Table: meta.TableInfo{ID: 3, Name: "next"}}
	return st
}

func TestSnapshotServesCompleteTablesOnly(t *testing.T) {
	s := NewSnapshot(stateWith(t), "a")
	if s.Revision != 42 {
		t.Fatalf("revision %d", s.Revision)
	}
	if _, ok := s.Table(0); !ok {
		t.Fatal("db0 missing")
	}
	if tb, ok := s.TableNamed("db0"); !ok || tb.Route(3).Leader != "b" || tb.Route(2).Epoch != 3 {
		t.Fatalf("db0 by name: %v %+v", ok, tb)
	}
	if _, ok := s.TableNamed("creating"); ok {
		t.Fatal("a table with missing slot records is served")
	}
	if len(s.Tables()) != 1 {
		t.Fatalf("tables %d, want 1", len(s.Tables()))
	}
	// id 1 was allocated and is gone: dropped. 2 exists (incomplete) and 3
	// has a create job: neither is dropped.
	if len(s.Dropped) != 1 || s.Dropped[0] != 1 {
		t.Fatalf("dropped %v, want [1]", s.Dropped)
	}
	if n, ok := s.Node("a"); !ok || n.RESP != "10.0.0.1:9221" {
		t.Fatalf("node a: %+v %v", n, ok)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	st := stateWith(t)
	s := NewSnapshot(st, "a")
	st.Slots[0][1] = meta.SlotInfo{Epoch: 99, Leader: "z"}
	delete(st.Tables, "db0")
	st.Alive["a"] = meta.NodeInfo{ID: "a", RESP: "changed"}
	tb, ok := s.Table(0)
	if !ok || tb.Route(1).Epoch != 2 || tb.Route(1).Leader != "a" {
		t.Fatalf("snapshot changed with its state: %+v", tb.Route(1))
	}
	if n, _ := s.Node("a"); n.RESP != "10.0.0.1:9221" {
		t.Fatalf("node address changed: %s", n.RESP)
	}
}

func TestCheckLeader(t *testing.T) {
	s := NewSnapshot(stateWith(t), "a")
	if err := s.CheckLeader(0, 1, 2); err != nil {
		t.Fatalf("leader at its epoch: %v", err)
	}
	var ee *EpochError
	if err := s.CheckLeader(0, 1, 1); !errors.As(err, &ee) || ee.Asked != 1 || ee.Known != 2 {
		t.Fatalf("stale asker: %v", err)
	}
	if err := s.CheckLeader(0, 1, 5); !errors.As(err, &ee) || ee.Asked != 5 {
		t.Fatalf("newer asker: %v", err)
	}
	var nl *NotLeaderError
	if err := s.CheckLeader(0, 3, 4); !errors.As(err, &nl) || nl.Leader != "b" {
		t.Fatalf("not leader: %v", err)
	}
	var ut *UnknownTableError
	if err := s.CheckLeader(2, 0, 1); !errors.As(err, &ut) {
		t.Fatalf("incomplete table: %v", err)
	}
	if err := s.CheckLeader(0, 4, 1); err == nil {
		t.Fatal("slot beyond the table's slots accepted")
	}
}
