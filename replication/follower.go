package replication

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// FollowerStore is what a Follower needs of the node's storage
// (storage.Engine).
type FollowerStore interface {
	LogBounds(t storage.TableID, s storage.SlotID) (first, last storage.LogIndex, lastEpoch storage.Epoch)
	ApplyLogEntry(t storage.TableID, s storage.SlotID, en storage.LogEntry) error
	BeginSlotLoad(t storage.TableID, s storage.SlotID) (*storage.SlotLoad, error)
}

// Follower is the receiving end of what a leader's Shipper sends: the log
// entries of REPLICATE, applied in order, and the full syncs (SYNCBEGIN,
// SYNCDATA chunks loaded into SST files, SYNCEND). Its handlers answer
// into the peer connection's reply buffer.
type Follower struct {
	self    meta.NodeID
	store   FollowerStore
	routing func() *router.Snapshot
	log     *slog.Logger

	mu    sync.Mutex
	loads map[slotKey]*storage.SlotLoad // the full syncs being received
}

type slotKey struct {
	t storage.TableID
	s storage.SlotID
}

// NewFollower returns the follower side of node self, which takes a
// leader's data only as its routing says.
func NewFollower(self meta.NodeID, store FollowerStore, routing func() *router.Snapshot, log *slog.Logger) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Follower{self: self, store: store, routing: routing, log: log, loads: map[slotKey]*storage.SlotLoad{}}
}

// check explains why this node must not take its leader's data for slot s
// of table t at epoch (a refusal reply: the routing says this node does
// not follow the slot at that epoch), "" when it may.
func (f *Follower) check(t storage.TableID, s storage.SlotID, epoch meta.Epoch) string {
	tb, ok := f.routing().Table(t)
	if !ok || uint32(s) >= tb.Slots {
		return peer.Refuse(fmt.Sprintf("no table %d slot %d here", t, s))
	}
	r := tb.Route(s)
	if r.Leader == f.self || !slices.Contains(r.Replicas, f.self) || r.Epoch != epoch {
		return peer.Refuse(fmt.Sprintf("not a follower of table %d slot %d at epoch %d (leader %s, epoch %d)", t, s, epoch, r.Leader, r.Epoch))
	}
	return ""
}

// Replicate applies a leader's log entries for a slot this node follows.
// Entries this node already has are skipped; the first missing one must
// follow its last (a peer.GapError otherwise, so the leader resends from
// there). The answer is the slot's position here: [last index, its epoch].
func (f *Follower) Replicate(r *resp.Reply, req peer.Replicate) {
	t, s := req.Table, req.Slot
	if msg := f.check(t, s, req.Epoch); msg != "" {
		r.Error(msg)
		return
	}
	_, last, _ := f.store.LogBounds(t, s)
	for _, raw := range req.Entries {
		en, err := storage.DecodeLogEntry(raw)
		if err != nil {
			r.Error("ERR " + err.Error())
			return
		}
		if en.Index <= last {
			continue
		}
		if en.Index != last+1 {
			r.Error((&peer.GapError{Last: last}).Reply())
			return
		}
		if err := f.store.ApplyLogEntry(t, s, en); err != nil {
			if errors.Is(err, storage.ErrLogGap) {
				_, last, _ = f.store.LogBounds(t, s)
				r.Error((&peer.GapError{Last: last}).Reply())
				return
			}
			r.Error("ERR apply: " + err.Error())
			return
		}
		last = en.Index
	}
	_, _, lastEpoch := f.store.LogBounds(t, s)
	r.Array(2)
	r.Int(int64(last))
	r.Int(int64(lastEpoch))
}

// noLoad refuses a SYNCDATA or SYNCEND without a SYNCBEGIN.
var noLoad = peer.Refuse("no full sync of this slot in progress here")

// takeLoad returns the full sync of h's slot in progress, if any, after
// the routing check (msg is the refusal otherwise); end forgets it (a new
// full sync replaces it, SYNCEND ends it).
func (f *Follower) takeLoad(h peer.SyncHead, end bool) (key slotKey, load *storage.SlotLoad, msg string) {
	if msg := f.check(h.Table, h.Slot, h.Epoch); msg != "" {
		return key, nil, msg
	}
	key = slotKey{h.Table, h.Slot}
	f.mu.Lock()
	defer f.mu.Unlock()
	load = f.loads[key]
	if end && load != nil {
		delete(f.loads, key)
	}
	return key, load, ""
}

// SyncBegin starts a full sync of the slot: its data and log are dropped
// when the load finishes (a load already in progress is abandoned).
func (f *Follower) SyncBegin(r *resp.Reply, req peer.SyncBegin) {
	key, load, msg := f.takeLoad(req.SyncHead, true)
	if msg != "" {
		r.Error(msg)
		return
	}
	if load != nil {
		load.Abort()
	}
	f.log.Info("full sync of a slot from its leader", "table", req.Table, "slot", req.Slot)
	load, err := f.store.BeginSlotLoad(req.Table, req.Slot)
	if err != nil {
		r.Error("ERR full sync: " + err.Error())
		return
	}
	f.mu.Lock()
	f.loads[key] = load
	f.mu.Unlock()
	r.OK()
}

// loadFor returns the full sync of h's slot in progress, or answers why
// there is none (nil); end forgets it.
func (f *Follower) loadFor(r *resp.Reply, h peer.SyncHead, end bool) *storage.SlotLoad {
	_, load, msg := f.takeLoad(h, end)
	if msg == "" && load == nil {
		msg = noLoad
	}
	if msg != "" {
		r.Error(msg)
		return nil
	}
	return load
}

// SyncData loads one chunk of the slot's keys.
func (f *Follower) SyncData(r *resp.Reply, req peer.SyncData) {
	load := f.loadFor(r, req.SyncHead, false)
	if load == nil {
		return
	}
	eff, err := storage.DecodeEffect(req.Chunk)
	if err == nil {
		err = load.Add(eff.Ops)
	}
	if err != nil {
		r.Error("ERR full sync: " + err.Error())
		return
	}
	r.OK()
}

// SyncEnd lands the load: the slot's counts and log position, from which
// the leader's log continues; the answer is the position, as Replicate's.
func (f *Follower) SyncEnd(r *resp.Reply, req peer.SyncEnd) {
	load := f.loadFor(r, req.SyncHead, true)
	if load == nil {
		return
	}
	if err := load.Finish(req.Index, req.EntryEpoch, req.Keys, req.Expires); err != nil {
		r.Error("ERR full sync: " + err.Error())
		return
	}
	r.Array(2)
	r.Int(int64(req.Index))
	r.Int(int64(req.EntryEpoch))
}
