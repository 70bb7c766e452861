package api

import (
	"fmt"

	"github.com/pika-node/pika-node/manager/meta"
)

// Paths of the API, under a node's HTTP address.
const (
	PathStatus = "/api/v1/status"
	PathNodes  = "/api/v1/nodes"  // GET; DELETE /api/v1/nodes/{id}?force=true
	PathTables = "/api/v1/tables" // GET, POST; GET, DELETE /api/v1/tables/{name}; GET /api/v1/tables/{name}/slots[/{n}]; PUT /api/v1/tables/{name}/password
	// PathRaftLeaders takes POSTed []RaftLeader: nodes report the raft
	// groups they lead, and the manager's routing follows.
	PathRaftLeaders = "/api/v1/raft/leaders"
	// PathMoves takes a POSTed MoveSlot: start a slot move job.
	PathMoves = "/api/v1/moves"
	// PathJobs lists the jobs (GET); DELETE /api/v1/jobs/{id} cancels one.
	PathJobs = "/api/v1/jobs"
	// PathRebalance plans moves (GET ?table=T&exclude=ID&exclude=...; with
	// evacuate=true only the moves off the excluded nodes): the plan only;
	// the caller starts the moves (pikactl rebalance, node remove).
	PathRebalance = "/api/v1/rebalance"
	// PathApplied is a node's own: GET ?rev=R&wait=D answers Applied once
	// the node's metadata (and so its routing) has reached etcd revision R,
	// or after D with Applied.Applied false. The manager asks every live
	// node before it answers a table create or drop.
	PathApplied = "/api/v1/internal/applied"
	// PathAdminToken takes a POST (no body) that replaces the admin token
	// and answers AdminToken, the new one in clear: pikactl token rotate.
	PathAdminToken = "/api/v1/admin/token"
)

// Credentials of the API's writes, in the Authorization header: an
// operator's admin token, or a node's credential derived from the
// cluster secret (meta.PeerHTTPCredential) for what nodes send each
// other (raft leadership reports).
const (
	AuthAdmin = "Bearer"
	AuthPeer  = "Pika-Peer"
)

// AdminToken is the answer of PathAdminToken.
type AdminToken struct {
	Token string `json:"token"`
}

// Applied is the answer of PathApplied.
type Applied struct {
	Node meta.NodeID `json:"node"`
	// Revision is the etcd revision the node's routing serves.
	Revision int64 `json:"revision"`
	// Applied: Revision reached the one asked for.
	Applied bool `json:"applied"`
}

// Dropped is the answer of DELETE /api/v1/tables/{name}.
type Dropped struct {
	OK      bool   `json:"ok"`
	Dropped string `json:"dropped"`
	// Lagging lists the live nodes that still served the table when the
	// answer was sent (see Table.Lagging).
	Lagging []meta.NodeID `json:"lagging,omitempty"`
}

// MoveSlot is the body of POST /api/v1/moves.
type MoveSlot struct {
	Table string      `json:"table"`
	Slot  meta.SlotID `json:"slot"`
	// From is the replica that moves; "" means the slot's leader.
	From meta.NodeID `json:"from,omitempty"`
	To   meta.NodeID `json:"to"`
}

// PlanKind says what a planned step does.
type PlanKind string

const (
	// PlanMove moves a replica (a slot move job).
	PlanMove PlanKind = "move"
	// PlanLeader hands a slot's leadership to another replica (a
	// switchover, like pikactl failover --to).
	PlanLeader PlanKind = "leader"
)

// PlannedStep is one step of a rebalance plan.
type PlannedStep struct {
	Kind  PlanKind    `json:"kind"`
	Table string      `json:"table"`
	Slot  meta.SlotID `json:"slot"`
	From  meta.NodeID `json:"from"`
	To    meta.NodeID `json:"to"`
}

// Plan is a rebalance plan: the steps, and each node's replicas and
// leaders (all tables planned) before and after.
type Plan struct {
	Steps  []PlannedStep `json:"steps"`
	Before []NodeLoad    `json:"before"`
	After  []NodeLoad    `json:"after"`
	// Skipped lists slots left alone (a move or hand-over under way, a
	// dead leader) with why.
	Skipped []string `json:"skipped,omitempty"`
}

// NodeLoad is how many slot replicas and leaderships a node has.
type NodeLoad struct {
	Node     meta.NodeID `json:"node"`
	Replicas int         `json:"replicas"`
	Leaders  int         `json:"leaders"`
}

// RaftLeader reports that Node leads the raft group of a slot at Term.
type RaftLeader struct {
	Table meta.TableID `json:"table"`
	Slot  meta.SlotID  `json:"slot"`
	Node  meta.NodeID  `json:"node"`
	Term  uint64       `json:"term"`
	// Voters, when set, says the group's voters are now exactly these:
	// the slot's learners were promoted and the replaced replicas removed.
	Voters []meta.NodeID `json:"voters,omitempty"`
}

// Health values of Status.Health and Table.Health.
const (
	HealthOK       = "ok"       // every slot led by a live node with all its replicas
	HealthDegraded = "degraded" // served, but some slots have fewer replicas than asked
	HealthDown     = "down"     // some slots have no live leader
)

// Status is the cluster at a glance (`pikactl status`).
type Status struct {
	Cluster  string `json:"cluster"`
	Revision int64  `json:"revision"`
	// Manager is the node holding the manager role, "" when none does.
	Manager  meta.NodeID `json:"manager"`
	Health   string      `json:"health"`
	Problems []string    `json:"problems,omitempty"`
	Nodes    []Node      `json:"nodes"`
	Tables   []Table     `json:"tables"`
}

