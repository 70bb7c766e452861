package meta

import (
	"fmt"
	"regexp"
	"time"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// NodeID names a node for its whole life: chosen at its first start and
// kept in its storage, so a restarted node is the same node.
type NodeID string

// TableID is a table's number (SELECT n); db0 is 0.
type TableID = keyspace.TableID

// SlotID is a slot's number inside its table.
type SlotID = keyspace.SlotID

// Epoch orders the placements of one slot: every change of its leader or
// replicas bumps it, and a node asked to serve a slot at an older epoch
// than it knows refuses.
type Epoch = keyspace.Epoch

// Mode is a table's replication mode.
type Mode string

const (
	// ModeAsync ships each slot's log to followers after the leader applied it.
	ModeAsync Mode = "async"
	// ModeRaft commits each slot's log through a raft group.
	ModeRaft Mode = "raft"
)

// NodeInfo is what a node registers about itself.
type NodeInfo struct {
	ID        NodeID            `json:"id"`
	RESP      string            `json:"resp"`
	Peer      string            `json:"peer"`
	HTTP      string            `json:"http"`
	Version   string            `json:"version"`
	Labels    map[string]string `json:"labels,omitempty"`
	StartedAt time.Time         `json:"started_at"`
}

// TableInfo is a table's record.
type TableInfo struct {
	ID       TableID `json:"id"`
	Name     string  `json:"name"`
	Slots    uint32  `json:"slots"`
	Replicas int     `json:"replicas"`
	Mode     Mode    `json:"mode"`
	// PasswordHash is HashPassword's output, or "" for a table without a
	// password. The password itself is never stored.
	PasswordHash string    `json:"password_hash,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// HasPassword reports whether the table is closed until AUTH.
func (t TableInfo) HasPassword() bool { return t.PasswordHash != "" }

// SlotState says what a slot is doing.
type SlotState string

const (
	// SlotServing is the state of a slot that serves normally.
	SlotServing SlotState = "serving"
	// SlotHandover is a slot whose leadership is being handed over: its
	// leader is fenced (runs no client command), nodes hold the slot's
	// commands until the new leader is published.
	SlotHandover SlotState = "handover"
)

// SlotInfo is one slot's placement: which node leads it, which hold it.
type SlotInfo struct {
	Epoch    Epoch     `json:"epoch"`
	Leader   NodeID    `json:"leader"`
	Replicas []NodeID  `json:"replicas"`
	Learners []NodeID  `json:"learners,omitempty"`
	State    SlotState `json:"state"`
}

// JobKind names what a job does.
type JobKind string

const (
	// JobCreateTable writes a table's slot records, then its table record.
	JobCreateTable JobKind = "table-create"
	// JobDropTable removes a table's slot records after its table record.
	JobDropTable JobKind = "table-drop"
)

// Job is an operation of several etcd transactions, recorded before its
// first step so that a manager that takes over can finish it.
type Job struct {
	ID      string    `json:"id"`
	Kind    JobKind   `json:"kind"`
	Table   TableInfo `json:"table"`
	Created time.Time `json:"created"`
	// Nodes is, for a table create, the nodes its slots are placed on
	// (the placement is a function of the table and this list, so a
	// manager that resumes the job writes the same records; a list of
	// every slot's record would pass etcd's request size limit).
	Nodes []NodeID `json:"nodes,omitempty"`
}

// Limits on what a table may be.
const (
	MaxSlots    = 16384
	MaxReplicas = 7
	maxNameLen  = 64
)

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ValidateTable checks a table request's name, slot count, replica count
// and mode, and reports every problem in one error.
func ValidateTable(name string, slots uint32, replicas int, mode Mode) error {
	var errs []string
	switch {
	case name == "":
		errs = append(errs, "name must not be empty")
	case len(name) > maxNameLen:
		errs = append(errs, fmt.Sprintf("name %q is longer than %d bytes", name, maxNameLen))
	case !tableName.MatchString(name):
		errs = append(errs, fmt.Sprintf("name %q: use letters, digits, '_', '.', '-', and start with a letter or '_' (a number would be read as a table id)", name))
	}
	if slots < 1 || slots > MaxSlots {
		errs = append(errs, fmt.Sprintf("slots %d: must be in 1..%d", slots, MaxSlots))
	}
	if replicas < 1 || replicas > MaxReplicas {
		errs = append(errs, fmt.Sprintf("replicas %d: must be in 1..%d", replicas, MaxReplicas))
	}
	if mode != ModeAsync && mode != ModeRaft {
		errs = append(errs, fmt.Sprintf("mode %q: must be async or raft", mode))
	}
	if len(errs) == 0 {
		return nil
	}
	msg := errs[0]
	for _, e := range errs[1:] {
		msg += "; " + e
	}
	return fmt.Errorf("invalid table: %s", msg)
}
