package pubsub

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// Hub holds the subscriptions of a node's clients, per table: channels,
// patterns and shard channels, each with the clients subscribed to it.
type Hub struct {
	mu     sync.RWMutex
	tables map[storage.TableID]*tableSubs
	// cluster, if set, carries this node's interest to the other nodes
	// and messages to theirs.
	cluster *Cluster
	// tracked are the tables this node's tracking clients use (its
	// PubsubTracking interest), onTracking receives their invalidations
	// (docs/tracking.md).
	tracked    map[storage.TableID]struct{}
	trackedN   atomic.Int32 // len(tracked), read without the lock
	onTracking func(t storage.TableID, key, payload []byte)
}

// tableSubs are one table's subscriptions, by kind (kindIndex).
type tableSubs struct {
	byKind [3]map[string]map[*Sub]struct{}
}

// NewHub returns a hub with no subscriptions, of a node alone until
// Cluster joins it to the others.
func NewHub() *Hub {
	return &Hub{tables: map[storage.TableID]*tableSubs{}, tracked: map[storage.TableID]struct{}{}}
}

// SetTrackingHandler sets the receiver of the PubsubTracking messages
// (the invalidations of the tables this node tracks), before any.
func (h *Hub) SetTrackingHandler(f func(t storage.TableID, key, payload []byte)) {
	h.mu.Lock()
	h.onTracking = f
	h.mu.Unlock()
}

// Track makes table t tracked here: every write committed in t after
// Track returns, on any node, sends its invalidation here. The first
// Track of a table returns once the other nodes know it (bounded), as
// SUBSCRIBE does.
func (h *Hub) Track(t storage.TableID) {
	if h.Tracks(t) {
		return // every command of a tracking client asks
	}
	h.mu.Lock()
	if _, ok := h.tracked[t]; ok {
		h.mu.Unlock()
		return
	}
	h.tracked[t] = struct{}{}
	h.trackedN.Store(int32(len(h.tracked)))
	var known <-chan struct{}
	if h.cluster != nil {
		known = h.cluster.changed(t, peer.PubsubTracking, [][]byte{{}}, true)
		h.cluster.recompute()
	}
	h.mu.Unlock()
	if known != nil {
		<-known
	}
}

// Tracks reports whether table t is tracked here.
func (h *Hub) Tracks(t storage.TableID) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.tracked[t]
	return ok
}

// UntrackAll ends this node's tracking of every table: its last
// tracking client is gone. It does nothing if idle (when set) reports
// otherwise under the hub's lock: a client that began tracking since
// (and then called Track, which waits for the lock) keeps its tables.
func (h *Hub) UntrackAll(idle func() bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if idle != nil && !idle() {
		return
	}
	for t := range h.tracked {
		delete(h.tracked, t)
		h.trackedN.Store(int32(len(h.tracked)))
		if h.cluster != nil {
			h.cluster.changed(t, peer.PubsubTracking, [][]byte{{}}, false)
		}
	}
	if h.cluster != nil {
		h.cluster.recompute()
	}
}

// verb is a confirmation's first element, by kind and whether it
// subscribes.
func verb(k peer.PubsubKind, subscribe bool) string {
	switch {
	case k == peer.PubsubPattern && subscribe:
		return "psubscribe"
	case k == peer.PubsubPattern:
		return "punsubscribe"
	case k == peer.PubsubShard && subscribe:
		return "ssubscribe"
	case k == peer.PubsubShard:
		return "sunsubscribe"
	case subscribe:
		return "subscribe"
	}
	return "unsubscribe"
}

func (h *Hub) setLocked(t storage.TableID, k peer.PubsubKind, name string, create bool) map[*Sub]struct{} {
	ts := h.tables[t]
	if ts == nil {
		if !create {
			return nil
		}
		ts = &tableSubs{}
		h.tables[t] = ts
	}
	i := kindIndex(k)
	if ts.byKind[i] == nil {
		if !create {
			return nil
		}
		ts.byKind[i] = map[string]map[*Sub]struct{}{}
	}
	set := ts.byKind[i][name]
	if set == nil && create {
		set = map[*Sub]struct{}{}
		ts.byKind[i][name] = set
	}
	return set
}

