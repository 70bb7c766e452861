package node

import (
	"context"
	"errors"
	"slices"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/replication"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The node's side of raft mode: replication.Raft runs the groups; the node
// gives it the routing, asks it how a raft table's writes commit and who
// leads a slot, and makes reads of raft slots linearizable.

// startRaft builds the node's raft mode; Run drives it.
func (n *Node) startRaft() {
	n.raft = replication.NewRaft(replication.RaftConfig{
		Self:    n.id,
		Store:   n.eng,
		Links:   n.links,
		Routing: n.proxy.Routing,
		Report:  n.member.FollowRaftLeaders,
		Log:     n.log.With("component", "raft"),
	})
}

// commits gives a table's storage.Committer: a raft table's writes are
// admitted and committed by its slots' raft groups, an async table's by
// replication.AsyncLeader.
func (n *Node) commits(t storage.TableID) storage.Committer {
	if tb, ok := n.proxy.Routing().Table(t); ok && tb.Mode == meta.ModeRaft && n.raft != nil {
		return n.raft.Committer()
	}
	return n.async
}

// raftTable reports whether table t is a raft table.
func (n *Node) raftTable(t storage.TableID) bool {
	tb, ok := n.proxy.Routing().Table(t)
	return ok && tb.Mode == meta.ModeRaft
}

// transferRaftLeader asks node (the leader of slot s of table t) to hand
// the group's leadership to another replica (manager.Config.TransferLeader;
// the manager is configured before raft mode starts).
func (n *Node) transferRaftLeader(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID, to meta.NodeID) error {
	if n.raft == nil {
		return errors.New("raft mode is not running yet")
	}
	return n.raft.TransferLeader(ctx, node, t, s, to)
}

// raftView returns the routing's view of this node's raft groups, nil
// when it runs none.
func (n *Node) raftView() router.RaftView {
	if n.raft == nil {
		return nil
	}
	return n.raft
}

// linearizable makes a read of a raft table linearizable before it runs
// here; it returns the error reply ("" to go on), and moved when the
// slot's leader moved (the read can run on the new one).
func (n *Node) linearizable(tb *router.Table, spec *command.Spec, args [][]byte) (msg string, moved bool) {
	if tb == nil || tb.Mode != meta.ModeRaft {
		return "", false
	}
	slots := readSlots(spec, args, tb.Slots)
	if len(slots) == 0 {
		return "", false
	}
	return n.raftReadBarrier(tb.ID, slots)
}

// raftReadBarrier makes a read of the given slots of a raft table
// linearizable (ReadIndex); it returns the error reply ("" to go on), and
// moved when a slot's leader moved.
func (n *Node) raftReadBarrier(t storage.TableID, slots []storage.SlotID) (msg string, moved bool) {
	for _, s := range slots {
		if err := n.raft.ReadBarrier(context.Background(), t, s); err != nil {
			msg, _ := command.ErrorReply(err)
			return msg, command.IsUnapplied(err)
		}
	}
	return "", false
}

// readSlots returns the slots a read command touches (nil for a write or
// a keyless command).
func readSlots(spec *command.Spec, args [][]byte, slots uint32) []storage.SlotID {
	if spec.Flags&command.Write != 0 {
		return nil
	}
	keys, err := spec.KeysOf(args)
	if err != nil || len(keys) == 0 {
		return nil
	}
	out := make([]storage.SlotID, 0, 1)
	for _, k := range keys {
		s := router.SlotOf(k, slots)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
