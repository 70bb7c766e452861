package replication

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// SlotQueries answers the manager's questions about a node's copy of a
// slot — its log position (switchovers), checksum (slot checks) and size
// (rebalance) — here from the engine, on another node over the peer
// links; and serves those questions when a peer asks them (POSITIONS,
// CHECKSUM, SLOTSIZE).
type SlotQueries struct {
	Self    meta.NodeID
	Store   SlotStore
	Links   *peer.Links
	Routing func() *router.Snapshot
}

// SlotStore is what SlotQueries reads of the engine.
type SlotStore interface {
	SettledLogBounds(t storage.TableID, s storage.SlotID) (first, last storage.LogIndex, lastEpoch storage.Epoch)
	SlotChecksum(t storage.TableID, s storage.SlotID) (storage.SlotSum, error)
	SlotSize(t storage.TableID, s storage.SlotID) (int64, error)
}

// position is this node's place in slot s's log, read once the writes in
// flight committed, with the routing epoch it serves the slot at, read
// before: a switchover's fence at that epoch admits no later write
// (AsyncLeader), so the place is final.
func (q *SlotQueries) position(t meta.TableID, s meta.SlotID) manager.Position {
	var serving meta.Epoch
	if tb, ok := q.Routing().Table(t); ok && uint32(s) < tb.Slots {
		serving = tb.Route(s).Epoch
	}
	_, last, epoch := q.Store.SettledLogBounds(t, s)
	return manager.Position{Epoch: epoch, Index: uint64(last), Serving: serving}
}

// Positions returns node's log positions of slots of table t
// (manager.PositionsFunc).
func (q *SlotQueries) Positions(ctx context.Context, node meta.NodeInfo, t meta.TableID, slots []meta.SlotID) (map[meta.SlotID]manager.Position, error) {
	out := make(map[meta.SlotID]manager.Position, len(slots))
	if node.ID == q.Self {
		for _, s := range slots {
			out[s] = q.position(t, s)
		}
		return out, nil
	}
	raw, err := q.Links.Do(node.Peer, peer.ClassForward, 0, peer.Positions{Table: t, Slots: slots}).Wait(ctx, 3*time.Second)
	if err != nil {
		return nil, err
	}
	elems, err := peer.Elems(raw)
	if err != nil || len(elems) != len(slots) {
		return nil, fmt.Errorf("positions from %s: bad reply %.60q", node.ID, raw)
	}
	for i, e := range elems {
		triple, err := peer.Elems(e)
		if err != nil || len(triple) != 3 {
			return nil, fmt.Errorf("positions from %s: bad reply", node.ID)
		}
		ep, err1 := peer.Int(triple[0])
		ix, err2 := peer.Int(triple[1])
		sv, err3 := peer.Int(triple[2])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("positions from %s: bad reply", node.ID)
		}
		out[slots[i]] = manager.Position{Epoch: meta.Epoch(ep), Index: uint64(ix), Serving: meta.Epoch(sv)}
	}
	return out, nil
}

// HandlePositions answers POSITIONS: [epoch, last index, serving epoch]
// for each slot asked.
func (q *SlotQueries) HandlePositions(w *resp.Reply, req peer.Positions) {
	w.Array(len(req.Slots))
	for _, s := range req.Slots {
		p := q.position(req.Table, s)
		w.Array(3)
		w.Int(int64(p.Epoch))
		w.Int(int64(p.Index))
		w.Int(int64(p.Serving))
	}
}

// Checksum returns node's checksum of slot s of table t
// (manager.ChecksumFunc).
func (q *SlotQueries) Checksum(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID) (manager.SlotSum, error) {
	if node.ID == q.Self {
		sum, err := q.Store.SlotChecksum(t, s)
		return manager.SlotSum{Index: uint64(sum.Index), Epoch: sum.Epoch, Sum: sum.Sum, Keys: sum.Keys}, err
	}
	raw, err := q.Links.Do(node.Peer, peer.ClassForward, uint32(s), peer.Checksum{Table: t, Slot: s}).Wait(ctx, 30*time.Second)
	if err != nil {
		return manager.SlotSum{}, err
	}
	el, err := peer.Elems(raw)
	if err != nil || len(el) != 4 {
		return manager.SlotSum{}, fmt.Errorf("checksum from %s: bad reply %.60q", node.ID, raw)
	}
	ix, err1 := peer.Int(el[0])
	ep, err2 := peer.Int(el[1])
	sumText, err3 := peer.Bulk(el[2])
	keys, err4 := peer.Int(el[3])
	sum, err5 := strconv.ParseUint(string(sumText), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
		return manager.SlotSum{}, fmt.Errorf("checksum from %s: bad reply", node.ID)
	}
	return manager.SlotSum{Index: uint64(ix), Epoch: meta.Epoch(ep), Sum: sum, Keys: keys}, nil
}

// HandleChecksum answers CHECKSUM: [index, epoch, sum, keys].
func (q *SlotQueries) HandleChecksum(w *resp.Reply, req peer.Checksum) {
	sum, err := q.Store.SlotChecksum(req.Table, req.Slot)
	if err != nil {
		w.Error("ERR checksum: " + err.Error())
		return
	}
	w.Array(4)
	w.Int(int64(sum.Index))
	w.Int(int64(sum.Epoch))
	w.BulkString(strconv.FormatUint(sum.Sum, 10))
	w.Int(sum.Keys)
}

// Size returns node's estimate of slot s of table t's size in bytes
// (manager.Config.SlotSize).
func (q *SlotQueries) Size(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID) (int64, error) {
	if node.ID == q.Self {
		return q.Store.SlotSize(t, s)
	}
	raw, err := q.Links.Do(node.Peer, peer.ClassForward, uint32(s), peer.SlotSize{Table: t, Slot: s}).Wait(ctx, 3*time.Second)
	if err != nil {
		return 0, err
	}
	v, err := peer.Int(raw)
	if err != nil {
		return 0, fmt.Errorf("slot size from %s: bad reply %.60q", node.ID, raw)
	}
	return v, nil
}

// HandleSlotSize answers SLOTSIZE: the slot's estimated size in bytes.
func (q *SlotQueries) HandleSlotSize(w *resp.Reply, req peer.SlotSize) {
	size, err := q.Store.SlotSize(req.Table, req.Slot)
	if err != nil {
		w.Error("ERR slot size: " + err.Error())
		return
	}
	w.Int(size)
}
