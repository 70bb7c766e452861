package meta

import (
	"fmt"
	"regexp"
	"slices"
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
	// DiskFull: the node's disk is below its reserve (--min-free-disk)
	// and it refuses clients' writes; the manager hands the slots it
	// leads to replicas that can write.
	DiskFull bool `json:"disk_full,omitempty"`
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
	Epoch    Epoch    `json:"epoch"`
	Leader   NodeID   `json:"leader"`
	Replicas []NodeID `json:"replicas"`
	Learners []NodeID `json:"learners,omitempty"`
	// Removing are raft replicas being removed: they keep running the
	// slot's group (a group of two needs the leaving voter to commit its
	// removal) until the group's leader reports the voters without them.
	Removing []NodeID  `json:"removing,omitempty"`
	State    SlotState `json:"state"`
}

// Holds reports whether node keeps a copy of the slot in any role.
func (si SlotInfo) Holds(node NodeID) bool {
	return slices.Contains(si.Replicas, node) || slices.Contains(si.Learners, node) || slices.Contains(si.Removing, node)
}

// JobKind names what a job does.
type JobKind string

const (
	// JobCreateTable writes a table's slot records, then its table record.
	JobCreateTable JobKind = "table-create"
	// JobDropTable removes a table's slot records after its table record.
	JobDropTable JobKind = "table-drop"
	// JobMoveSlot moves one replica of a slot from a node to another.
	JobMoveSlot JobKind = "slot-move"
)

// MoveStep is where a slot move is. Each step is written to the job
// record before it is taken, so a manager that takes over resumes there.
type MoveStep string

const (
	// MoveAdd: the target is being added to the slot (an async follower,
	// or a raft learner).
	MoveAdd MoveStep = "add"
	// MoveCatchUp: the target copies the slot (full sync or raft
	// snapshot), then follows its log.
	MoveCatchUp MoveStep = "catch-up"
	// MoveHandover: the source leads the slot; its leadership is handed
	// to the target.
	MoveHandover MoveStep = "handover"
	// MoveRemove: the source is being removed from the slot; it deletes
	// its copy once the slot record no longer names it.
	MoveRemove MoveStep = "remove"
	// MoveRollback: the target is being taken out again (cancelled, or the
	// target died before the hand-over).
	MoveRollback MoveStep = "rollback"
	// MoveDone, MoveRolledBack and MoveFailed are final.
	MoveDone       MoveStep = "done"
	MoveRolledBack MoveStep = "rolled-back"
	MoveFailed     MoveStep = "failed"
)

// Final reports whether a move in this step is over.
func (s MoveStep) Final() bool { return s == MoveDone || s == MoveRolledBack || s == MoveFailed }

// Move is a slot move's part of its job record.
type Move struct {
	Slot SlotID   `json:"slot"`
	From NodeID   `json:"from"`
	To   NodeID   `json:"to"`
	Step MoveStep `json:"step"`
	// Cancel asks the job to roll back (honoured before the hand-over;
	// after it the move completes).
	Cancel bool `json:"cancel,omitempty"`
	// Error says why a move rolled back or failed.
	Error string `json:"error,omitempty"`
	// Bytes is the slot's size on the source when the move started
	// (RocksDB's estimate), for progress and bandwidth limits.
	Bytes   int64     `json:"bytes,omitempty"`
	Updated time.Time `json:"updated"`
	// Finished is set with a final step.
	Finished time.Time `json:"finished,omitzero"`
}

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
	// Move is a slot move's state (Kind JobMoveSlot; Table names the
	// slot's table).
	Move *Move `json:"move,omitempty"`
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

// Functions are the cluster's FUNCTION libraries: each library's code
// (which names it, `#!lua name=<name>`) by its name.
type Functions map[string]string
