package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Pool.
type Config struct {
	// Self is this node's id, sent with PEERAUTH (for the peer's logs).
	Self string
	// TLS, when set, wraps every connection (its handshake within
	// DialTimeout too).
	TLS *tls.Config
	// DialTimeout bounds connecting to a peer. Default 1s.
	DialTimeout time.Duration
	// ConnsPerPeer is how many connections carry the requests to one peer.
	// Default 2.
	ConnsPerPeer int
	// MaxInFlight bounds the requests waiting for replies on one
	// connection; past it a request fails at once. Default 16384.
	MaxInFlight int
	// MaxReply bounds one reply's size. Default 1 GiB.
	MaxReply int64
	// Exclusive gives each request a connection of its own for its round
	// trip (lanes are not used): requests the peer may hold for a while
	// (a ULOCK waiting for busy slots) never queue behind each other, as
	// they would on a shared connection, where the peer answers in
	// order. Up to ConnsPerPeer idle connections are kept; more are
	// dialled as needed and closed after their request.
	Exclusive bool
}

// ErrTooBusy is a request refused because too many are in flight.
var ErrTooBusy = errors.New("too many requests in flight to the peer")

// Pool holds the connections to every peer. Safe for concurrent use.
type Pool struct {
	cfg    Config
	secret atomic.Pointer[string]
	mu     sync.Mutex
	peers  map[string]*peerConns
	closed bool
	// readers are the links' reply readers; Close waits for them.
	readers sync.WaitGroup
}

// NewPool returns a pool with no connections yet.
func NewPool(cfg Config) *Pool {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if cfg.ConnsPerPeer <= 0 {
		cfg.ConnsPerPeer = 2
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 16384
	}
	if cfg.MaxReply <= 0 {
		cfg.MaxReply = 1 << 30
	}
	p := &Pool{cfg: cfg, peers: map[string]*peerConns{}}
	empty := ""
	p.secret.Store(&empty)
	return p
}

// SetSecret sets the cluster secret used by new connections.
func (p *Pool) SetSecret(s string) { p.secret.Store(&s) }

// Close closes every connection; their requests fail.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	var conns []*conn
	for _, pr := range p.peers {
		conns = append(conns, pr.conns...) // giveBack changes pr.conns under p.mu
	}
	p.peers = map[string]*peerConns{}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(errors.New("peer: pool closed"))
	}
	// Each conn is closed for good: no link dials after this, and every
	// reader's connection is closed, so each returns.
	p.readers.Wait()
}

// Do sends args to the peer at addr and returns the future reply.
// Requests with the same lane (the slot) go over the same connection, so
// the peer runs them in the order they were sent; different lanes may
// overtake each other.
func (p *Pool) Do(addr string, lane uint32, args [][]byte) *Future {
	f := newFuture()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		f.complete(nil, errors.New("peer: pool closed"))
		return f
	}
	pr, ok := p.peers[addr]
	if !ok {
		pr = &peerConns{}
		if !p.cfg.Exclusive {
			pr.conns = make([]*conn, p.cfg.ConnsPerPeer)
			for i := range pr.conns {
				pr.conns[i] = &conn{pool: p, addr: addr}
			}
		}
		p.peers[addr] = pr
	}
	if p.cfg.Exclusive {
		c := pr.take(p, addr)
		p.mu.Unlock()
		c.send(args, f)
		go func() {
			<-f.done
			p.giveBack(pr, c, f.err == nil)
		}()
		return f
	}
	p.mu.Unlock()
	c := pr.conns[int(lane)%len(pr.conns)]
	c.send(args, f)
	return f
}

type peerConns struct {
	conns []*conn
	// idle are the connections of an Exclusive pool free for a request.
	idle []*conn
}

// take returns an idle connection of an Exclusive pool, or a new one;
// p.mu is held.
func (pr *peerConns) take(p *Pool, addr string) *conn {
	if n := len(pr.idle); n > 0 {
		c := pr.idle[n-1]
		pr.idle = pr.idle[:n-1]
		return c
	}
	c := &conn{pool: p, addr: addr}
	pr.conns = append(pr.conns, c)
	return c
}

