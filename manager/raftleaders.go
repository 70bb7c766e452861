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

// Raft-mode tables elect their slots' leaders inside each slot's raft
// group; the manager only follows them for routing. A node that becomes a
// group's leader (or finds the routing behind its groups) reports it, and
// the manager writes the slot record: leader = the reporter, epoch = the
// group's term. Terms only grow, so a stale report (a lower or equal term
// than the record's) changes nothing, and two reporters of one term cannot
// both win: raft elects at most one leader per term.

// FollowRaftLeaders applies reports of raft leadership; on a node without
// the manager role it sends them to the manager.
func (m *Member) FollowRaftLeaders(ctx context.Context, reports []api.RaftLeader) error {
	if l, err := m.leading(); err == nil {
		return l.followRaftLeaders(ctx, reports)
	}
	st := m.State()
	if st == nil {
		return errNotManager
	}
	info, ok := st.Alive[st.Manager()]
	if !ok || info.HTTP == "" {
		return errf(503, "no manager is elected right now")
	}
	return m.apiClient(info.HTTP).WithPeerSecret(st.Secret).ReportRaftLeaders(ctx, reports)
}

// followRaftLeaders does not take the operations lock: a raft switchover
// holds it while it waits for the report of the new leader. Each record
// is written only if it did not change since the state it was computed
// from (a slot move adds learners meanwhile); else the reports are
// applied again to a fresh state.
func (l *leadership) followRaftLeaders(ctx context.Context, reports []api.RaftLeader) error {
	for {
		retry, err := l.followRaftLeadersOnce(ctx, reports)
		if err != nil || !retry {
			return err
		}
	}
}

func (l *leadership) followRaftLeadersOnce(ctx context.Context, reports []api.RaftLeader) (retry bool, err error) {
	st, err := l.load(ctx)
	if err != nil {
		return false, err
	}
	lay := l.m.cfg.Layout
	var ops []clientv3.Op
	var cmps []clientv3.Cmp
	for _, r := range reports {
		t, ok := st.TableByID(r.Table)
		if !ok || t.Mode != meta.ModeRaft {
			continue
		}
		si, ok := st.Slots[r.Table][r.Slot]
		if !ok || !slices.Contains(si.Replicas, r.Node) {
			continue
		}
		changed := false
		if meta.Epoch(r.Term) > si.Epoch {
			si.Leader = r.Node
			si.Epoch = meta.Epoch(r.Term)
			si.State = meta.SlotServing
			changed = true
		}
		if len(r.Voters) > 0 && (len(si.Learners) > 0 || len(si.Removing) > 0) && si.Leader == r.Node && meta.Epoch(r.Term) >= si.Epoch &&
			sameMembers(r.Voters, slices.Concat(si.Replicas, si.Learners)) {
			// The replicas being added are voters now, those being
			// removed are gone.
			si.Replicas = slices.Concat(si.Replicas, si.Learners)
			si.Learners = nil
			si.Removing = nil
			changed = true
			l.m.log.Info("raft replicas added", "table", t.Name, "slot", r.Slot, "replicas", fmt.Sprint(si.Replicas))
		}
		if !changed {
			continue // stale, or already routed
		}
		key := lay.Slot(r.Table, r.Slot)
		ops = append(ops, clientv3.OpPut(key, jsonString(si)))
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "<", st.Revision+1))
	}
	if len(ops) == 0 {
		return false, nil
	}
	written := len(ops)
	for len(ops) > 0 {
		n := min(len(ops), opsPerTxn)
		ok, err := l.txn(ctx, cmps[:n], ops[:n]...)
		if err != nil {
			return false, fmt.Errorf("follow raft leaders: %w", err)
		}
		if !ok {
			return true, nil // a record changed since the load
		}
		ops, cmps = ops[n:], cmps[n:]
	}
	l.m.log.Debug("routing follows raft leaders", "slots", written)
	return false, nil
}

// raftSwitchover hands a raft slot's leadership to node to: the leader's
// group transfers it (raft's leader transfer waits for the target to have
// the whole log), and the routing follows the new leader's report.
func (l *leadership) raftSwitchover(ctx context.Context, st *meta.State, t meta.TableInfo, n meta.SlotID, res api.Switchover) (api.Switchover, error) {
	start := time.Now()
	if l.m.cfg.TransferLeader == nil {
		return res, errf(http.StatusNotImplemented, "this node cannot transfer raft leadership")
	}
	deadline := time.Now().Add(catchUpTimeout)
	for {
		if err := l.m.cfg.TransferLeader(ctx, st.Alive[res.From], t.ID, n, res.To); err != nil {
			l.m.log.Warn("raft leader transfer request", "table", t.Name, "slot", n, "err", err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		got, err := l.m.WaitState(wctx, func(st *meta.State) bool { return st.Slots[t.ID][n].Leader == res.To })
		cancel()
		if err == nil {
			si := got.Slots[t.ID][n]
			res.Epoch = si.Epoch
			res.Took = time.Since(start).String()
			res.Paused = "0s"
			l.m.log.Info("raft switchover", "table", t.Name, "slot", n, "from", res.From, "to", res.To, "term", si.Epoch)
			return res, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, errf(http.StatusConflict, "raft group of slot %d did not hand leadership to %s within %s", n, res.To, catchUpTimeout)
		}
	}
}

func sameMembers(a, b []meta.NodeID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
