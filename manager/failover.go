package manager

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/manager/meta"
)

// failoverLoop promotes a follower for every slot whose leader's node is
// gone (its lease expired), whenever the metadata changes, until the role
// is lost. Many slots fail over in one pass: one positions request per
// (node, table), then the slot records in transactions of opsPerTxn.
func (l *leadership) failoverLoop(ctx context.Context) {
	var seen int64
	deadSince := map[meta.NodeID]time.Time{}
	for ctx.Err() == nil {
		// Wake on a metadata change, or every second to time dead replicas.
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := l.m.WaitState(wctx, func(st *meta.State) bool { return st.Revision != seen })
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			st = l.m.State()
		}
		if st == nil {
			continue
		}
		if l.m.cfg.ReplicaDownTimeout > 0 {
			if n, err := l.replaceDeadReplicas(ctx, st, deadSince); err != nil {
				l.m.log.Warn("replica maintenance", "err", err, "replaced", n)
			}
		}
		if st.Revision == seen {
			continue
		}
		seen = st.Revision
		l.relieveFullDisks(ctx, st)
		if n, err := l.failOver(ctx, st); err != nil {
			l.m.log.Warn("failover pass", "err", err, "promoted", n)
			select { // retry soon even without a metadata change
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			seen = 0
		}
	}
}

// relieveFullDisks hands the slots led by live nodes whose disk is full
// (meta.NodeInfo.DiskFull: they refuse clients' writes) to followers that
// can write, as a drain would. A slot with no such follower stays: its
// writes are refused until space is freed. Runs on each new state; a
// slot that could not move is tried again at the next one.
func (l *leadership) relieveFullDisks(ctx context.Context, st *meta.State) {
	for id, info := range st.Alive {
		if !info.DiskFull {
			continue
		}
		for _, t := range st.SortedTables() {
			for n, si := range st.Slots[t.ID] {
				if si.Leader != id || !l.canTake(st, si) {
					continue
				}
				l.m.opMu.Lock()
				res, err := l.switchover(ctx, t.Name, n, "")
				l.m.opMu.Unlock()
				if err != nil {
					l.m.log.Warn("hand over a slot of a full disk", "node", id, "table", t.Name, "slot", n, "err", err)
					continue
				}
				l.m.log.Info("handed over a slot of a full disk", "node", id, "table", t.Name, "slot", n, "to", res.To)
			}
		}
	}
}

// canTake reports whether a live replica of si other than its leader has
// room on its disk.
func (l *leadership) canTake(st *meta.State, si meta.SlotInfo) bool {
	for _, r := range si.Replicas {
		if info, alive := st.Alive[r]; alive && r != si.Leader && !info.DiskFull {
			return true
		}
	}
	return false
}

// orphan is a slot whose leader is gone.
type orphan struct {
	table meta.TableID
	slot  meta.SlotID
	info  meta.SlotInfo
}

// failOver runs one pass and returns how many slots it promoted.
func (l *leadership) failOver(ctx context.Context, st *meta.State) (int, error) {
	var orphans []orphan
	for _, t := range st.SortedTables() {
		if t.Mode == meta.ModeRaft {
			continue // its groups elect; routing follows (raftleaders.go)
		}
		for n, si := range st.Slots[t.ID] {
			if si.Leader == "" {
				continue
			}
			if _, alive := st.Alive[si.Leader]; alive {
				continue
			}
			orphans = append(orphans, orphan{t.ID, n, si})
		}
	}
	if len(orphans) == 0 {
		return 0, nil
	}
	l.m.opMu.Lock()
	defer l.m.opMu.Unlock()
	// Ask every live replica of the orphaned slots for its positions:
	// one request per (node, table).
	type ask struct {
		node  meta.NodeID
		table meta.TableID
	}
	asks := map[ask][]meta.SlotID{}
	moves := activeMoves(st)
	for _, o := range orphans {
		for _, r := range o.info.Replicas {
			if copying(moves, o.table, o.slot, r) {
				continue // a move's target still copying the slot
			}
			if _, alive := st.Alive[r]; alive && r != o.info.Leader {
				asks[ask{r, o.table}] = append(asks[ask{r, o.table}], o.slot)
			}
		}
	}
	positions := map[ask]map[meta.SlotID]Position{}
	for a, slots := range asks {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		got, err := l.m.cfg.Positions(pctx, st.Alive[a.node], a.table, slots)
		cancel()
		if err != nil {
			l.m.log.Warn("failover: a replica did not give its positions; it is not a candidate", "node", a.node, "err", err)
			continue
		}
		positions[a] = got
	}
	lay := l.m.cfg.Layout
	// The records go out per dead leader, each write only while that
	// leader's nodes/ key is still absent: a leader that registered again
	// meanwhile keeps its slots (docs/replication.md, "Lease fence").
	ops := map[meta.NodeID][]clientv3.Op{}
	promoted := map[meta.NodeID]int{}
	slices.SortFunc(orphans, func(a, b orphan) int { return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.slot, b.slot)) })
	for _, o := range orphans {
		var best meta.NodeID
		var bestPos Position
		for _, r := range o.info.Replicas {
			pos, ok := positions[ask{r, o.table}][o.slot]
			if !ok {
				continue
			}
			if best == "" || bestPos.Less(pos) || (pos == bestPos && r < best) {
				best, bestPos = r, pos
			}
		}
		if best == "" {
			continue // no live replica answered: the slot stays down
		}
		si := o.info
		si.Leader = best
		si.Epoch++
		ops[o.info.Leader] = append(ops[o.info.Leader], clientv3.OpPut(lay.Slot(o.table, o.slot), jsonString(si)))
		promoted[best]++
	}
	if len(ops) == 0 {
		return 0, nil
	}
	start := time.Now()
	written := 0
	for dead, dops := range ops {
		absent := clientv3.Compare(clientv3.CreateRevision(lay.Node(dead)), "=", 0)
		for len(dops) > 0 {
			n := min(len(dops), opsPerTxn)
			ok, err := l.txn(ctx, []clientv3.Cmp{absent}, dops[:n]...)
			if err != nil {
				return written, fmt.Errorf("write promoted slots: %w", err)
			}
			if !ok {
				l.m.log.Info("failover: the leader registered again; its slots stay", "node", dead, "slots", len(dops))
				break
			}
			written += n
			dops = dops[n:]
		}
	}
	l.m.log.Info("failover: promoted followers", "slots", written, "orphaned", len(orphans),
		"new_leaders", fmt.Sprint(promoted), "nodes_asked", len(slices.Collect(maps.Keys(asks))), "write_took", time.Since(start))
	return written, nil
}

