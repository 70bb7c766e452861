package resp

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Writer sends one connection's replies without ever making the
// connection stop reading. A client may write a whole pipeline before it
// reads a reply (redis-py, Jedis and go-redis pipelines do); if the node
// wrote replies inline and blocked on a full socket, neither side would
// read and both would wait until the write timeout. So a reply is written
// inline only while the socket takes it at once (a 1 ms deadline); what it
// does not take is queued for a writer goroutine, and later replies queue
// behind it. The queue is bounded per client (maxPending, Redis's
// client-output-buffer-limit hard limit; soft, its soft limit, which the
// queue may pass for softFor at most) and, with the other connections,
// by the node's output budget: a client that lets any fill is
// disconnected.
type Writer struct {
	conn       net.Conn
	timeout    time.Duration // for queued writes: how long a stuck client may stay
	maxPending int
	soft       int
	softFor    time.Duration
	budget     *Budget
	netOut     *atomic.Int64
	now        func() time.Time // the clock of the soft limit

	mu      sync.Mutex
	cond    sync.Cond
	queue   [][]byte
	pending int // bytes in queue, all taken from budget
	err     error
	// overSince is when the queue went past the soft limit (zero: it is
	// not past it).
	overSince time.Time
	started   bool
	stopped   bool
	done      chan struct{}
}

// ErrOutputLimit: the client let its replies pile up past its limit or
// the node's output budget; its connection is closed.
var ErrOutputLimit = errors.New("client output buffer limit reached")

// inlineWriteWait is how long a reply may wait for socket space before it
// goes to the queue instead.
const inlineWriteWait = time.Millisecond

// NewWriter returns the reply writer of connection c: queued writes may
// take timeout, the queue holds at most maxPending bytes, all taken from
// budget; netOut counts the bytes written.
func NewWriter(c net.Conn, timeout time.Duration, maxPending int, budget *Budget, netOut *atomic.Int64) *Writer {
	w := &Writer{conn: c, timeout: timeout, maxPending: maxPending, budget: budget, netOut: netOut, now: time.Now, done: make(chan struct{})}
	w.cond.L = &w.mu
	return w
}

// SetLimits changes the bounds of the queue (a client entering or leaving
// pub/sub mode changes its output limits, as in Redis): at most hard
// bytes, and more than soft (0: no soft limit) for softFor at most.
func (w *Writer) SetLimits(hard, soft int, softFor time.Duration) {
	w.mu.Lock()
	w.maxPending, w.soft, w.softFor = hard, soft, softFor
	if soft == 0 || w.pending <= soft {
		w.overSince = time.Time{}
	}
	w.mu.Unlock()
}

// overSoftLocked reports whether a queue of pending bytes has been past
// the soft limit longer than softFor, noting when it went past it (as
// Redis checks it: when output is added).
func (w *Writer) overSoftLocked(pending int) bool {
	if w.soft == 0 || pending <= w.soft {
		w.overSince = time.Time{}
		return false
	}
	now := w.now()
	if w.overSince.IsZero() {
		w.overSince = now
		return false
	}
	return now.Sub(w.overSince) > w.softFor
}

// Send writes b or queues what is left of it. It keeps no reference to b
// after it returns unless it queued it (then b belongs to the writer). It
// fails once the connection is broken or over its limits; the caller then
// closes the connection.
func (w *Writer) Send(b []byte) (queued bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return false, w.err
	}
	if len(w.queue) == 0 {
		w.conn.SetWriteDeadline(time.Now().Add(inlineWriteWait))
		n, err := w.conn.Write(b)
		w.netOut.Add(int64(n))
		if err == nil {
			return false, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			w.err = err
			return false, err
		}
		b = b[n:]
	}
	if w.pending+len(b) > w.maxPending || w.overSoftLocked(w.pending+len(b)) || !w.budget.Take(int64(len(b))) {
		// Cut the client off now: closing fails the writer's current
		// write, and it drops the queue instead of draining it.
		w.err = ErrOutputLimit
		w.conn.Close()
		w.cond.Signal()
		return false, w.err
	}
	w.pending += len(b)
	w.queue = append(w.queue, b)
	if !w.started {
		w.started = true
		go w.run()
	}
	w.cond.Signal()
	return true, nil
}

// run writes queued replies in order until stop, or the first error.
func (w *Writer) run() {
	defer close(w.done)
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for len(w.queue) == 0 && !w.stopped {
			w.cond.Wait()
		}
		if len(w.queue) == 0 || w.err != nil {
			w.dropLocked()
			return
		}
		b := w.queue[0]
		w.mu.Unlock()
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		n, err := w.conn.Write(b)
		w.netOut.Add(int64(n))
		w.mu.Lock()
		w.queue = w.queue[1:]
		w.pending -= len(b)
		w.budget.Give(int64(len(b)))
		if w.pending <= w.soft {
			w.overSince = time.Time{}
		}
		if err != nil {
			w.err = err
			w.conn.Close() // wakes the reader, which ends the connection
			w.dropLocked()
			return
		}
	}
}

func (w *Writer) dropLocked() {
	for _, b := range w.queue {
		w.budget.Give(int64(len(b)))
	}
	w.queue, w.pending = nil, 0
}

// Stop lets the writer finish what is queued (each write bounded by the
// timeout) and waits for it.
func (w *Writer) Stop() {
	w.mu.Lock()
	w.stopped = true
	started := w.started
	w.cond.Signal()
	w.mu.Unlock()
	if started {
		<-w.done
	}
}
