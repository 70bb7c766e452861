package pubsub

import (
	"sync"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// Sub is one client connection's side of pub/sub: what it subscribes to
// and how messages reach it. Its methods are safe for concurrent use: the
// client's goroutine subscribes, publishers on any goroutine deliver.
type Sub struct {
	id    uint64
	resp3 func() bool
	send  func([]byte) error
	cut   func()
	// holdLimit bounds the bytes held back (a client that lets them grow
	// past it is cut off, as by its output buffer limit).
	holdLimit int

	mu     sync.Mutex
	closed bool
	// held: a confirmation of a subscription is in the client's replies
	// not yet sent; messages wait in later until Release, so that none
	// overtakes it.
	held       bool
	later      [][]byte
	laterBytes int
	subs       map[subKey]struct{}
	counts     [3]int // by kindIndex
}

// subKey is one subscription: a name of a kind in a table.
type subKey struct {
	table storage.TableID
	kind  peer.PubsubKind
	name  string
}

func kindIndex(k peer.PubsubKind) int {
	switch k {
	case peer.PubsubPattern:
		return 1
	case peer.PubsubShard:
		return 2
	case peer.PubsubTracking:
		return 3 // in the other nodes' interest only (remote)
	}
	return 0
}

// NewSub returns the side of client id: resp3 tells its protocol as of
// now, send writes a message to it (and fails once it is cut off), cut
// closes its connection; holdLimit bounds the messages held back for it.
func NewSub(id uint64, resp3 func() bool, send func([]byte) error, cut func(), holdLimit int) *Sub {
	return &Sub{id: id, resp3: resp3, send: send, cut: cut, holdLimit: holdLimit, subs: map[subKey]struct{}{}}
}

// Subscribed reports whether the client is in pub/sub mode: it subscribes
// to any channel, pattern or shard channel.
func (s *Sub) Subscribed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs) > 0
}

// Counts returns how many channels, patterns and shard channels the
// client subscribes to (CLIENT LIST's sub, psub and ssub).
func (s *Sub) Counts() (channels, patterns, shard int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[0], s.counts[1], s.counts[2]
}

// AnySubscription reports whether f holds for one of the client's
// subscriptions: its name, and whether it is a pattern (PSUBSCRIBE).
func (s *Sub) AnySubscription(f func(name string, pattern bool) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.subs {
		if f(k.name, k.kind == peer.PubsubPattern) {
			return true
		}
	}
	return false
}

// count is the number Redis answers with a (un)subscription of kind:
// channels and patterns together, or the shard channels.
func (s *Sub) countLocked(k peer.PubsubKind) int {
	if k == peer.PubsubShard {
		return s.counts[2]
	}
	return s.counts[0] + s.counts[1]
}

// Hold holds messages back until Release: the client's replies about to
// be sent confirm a subscription.
func (s *Sub) Hold() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

// Release sends the messages held back, once the client's replies before
// them are sent.
func (s *Sub) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held {
		return
	}
	s.held = false
	later := s.later
	s.later, s.laterBytes = nil, 0
	for _, b := range later {
		if s.closed {
			return
		}
		if s.send(b) != nil {
			s.closed = true
		}
	}
}

// deliver sends m to the client if it still has subscription k (a
// pattern's: m as a pmessage of it).
func (s *Sub) deliver(k subKey, m *message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, ok := s.subs[k]; !ok {
		return false
	}
	b := m.frame(s.resp3())
	if s.held {
		if s.laterBytes+len(b) > s.holdLimit {
			// As over the output buffer limit: the client is cut off.
			s.closed = true
			s.later, s.laterBytes = nil, 0
			s.cut()
			return true
		}
		s.later = append(s.later, b)
		s.laterBytes += len(b)
		return true
	}
	if s.send(b) != nil {
		s.closed = true
	}
	return true
}