// giveBack makes c idle again after its request (closing it when it
// failed, when enough are idle, or when the pool closed).
func (p *Pool) giveBack(pr *peerConns, c *conn, ok bool) {
	p.mu.Lock()
	if ok && !p.closed && len(pr.idle) < p.cfg.ConnsPerPeer {
		pr.idle = append(pr.idle, c)
		p.mu.Unlock()
		return
	}
	if i := slices.Index(pr.conns, c); i >= 0 {
		pr.conns = slices.Delete(pr.conns, i, i+1)
	}
	p.mu.Unlock()
	c.close(errors.New("peer: connection no longer needed"))
}

// conn is one connection slot to a peer; its link is replaced when broken.
type conn struct {
	pool   *Pool
	addr   string
	mu     sync.Mutex
	cur    *link
	closed bool // the pool closed: no more dials
}

// link is one TCP connection's life: requests written in order, their
// futures queued in the same order, replies read by one goroutine.
type link struct {
	nc     net.Conn
	broken chan struct{}
	max    int

	// Requests are appended to buf under conn.mu; the sender that finds
	// no write in progress writes (outside the lock) and keeps writing
	// what others appended meanwhile: no writer goroutine to wake, and
	// many clients' requests leave in one syscall.
	buf     []byte
	spare   []byte
	writing bool

	qmu    sync.Mutex
	queue  []*Future // waiting for replies, in request order
	closed bool
	err    error
}

// push queues f for the next reply; false (f failed) when the link is
// broken or full.
func (l *link) push(f *Future) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	switch {
	case l.closed:
		f.complete(nil, l.err)
		return false
	case len(l.queue) >= l.max:
		f.complete(nil, ErrTooBusy)
		return false
	}
	l.queue = append(l.queue, f)
	return true
}

func (l *link) pop() *Future {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if len(l.queue) == 0 {
		return nil
	}
	f := l.queue[0]
	l.queue[0] = nil
	l.queue = l.queue[1:]
	return f
}

func (c *conn) send(args [][]byte, f *Future) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		select {
		case <-c.cur.broken:
			c.cur = nil
		default:
		}
	}
	if c.cur == nil {
		if c.closed {
			f.complete(nil, errors.New("peer: pool closed"))
			return
		}
		l, err := c.dial()
		if err != nil {
			f.complete(nil, err)
			return
		}
		c.cur = l
	}
	l := c.cur
	f.link = l
	if !l.push(f) {
		return
	}
	f.conn = c
	// Not written yet: Flush (or Wait) writes it, together with whatever
	// else was queued on the link by then — a pipeline's forwards leave
	// in one syscall, not one each.
	l.buf = AppendRequest(l.buf, args...)
}

// flush writes l's queued requests unless a write is in progress (whose
// goroutine then takes them).
func (c *conn) flush(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.writing || len(l.buf) == 0 || c.cur != l {
		return
	}
	l.writing = true
	c.writeOut(l)
}

// writeOut writes l.buf until nothing is left; called with c.mu held and
// l.writing set, it returns with c.mu held.
func (c *conn) writeOut(l *link) {
	for len(l.buf) > 0 {
		out := l.buf
		l.buf = l.spare[:0]
		c.mu.Unlock()
		_, err := l.nc.Write(out)
		c.mu.Lock()
		if cap(out) <= 1<<20 { // do not keep a huge request's buffer
			l.spare = out[:0]
		} else {
			l.spare = nil
		}
		if err != nil {
			l.writing = false
			l.fail(err)
			if c.cur == l {
				c.cur = nil
			}
			return
		}
	}
	l.writing = false
}

