package node

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/replication/multiraft"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Raft mode on the node: the multiraft host runs the groups of the raft
// tables' slots this node holds; its messages travel on peer connections
// of their own (peer.ClassRaft), so they never queue behind forwarded
// commands that wait for those very messages to commit.

// raftPeerID is a node's id inside raft groups: its 64-bit hex id, or a
// hash of an id that is not one.
func raftPeerID(id meta.NodeID) multiraft.PeerID {
	if v, err := strconv.ParseUint(string(id), 16, 64); err == nil && v != 0 {
		return v
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() | 1
}

// startRaft builds the host; Run drives it.
func (n *Node) startRaft() {
	n.raftReports = make(chan struct{}, 1)
	n.raftWanted = map[multiraft.GroupID]string{}
	n.raftSwept = map[storage.TableID]bool{}
	n.raft = multiraft.New(multiraft.Config{
		Self:  raftPeerID(n.id),
		Store: n.eng,
		Send:  n.sendRaft,
		OnLeader: func(multiraft.GroupID, uint64) {
			select {
			case n.raftReports <- struct{}{}:
			default:
			}
		},
		StreamSnapshot: n.streamRaftSnapshot,
		Log:            n.log.With("component", "raft"),
	})
	none := map[multiraft.PeerID]string{}
	n.raftAddrs.Store(&none)
	noIDs := map[multiraft.PeerID]meta.NodeID{}
	n.raftNodes.Store(&noIDs)
}

// setRaftAddrs records the peer address and node id of every live node
// by raft id.
func (n *Node) setRaftAddrs(snap *router.Snapshot) {
	m := map[multiraft.PeerID]string{}
	ids := map[multiraft.PeerID]meta.NodeID{}
	for _, info := range snap.Nodes() {
		m[raftPeerID(info.ID)] = info.Peer
		ids[raftPeerID(info.ID)] = info.ID
	}
	n.raftAddrs.Store(&m)
	n.raftNodes.Store(&ids)
}

// commits gives a table's storage.Committer: a raft table's writes are
// admitted and committed by its slots' raft groups, an async table's are
// admitted by asyncLeader and committed locally.
func (n *Node) commits(t storage.TableID) storage.Committer {
	if tb, ok := n.snap.Load().Table(t); ok && tb.Mode == meta.ModeRaft && n.raft != nil {
		return n.raft
	}
	return asyncLeader{n}
}

// asyncLeader admits a write of an async table's slots only while this
// node's routing names it their leader and no handover fences them. It is
// asked under the slots' locks, so it closes the window between routing a
// write here and evaluating it, in which a switchover's fence may have
// been published: without it the write landed in the old leader's log
// after the position the switchover handed over at, acknowledged and then
// lost (TestSlotMoves saw it). A refused write had no effect: it is routed
// again (the new leader runs it).
type asyncLeader struct{ n *Node }

func (a asyncLeader) Admit(t storage.TableID, slots []storage.SlotID) error {
	tb, ok := a.n.snap.Load().Table(t)
	if !ok {
		return &notLeaderError{table: t, reason: "the table is not served here"}
	}
	for _, s := range slots {
		if r := tb.Route(s); r.Leader != a.n.id || r.Handover {
			return &notLeaderError{table: t, slot: s, reason: "its leadership moved"}
		}
	}
	return nil
}

func (a asyncLeader) Commit(b *storage.Batch) error { return b.CommitLocal() }

// notLeaderError refuses a write of a slot this node no longer leads (or
// not yet: a handover fences it); nothing was applied.
type notLeaderError struct {
	table  storage.TableID
	slot   storage.SlotID
	reason string
}

func (e *notLeaderError) Error() string {
	return fmt.Sprintf("table %d slot %d: %s", e.table, e.slot, e.reason)
}

// Unapplied: the write is routed again (command.Unapplied).
func (e *notLeaderError) Unapplied() bool { return true }

// RedisError is the reply when it cannot be routed again.
func (e *notLeaderError) RedisError() string {
	return "CLUSTERDOWN the slot's leadership is changing; retry"
}

// raftGroups is the node's raft host as routing sees it (router.RaftView).
type raftGroups struct{ n *Node }

// raftView returns the routing's view of this node's raft groups, nil
// when it runs none.
func (n *Node) raftView() router.RaftView {
	if n.raft == nil {
		return nil
	}
	return raftGroups{n}
}

func (v raftGroups) RaftLeader(t meta.TableID, s router.SlotID) router.RaftLeader {
	st := v.n.raft.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	if !st.Running || st.Leader == 0 {
		return router.RaftLeader{}
	}
	if st.Leader == raftPeerID(v.n.id) {
		return router.RaftLeader{Known: true, Self: true, Node: v.n.id}
	}
	return router.RaftLeader{Known: true, Node: (*v.n.raftNodes.Load())[st.Leader]}
}

// raftLeads reports whether this node leads slot s's raft group.
func (n *Node) raftLeads(t storage.TableID, s storage.SlotID) bool {
	st := n.raft.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	return st.Running && st.Leader == raftPeerID(n.id)
}

// sendRaft ships a batch to a peer (peer.Raft); the returned function
// waits for its +OK.
func (n *Node) sendRaft(to multiraft.PeerID, batch []byte) func() error {
	addr := (*n.raftAddrs.Load())[to]
	if addr == "" {
		return func() error { return fmt.Errorf("raft peer %x is not alive", to) }
	}
	f := n.links.Do(addr, peer.ClassRaft, 0, peer.Raft{Batch: batch})
	f.Flush()
	return func() error {
		raw, err := f.Wait(context.Background(), 2*time.Second)
		if err != nil {
			return err
		}
		if err := peer.ReplyErr(raw); err != nil {
			return fmt.Errorf("raft peer %x refused: %w", to, err)
		}
		return nil
	}
}

// peerRaft is the RAFT request: a batch of raft messages for our groups.
func (n *Node) peerRaft(c *command.Ctx, req peer.Raft) {
	if err := n.raft.Deliver(req.Batch); err != nil {
		n.log.Warn("bad raft batch from a peer", "err", err)
		c.R.Error("ERR " + err.Error())
		return
	}
	c.R.Simple("OK")
}

// peerRaftTransfer is RAFTTRANSFER <table> <slot> <node>: hand the
// group's leadership to node (switchover and drain of raft tables).
func (n *Node) peerRaftTransfer(c *command.Ctx, req peer.RaftTransfer) {
	n.raft.TransferLeader(multiraft.GroupID{Table: req.Table, Slot: req.Slot}, raftPeerID(meta.NodeID(req.To)))
	c.R.Simple("OK")
}

// ensureRaftGroups runs a group for every slot of a raft table that this
// node holds (applyState's goroutine).
func (n *Node) ensureRaftGroups(t *router.Table) {
	for s := range t.Slots {
		r := t.Route(storage.SlotID(s))
		g := multiraft.GroupID{Table: t.ID, Slot: storage.SlotID(s)}
		if !slices.Contains(r.Replicas, n.id) && !slices.Contains(r.Learners, n.id) && !slices.Contains(r.Removing, n.id) {
			delete(n.raftWanted, g)
			running := n.raft.GroupStatus(g).Running
			if running {
				// No longer a replica (removed while it ran): stop the
				// group and delete the slot here. The slot is deleted
				// once the group has stopped: a group still running
				// would go on writing its state.
				select {
				case <-n.raft.Remove(g):
				case <-time.After(5 * time.Second):
					n.log.Warn("a raft group did not stop in 5 s; its slot is deleted anyway", "group", g.String())
				}
			} else if !n.raftSwept[t.ID] {
				// The first look at the table since this node started:
				// a group it was removed from while it was down left
				// its state here. Kept, a later move back to this node
				// would open the group with that old membership and
				// log instead of joining afresh (make chaos: such a
				// move never caught up).
				has, err := n.eng.HasRaftState(t.ID, storage.SlotID(s))
				if err != nil || !has {
					continue
				}
			} else {
				continue
			}
			if err := n.eng.ResetSlot(t.ID, storage.SlotID(s)); err != nil {
				n.log.Error("delete a raft slot this node no longer holds", "group", g.String(), "err", err)
			} else {
				n.log.Info("deleted a raft slot this node no longer holds", "group", g.String(), "was_running", running)
			}
			continue
		}
		// Every metadata change re-runs this for every slot of every raft
		// table (thousands); tell the host only what changed. A node
		// being removed keeps its group (not wanted: a leader hands its
		// leadership over) until the group's new configuration is known.
		key := fmt.Sprint(r.Replicas, r.Learners, r.Removing)
		if n.raftWanted[g] == key && n.raft.GroupStatus(g).Running {
			continue
		}
		n.raftWanted[g] = key
		n.raft.Ensure(g, multiraft.Membership{Voters: raftIDs(r.Replicas), Learners: raftIDs(r.Learners)}, r.Leader == n.id)
	}
	n.raftSwept[t.ID] = true
}

func raftIDs(ids []meta.NodeID) []multiraft.PeerID {
	out := make([]multiraft.PeerID, len(ids))
	for i, id := range ids {
		out[i] = raftPeerID(id)
	}
	return out
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

// reportRaftLeaders keeps the routing in step with the raft groups this
// node leads: on every new leadership, and every second for reports that
// got lost (a manager change), it sends the manager the groups whose slot
// record names another leader or an older term.
func (n *Node) reportRaftLeaders(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.raftReports:
			// Let a burst of elections (a node died) gather.
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		case <-tick.C:
		}
		snap := n.snap.Load()
		if snap == nil {
			continue
		}
		var reports []api.RaftLeader
		for _, t := range snap.Tables() {
			if t.Mode != meta.ModeRaft {
				continue
			}
			for s := range t.Slots {
				st := n.raft.GroupStatus(multiraft.GroupID{Table: t.ID, Slot: storage.SlotID(s)})
				if !st.Running || st.Leader != raftPeerID(n.id) {
					continue
				}
				r := t.Route(storage.SlotID(s))
				rep := api.RaftLeader{Table: t.ID, Slot: storage.SlotID(s), Node: n.id, Term: st.Term}
				added := (len(r.Learners) > 0 || len(r.Removing) > 0) && n.learnersPromoted(multiraft.GroupID{Table: t.ID, Slot: storage.SlotID(s)}, r)
				if added {
					rep.Voters = slices.Concat(r.Replicas, r.Learners)
				}
				if r.Leader != n.id || uint64(r.Epoch) < st.Term || added {
					reports = append(reports, rep)
				}
			}
		}
		if len(reports) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := n.member.FollowRaftLeaders(rctx, reports)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Debug("report raft leaders", "groups", len(reports), "err", err)
		}
	}
}

