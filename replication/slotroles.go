package replication

import (
	"log/slog"
	"slices"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// SlotRoles keeps what the engine knows of each slot's replication in
// step with the routing: whether its writes are logged for followers,
// whether this node follows it, at which epoch, and whether a raft group
// owns it (storage.SlotRole); and it deletes this node's copy of every
// async slot it no longer holds. Apply runs on the node's metadata
// goroutine only.
type SlotRoles struct {
	self  meta.NodeID
	store RoleStore
	log   *slog.Logger
	// held says which slots of each async table this node held in the
	// last routing: a slot no longer held (moved away) has its copy
	// deleted.
	held map[storage.TableID][]bool
}

// RoleStore is what SlotRoles needs of the engine.
type RoleStore interface {
	SetSlotRole(t storage.TableID, s storage.SlotID, role storage.SlotRole)
	LogBounds(t storage.TableID, s storage.SlotID) (first, last storage.LogIndex, lastEpoch storage.Epoch)
	SlotKeyCount(t storage.TableID, s storage.SlotID) int64
	ResetSlot(t storage.TableID, s storage.SlotID) error
}

// NewSlotRoles returns the slot roles of node self.
func NewSlotRoles(self meta.NodeID, store RoleStore, log *slog.Logger) *SlotRoles {
	return &SlotRoles{self: self, store: store, log: log, held: map[storage.TableID][]bool{}}
}

// Apply sets the roles of table t's slots from its routing and, for an
// async table, deletes the copies of slots this node no longer holds.
func (r *SlotRoles) Apply(t *router.Table) {
	// A slot's writes are logged when it has followers to feed (a move
	// adds one to a slot of a one-replica table); entries carry the
	// slot's epoch. A raft table's slots are their raft groups' instead.
	raftMode := t.Mode == meta.ModeRaft
	for s := range t.Slots {
		rt := t.Route(storage.SlotID(s))
		r.store.SetSlotRole(t.ID, storage.SlotID(s), storage.SlotRole{
			Logged:   (t.Replicas > 1 || len(rt.Replicas) > 1) && !raftMode,
			Follower: rt.Leader != r.self && slices.Contains(rt.Replicas, r.self),
			Epoch:    rt.Epoch,
			Raft:     raftMode,
		})
	}
	if !raftMode {
		r.dropUnheld(t)
	}
}

// dropUnheld deletes this node's copy of every slot of async table t it
// no longer holds: a slot moved to another node, or replaced while this
// node was down (at the first routing, any slot not held that has data).
func (r *SlotRoles) dropUnheld(t *router.Table) {
	prev := r.held[t.ID]
	now := make([]bool, t.Slots)
	for i := range t.Slots {
		s := storage.SlotID(i)
		rt := t.Route(s)
		now[i] = rt.Leader == r.self || slices.Contains(rt.Replicas, r.self)
		if now[i] {
			continue
		}
		if prev != nil && !prev[i] {
			continue
		}
		if prev == nil {
			_, last, _ := r.store.LogBounds(t.ID, s)
			if r.store.SlotKeyCount(t.ID, s) == 0 && last == 0 {
				continue
			}
		}
		start := time.Now()
		if err := r.store.ResetSlot(t.ID, s); err != nil {
			r.log.Error("delete the copy of a slot this node no longer holds", "table", t.Name, "slot", s, "err", err)
			continue
		}
		r.log.Info("deleted the copy of a slot this node no longer holds", "table", t.Name, "slot", s, "took", time.Since(start))
	}
	r.held[t.ID] = now
}