// replaceDeadReplicas puts the copy of every slot held by a node dead for
// longer than ReplicaDownTimeout (or no longer a member) on a live node
// that does not hold the slot, the least loaded first. The new replica is
// a follower and gets the slot by the usual means (the log, or a full
// sync). deadSince is this manager's memory of when nodes died.
func (l *leadership) replaceDeadReplicas(ctx context.Context, st *meta.State, deadSince map[meta.NodeID]time.Time) (int, error) {
	now := time.Now()
	for id := range deadSince {
		if _, alive := st.Alive[id]; alive {
			delete(deadSince, id)
		}
	}
	gone := func(id meta.NodeID) bool {
		if _, alive := st.Alive[id]; alive {
			return false
		}
		if _, member := st.Members[id]; !member {
			return true // removed
		}
		t, ok := deadSince[id]
		if !ok {
			deadSince[id] = now
			return false
		}
		return now.Sub(t) >= l.m.cfg.ReplicaDownTimeout
	}
	load := map[meta.NodeID]int{}
	for _, id := range st.PlaceableNodes() {
		load[id] = 0
	}
	moves := activeMoves(st)
	for _, slots := range st.Slots {
		for _, si := range slots {
			for _, r := range si.Replicas {
				if _, ok := load[r]; ok {
					load[r]++
				}
			}
		}
	}
	lay := l.m.cfg.Layout
	var ops []clientv3.Op
	for _, t := range st.SortedTables() {
		raftMode := t.Mode == meta.ModeRaft
		for n := range t.Slots {
			si, ok := st.Slots[t.ID][meta.SlotID(n)]
			if _, moving := moves[slotRef{t.ID, meta.SlotID(n)}]; moving {
				continue // the move job changes its replicas
			}
			if !ok || si.State == meta.SlotHandover || (raftMode && (len(si.Learners) > 0 || len(si.Removing) > 0)) {
				continue // a raft replica change is under way
			}
			changed := false
			reps := slices.Clone(si.Replicas)
			for i, r := range reps {
				if r == si.Leader || !gone(r) {
					continue
				}
				var best meta.NodeID
				for id, c := range load {
					if slices.Contains(reps, id) {
						continue
					}
					if best == "" || c < load[best] || (c == load[best] && id < best) {
						best = id
					}
				}
				if best == "" {
					continue // no spare node: the slot stays under-replicated
				}
				load[best]++
				changed = true
				if raftMode {
					// A raft group changes its membership itself: the
					// new node is a learner until its leader promotes it
					// and removes the gone one (multiraft reconcileConf);
					// the leader's report then moves it to the replicas.
					// One change per slot at a time.
					next := si
					next.Replicas = slices.Delete(reps, i, i+1)
					next.Learners = []meta.NodeID{best}
					ops = append(ops, clientv3.OpPut(lay.Slot(t.ID, meta.SlotID(n)), jsonString(next)))
					changed = false
					break
				}
				reps[i] = best
			}
			if changed {
				next := si
				next.Replicas = reps
				next.Epoch++
				ops = append(ops, clientv3.OpPut(lay.Slot(t.ID, meta.SlotID(n)), jsonString(next)))
			}
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	l.m.opMu.Lock()
	defer l.m.opMu.Unlock()
	if err := l.putChunks(ctx, ops); err != nil {
		return 0, err
	}
	l.m.log.Info("replica maintenance: copies of dead or removed nodes' slots placed on live nodes", "slots", len(ops))
	return len(ops), nil
}
