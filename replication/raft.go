package replication

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/replication/multiraft"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// RaftStore is what raft mode needs of the node's storage
// (storage.Engine): the host's store, and deleting the slots this node no
// longer holds.
type RaftStore interface {
	multiraft.Store
	HasRaftState(t storage.TableID, s storage.SlotID) (bool, error)
	ResetSlot(t storage.TableID, s storage.SlotID) error
}

// RaftConfig configures a node's raft mode.
type RaftConfig struct {
	Self  meta.NodeID
	Store RaftStore
	Links *peer.Links
	// Routing returns the node's current routing snapshot.
	Routing func() *router.Snapshot
	// Report sends the manager the node's raft leaderships that the
	// routing does not show yet (manager.Member.FollowRaftLeaders).
	Report func(ctx context.Context, reports []api.RaftLeader) error
	Log    *slog.Logger
}

// Raft is a node's raft mode: the multiraft host running the groups of
// the raft tables' slots this node holds, its transport and snapshot
// streams over the peer links (peer.ClassRaft and ClassRaftSnapshot, so
// they never queue behind forwarded commands waiting for those very
// messages to commit), the groups kept as the routing wants them (Apply),
// and the reports of new leaderships the routing must follow.
type Raft struct {
	cfg  RaftConfig
	self multiraft.PeerID
	host *multiraft.Host

	addrs   atomic.Pointer[map[multiraft.PeerID]string]      // live nodes' peer addresses
	nodes   atomic.Pointer[map[multiraft.PeerID]meta.NodeID] // and ids, by raft id
	reports chan struct{}

	// Apply's goroutine only:
	wanted map[multiraft.GroupID]string // membership last given to Ensure
	swept  map[storage.TableID]bool     // tables whose unheld slots' old state was looked for since start
}

// PeerID is a node's id inside raft groups: its 64-bit hex id, or a hash
// of an id that is not one.
func PeerID(id meta.NodeID) multiraft.PeerID {
	if v, err := strconv.ParseUint(string(id), 16, 64); err == nil && v != 0 {
		return v
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() | 1
}

// NewRaft builds the host; Run drives it.
func NewRaft(cfg RaftConfig) *Raft {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Raft{cfg: cfg, self: PeerID(cfg.Self), reports: make(chan struct{}, 1),
		wanted: map[multiraft.GroupID]string{}, swept: map[storage.TableID]bool{}}
	r.host = multiraft.New(multiraft.Config{
		Self:  r.self,
		Store: cfg.Store,
		Send:  r.send,
		OnLeader: func(multiraft.GroupID, uint64) {
			select {
			case r.reports <- struct{}{}:
			default:
			}
		},
		StreamSnapshot: r.streamSnapshot,
		Log:            cfg.Log,
	})
	none := map[multiraft.PeerID]string{}
	r.addrs.Store(&none)
	noIDs := map[multiraft.PeerID]meta.NodeID{}
	r.nodes.Store(&noIDs)
	return r
}

// Run drives the groups and reports leaderships until ctx is done, and
// returns once both have stopped.
func (r *Raft) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.host.Run(gctx) })
	g.Go(func() error {
		r.reportLeaders(gctx)
		return nil
	})
	return g.Wait()
}

// Committer admits and commits the writes of the raft tables' slots.
func (r *Raft) Committer() storage.Committer { return r.host }

// Apply follows a new routing snapshot (the node's metadata goroutine):
// the live nodes' addresses, and a group for every slot of a raft table
// this node holds, none for the others.
func (r *Raft) Apply(snap *router.Snapshot) {
	m := map[multiraft.PeerID]string{}
	ids := map[multiraft.PeerID]meta.NodeID{}
	for _, info := range snap.Nodes() {
		m[PeerID(info.ID)] = info.Peer
		ids[PeerID(info.ID)] = info.ID
	}
	r.addrs.Store(&m)
	r.nodes.Store(&ids)
	for _, t := range snap.Tables() {
		if t.Mode == meta.ModeRaft {
			r.ensureGroups(t)
		}
	}
}

// RemoveTable stops the groups of a dropped table.
func (r *Raft) RemoveTable(t storage.TableID) { r.host.RemoveTable(t) }

