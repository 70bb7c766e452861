package replication

import (
	"fmt"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// AsyncLeader is the storage.Committer of async tables: it admits a write
// of a table's slots only while the node's routing names the node their
// leader and no handover fences them, and commits locally (the Shipper
// sends the slot log on). It is asked under the slots' locks, so it
// closes the window between routing a write here and evaluating it, in
// which a switchover's fence may have been published: without it the
// write landed in the old leader's log after the position the switchover
// handed over at, acknowledged and then lost (TestSlotMoves saw it). A
// refused write had no effect: it is routed again (the new leader runs
// it).
type AsyncLeader struct {
	Self    meta.NodeID
	Routing func() *router.Snapshot
}

// Admit refuses a write of slots this node does not lead now. It has no
// terms (a handover fences a slot instead).
func (a *AsyncLeader) Admit(t storage.TableID, slots []storage.SlotID) ([]uint64, error) {
	tb, ok := a.Routing().Table(t)
	if !ok {
		return nil, &NotLeaderError{Table: t, Reason: "the table is not served here"}
	}
	for _, s := range slots {
		if r := tb.Route(s); r.Leader != a.Self || r.Handover {
			return nil, &NotLeaderError{Table: t, Slot: s, Reason: "its leadership moved"}
		}
	}
	return nil, nil
}

// Commit writes the batch and its slot log entries here.
func (a *AsyncLeader) Commit(b *storage.Batch) error { return b.CommitLocal() }

// NotLeaderError refuses a write of a slot this node no longer leads (or
// not yet: a handover fences it); nothing was applied.
type NotLeaderError struct {
	Table  storage.TableID
	Slot   storage.SlotID
	Reason string
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("table %d slot %d: %s", e.Table, e.Slot, e.Reason)
}

// Unapplied: the write is routed again (command.Unapplied).
func (e *NotLeaderError) Unapplied() bool { return true }

// RedisError is the reply when it cannot be routed again.
func (e *NotLeaderError) RedisError() string {
	return "CLUSTERDOWN the slot's leadership is changing; retry"
}
