package manager

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// catchUpTimeout bounds how long a switchover waits for its target.
const catchUpTimeout = 10 * time.Second

// switchover hands slot n of table t from its leader to a follower without
// losing acknowledged writes: it fences the leader (state handover, epoch
// + 1: the leader runs no client command for the slot, nodes hold the
// slot's commands), waits until the target's log position equals the
// leader's and is stable, then publishes the target as leader (epoch + 2).
// If the target does not catch up in time the fence is lifted.
func (l *leadership) switchover(ctx context.Context, table string, n meta.SlotID, to meta.NodeID) (api.Switchover, error) {
	start := time.Now()
	lay := l.m.cfg.Layout
	st, err := l.load(ctx)
	if err != nil {
		return api.Switchover{}, err
	}
	t, ok := st.Tables[table]
	if !ok {
		return api.Switchover{}, errf(http.StatusNotFound, "no table %q", table)
	}
	if uint32(n) >= t.Slots {
		return api.Switchover{}, errf(http.StatusNotFound, "table %s has no slot %d", table, n)
	}
	si := st.Slots[t.ID][n]
	old := si.Leader
	res := api.Switchover{Table: table, Slot: n, From: old}
	if _, alive := st.Alive[old]; !alive {
		return res, errf(http.StatusConflict, "slot %d's leader %s is down: failover handles it", n, old)
	}
	if to == "" { // the most advanced live follower whose disk has room
		var best Position
		for _, r := range si.Replicas {
			if info, alive := st.Alive[r]; !alive || r == old || info.DiskFull {
				continue
			}
			pos, err := l.position(ctx, st, r, t.ID, n)
			if err == nil && (to == "" || best.Less(pos)) {
				to, best = r, pos
			}
		}
		if to == "" {
			return res, errf(http.StatusConflict, "slot %d of %s has no live follower to hand over to", n, table)
		}
	}
	res.To = to
	switch _, alive := st.Alive[to]; {
	case to == old:
		// Already done (a raft group may have elected it meanwhile, or
		// a hand-over was retried): nothing to do.
		res.Epoch, res.Took, res.Paused = si.Epoch, time.Since(start).String(), "0s"
		return res, nil
	case !slices.Contains(si.Replicas, to):
		return res, errf(http.StatusBadRequest, "%s is not a replica of slot %d (replicas %v)", to, n, si.Replicas)
	case !alive:
		return res, errf(http.StatusConflict, "%s is down", to)
	}
	if t.Mode == meta.ModeRaft {
		return l.raftSwitchover(ctx, st, t, n, res)
	}
	// Fence.
	fenced := si
	fenced.Epoch++
	fenced.State = meta.SlotHandover
	key := lay.Slot(t.ID, n)
	g, err := l.m.cli.Get(ctx, key)
	if err != nil {
		return res, unavailable(err)
	}
	if len(g.Kvs) == 0 {
		return res, errf(http.StatusNotFound, "slot %d of %s has no record", n, table)
	}
	ok, err = l.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", g.Kvs[0].ModRevision)}, clientv3.OpPut(key, jsonString(fenced)))
	if err != nil {
		return res, err
	}
	if !ok {
		return res, errf(http.StatusConflict, "slot %d of %s changed meanwhile; retry", n, table)
	}
	fenceAt := time.Now()
	// Wait for the old leader to serve the fence (from then on it admits
	// no write of the slot, and its position was read after the writes in
	// flight committed: final), and for the target to have all of it.
	var last Position
	deadline := time.Now().Add(catchUpTimeout)
	for {
		pOld, err1 := l.position(ctx, st, old, t.ID, n)
		pTo, err2 := l.position(ctx, st, to, t.ID, n)
		if err1 == nil && err2 == nil && pOld.Serving >= fenced.Epoch && pOld.SameLog(pTo) {
			last = pOld
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			undo := si
			undo.Epoch = fenced.Epoch + 1
			if _, err := l.txn(context.WithoutCancel(ctx), nil, clientv3.OpPut(key, jsonString(undo))); err != nil {
				return res, fmt.Errorf("target %s did not catch up, and lifting the fence failed: %w", to, err)
			}
			return res, errf(http.StatusConflict, "target %s did not catch up with %s within %s (at %v vs %v); the fence is lifted", to, old, catchUpTimeout, pTo, pOld)
		}
		time.Sleep(5 * time.Millisecond) // the fence holds writes: poll tight
	}
	// Switch.
	next := si
	next.Epoch = fenced.Epoch + 1
	next.Leader = to
	next.State = meta.SlotServing
	if _, err := l.txn(ctx, nil, clientv3.OpPut(key, jsonString(next))); err != nil {
		return res, err
	}
	res.Epoch = next.Epoch
	res.Index = last.Index
	res.Paused = time.Since(fenceAt).String()
	res.Took = time.Since(start).String()
	l.m.log.Info("switchover", "table", table, "slot", n, "from", old, "to", to, "index", last.Index, "paused", res.Paused)
	return res, nil
}

func (l *leadership) position(ctx context.Context, st *meta.State, node meta.NodeID, t meta.TableID, n meta.SlotID) (Position, error) {
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	got, err := l.m.cfg.Positions(pctx, st.Alive[node], t, []meta.SlotID{n})
	if err != nil {
		return Position{}, err
	}
	return got[n], nil
}

// drain hands every slot node leads over to a follower, one at a time.
func (l *leadership) drain(ctx context.Context, node meta.NodeID) (api.Drain, error) {
	st, err := l.load(ctx)
	if err != nil {
		return api.Drain{}, err
	}
	if _, ok := st.Alive[node]; !ok {
		return api.Drain{}, errf(http.StatusConflict, "node %s is not alive", node)
	}
	res := api.Drain{Node: node}
	start := time.Now()
	for _, t := range st.SortedTables() {
		for n := range t.Slots {
			si := st.Slots[t.ID][meta.SlotID(n)]
			if si.Leader != node {
				continue
			}
			if len(si.Replicas) < 2 {
				res.Stuck = append(res.Stuck, fmt.Sprintf("%s/%d (no other replica)", t.Name, n))
				continue
			}
			if _, err := l.switchover(ctx, t.Name, meta.SlotID(n), ""); err != nil {
				res.Stuck = append(res.Stuck, fmt.Sprintf("%s/%d (%v)", t.Name, n, err))
				continue
			}
			res.Moved++
		}
	}
	res.Took = time.Since(start).String()
	return res, nil
}

var errNoPositions = errf(http.StatusServiceUnavailable, "this manager cannot read log positions")

// Switchover hands a slot's leadership over; only the manager may.
func (m *Member) Switchover(ctx context.Context, table string, n meta.SlotID, to meta.NodeID) (api.Switchover, error) {
	if m.cfg.Positions == nil {
		return api.Switchover{}, errNoPositions
	}
	return asManager(m, func(l *leadership) (api.Switchover, error) { return l.switchover(ctx, table, n, to) })
}

// Drain moves every leadership off a node; only the manager may.
func (m *Member) Drain(ctx context.Context, node meta.NodeID) (api.Drain, error) {
	if m.cfg.Positions == nil {
		return api.Drain{}, errNoPositions
	}
	return asManager(m, func(l *leadership) (api.Drain, error) { return l.drain(ctx, node) })
}