// transferRaftLeader asks node (the leader of slot s of table t) to hand
// the group's leadership to another replica (manager.Config.TransferLeader).
func (n *Node) transferRaftLeader(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID, to meta.NodeID) error {
	if node.ID == n.id {
		n.raft.TransferLeader(multiraft.GroupID{Table: t, Slot: s}, raftPeerID(to))
		return nil
	}
	req := peer.RaftTransfer{Table: t, Slot: s, To: string(to)}
	raw, err := n.links.Do(node.Peer, peer.ClassForward, uint32(s), req).Wait(ctx, 3*time.Second)
	if err != nil {
		return err
	}
	if err := peer.ReplyErr(raw); err != nil {
		return fmt.Errorf("%s refused the transfer: %w", node.ID, err)
	}
	return nil
}

// streamRaftSnapshot copies a raft slot to a follower ahead of raft's
// snapshot message (multiraft.Config.StreamSnapshot): peer.RaftSnapBegin,
// then peer.RaftSnapData chunks of about 1 MB, each acknowledged, as
// peer.ClassRaftSnapshot, so raft messages do not wait behind them.
func (n *Node) streamRaftSnapshot(st multiraft.SnapshotStream) error {
	addr := (*n.raftAddrs.Load())[st.To]
	if addr == "" {
		return fmt.Errorf("raft peer %x is not alive", st.To)
	}
	head := peer.RaftSnapHead{Table: st.Group.Table, Slot: st.Group.Slot, From: raftPeerID(n.id), Index: st.Index, Term: st.Term}
	do := func(req peer.Request) error {
		raw, err := n.links.Do(addr, peer.ClassRaftSnapshot, 0, req).Wait(st.Ctx, 30*time.Second)
		if err != nil {
			return err
		}
		return peer.ReplyErr(raw)
	}
	if err := do(peer.RaftSnapBegin{RaftSnapHead: head}); err != nil {
		return err
	}
	for {
		chunk, done, err := st.Next(1 << 20)
		if err != nil {
			return err
		}
		if err := do(peer.RaftSnapData{RaftSnapHead: head, Last: done, Chunk: chunk}); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// peerRaftSnapBegin and peerRaftSnapData serve a raft snapshot streamed
// by the group's leader (streamRaftSnapshot): it is staged beside the
// slot until raft's snapshot message lands it.
func (n *Node) peerRaftSnapBegin(c *command.Ctx, req peer.RaftSnapBegin) {
	h := req.RaftSnapHead
	g := multiraft.GroupID{Table: h.Table, Slot: h.Slot}
	n.raftSnapReply(c, g, n.raft.BeginInstall(g, h.From, h.Index, h.Term))
}

func (n *Node) peerRaftSnapData(c *command.Ctx, req peer.RaftSnapData) {
	h := req.RaftSnapHead
	g := multiraft.GroupID{Table: h.Table, Slot: h.Slot}
	eff, err := storage.DecodeEffect(req.Chunk)
	if err == nil {
		err = n.raft.StageChunk(g, h.From, h.Index, h.Term, eff.Ops, req.Last)
	}
	n.raftSnapReply(c, g, err)
}

func (n *Node) raftSnapReply(c *command.Ctx, g multiraft.GroupID, err error) {
	if err != nil {
		n.log.Warn("raft snapshot from a peer refused", "group", g.String(), "err", err)
		c.R.Error("ERR " + err.Error())
		return
	}
	c.R.OK()
}

// learnersPromoted reports whether g's configuration is exactly what route
// r wants: its replicas and its learners all voters, nobody else (the
// replicas being removed are gone).
func (n *Node) learnersPromoted(g multiraft.GroupID, r router.Route) bool {
	voters, learners := n.raft.Conf(g)
	want := raftIDs(slices.Concat(r.Replicas, r.Learners))
	if len(learners) > 0 || len(voters) != len(want) {
		return false
	}
	for _, v := range want {
		if !slices.Contains(voters, v) {
			return false
		}
	}
	return true
}

// raftLeaderElsewhere reports whether slot s's raft group here knows a
// leader other than this node (the routing has not followed yet).
func (n *Node) raftLeaderElsewhere(t storage.TableID, s storage.SlotID) bool {
	st := n.raft.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	return st.Running && st.Leader != 0 && st.Leader != raftPeerID(n.id)
}
