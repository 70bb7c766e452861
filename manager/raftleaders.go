package manager

import (
	"context"
	"fmt"
	"slices"

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
	return api.NewClient(info.HTTP).ReportRaftLeaders(ctx, reports)
}

func (l *leadership) followRaftLeaders(ctx context.Context, reports []api.RaftLeader) error {
	l.m.opMu.Lock()
	defer l.m.opMu.Unlock()
	st, err := l.load(ctx)
	if err != nil {
		return err
	}
	lay := l.m.cfg.Layout
	var ops []clientv3.Op
	for _, r := range reports {
		t, ok := st.TableByID(r.Table)
		if !ok || t.Mode != meta.ModeRaft {
			continue
		}
		si, ok := st.Slots[r.Table][r.Slot]
		if !ok || !slices.Contains(si.Replicas, r.Node) {
			continue
		}
		if meta.Epoch(r.Term) <= si.Epoch {
			continue // stale, or already routed
		}
		si.Leader = r.Node
		si.Epoch = meta.Epoch(r.Term)
		si.State = meta.SlotServing
		ops = append(ops, clientv3.OpPut(lay.Slot(r.Table, r.Slot), jsonString(si)))
	}
	if len(ops) == 0 {
		return nil
	}
	if err := l.putChunks(ctx, ops); err != nil {
		return fmt.Errorf("follow raft leaders: %w", err)
	}
	l.m.log.Debug("routing follows raft leaders", "slots", len(ops))
	return nil
}
