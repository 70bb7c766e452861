package pubsub

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// Peer is another live node: its id and peer address.
type Peer struct {
	ID   string
	Addr string
}

// ClusterConfig is what a Cluster needs of its node.
type ClusterConfig struct {
	Self string
	// Incarnation tells this run of the process from the ones before it
	// (its start time): a peer that knew the interest of an earlier one
	// asks for the whole of it again.
	Incarnation uint64
	Links       *peer.Links
	// Peers returns the other live nodes, from the current routing.
	Peers func() []Peer
	Log   *slog.Logger
	// OnTracking, if set, is told whether some node may track a table
	// (Tracking), each time that changes.
	OnTracking func(any bool)
	// OnPeerGone, if set, is told that a node known before left the
	// routing or restarted: messages it sent may have been lost
	// (CLIENT TRACKING then invalidates every key of its clients).
	OnPeerGone func(id string)
}

// peerWait bounds how long a request to another node is waited for: a
// node that does not answer in time gets no message (and a subscriber
// there misses it), but holds nobody up.
const peerWait = 2 * time.Second

// pullInterval is how often every other node's interest is checked.
const pullInterval = time.Second

// Cluster is a hub's side of the cluster: it tells the other nodes
// which channels, patterns and shard channels its clients subscribe to,
// keeps theirs, and carries a message to the nodes that want it
// (docs/pubsub.md).
type Cluster struct {
	cfg ClusterConfig
	hub *Hub

	// outgoing changes of this node's interest, numbered from 1 (under
	// the hub's lock, so in the order of the hub's changes), sent in
	// that order by the announcer
	outMu   sync.Mutex
	outCond sync.Cond
	seq     uint64
	queue   []*change
	stopped bool

	// the other nodes' interest
	mu      sync.RWMutex
	remotes map[string]*remote
	pull    chan struct{}

	// tracking: some node (this one or another, or one whose interest
	// is unknown) may track a table; trackMu orders its updates.
	trackMu  sync.Mutex
	tracking atomic.Bool
}

// change is one change of this node's interest on its way to the others;
// done is closed once they answered (or did not in time).
type change struct {
	req  peer.PubsubInterest
	done chan struct{}
}

// remote is what this node knows of another's interest. Unknown (never
// heard of, or a change missed), it is sent every message of every
// channel: it filters them itself, so nothing is lost while the whole of
// its interest is fetched.
type remote struct {
	known    bool
	inc, seq uint64
	// seen is the highest change seen of inc, applied or not: a state
	// older than it is stale.
	seen   uint64
	tables map[storage.TableID]*[4]map[string]struct{}
}

// NewCluster joins hub to the other nodes. Run must run for its changes
// to travel.
func NewCluster(hub *Hub, cfg ClusterConfig) *Cluster {
	c := &Cluster{cfg: cfg, hub: hub, remotes: map[string]*remote{}, pull: make(chan struct{}, 1)}
	c.outCond.L = &c.outMu
	hub.mu.Lock()
	hub.cluster = c
	hub.mu.Unlock()
	return c
}

// changed queues a change of this node's interest: names of kind k in
// table t gained their first subscriber here (added) or lost their last.
// The hub calls it under its lock. The channel is closed once every live
// node answered it or peerWait passed.
func (c *Cluster) changed(t storage.TableID, k peer.PubsubKind, names [][]byte, added bool) <-chan struct{} {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.seq++
	ch := &change{
		req:  peer.PubsubInterest{Origin: c.cfg.Self, Incarnation: c.cfg.Incarnation, Seq: c.seq, Added: added, Table: t, Kind: k, Names: copyNames(names)},
		done: make(chan struct{}),
	}
	if c.stopped {
		close(ch.done)
		return ch.done
	}
	c.queue = append(c.queue, ch)
	c.outCond.Signal()
	return ch.done
}

func copyNames(names [][]byte) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = bytes.Clone(n)
	}
	return out
}

// Run sends this node's changes and fetches the others' interest until
// ctx is done.
func (c *Cluster) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.announce()
	}()
	go func() {
		defer wg.Done()
		c.pullLoop(ctx)
	}()
	<-ctx.Done()
	c.outMu.Lock()
	c.stopped = true
	c.outCond.Broadcast()
	c.outMu.Unlock()
	wg.Wait()
}