// removeLocked takes s out of the set of (t, k, name) and reports
// whether it was the last one there.
func (h *Hub) removeLocked(s *Sub, t storage.TableID, k peer.PubsubKind, name string) bool {
	set := h.setLocked(t, k, name, false)
	if set == nil {
		return false
	}
	delete(set, s)
	if len(set) > 0 {
		return false
	}
	ts := h.tables[t]
	delete(ts.byKind[kindIndex(k)], name)
	if len(ts.byKind[0]) == 0 && len(ts.byKind[1]) == 0 && len(ts.byKind[2]) == 0 {
		delete(h.tables, t)
	}
	return true
}

// Subscribe subscribes s to names of kind k in table t and appends a
// confirmation per name to r, as SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE
// answer. Messages are held back for s until its owner calls Release,
// once r is sent. When a name is new to this node, Subscribe returns once
// the other nodes know of it (bounded): a message published through any
// node after the reply reaches s.
func (h *Hub) Subscribe(s *Sub, t storage.TableID, k peer.PubsubKind, names [][]byte, r *resp.Reply) {
	s.Hold()
	var first [][]byte
	h.mu.Lock()
	s.mu.Lock()
	for _, name := range names {
		key := subKey{t, k, string(name)}
		if _, ok := s.subs[key]; !ok {
			s.subs[key] = struct{}{}
			s.counts[kindIndex(k)]++
			set := h.setLocked(t, k, key.name, true)
			if len(set) == 0 {
				first = append(first, name)
			}
			set[s] = struct{}{}
		}
		r.Push(3)
		r.BulkString(verb(k, true))
		r.Bulk(name)
		r.Int(int64(s.countLocked(k)))
	}
	s.mu.Unlock()
	var known <-chan struct{}
	if len(first) > 0 && h.cluster != nil {
		known = h.cluster.changed(t, k, first, true) // in the order of the hub's changes
	}
	h.mu.Unlock()
	if known != nil {
		<-known
	}
}

