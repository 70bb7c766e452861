package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/pika-node/pika-node/storage"
)

// The wire form of a batch, one per peer per send:
//
//	from u64 | items...
//	item: kind u8 | table u32 | slot u32 | uvarint len | body
//
// kinds: a raft message (body: raftpb.Message), a quiesce notice (body:
// term u64 | last index u64), a ping (no body).
const (
	itemRaft byte = iota + 1
	itemQuiesce
	itemPing
)

// maxBatchBytes bounds one batch; more waits for the next send.
const maxBatchBytes = 4 << 20

func quiesceBody(term, last uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), term)
	return binary.BigEndian.AppendUint64(b, last)
}

// peer is the outgoing side of the link to one peer node: items queue in
// buf and one goroutine sends them, a batch per round trip, so many
// groups' messages share one request.
type peer struct {
	h  *Host
	id PeerID

	mu       sync.Mutex
	buf      []byte
	signal   chan struct{}
	closed   chan struct{}
	inflight chan func() error // acknowledgements to wait for, in order

	lastHeard atomic.Int64 // unix ns
	down      atomic.Bool
}

// peer returns the link to id, creating it.
func (h *Host) peer(id PeerID) *peer {
	h.peersMu.Lock()
	defer h.peersMu.Unlock()
	p := h.peers[id]
	if p == nil {
		p = &peer{h: h, id: id, signal: make(chan struct{}, 1), closed: make(chan struct{}), inflight: make(chan func() error, maxInflight)}
		p.lastHeard.Store(time.Now().UnixNano())
		if h.peersClosed {
			close(p.closed) // the host stopped: nothing to send
			return p
		}
		h.peers[id] = p
		h.bg.Add(2)
		go func() {
			defer h.bg.Done()
			p.run()
		}()
		go func() {
			defer h.bg.Done()
			p.confirm()
		}()
	}
	return p
}

func (h *Host) isDown(id PeerID) bool {
	h.peersMu.Lock()
	p := h.peers[id]
	h.peersMu.Unlock()
	return p != nil && p.down.Load()
}

// add queues an item. Raft tolerates lost messages: past the bound, items
// are dropped.
func (p *peer) add(kind byte, g GroupID, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > maxBatchBytes {
		return
	}
	if len(p.buf) == 0 {
		p.buf = binary.BigEndian.AppendUint64(p.buf, p.h.cfg.Self)
	}
	p.buf = appendItem(p.buf, kind, g, body)
}

// appendItem appends one item of a batch.
func appendItem(dst []byte, kind byte, g GroupID, body []byte) []byte {
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(g.Table))
	dst = binary.BigEndian.AppendUint32(dst, uint32(g.Slot))
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

func (p *peer) kick() {
	p.mu.Lock()
	has := len(p.buf) > 0
	p.mu.Unlock()
	if has {
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
}

func (p *peer) close() {
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
}

func (p *peer) run() {
	for {
		select {
		case <-p.closed:
			return
		case <-p.signal:
		}
		p.mu.Lock()
		batch := p.buf
		p.buf = nil
		p.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		wait := p.h.cfg.Send(p.id, batch)
		select {
		case p.inflight <- wait:
		case <-p.closed:
			return
		}
	}
}

// maxInflight bounds the batches sent to a peer and not yet acknowledged.
const maxInflight = 16

// confirm waits for the acknowledgement of each batch sent; a failure
// marks the peer down (and pauses its sends a moment: the next ping
// retries).
func (p *peer) confirm() {
	for {
		var wait func() error
		select {
		case <-p.closed:
			return
		case wait = <-p.inflight:
		}
		if err := wait(); err != nil {
			if p.down.CompareAndSwap(false, true) {
				p.h.cfg.Log.Debug("raft peer unreachable", "peer", p.id, "err", err)
				p.h.PeerDown(p.id)
			}
			select {
			case <-p.closed:
				return
			case <-time.After(p.h.cfg.PeerTimeout / 5):
			}
		}
	}
}

// ErrBadBatch is a batch from a peer that does not parse.
var ErrBadBatch = errors.New("multiraft: malformed batch")

// Deliver hands a batch received from a peer to the driver. It checks the
// whole batch before taking any of it.
func (h *Host) Deliver(batch []byte) error {
	if len(batch) < 8 {
		return ErrBadBatch
	}
	from := binary.BigEndian.Uint64(batch)
	b := batch[8:]
	var evs []event
	for len(b) > 0 {
		if len(b) < 9 {
			return ErrBadBatch
		}
		kind := b[0]
		g := GroupID{Table: storage.TableID(binary.BigEndian.Uint32(b[1:])), Slot: storage.SlotID(binary.BigEndian.Uint32(b[5:]))}
		b = b[9:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return ErrBadBatch
		}
		body := b[n : n+int(l)]
		b = b[n+int(l):]
		switch kind {
		case itemRaft:
			var m raftpb.Message
			if err := m.Unmarshal(body); err != nil {
				return fmt.Errorf("%w: %v", ErrBadBatch, err)
			}
			if m.From != from || m.To != h.cfg.Self {
				return fmt.Errorf("%w: message from %d to %d in a batch from %d", ErrBadBatch, m.From, m.To, from)
			}
			evs = append(evs, event{kind: evMessage, group: g, msg: m, from: from})
		case itemQuiesce:
			if len(body) != 16 {
				return ErrBadBatch
			}
			evs = append(evs, event{kind: evQuiesce, group: g, from: from, term: binary.BigEndian.Uint64(body),
				msg: raftpb.Message{Commit: binary.BigEndian.Uint64(body[8:])}})
		case itemPing:
		default:
			return ErrBadBatch
		}
	}
	p := h.peer(from)
	p.lastHeard.Store(time.Now().UnixNano())
	p.down.Store(false)
	if len(evs) > 0 {
		h.mu.Lock()
		h.inbox = append(h.inbox, evs...)
		h.mu.Unlock()
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	return nil
}