func (c *conn) dial() (*link, error) {
	nc, err := net.DialTimeout("tcp", c.addr, c.pool.cfg.DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to peer %s: %w", c.addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if c.pool.cfg.TLS != nil {
		tc := tls.Client(nc, c.pool.cfg.TLS)
		ctx, cancel := context.WithTimeout(context.Background(), c.pool.cfg.DialTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS to peer %s: %w", c.addr, err)
		}
		nc = tc
	}
	l := &link{
		nc:     nc,
		broken: make(chan struct{}),
		max:    c.pool.cfg.MaxInFlight,
	}
	// The first reply on the link answers PEERAUTH; it goes out with the
	// first request.
	auth := newFuture()
	l.push(auth)
	l.buf = AppendRequest(l.buf, Auth{Secret: *c.pool.secret.Load(), Node: c.pool.cfg.Self}.Args()...)
	c.pool.readers.Add(1) // under c.mu, before close can take it: Close waits for it
	go func() {
		defer c.pool.readers.Done()
		c.readLoop(l, auth)
	}()
	return l, nil
}

func (c *conn) readLoop(l *link, auth *Future) {
	br := bufio.NewReaderSize(l.nc, 64<<10)
	var err error
	for {
		var raw []byte
		raw, err = readReply(br, c.pool.cfg.MaxReply)
		if err != nil {
			break
		}
		f := l.pop()
		if f == nil {
			err = fmt.Errorf("%w: a reply nobody asked for", ErrProtocol)
			break
		}
		if f == auth && IsError(raw) {
			err = fmt.Errorf("peer %s refused PEERAUTH: %s", c.addr, raw[1:len(raw)-2])
			f.complete(raw, nil)
			break
		}
		f.complete(raw, nil)
	}
	l.fail(fmt.Errorf("peer %s: %w", c.addr, err))
	c.drop(l)
}

// drop forgets l if it is still the current link, so the next request dials.
func (c *conn) drop(l *link) {
	c.mu.Lock()
	if c.cur == l {
		c.cur = nil
	}
	c.mu.Unlock()
}

func (c *conn) close(err error) {
	c.mu.Lock()
	l := c.cur
	c.cur, c.closed = nil, true
	c.mu.Unlock()
	if l != nil {
		l.fail(err)
	}
}

// fail closes the link and fails every request still waiting on it.
func (l *link) fail(err error) {
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return
	}
	l.closed, l.err = true, err
	q := l.queue
	l.queue = nil
	l.qmu.Unlock()
	close(l.broken)
	l.nc.Close()
	for _, f := range q {
		f.complete(nil, err)
	}
}

// Future is a forwarded request's reply.
type Future struct {
	done  chan struct{}
	once  sync.Once
	reply []byte
	err   error
	link  *link
	conn  *conn
}

// Flush makes sure the request has been written to the peer. Wait does
// it too; call Flush on every future of a batch first, so that the
// requests to different peers travel at the same time.
func (f *Future) Flush() {
	if f.conn != nil && f.link != nil {
		f.conn.flush(f.link)
	}
}

func newFuture() *Future { return &Future{done: make(chan struct{})} }

// Resolved returns a future that already holds raw: an answer known
// without asking a peer.
func Resolved(raw []byte) *Future {
	f := newFuture()
	f.complete(raw, nil)
	return f
}

func (f *Future) complete(raw []byte, err error) {
	f.once.Do(func() {
		f.reply, f.err = raw, err
		close(f.done)
	})
}

// ErrTimeout is a reply that did not come in time; the connection it was
// sent on is closed (its other requests fail too) and the next request
// dials again.
var ErrTimeout = errors.New("no reply from the peer in time")

// Wait returns the raw reply, or an error when the request failed or no
// reply came within timeout (the request may or may not have run).
func (f *Future) Wait(ctx context.Context, timeout time.Duration) ([]byte, error) {
	select {
	case <-f.done: // already in: no timer
		return f.reply, f.err
	default:
	}
	f.Flush()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return f.reply, f.err
	case <-t.C:
	case <-ctx.Done():
	}
	if l := f.link; l != nil {
		l.fail(ErrTimeout)
	}
	f.complete(nil, ErrTimeout)
	<-f.done
	return f.reply, f.err
}

// Done is closed when the reply (or failure) is in.
func (f *Future) Done() <-chan struct{} { return f.done }