// ensureGroups runs a group for every slot of raft table t that this node
// holds.
func (r *Raft) ensureGroups(t *router.Table) {
	self := r.cfg.Self
	for s := range t.Slots {
		rt := t.Route(storage.SlotID(s))
		g := multiraft.GroupID{Table: t.ID, Slot: storage.SlotID(s)}
		if !slices.Contains(rt.Replicas, self) && !slices.Contains(rt.Learners, self) && !slices.Contains(rt.Removing, self) {
			delete(r.wanted, g)
			running := r.host.GroupStatus(g).Running
			if running {
				// No longer a replica (removed while it ran): stop the
				// group and delete the slot here. The slot is deleted
				// once the group has stopped: a group still running
				// would go on writing its state.
				select {
				case <-r.host.Remove(g):
				case <-time.After(5 * time.Second):
					r.cfg.Log.Warn("a raft group did not stop in 5 s; its slot is deleted anyway", "group", g.String())
				}
			} else if !r.swept[t.ID] {
				// The first look at the table since this node started:
				// a group it was removed from while it was down left
				// its state here. Kept, a later move back to this node
				// would open the group with that old membership and
				// log instead of joining afresh (make chaos: such a
				// move never caught up).
				has, err := r.cfg.Store.HasRaftState(t.ID, storage.SlotID(s))
				if err != nil || !has {
					continue
				}
			} else {
				continue
			}
			if err := r.cfg.Store.ResetSlot(t.ID, storage.SlotID(s)); err != nil {
				r.cfg.Log.Error("delete a raft slot this node no longer holds", "group", g.String(), "err", err)
			} else {
				r.cfg.Log.Info("deleted a raft slot this node no longer holds", "group", g.String(), "was_running", running)
			}
			continue
		}
		// Every metadata change re-runs this for every slot of every raft
		// table (thousands); tell the host only what changed. A node
		// being removed keeps its group (not wanted: a leader hands its
		// leadership over) until the group's new configuration is known.
		key := fmt.Sprint(rt.Replicas, rt.Learners, rt.Removing)
		if r.wanted[g] == key && r.host.GroupStatus(g).Running {
			continue
		}
		r.wanted[g] = key
		r.host.Ensure(g, multiraft.Membership{Voters: peerIDs(rt.Replicas), Learners: peerIDs(rt.Learners)}, rt.Leader == self)
	}
	r.swept[t.ID] = true
}

func peerIDs(ids []meta.NodeID) []multiraft.PeerID {
	out := make([]multiraft.PeerID, len(ids))
	for i, id := range ids {
		out[i] = PeerID(id)
	}
	return out
}

// RaftLeader is what this node's group of slot s of table t knows of the
// slot's leader (router.RaftView).
func (r *Raft) RaftLeader(t meta.TableID, s router.SlotID) router.RaftLeader {
	st := r.host.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	if !st.Running || st.Leader == 0 {
		return router.RaftLeader{}
	}
	if st.Leader == r.self {
		return router.RaftLeader{Known: true, Self: true, Node: r.cfg.Self}
	}
	return router.RaftLeader{Known: true, Node: (*r.nodes.Load())[st.Leader]}
}

// Leads reports whether this node leads slot s's raft group.
func (r *Raft) Leads(t storage.TableID, s storage.SlotID) bool {
	st := r.host.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	return st.Running && st.Leader == r.self
}

// LeaderElsewhere reports whether slot s's raft group here knows a leader
// other than this node (the routing has not followed yet).
func (r *Raft) LeaderElsewhere(t storage.TableID, s storage.SlotID) bool {
	st := r.host.GroupStatus(multiraft.GroupID{Table: t, Slot: s})
	return st.Running && st.Leader != 0 && st.Leader != r.self
}

// ReadBarrier returns once a read of slot s started now is linearizable
// here (ReadIndex), or why not.
func (r *Raft) ReadBarrier(ctx context.Context, t storage.TableID, s storage.SlotID) error {
	return r.host.ReadBarrier(ctx, t, s)
}

// ReadBarrierAt is ReadBarrier confirmed in term (unless 0): it fails
// when the group has moved to another term.
func (r *Raft) ReadBarrierAt(ctx context.Context, t storage.TableID, s storage.SlotID, term uint64) error {
	return r.host.ReadBarrierAt(ctx, t, s, term)
}

// WritableTerm waits until this node leads slot s's group and has
// applied its log, and returns the group's term then (a unit's part is
// prepared only in that term: Propose).
func (r *Raft) WritableTerm(t storage.TableID, s storage.SlotID) (uint64, error) {
	return r.host.WritableTerm(t, s)
}

