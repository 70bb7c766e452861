package tracking

import "sync"

// Outbox holds a connection's invalidations back while a command of it
// is in flight: from the moment the connection reads a command (before a
// read registers its keys, Remember) until its replies are sent. An
// invalidation sent ahead of the reply of a read in flight could be
// followed by the read's value, older than the write it invalidates, and
// the client would cache a stale value for good: held back, it arrives
// after that reply and drops it. Safe for concurrent use: the
// connection's goroutine begins and releases, writers on any goroutine
// push.
type Outbox struct {
	send func([]byte) error

	mu    sync.Mutex
	busy  bool
	later [][]byte
	// max bounds the bytes held back; past it the connection is cut off
	// (cut), as by its output buffer limit.
	max, held int
	cut       func()
	closed    bool
}

// NewOutbox returns the outbox of a connection whose writer is send.
func NewOutbox(send func([]byte) error, max int, cut func()) *Outbox {
	return &Outbox{send: send, max: max, cut: cut}
}

// Begin marks a command in flight: pushes wait until Release.
func (o *Outbox) Begin() {
	o.mu.Lock()
	o.busy = true
	o.mu.Unlock()
}

// Release sends the pushes held back, once the replies before them are
// sent.
func (o *Outbox) Release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.busy = false
	later := o.later
	o.later, o.held = nil, 0
	for _, b := range later {
		if o.closed {
			return
		}
		if o.send(b) != nil {
			o.closed = true
		}
	}
}

// Push sends b now, or after the replies in flight.
func (o *Outbox) Push(b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if o.busy {
		if o.max > 0 && o.held+len(b) > o.max {
			o.closed = true
			o.later, o.held = nil, 0
			o.cut()
			return
		}
		o.later = append(o.later, b)
		o.held += len(b)
		return
	}
	if o.send(b) != nil {
		o.closed = true
	}
}