// announce sends the queued changes, in order, to every live node (on
// one connection each, so that they arrive in order), then waits for
// their answers before it closes the changes' done channels.
func (c *Cluster) announce() {
	for {
		c.outMu.Lock()
		for len(c.queue) == 0 && !c.stopped {
			c.outCond.Wait()
		}
		batch := c.queue
		c.queue = nil
		stopped := c.stopped
		c.outMu.Unlock()
		if stopped {
			for _, ch := range batch {
				close(ch.done)
			}
			return
		}
		var futures []*peer.Future
		for _, p := range c.cfg.Peers() {
			for _, ch := range batch {
				futures = append(futures, c.cfg.Links.Do(p.Addr, peer.ClassPubsub, 0, ch.req))
			}
			if len(futures) > 0 {
				futures[len(futures)-1].Flush()
			}
		}
		waitAll(futures)
		for _, ch := range batch {
			close(ch.done)
		}
	}
}

// waitAll waits for futures, peerWait at most in all; their replies, nil
// for a failed or late one.
func waitAll(futures []*peer.Future) [][]byte {
	ctx, cancel := context.WithTimeout(context.Background(), peerWait)
	defer cancel()
	out := make([][]byte, len(futures))
	for i, f := range futures {
		raw, err := f.Wait(ctx, peerWait)
		if err == nil {
			out[i] = raw
		}
	}
	return out
}

// HandleInterest applies another node's change (PSINTEREST) if it follows
// the last one known of that node; otherwise that node's interest becomes
// unknown and is fetched whole.
func (c *Cluster) HandleInterest(r *resp.Reply, req peer.PubsubInterest) {
	c.mu.Lock()
	rm := c.remotes[req.Origin]
	if rm == nil {
		rm = &remote{}
		c.remotes[req.Origin] = rm
	}
	restarted := rm.inc != 0 && rm.inc != req.Incarnation
	if rm.inc != req.Incarnation {
		rm.known, rm.inc, rm.seq, rm.seen, rm.tables = false, req.Incarnation, 0, 0, nil
	}
	rm.seen = max(rm.seen, req.Seq)
	if rm.known && req.Seq == rm.seq+1 {
		rm.apply(req.Table, req.Kind, req.Names, req.Added)
		rm.seq = req.Seq
	} else if req.Seq > rm.seq {
		rm.known = false
	}
	known := rm.known
	c.mu.Unlock()
	c.recompute()
	if restarted {
		c.peerGone(req.Origin)
	}
	if !known {
		c.wakePull()
	}
	r.OK()
}

func (c *Cluster) wakePull() {
	select {
	case c.pull <- struct{}{}:
	default:
	}
}

func (rm *remote) apply(t storage.TableID, k peer.PubsubKind, names [][]byte, added bool) {
	if rm.tables == nil {
		rm.tables = map[storage.TableID]*[4]map[string]struct{}{}
	}
	sets := rm.tables[t]
	if sets == nil {
		sets = &[4]map[string]struct{}{}
		rm.tables[t] = sets
	}
	i := kindIndex(k)
	if sets[i] == nil {
		sets[i] = map[string]struct{}{}
	}
	for _, n := range names {
		if added {
			sets[i][string(n)] = struct{}{}
		} else {
			delete(sets[i], string(n))
		}
	}
}

// wants reports whether the node rm describes may have subscribers for
// a message on channel of kind k in table t.
func (rm *remote) wants(t storage.TableID, k peer.PubsubKind, channel []byte) bool {
	if !rm.known {
		return true
	}
	sets := rm.tables[t]
	if sets == nil {
		return false
	}
	if k == peer.PubsubTracking {
		_, ok := sets[3][""] // the node tracks the table: every key
		return ok
	}
	if _, ok := sets[kindIndex(k)][string(channel)]; ok {
		return true
	}
	// A pattern may match: the subscriber's node matches it.
	return k == peer.PubsubChannel && len(sets[1]) > 0
}

