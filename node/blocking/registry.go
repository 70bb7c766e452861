package blocking

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Key is a key of a table.
type Key struct {
	Table storage.TableID
	Key   string
}

// Config is what a Registry needs of its node.
type Config struct {
	Self   meta.NodeID
	Engine *storage.Engine
	Links  *peer.Links
	// Routing is the node's current routing.
	Routing func() *router.Snapshot
	// Synced returns once the followers of slot s of async table t
	// acknowledged its log as of the call (at once without followers),
	// or fails (this node does not lead the slot, a follower did not
	// answer in time).
	Synced func(ctx context.Context, t storage.TableID, s storage.SlotID) error
	Log    *slog.Logger
}

// renewInterval is how often a node renews its waiters' registrations
// with the keys' leaders, and leaseTTL how long a leader keeps one.
const (
	renewInterval = time.Second
	leaseTTL      = 5 * time.Second
	peerWait      = time.Second
)

// Unblock is how CLIENT UNBLOCK ends a wait.
type Unblock int32

const (
	// UnblockTimeout answers as if the timeout passed.
	UnblockTimeout Unblock = iota + 1
	// UnblockError answers -UNBLOCKED.
	UnblockError
)

// Waiter is one client's wait.
type Waiter struct {
	client uint64
	keys   []Key
	// wake is signalled when a key may be ready (capacity 1: a wake-up
	// while the client tries is kept for after it).
	wake chan struct{}
	// unblocked carries CLIENT UNBLOCK's reason (capacity 1).
	unblocked chan Unblock
	releases  []func()
}

// Wake is signalled when one of the waiter's keys may be ready: the
// client tries again.
func (w *Waiter) Wake() <-chan struct{} { return w.wake }

// Unblocked delivers CLIENT UNBLOCK's reason.
func (w *Waiter) Unblocked() <-chan Unblock { return w.unblocked }

// Registry holds a node's waiters and the registrations it keeps for
// other nodes' waiters.
type Registry struct {
	cfg Config

	mu       sync.Mutex
	queues   map[Key][]*Waiter
	byClient map[uint64]*Waiter
	// leases are other nodes' registrations here: key -> origin node ->
	// when it lapses, and its engine registration's release.
	leases map[Key]map[meta.NodeID]*lease

	notifyMu   sync.Mutex
	notifyCond sync.Cond
	notify     []readyNote
	stopped    bool
}

type lease struct {
	until   time.Time
	release func()
}

// readyNote is a BREADY on its way to a node.
type readyNote struct {
	to  meta.NodeID
	key Key
}

// New returns a registry; Run must run for other nodes' waits to work.
func New(cfg Config) *Registry {
	r := &Registry{cfg: cfg, queues: map[Key][]*Waiter{}, byClient: map[uint64]*Waiter{}, leases: map[Key]map[meta.NodeID]*lease{}}
	r.notifyCond.L = &r.notifyMu
	cfg.Engine.SetReadyHook(r.ready)
	return r
}

// Blocked is the number of clients waiting here (INFO's blocked_clients).
func (r *Registry) Blocked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byClient)
}

// IsBlocked reports whether client waits (CLIENT LIST's flag b).
func (r *Registry) IsBlocked(client uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byClient[client] != nil
}

// Register makes client wait on keys of table tb (in its order, behind
// the clients already waiting on them), and returns once every key's
// leader knows (for a leader that does not answer, within peerWait):
// a write of a key after Register returns wakes the waiter.
func (r *Registry) Register(client uint64, tb *router.Table, keys [][]byte) *Waiter {
	w := &Waiter{client: client, wake: make(chan struct{}, 1), unblocked: make(chan Unblock, 1)}
	remote := map[meta.NodeID][]peer.WaitKey{}
	snap := r.cfg.Routing()
	r.mu.Lock()
	for _, k := range keys {
		key := Key{tb.ID, string(k)}
		if slices.Contains(w.keys, key) {
			continue
		}
		w.keys = append(w.keys, key)
		r.queues[key] = append(r.queues[key], w)
		s := router.SlotOf(k, tb.Slots)
		w.releases = append(w.releases, r.cfg.Engine.WantKey(tb.ID, s, k))
		if leader := tb.Route(s).Leader; leader != "" && leader != r.cfg.Self {
			remote[leader] = append(remote[leader], peer.WaitKey{Slot: s, Key: k})
		}
	}
	r.byClient[client] = w
	r.mu.Unlock()
	r.registerAt(snap, tb.ID, remote)
	return w
}