// Propose proposes an encoded storage.Effect to slot s's group (in term
// only, unless 0) and returns once this node applied it, or why not.
func (r *Raft) Propose(ctx context.Context, t storage.TableID, s storage.SlotID, effect []byte, term uint64) error {
	select {
	case err := <-r.host.ReplicateAt(t, s, effect, term):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send ships a batch to a peer (peer.Raft); the returned function waits
// for its +OK.
func (r *Raft) send(to multiraft.PeerID, batch []byte) func() error {
	addr := (*r.addrs.Load())[to]
	if addr == "" {
		return func() error { return fmt.Errorf("raft peer %x is not alive", to) }
	}
	f := r.cfg.Links.Do(addr, peer.ClassRaft, 0, peer.Raft{Batch: batch})
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

// HandleRaft serves RAFT: a batch of raft messages for our groups.
func (r *Raft) HandleRaft(w *resp.Reply, req peer.Raft) {
	if err := r.host.Deliver(req.Batch); err != nil {
		r.cfg.Log.Warn("bad raft batch from a peer", "err", err)
		w.Error("ERR " + err.Error())
		return
	}
	w.Simple("OK")
}

// HandleTransfer serves RAFTTRANSFER: hand the group's leadership to a
// node (switchover and drain of raft tables).
func (r *Raft) HandleTransfer(w *resp.Reply, req peer.RaftTransfer) {
	r.host.TransferLeader(multiraft.GroupID{Table: req.Table, Slot: req.Slot}, PeerID(meta.NodeID(req.To)))
	w.Simple("OK")
}

// TransferLeader asks node (the leader of slot s of table t) to hand the
// group's leadership to another replica (manager.Config.TransferLeader).
func (r *Raft) TransferLeader(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID, to meta.NodeID) error {
	if node.ID == r.cfg.Self {
		r.host.TransferLeader(multiraft.GroupID{Table: t, Slot: s}, PeerID(to))
		return nil
	}
	req := peer.RaftTransfer{Table: t, Slot: s, To: string(to)}
	raw, err := r.cfg.Links.Do(node.Peer, peer.ClassForward, uint32(s), req).Wait(ctx, 3*time.Second)
	if err != nil {
		return err
	}
	if err := peer.ReplyErr(raw); err != nil {
		return fmt.Errorf("%s refused the transfer: %w", node.ID, err)
	}
	return nil
}

// streamSnapshot copies a raft slot to a follower ahead of raft's
// snapshot message (multiraft.Config.StreamSnapshot): peer.RaftSnapBegin,
// then peer.RaftSnapData chunks of about 1 MB, each acknowledged, as
// peer.ClassRaftSnapshot, so raft messages do not wait behind them.
func (r *Raft) streamSnapshot(st multiraft.SnapshotStream) error {
	addr := (*r.addrs.Load())[st.To]
	if addr == "" {
		return fmt.Errorf("raft peer %x is not alive", st.To)
	}
	head := peer.RaftSnapHead{Table: st.Group.Table, Slot: st.Group.Slot, From: r.self, Index: st.Index, Term: st.Term}
	do := func(req peer.Request) error {
		raw, err := r.cfg.Links.Do(addr, peer.ClassRaftSnapshot, 0, req).Wait(st.Ctx, 30*time.Second)
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

// HandleSnapBegin and HandleSnapData serve a raft snapshot streamed by the
// group's leader (streamSnapshot): it is staged beside the slot until
// raft's snapshot message lands it.
func (r *Raft) HandleSnapBegin(w *resp.Reply, req peer.RaftSnapBegin) {
	h := req.RaftSnapHead
	g := multiraft.GroupID{Table: h.Table, Slot: h.Slot}
	r.snapReply(w, g, r.host.BeginInstall(g, h.From, h.Index, h.Term))
}

func (r *Raft) HandleSnapData(w *resp.Reply, req peer.RaftSnapData) {
	h := req.RaftSnapHead
	g := multiraft.GroupID{Table: h.Table, Slot: h.Slot}
	eff, err := storage.DecodeEffect(req.Chunk)
	if err == nil {
		err = r.host.StageChunk(g, h.From, h.Index, h.Term, eff.Ops, req.Last)
	}
	r.snapReply(w, g, err)
}

func (r *Raft) snapReply(w *resp.Reply, g multiraft.GroupID, err error) {
	if err != nil {
		r.cfg.Log.Warn("raft snapshot from a peer refused", "group", g.String(), "err", err)
		w.Error("ERR " + err.Error())
		return
	}
	w.OK()
}

// reportLeaders keeps the routing in step with the raft groups this node
// leads: on every new leadership, and every second for reports that got
// lost (a manager change), it sends the manager the groups whose slot
// record names another leader or an older term, or whose learners the
// group has made voters.
func (r *Raft) reportLeaders(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.reports:
			// Let a burst of elections (a node died) gather.
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		case <-tick.C:
		}
		snap := r.cfg.Routing()
		if snap == nil {
			continue
		}
		var reports []api.RaftLeader
		for _, t := range snap.Tables() {
			if t.Mode != meta.ModeRaft {
				continue
			}
			for s := range t.Slots {
				g := multiraft.GroupID{Table: t.ID, Slot: storage.SlotID(s)}
				st := r.host.GroupStatus(g)
				if !st.Running || st.Leader != r.self {
					continue
				}
				rt := t.Route(storage.SlotID(s))
				rep := api.RaftLeader{Table: t.ID, Slot: storage.SlotID(s), Node: r.cfg.Self, Term: st.Term}
				added := (len(rt.Learners) > 0 || len(rt.Removing) > 0) && r.learnersPromoted(g, rt)
				if added {
					rep.Voters = slices.Concat(rt.Replicas, rt.Learners)
				}
				if rt.Leader != r.cfg.Self || uint64(rt.Epoch) < st.Term || added {
					reports = append(reports, rep)
				}
			}
		}
		if len(reports) == 0 || r.cfg.Report == nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := r.cfg.Report(rctx, reports)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.cfg.Log.Debug("report raft leaders", "groups", len(reports), "err", err)
		}
	}
}

// learnersPromoted reports whether g's configuration is exactly what route
// rt wants: its replicas and its learners all voters, nobody else (the
// replicas being removed are gone).
func (r *Raft) learnersPromoted(g multiraft.GroupID, rt router.Route) bool {
	voters, learners := r.host.Conf(g)
	want := peerIDs(slices.Concat(rt.Replicas, rt.Learners))
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