// Tracking reports whether some node may track a table (one atomic
// load): writes keep their keys for invalidation only then.
func (c *Cluster) Tracking() bool { return c.tracking.Load() }

// Tracked reports whether some node may track table t: this one, one
// whose interest has it, or one whose interest is unknown.
func (c *Cluster) Tracked(t storage.TableID) bool {
	if !c.tracking.Load() {
		return false
	}
	if c.hub.Tracks(t) {
		return true
	}
	peers := c.cfg.Peers()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, p := range peers {
		if rm := c.remotes[p.ID]; rm == nil || rm.wants(t, peer.PubsubTracking, nil) {
			return true
		}
	}
	return false
}

// recompute updates Tracking from what is known, and tells OnTracking
// when it changed. The caller does not hold c.mu (it may hold the hub's
// lock: the hub's count is an atomic).
func (c *Cluster) recompute() {
	c.trackMu.Lock()
	defer c.trackMu.Unlock()
	on := c.hub.trackedN.Load() > 0
	if !on {
		c.mu.RLock()
		for _, rm := range c.remotes {
			if !rm.known || rm.tables != nil && anyTracked(rm.tables) {
				on = true
				break
			}
		}
		c.mu.RUnlock()
	}
	if c.tracking.Swap(on) != on && c.cfg.OnTracking != nil {
		c.cfg.OnTracking(on)
	}
}

func anyTracked(tables map[storage.TableID]*[4]map[string]struct{}) bool {
	for _, sets := range tables {
		if len(sets[3]) > 0 {
			return true
		}
	}
	return false
}

// HandleState answers PSSTATE: +same when the asker knows this node's
// interest as of now, else the whole of it.
func (c *Cluster) HandleState(r *resp.Reply, req peer.PubsubState) {
	h := c.hub
	h.mu.RLock()
	c.outMu.Lock()
	seq := c.seq
	c.outMu.Unlock()
	if req.Incarnation == c.cfg.Incarnation && req.Seq == seq {
		h.mu.RUnlock()
		r.Simple("same")
		return
	}
	keys := h.interestLocked()
	h.mu.RUnlock()
	r.Array(2 + 3*len(keys))
	r.BulkString(strconv.FormatUint(c.cfg.Incarnation, 10))
	r.BulkString(strconv.FormatUint(seq, 10))
	for _, k := range keys {
		r.BulkString(strconv.FormatUint(uint64(k.table), 10))
		r.Bulk([]byte{byte(k.kind)})
		r.BulkString(k.name)
	}
}

// pullLoop checks every live node's interest each pullInterval, and at
// once when a change was missed; it forgets the nodes no longer live.
func (c *Cluster) pullLoop(ctx context.Context) {
	t := time.NewTicker(pullInterval)
	defer t.Stop()
	for {
		c.pullAll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.pull:
		}
	}
}

func (c *Cluster) pullAll() {
	peers := c.cfg.Peers()
	live := make(map[string]bool, len(peers))
	reqs := make([]peer.PubsubState, len(peers))
	c.mu.Lock()
	for i, p := range peers {
		live[p.ID] = true
		if rm := c.remotes[p.ID]; rm != nil && rm.known {
			reqs[i] = peer.PubsubState{Incarnation: rm.inc, Seq: rm.seq}
		}
	}
	var gone []string
	for id := range c.remotes {
		if !live[id] {
			delete(c.remotes, id)
			gone = append(gone, id)
		}
	}
	c.mu.Unlock()
	c.recompute()
	for _, id := range gone {
		c.peerGone(id)
	}
	futures := make([]*peer.Future, len(peers))
	for i, p := range peers {
		futures[i] = c.cfg.Links.Do(p.Addr, peer.ClassPubsub, 0, reqs[i])
		futures[i].Flush()
	}
	replies := waitAll(futures)
	for i, raw := range replies {
		if raw == nil || bytes.HasPrefix(raw, []byte("+")) {
			continue
		}
		if err := c.install(peers[i].ID, raw); err != nil {
			c.cfg.Log.Warn("pub/sub: a node's interest did not parse", "node", peers[i].ID, "err", err)
		}
	}
}