// registerAt sends BWAIT for keys to their leaders and waits (peerWait at
// most); a key a leader did not hold before wakes its waiters here.
func (r *Registry) registerAt(snap *router.Snapshot, t storage.TableID, byLeader map[meta.NodeID][]peer.WaitKey) {
	type asked struct {
		keys []peer.WaitKey
		f    *peer.Future
	}
	var all []asked
	for leader, keys := range byLeader {
		info, ok := snap.Node(leader)
		if !ok {
			continue
		}
		f := r.cfg.Links.Do(info.Peer, peer.ClassUnit, 0, peer.BlockWait{Table: t, Origin: string(r.cfg.Self), Keys: keys})
		f.Flush()
		all = append(all, asked{keys, f})
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerWait)
	defer cancel()
	for _, a := range all {
		raw, err := a.f.Wait(ctx, peerWait)
		if err != nil {
			continue
		}
		elems, err := peer.Elems(raw)
		if err != nil {
			continue
		}
		for _, e := range elems {
			if i, err := peer.Int(e); err == nil && i >= 0 && int(i) < len(a.keys) {
				r.Wake(Key{t, string(a.keys[i].Key)})
			}
		}
	}
}

// Done ends w's wait. The next waiter of each of its keys is woken: w
// may have taken what woke it, and more may be there.
func (r *Registry) Done(w *Waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rel := range w.releases {
		rel()
	}
	for _, key := range w.keys {
		q := r.queues[key]
		i := slices.Index(q, w)
		if i < 0 {
			continue
		}
		q = slices.Delete(q, i, i+1)
		if len(q) == 0 {
			delete(r.queues, key)
			continue
		}
		r.queues[key] = q
		if i == 0 {
			signal(q[0].wake)
		}
	}
	if r.byClient[w.client] == w {
		delete(r.byClient, w.client)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Wake wakes the first client waiting on key here (first come, first
// served: the others are woken in turn as each is done).
func (r *Registry) Wake(key Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q := r.queues[key]; len(q) > 0 {
		signal(q[0].wake)
	}
}

// Unblock ends client's wait as CLIENT UNBLOCK does, and reports whether
// it was waiting.
func (r *Registry) Unblock(client uint64, how Unblock) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.byClient[client]
	if w == nil {
		return false
	}
	select {
	case w.unblocked <- how:
	default:
	}
	return true
}

// ready is the engine's hook: a wanted key was written here. Its waiters
// here are woken; the nodes with a registration for it are told.
func (r *Registry) ready(t storage.TableID, k []byte) {
	key := Key{t, string(k)}
	r.mu.Lock()
	if q := r.queues[key]; len(q) > 0 {
		signal(q[0].wake)
	}
	var to []meta.NodeID
	for origin := range r.leases[key] {
		to = append(to, origin)
	}
	r.mu.Unlock()
	if len(to) == 0 {
		return
	}
	r.notifyMu.Lock()
	for _, origin := range to {
		r.notify = append(r.notify, readyNote{origin, key})
	}
	r.notifyCond.Signal()
	r.notifyMu.Unlock()
}

// HandleWait answers BWAIT: the origin's registrations are made or
// renewed; the positions of those made now are answered.
func (r *Registry) HandleWait(out *resp.Reply, req peer.BlockWait) {
	origin := meta.NodeID(req.Origin)
	until := time.Now().Add(leaseTTL)
	var fresh []int
	r.mu.Lock()
	for i, k := range req.Keys {
		key := Key{req.Table, string(k.Key)}
		byOrigin := r.leases[key]
		if byOrigin == nil {
			byOrigin = map[meta.NodeID]*lease{}
			r.leases[key] = byOrigin
		}
		if l := byOrigin[origin]; l != nil {
			l.until = until
			continue
		}
		byOrigin[origin] = &lease{until: until, release: r.cfg.Engine.WantKey(req.Table, k.Slot, k.Key)}
		fresh = append(fresh, i)
	}
	r.mu.Unlock()
	out.Array(len(fresh))
	for _, i := range fresh {
		out.Int(int64(i))
	}
}

// HandleReady answers BREADY: the keys' waiters here are woken.
func (r *Registry) HandleReady(out *resp.Reply, req peer.BlockReady) {
	for _, k := range req.Keys {
		r.Wake(Key{req.Table, string(k)})
	}
	out.OK()
}

// Run renews this node's registrations with the keys' leaders each
// second (registering them with new leaders after a failover or a move),
// drops the lapsed registrations of other nodes, and sends BREADY, until
// ctx is done.
func (r *Registry) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.sendNotes()
	}()
	t := time.NewTicker(renewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.notifyMu.Lock()
			r.stopped = true
			r.notifyCond.Signal()
			r.notifyMu.Unlock()
			wg.Wait()
			return
		case <-t.C:
		}
		r.renew()
		r.expire(time.Now())
	}
}

