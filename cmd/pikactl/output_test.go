package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

func sampleStatus() api.Status {
	return api.Status{
		Cluster:  "pika",
		Revision: 42,
		Manager:  "n1",
		Health:   api.HealthDown,
		Problems: []string{"table db0: 1 of 4 slots have no live leader"},
		Nodes: []api.Node{
			{NodeInfo: meta.NodeInfo{ID: "n1", RESP: "10.0.0.1:9221", HTTP: "10.0.0.1:29221", Version: "v1.2"}, Alive: true, Manager: true, Leads: 3, Replicas: 4},
			{NodeInfo: meta.NodeInfo{ID: "n2"}, Leads: 1, Replicas: 4},
		},
		Tables: []api.Table{
			{ID: 0, Name: "db0", Slots: 4, Replicas: 2, Mode: meta.ModeAsync, Health: api.HealthDown, UnderReplicated: 1, Unavailable: 1},
			{ID: 1, Name: "users", Slots: 1024, Replicas: 3, Mode: meta.ModeRaft, HasPassword: true, Health: api.HealthOK},
		},
	}
}

func sampleSlots() []api.Slot {
	return []api.Slot{
		{Table: "db0", Slot: 0, Epoch: 3, Leader: "n1", LeaderAlive: true, Replicas: []meta.NodeID{"n1", "n2"}, State: meta.SlotServing},
		{Table: "db0", Slot: 1, Epoch: 3, Leader: "n1", LeaderAlive: true, Replicas: []meta.NodeID{"n1", "n2"}, State: meta.SlotServing},
		{Table: "db0", Slot: 2, Epoch: 7, Leader: "n2", Replicas: []meta.NodeID{"n2"}, Learners: []meta.NodeID{"n1"}, State: meta.SlotServing},
		{Table: "db0", Slot: 3, Epoch: 1, Replicas: nil},
	}
}

func TestWriteStatus(t *testing.T) {
	var b bytes.Buffer
	if err := writeStatus(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	want := `Cluster:   pika
Manager:   n1
Health:    down
Revision:  42

! table db0: 1 of 4 slots have no live leader

NODES
ID   RESP            HTTP             ALIVE   MANAGER   LEADS   REPLICAS   VERSION
n1   10.0.0.1:9221   10.0.0.1:29221   yes     yes       3       4          v1.2
n2   -               -                no      no        1       4          -

TABLES
ID   NAME    SLOTS   REPLICAS   MODE    PASSWORD   HEALTH   UNDER-REPLICATED   UNAVAILABLE
0    db0     4       2          async   no         down     1                  1
1    users   1024    3          raft    yes        ok       0                  0
`
	if got := b.String(); got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteStatusEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := writeStatus(&b, api.Status{Cluster: "c", Health: api.HealthDegraded, Problems: []string{"no manager elected"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Manager:   (none)", "! no manager elected", "NODES\n(no nodes)", "TABLES\n(no tables)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWriteSlots(t *testing.T) {
	var b bytes.Buffer
	if err := writeSlots(&b, sampleSlots()); err != nil {
		t.Fatal(err)
	}
	want := `SLOT   EPOCH   LEADER   LEADER-ALIVE   REPLICAS   STATE
0      3       n1       yes            n1,n2      serving
1      3       n1       yes            n1,n2      serving
2      7       n2       no             n2         serving
3      1       -        no             -          -
`
	if got := b.String(); got != want {
		t.Errorf("slots:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteSlot(t *testing.T) {
	var b bytes.Buffer
	if err := writeSlot(&b, sampleSlots()[2]); err != nil {
		t.Fatal(err)
	}
	want := `Table:         db0 (id 0)
Slot:          2
Epoch:         7
Leader:        n2
Leader alive:  no
Replicas:      n2
Learners:      n1
Removing:      -
State:         serving
`
	if got := b.String(); got != want {
		t.Errorf("slot:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := writeTable(&b, sampleStatus().Tables[0], sampleSlots()); err != nil {
		t.Fatal(err)
	}
	want := `Name:              db0
ID:                0
Slots:             4
Replicas:          2
Mode:              async
Password:          no
Health:            down
Under-replicated:  1 of 4 slots
Unavailable:       1 of 4 slots

NODES
NODE   LEADS   LEADS-DOWN   REPLICAS
n1     2       0            2
n2     0       1            3
! 1 of 4 slots have no leader
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}

	// Without slots (table create): the fields only.
	b.Reset()
	if err := writeTable(&b, sampleStatus().Tables[1], nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "NODES") || !strings.Contains(b.String(), "Password:          yes") {
		t.Errorf("table without slots:\n%s", b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"nil nodes", []api.Node(nil), "[]\n"},
		{"nil tables", []api.Table(nil), "[]\n"},
		{"nil slots", []api.Slot(nil), "[]\n"},
		{"nil jobs", []meta.Job(nil), "[]\n"},
		{"empty plan", api.Plan{}, "{\n  \"steps\": [],\n  \"before\": [],\n  \"after\": []\n}\n"},
		{"remove after a plan", okResult{OK: true, Removed: "n3", Plan: &planSummary{Planned: 2, Done: 2, Bytes: 5, Took: "1.0s"}}, `{
  "ok": true,
  "removed": "n3",
  "plan": {
    "planned": 2,
    "done": 2,
    "failed": 0,
    "rolled_back": 0,
    "bytes": 5,
    "took": "1.0s"
  }
}
`},
		{"drop", okResult{OK: true, Dropped: "users"}, "{\n  \"ok\": true,\n  \"dropped\": \"users\"\n}\n"},
		{"remove", okResult{OK: true, Removed: "n3"}, "{\n  \"ok\": true,\n  \"removed\": \"n3\"\n}\n"},
		{"table", api.Table{ID: 1, Name: "users", Slots: 8, Replicas: 3, Mode: meta.ModeRaft, HasPassword: true, Health: api.HealthOK}, `{
  "id": 1,
  "name": "users",
  "slots": 8,
  "replicas": 3,
  "mode": "raft",
  "has_password": true,
  "health": "ok",
  "under_replicated_slots": 0,
  "unavailable_slots": 0
}
`},
	} {
		var b bytes.Buffer
		if err := writeJSON(&b, tc.v); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if b.String() != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, b.String(), tc.want)
		}
	}

	// A status round-trips as api.Status, with empty lists as [].
	var b bytes.Buffer
	if err := writeJSON(&b, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	var back api.Status
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Manager != "n1" || len(back.Nodes) != 2 || back.Nodes[0].RESP != "10.0.0.1:9221" || !back.Tables[1].HasPassword {
		t.Errorf("status round trip: %+v", back)
	}
	b.Reset()
	if err := writeJSON(&b, api.Status{Cluster: "c"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"nodes": []`) || !strings.Contains(b.String(), `"tables": []`) {
		t.Errorf("empty status JSON has null lists:\n%s", b.String())
	}
}