// install replaces what is known of node id's interest by its state raw
// (a PSSTATE reply), unless a change newer than the state was seen.
func (c *Cluster) install(id string, raw []byte) error {
	elems, err := bulks(raw)
	if err != nil {
		return err
	}
	if len(elems) < 2 || (len(elems)-2)%3 != 0 {
		return peer.ErrProtocol
	}
	inc, err1 := strconv.ParseUint(string(elems[0]), 10, 64)
	seq, err2 := strconv.ParseUint(string(elems[1]), 10, 64)
	if err1 != nil || err2 != nil {
		return peer.ErrProtocol
	}
	rm := &remote{known: true, inc: inc, seq: seq, seen: seq}
	for i := 2; i < len(elems); i += 3 {
		t, err := strconv.ParseUint(string(elems[i]), 10, 32)
		if err != nil || len(elems[i+1]) != 1 {
			return peer.ErrProtocol
		}
		rm.apply(storage.TableID(t), peer.PubsubKind(elems[i+1][0]), [][]byte{elems[i+2]}, true)
	}
	c.mu.Lock()
	old := c.remotes[id]
	if old != nil && old.inc == inc && old.seen > seq {
		c.mu.Unlock()
		c.wakePull() // changes after this state were sent: ask again
		return nil
	}
	c.remotes[id] = rm
	c.mu.Unlock()
	c.recompute()
	if old != nil && old.inc != 0 && old.inc != inc {
		c.peerGone(id)
	}
	return nil
}

func (c *Cluster) peerGone(id string) {
	if c.cfg.OnPeerGone != nil {
		c.cfg.OnPeerGone(id)
	}
}

// Publish delivers a message here and on every live node that may have
// subscribers for it, and returns how many clients received it in the
// cluster. The other nodes are asked at once and waited for (peerWait at
// most): a publisher's messages reach each node in the order published.
func (c *Cluster) Publish(t storage.TableID, k peer.PubsubKind, channel, payload []byte, self *Sub, selfOut *resp.Reply) int {
	var to []string
	peers := c.cfg.Peers()
	c.mu.RLock()
	for _, p := range peers {
		if rm := c.remotes[p.ID]; rm == nil || rm.wants(t, k, channel) {
			to = append(to, p.Addr)
		}
	}
	c.mu.RUnlock()
	// Sent outside the lock: a send may have to dial.
	futures := make([]*peer.Future, len(to))
	for i, addr := range to {
		futures[i] = c.cfg.Links.Do(addr, peer.ClassPubsub, 0, peer.PubsubPublish{Table: t, Kind: k, Channel: channel, Message: payload})
		futures[i].Flush()
	}
	n := c.hub.PublishHere(t, k, channel, payload, self, selfOut)
	for _, raw := range waitAll(futures) {
		if v, err := peer.Int(raw); err == nil {
			n += int(v)
		}
	}
	return n
}

// Message is one message of PublishAll.
type Message struct {
	Table   storage.TableID
	Kind    peer.PubsubKind
	Channel []byte
	Payload []byte
}

// PublishAll delivers msgs, in order, as Publish does each, and waits for
// the other nodes once for all of them (peerWait at most); the receivers
// are not counted. It serves the keyspace events: published by the node
// that ran the command, before the command's reply goes out.
func (c *Cluster) PublishAll(msgs []Message) {
	peers := c.cfg.Peers()
	var futures []*peer.Future
	for _, m := range msgs {
		var to []string
		c.mu.RLock()
		for _, p := range peers {
			if rm := c.remotes[p.ID]; rm == nil || rm.wants(m.Table, m.Kind, m.Channel) {
				to = append(to, p.Addr)
			}
		}
		c.mu.RUnlock()
		for _, addr := range to {
			f := c.cfg.Links.Do(addr, peer.ClassPubsub, 0, peer.PubsubPublish{Table: m.Table, Kind: m.Kind, Channel: m.Channel, Message: m.Payload})
			f.Flush()
			futures = append(futures, f)
		}
		c.hub.PublishHere(m.Table, m.Kind, m.Channel, m.Payload, nil, nil)
	}
	waitAll(futures)
}