// renew sends each leader of a key waited on here the keys it leads.
func (r *Registry) renew() {
	snap := r.cfg.Routing()
	if snap == nil {
		return
	}
	byTable := map[storage.TableID]map[meta.NodeID][]peer.WaitKey{}
	r.mu.Lock()
	for key := range r.queues {
		tb, ok := snap.Table(key.Table)
		if !ok {
			continue
		}
		s := router.SlotOf([]byte(key.Key), tb.Slots)
		leader := tb.Route(s).Leader
		if leader == "" || leader == r.cfg.Self {
			continue
		}
		if byTable[key.Table] == nil {
			byTable[key.Table] = map[meta.NodeID][]peer.WaitKey{}
		}
		byTable[key.Table][leader] = append(byTable[key.Table][leader], peer.WaitKey{Slot: s, Key: []byte(key.Key)})
	}
	r.mu.Unlock()
	for t, byLeader := range byTable {
		r.registerAt(snap, t, byLeader)
	}
}

// expire drops other nodes' registrations not renewed in time.
func (r *Registry) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, byOrigin := range r.leases {
		for origin, l := range byOrigin {
			if now.After(l.until) {
				l.release()
				delete(byOrigin, origin)
			}
		}
		if len(byOrigin) == 0 {
			delete(r.leases, key)
		}
	}
}

// sendNotes sends the queued BREADYs without waiting for their answers.
// One that does not arrive (its node unreachable for the moment) is not
// sent again: that node's waiters hear of the key at its next write
// (docs/blocking.md, "Where it differs").
func (r *Registry) sendNotes() {
	for {
		r.notifyMu.Lock()
		for len(r.notify) == 0 && !r.stopped {
			r.notifyCond.Wait()
		}
		notes := r.notify
		r.notify = nil
		stopped := r.stopped
		r.notifyMu.Unlock()
		if stopped {
			return
		}
		snap := r.cfg.Routing()
		byNode := map[meta.NodeID]map[storage.TableID][][]byte{}
		for _, n := range notes {
			if byNode[n.to] == nil {
				byNode[n.to] = map[storage.TableID][][]byte{}
			}
			byNode[n.to][n.key.Table] = append(byNode[n.to][n.key.Table], []byte(n.key.Key))
		}
		for to, byTable := range byNode {
			info, ok := snap.Node(to)
			if !ok {
				continue
			}
			for t, keys := range byTable {
				r.cfg.Links.Do(info.Peer, peer.ClassUnit, 0, peer.BlockReady{Table: t, Keys: keys}).Flush()
			}
		}
	}
}

// syncWait bounds how long a pop waits for its slot's followers (a
// follower that died stops counting once its lease lapses).
const syncWait = 10 * time.Second

// Durable returns once the writes so far of the slots of keys in table
// tb survive the loss of their leaders: at once in a raft table (a write
// answered is committed) and for a slot without followers; otherwise once
// the slot's followers acknowledged them (asking the slot's leader,
// BSYNCED). A blocking pop answered after it is never undone by a
// failover: its element cannot be taken again.
func (r *Registry) Durable(tb *router.Table, keys [][]byte) error {
	if tb.Mode == meta.ModeRaft || tb.Replicated() == 0 {
		return nil
	}
	snap := r.cfg.Routing()
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	done := map[storage.SlotID]bool{}
	for _, k := range keys {
		s := router.SlotOf(k, tb.Slots)
		route := tb.Route(s)
		if done[s] || len(route.Replicas) < 2 {
			continue
		}
		done[s] = true
		if route.Leader == r.cfg.Self {
			if err := r.cfg.Synced(ctx, tb.ID, s); err != nil {
				return err
			}
			continue
		}
		info, ok := snap.Node(route.Leader)
		if !ok {
			return fmt.Errorf("blocking: the leader %s of slot %d is down", route.Leader, s)
		}
		raw, err := r.cfg.Links.Do(info.Peer, peer.ClassUnit, 0, peer.BlockSynced{Table: tb.ID, Slot: s}).Wait(ctx, syncWait)
		if err == nil {
			err = peer.ReplyErr(raw)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// HandleSynced answers BSYNCED.
func (r *Registry) HandleSynced(out *resp.Reply, req peer.BlockSynced) {
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	if err := r.cfg.Synced(ctx, req.Table, req.Slot); err != nil {
		out.Error(peer.ErrorReply(err))
		return
	}
	out.OK()
}
