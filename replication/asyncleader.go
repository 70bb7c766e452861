package replication

import (
	"fmt"
	"time"

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
//
// It also refuses a write of a slot another replica could take over
// while LeaseHeld says the node's etcd lease may have expired, or that
// its routing has not caught up with its registration since it came
// back (docs/replication.md, "Lease fence"), and one of a slot with
// fewer good followers than min-replicas-to-write asks for.
type AsyncLeader struct {
	Self    meta.NodeID
	Routing func() *router.Snapshot
	// LeaseHeld reports whether the node's lease lives for sure and the
	// routing revision given has reached its registration
	// (manager.Member.LeaseHeld). Nil: no fence.
	LeaseHeld func(rev int64) bool
	// MinReplicas is min-replicas-to-write and min-replicas-max-lag
	// (n 0: no minimum); GoodFollowers counts a slot's good followers
	// (Shipper.GoodFollowers). Nil: no minimum.
	MinReplicas   func() (n int, maxLag time.Duration)
	GoodFollowers func(t storage.TableID, s storage.SlotID, maxLag time.Duration) int
}

// Admit refuses a write of slots this node does not lead now. It has no
// terms (a handover fences a slot instead).
func (a *AsyncLeader) Admit(t storage.TableID, slots []storage.SlotID) ([]uint64, error) {
	snap := a.Routing()
	tb, ok := snap.Table(t)
	if !ok {
		return nil, &NotLeaderError{Table: t, Reason: "the table is not served here"}
	}
	fenced := a.LeaseHeld != nil && !a.LeaseHeld(snap.Revision)
	var minReplicas int
	var maxLag time.Duration
	if a.MinReplicas != nil && a.GoodFollowers != nil {
		minReplicas, maxLag = a.MinReplicas()
	}
	for _, s := range slots {
		r := tb.Route(s)
		if r.Leader != a.Self || r.Handover {
			return nil, &NotLeaderError{Table: t, Slot: s, Reason: "its leadership moved"}
		}
		if fenced && len(r.Replicas) > 1 {
			return nil, &LeaseLostError{Table: t, Slot: s}
		}
		if minReplicas > 0 && a.GoodFollowers(t, s, maxLag) < minReplicas {
			return nil, ErrNoReplicas
		}
	}
	return nil, nil
}

// ErrNoReplicas refuses a write of a slot with fewer good followers than
// min-replicas-to-write, as Redis refuses one with too few good replicas.
// Nothing was applied.
var ErrNoReplicas error = noReplicasError{}

type noReplicasError struct{}

func (noReplicasError) Error() string { return "replication: not enough good followers to write" }

// RedisError is the client's reply, Redis's.
func (noReplicasError) RedisError() string { return "NOREPLICAS Not enough good replicas to write." }

// LeaseLostError refuses a write of a slot whose leadership this node
// cannot vouch for: it cannot reach etcd (its lease may have expired and
// another replica been promoted), or it is back and its routing has not
// caught up yet. Nothing was applied; routing it again would find this
// node again, so the client gets the error and retries.
type LeaseLostError struct {
	Table storage.TableID
	Slot  storage.SlotID
}

func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("table %d slot %d: this node's etcd lease is not known to live", e.Table, e.Slot)
}

// RedisError is the client's reply.
func (e *LeaseLostError) RedisError() string {
	return fmt.Sprintf("CLUSTERDOWN this node cannot reach etcd: it may no longer lead slot %d of table %d; retry", e.Slot, e.Table)
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