// Unsubscribe ends s's subscriptions to names of kind k in table t, or
// with no names every subscription of kind k it has (in any table), and
// appends a confirmation per name to r, as UNSUBSCRIBE, PUNSUBSCRIBE and
// SUNSUBSCRIBE answer (one with a nil name when there was none).
func (h *Hub) Unsubscribe(s *Sub, t storage.TableID, k peer.PubsubKind, names [][]byte, r *resp.Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]subKey, 0, len(names))
	for _, name := range names {
		keys = append(keys, subKey{t, k, string(name)})
	}
	if len(names) == 0 {
		for key := range s.subs {
			if key.kind == k {
				keys = append(keys, key)
			}
		}
		slices.SortFunc(keys, func(a, b subKey) int {
			if a.table != b.table {
				return int(a.table) - int(b.table)
			}
			return compareStrings(a.name, b.name)
		})
		if len(keys) == 0 {
			r.Push(3)
			r.BulkString(verb(k, false))
			r.Null()
			r.Int(int64(s.countLocked(k)))
			return
		}
	}
	for _, key := range keys {
		if _, ok := s.subs[key]; ok {
			delete(s.subs, key)
			s.counts[kindIndex(k)]--
			if h.removeLocked(s, key.table, k, key.name) && h.cluster != nil {
				h.cluster.changed(key.table, k, [][]byte{[]byte(key.name)}, false)
			}
		}
		r.Push(3)
		r.BulkString(verb(k, false))
		r.BulkString(key.name)
		r.Int(int64(s.countLocked(k)))
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Drop ends every subscription of s: its connection is closing.
func (h *Hub) Drop(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for key := range s.subs {
		if h.removeLocked(s, key.table, key.kind, key.name) && h.cluster != nil {
			h.cluster.changed(key.table, key.kind, [][]byte{[]byte(key.name)}, false)
		}
	}
	clear(s.subs)
	s.counts = [3]int{}
	s.later, s.laterBytes = nil, 0
}

// receiver is one delivery of a message: the subscriber and the
// subscription it receives it by.
type receiver struct {
	s   *Sub
	key subKey
	m   *message
}

// PublishHere delivers a message to this node's subscribers of channel
// (kind PubsubChannel or PubsubShard) in table t, and of the patterns
// matching a PubsubChannel, and returns how many received it. A message
// to self (the publishing client, on its own goroutine) is appended to
// selfOut, after the replies before it.
func (h *Hub) PublishHere(t storage.TableID, k peer.PubsubKind, channel, payload []byte, self *Sub, selfOut *resp.Reply) int {
	if k == peer.PubsubTracking {
		h.mu.RLock()
		f := h.onTracking
		_, ok := h.tracked[t]
		h.mu.RUnlock()
		if f != nil && ok {
			f(t, channel, payload)
		}
		return 0
	}
	m := &message{kind: k, channel: channel, payload: payload}
	var to []receiver
	h.mu.RLock()
	if ts := h.tables[t]; ts != nil {
		key := subKey{t, k, string(channel)}
		for s := range ts.byKind[kindIndex(k)][key.name] {
			to = append(to, receiver{s, key, m})
		}
		if k == peer.PubsubChannel {
			for pattern, set := range ts.byKind[1] {
				if !command.GlobMatch([]byte(pattern), channel) {
					continue
				}
				pm := &message{kind: k, channel: channel, payload: payload, pattern: pattern}
				for s := range set {
					to = append(to, receiver{s, subKey{t, peer.PubsubPattern, pattern}, pm})
				}
			}
		}
	}
	h.mu.RUnlock()
	n := 0
	for _, rc := range to {
		if rc.s == self {
			if self.deliverTo(rc.key, rc.m, selfOut) {
				n++
			}
			continue
		}
		if rc.s.deliver(rc.key, rc.m) {
			n++
		}
	}
	return n
}

// deliverTo is deliver for the publishing client itself: m is appended to
// its replies.
func (s *Sub) deliverTo(k subKey, m *message, out *resp.Reply) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[k]; !ok || s.closed {
		return false
	}
	out.Raw(m.frame(out.Resp3))
	return true
}

// Channels returns the channels (k PubsubChannel) or shard channels of
// table t that have subscribers here and match pattern (all when nil).
func (h *Hub) Channels(t storage.TableID, k peer.PubsubKind, pattern []byte) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ts := h.tables[t]
	if ts == nil {
		return nil
	}
	var out []string
	for name := range ts.byKind[kindIndex(k)] {
		if pattern == nil || command.GlobMatch(pattern, []byte(name)) {
			out = append(out, name)
		}
	}
	return out
}

// NumSub returns how many clients here subscribe to channel of kind k in
// table t.
func (h *Hub) NumSub(t storage.TableID, k peer.PubsubKind, channel []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.setLocked(t, k, string(channel), false))
}

// Patterns returns the patterns of table t subscribed to here.
func (h *Hub) Patterns(t storage.TableID) []string {
	return h.Channels(t, peer.PubsubPattern, nil)
}

// Counts returns how many channels, patterns and shard channels have
// subscribers here, over every table (INFO's pubsub_channels,
// pubsub_patterns and pubsubshard_channels).
func (h *Hub) Counts() (channels, patterns, shard int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, ts := range h.tables {
		channels += len(ts.byKind[0])
		patterns += len(ts.byKind[1])
		shard += len(ts.byKind[2])
	}
	return
}

// interestLocked lists every (table, kind, name) with subscribers here.
func (h *Hub) interestLocked() []subKey {
	var out []subKey
	for t, ts := range h.tables {
		for i, names := range ts.byKind {
			k := []peer.PubsubKind{peer.PubsubChannel, peer.PubsubPattern, peer.PubsubShard}[i]
			for name := range names {
				out = append(out, subKey{t, k, name})
			}
		}
	}
	for t := range h.tracked {
		out = append(out, subKey{t, peer.PubsubTracking, ""})
	}
	return out
}