// HandlePublish answers PSPUB: the message delivered to this node's
// subscribers, and their number.
func (c *Cluster) HandlePublish(r *resp.Reply, req peer.PubsubPublish) {
	r.Int(int64(c.hub.PublishHere(req.Table, req.Kind, req.Channel, req.Message, nil, nil)))
}

// Ask sends q to every live node and returns their replies (nil for one
// that did not answer in time).
func (c *Cluster) Ask(q peer.PubsubQuery) [][]byte {
	var futures []*peer.Future
	for _, p := range c.cfg.Peers() {
		f := c.cfg.Links.Do(p.Addr, peer.ClassPubsub, 0, q)
		f.Flush()
		futures = append(futures, f)
	}
	return waitAll(futures)
}

// HandleQuery answers PSQUERY about this node's clients.
func (c *Cluster) HandleQuery(r *resp.Reply, q peer.PubsubQuery) {
	h := c.hub
	switch q.Query {
	case peer.QueryChannels:
		var pattern []byte
		if len(q.Params) > 0 {
			pattern = q.Params[0]
		}
		names := h.Channels(q.Table, q.Kind, pattern)
		r.Array(len(names))
		for _, n := range names {
			r.BulkString(n)
		}
	case peer.QueryPatterns:
		names := h.Patterns(q.Table)
		r.Array(len(names))
		for _, n := range names {
			r.BulkString(n)
		}
	case peer.QueryNumSub:
		r.Array(len(q.Params))
		for _, ch := range q.Params {
			r.Int(int64(h.NumSub(q.Table, q.Kind, ch)))
		}
	}
}

// bulks returns the contents of a raw array reply of bulk strings.
func bulks(raw []byte) ([][]byte, error) {
	elems, err := peer.Elems(raw)
	if err != nil {
		return nil, err
	}
	for i, e := range elems {
		if elems[i], err = peer.Bulk(e); err != nil {
			return nil, err
		}
	}
	return elems, nil
}

// ClusterChannels answers PUBSUB CHANNELS (k PubsubChannel) and
// SHARDCHANNELS for the whole cluster: the channels of table t with
// subscribers on any node that match pattern (all when nil), sorted.
func (c *Cluster) ClusterChannels(t storage.TableID, k peer.PubsubKind, pattern []byte) []string {
	q := peer.PubsubQuery{Table: t, Query: peer.QueryChannels, Kind: k}
	if pattern != nil {
		q.Params = [][]byte{pattern}
	}
	return c.union(c.hub.Channels(t, k, pattern), q)
}

// ClusterNumPat answers PUBSUB NUMPAT for the whole cluster: how many
// distinct patterns of table t are subscribed to on any node.
func (c *Cluster) ClusterNumPat(t storage.TableID) int {
	return len(c.union(c.hub.Patterns(t), peer.PubsubQuery{Table: t, Query: peer.QueryPatterns, Kind: peer.PubsubChannel}))
}

// union merges this node's names with those every other node answers to
// q, sorted.
func (c *Cluster) union(here []string, q peer.PubsubQuery) []string {
	seen := map[string]bool{}
	for _, n := range here {
		seen[n] = true
	}
	for _, raw := range c.Ask(q) {
		names, err := bulks(raw)
		if err != nil {
			continue
		}
		for _, n := range names {
			seen[string(n)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ClusterNumSub answers PUBSUB NUMSUB (k PubsubChannel) and SHARDNUMSUB
// for the whole cluster: the subscribers of each channel on every node.
func (c *Cluster) ClusterNumSub(t storage.TableID, k peer.PubsubKind, channels [][]byte) []int64 {
	out := make([]int64, len(channels))
	for i, ch := range channels {
		out[i] = int64(c.hub.NumSub(t, k, ch))
	}
	for _, raw := range c.Ask(peer.PubsubQuery{Table: t, Query: peer.QueryNumSub, Kind: k, Params: channels}) {
		elems, err := peer.Elems(raw)
		if err != nil || len(elems) != len(channels) {
			continue
		}
		for i, e := range elems {
			if v, err := peer.Int(e); err == nil {
				out[i] += v
			}
		}
	}
	return out
}
