package meta

import (
	"fmt"
	"strconv"
	"strings"
)

// Layout is the key layout of one cluster's metadata in etcd:
//
//	/pika/<cluster>/manager/...            election (client/v3/concurrency)
//	/pika/<cluster>/nodes/<node-id>        NodeInfo, bound to the node's lease: present while it lives
//	/pika/<cluster>/members/<node-id>      NodeInfo, persistent: every node that ever joined, until removed
//	/pika/<cluster>/tables/<name>          TableInfo
//	/pika/<cluster>/slots/<table-id>/<n>   SlotInfo
//	/pika/<cluster>/jobs/<id>              Job
//	/pika/<cluster>/ids/table              the next table id (decimal)
//	/pika/<cluster>/secret                 the cluster secret: nodes authenticate to each other's peer port with it
//	/pika/<cluster>/admin-token            the admin token's salted hash: the HTTP API's writes need the token
//	/pika/<cluster>/functions              the FUNCTION libraries, all of them: Functions (JSON)
//
// members/ is ours, beyond DESIGN.md: nodes/ vanishes with a dead node's
// lease, and status must still name a dead node that holds replicas.
type Layout struct{ Cluster string }

// Root is the prefix of every key of the cluster.
func (l Layout) Root() string { return "/pika/" + l.Cluster + "/" }

// Election is the prefix of the manager election.
func (l Layout) Election() string { return l.Root() + "manager/" }

// Nodes is the prefix of the live nodes' keys.
func (l Layout) Nodes() string { return l.Root() + "nodes/" }

// Node is a live node's key.
func (l Layout) Node(id NodeID) string { return l.Nodes() + string(id) }

// Members is the prefix of the persistent node records.
func (l Layout) Members() string { return l.Root() + "members/" }

// Member is a node's persistent record.
func (l Layout) Member(id NodeID) string { return l.Members() + string(id) }

// Tables is the prefix of the table records.
func (l Layout) Tables() string { return l.Root() + "tables/" }

// Table is a table's record.
func (l Layout) Table(name string) string { return l.Tables() + name }

// Slots is the prefix of every slot record.
func (l Layout) Slots() string { return l.Root() + "slots/" }

// TableSlots is the prefix of one table's slot records.
func (l Layout) TableSlots(t TableID) string {
	return l.Slots() + strconv.FormatUint(uint64(t), 10) + "/"
}

// Slot is one slot's record.
func (l Layout) Slot(t TableID, s SlotID) string {
	return l.TableSlots(t) + strconv.FormatUint(uint64(s), 10)
}

// Jobs is the prefix of the job records.
func (l Layout) Jobs() string { return l.Root() + "jobs/" }

// Job is one job's record.
func (l Layout) Job(id string) string { return l.Jobs() + id }

// TableIDCounter holds the next table id.
func (l Layout) TableIDCounter() string { return l.Root() + "ids/table" }

// Secret holds the cluster secret, created by the first manager.
func (l Layout) Secret() string { return l.Root() + "secret" }

// AdminToken holds the salted hash of the cluster's admin token (see
// HashToken), created by the first manager.
func (l Layout) AdminToken() string { return l.Root() + "admin-token" }

// Functions holds the cluster's FUNCTION libraries, all in one record,
// so that a change of several (FUNCTION RESTORE, a library that takes a
// function name another one had) is one compare-and-swap.
func (l Layout) Functions() string { return l.Root() + "functions" }

// ACLUsers holds the cluster's ACL users, all in one record (see
// ACLUsers).
func (l Layout) ACLUsers() string { return l.Root() + "acl/users" }

// Config is the prefix of the cluster-wide CONFIG parameters (those
// CONFIG SET sets for every node: notify-keyspace-events), one record a
// parameter, its value the parameter's.
func (l Layout) Config() string { return l.Root() + "config/" }

// ConfigParam is parameter name's record.
func (l Layout) ConfigParam(name string) string { return l.Config() + name }

// parseSlotKey splits the part of a slot key after Slots().
func parseSlotKey(rest string) (TableID, SlotID, error) {
	ts, ss, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("slot key %q: want <table-id>/<slot>", rest)
	}
	t, err := strconv.ParseUint(ts, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("slot key %q: table id: %w", rest, err)
	}
	s, err := strconv.ParseUint(ss, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("slot key %q: slot: %w", rest, err)
	}
	return TableID(t), SlotID(s), nil
}