// Node is a node as status and `node list` show it.
type Node struct {
	meta.NodeInfo
	Alive   bool `json:"alive"`
	Manager bool `json:"manager"`
	// Leads is how many slots (of all tables) this node leads.
	Leads int `json:"leads"`
	// Replicas is how many slot replicas it holds, leaders included.
	Replicas int `json:"replicas"`
}

// Table is a table as `table list` and `table show` show it.
type Table struct {
	ID          meta.TableID `json:"id"`
	Name        string       `json:"name"`
	Slots       uint32       `json:"slots"`
	Replicas    int          `json:"replicas"`
	Mode        meta.Mode    `json:"mode"`
	HasPassword bool         `json:"has_password"`
	// Health is HealthOK, HealthDegraded or HealthDown.
	Health string `json:"health"`
	// UnderReplicated counts slots with fewer replicas than Replicas.
	UnderReplicated int `json:"under_replicated_slots"`
	// Unavailable counts slots whose leader is not alive.
	Unavailable int `json:"unavailable_slots"`
	// Lagging, in the answer of a create only, lists the live nodes that
	// did not serve the new table yet when the answer was sent: the
	// manager waits a few seconds for every live node to apply the create
	// and names those that had not. They catch up on their own (and a
	// client that names the table on one of them makes it catch up first).
	Lagging []meta.NodeID `json:"lagging,omitempty"`
}

// Slot is one slot's placement (`slot show`).
type Slot struct {
	Table       string         `json:"table"`
	TableID     meta.TableID   `json:"table_id"`
	Slot        meta.SlotID    `json:"slot"`
	Epoch       meta.Epoch     `json:"epoch"`
	Leader      meta.NodeID    `json:"leader"`
	LeaderAlive bool           `json:"leader_alive"`
	Replicas    []meta.NodeID  `json:"replicas"`
	Learners    []meta.NodeID  `json:"learners,omitempty"`
	Removing    []meta.NodeID  `json:"removing,omitempty"`
	State       meta.SlotState `json:"state"`
	// Positions holds every replica's log position and lag behind the
	// leader, in `slot show TABLE SLOT` only (it asks the nodes).
	Positions []ReplicaPosition `json:"positions,omitempty"`
}

// ReplicaPosition is one replica's place in the slot's log.
type ReplicaPosition struct {
	Node  meta.NodeID `json:"node"`
	Index uint64      `json:"index"`
	Epoch meta.Epoch  `json:"epoch"`
	// Lag is how many entries it is behind the leader (-1: unknown).
	Lag   int64  `json:"lag"`
	Error string `json:"error,omitempty"`
}

// ReplicaSum is one replica's checksum of a slot (`slot check`).
type ReplicaSum struct {
	Node  meta.NodeID `json:"node"`
	Index uint64      `json:"index"`
	Epoch meta.Epoch  `json:"epoch"`
	// Sum is the checksum of the slot's live data at that position (hex).
	Sum   string `json:"sum"`
	Keys  int64  `json:"keys"`
	Error string `json:"error,omitempty"`
}

// SlotCheck compares a slot's replicas at one log position
// (GET /api/v1/tables/{name}/check[?slot=N]).
type SlotCheck struct {
	Table string      `json:"table"`
	Slot  meta.SlotID `json:"slot"`
	// Equal: every live replica answered, at the same position, with the
	// same checksum.
	Equal    bool         `json:"equal"`
	Note     string       `json:"note,omitempty"`
	Replicas []ReplicaSum `json:"replicas"`
}

// Switchover is the result of `pikactl failover` (POST
// /api/v1/tables/{name}/slots/{slot}/failover[?to=NODE]).
type Switchover struct {
	Table string      `json:"table"`
	Slot  meta.SlotID `json:"slot"`
	From  meta.NodeID `json:"from"`
	To    meta.NodeID `json:"to"`
	Epoch meta.Epoch  `json:"epoch"`
	// Index is the log position the target had caught up to.
	Index uint64 `json:"index"`
	// Paused is how long the slot's commands were held (fence to switch).
	Paused string `json:"paused"`
	Took   string `json:"took"`
}

// Drain is the result of `pikactl node drain` (POST /api/v1/nodes/{id}/drain).
type Drain struct {
	Node  meta.NodeID `json:"node"`
	Moved int         `json:"moved"`
	Stuck []string    `json:"stuck,omitempty"`
	Took  string      `json:"took"`
}

// CreateTable is the body of POST /api/v1/tables.
type CreateTable struct {
	Name     string    `json:"name"`
	Slots    uint32    `json:"slots"`
	Replicas int       `json:"replicas"`
	Mode     meta.Mode `json:"mode"`
	Password string    `json:"password,omitempty"`
}

// SetPassword is the body of PUT /api/v1/tables/{name}/password: the
// table's new password, "" for none.
type SetPassword struct {
	Password string `json:"password"`
}

// ErrorBody is the body of every non-2xx answer.
type ErrorBody struct {
	Error string `json:"error"`
}

// Error is a non-2xx answer as Client returns it. Code is the HTTP status:
// 400 invalid request, 401 no or a wrong admin token, 404 no such
// table/node/slot, 409 conflict (exists, node alive, ...), 415 a body
// that is not application/json, 503 no manager or etcd unreachable.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Code) }
