package peer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// peerServer is a minimal peer for fault injection: it answers PEERAUTH
// with +OK (or refuses a wrong secret), then echoes each command's second
// argument as a bulk string, and can be told to hang up or stall.
type peerServer struct {
	ln     net.Listener
	secret string
	mu     sync.Mutex
	conns  []net.Conn
	stall  chan struct{} // closed: answer; open: hold replies
}

func newPeerServer(t *testing.T, secret string) *peerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &peerServer{ln: ln, secret: secret, stall: make(chan struct{})}
	close(s.stall)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			stall := s.stall
			s.mu.Unlock()
			go s.serve(c, stall)
		}
	}()
	t.Cleanup(func() { ln.Close(); s.hangUp() })
	return s
}

func (s *peerServer) serve(c net.Conn, stall chan struct{}) {
	br := bufio.NewReader(c)
	first := true
	for {
		req, err := readReply(br, 1<<20)
		if err != nil {
			return
		}
		el, _ := Elems(req)
		var arg []byte
		if len(el) > 1 {
			arg = el[1][bytes.IndexByte(el[1], '\n')+1 : len(el[1])-2]
		}
		<-stall
		if first {
			first = false
			if string(arg) != s.secret {
				c.Write([]byte("-ERR invalid cluster secret\r\n"))
				c.Close()
				return
			}
			c.Write([]byte("+OK\r\n"))
			continue
		}
		c.Write([]byte(fmt.Sprintf("$%d\r\n%s\r\n", len(arg), arg)))
	}
}

func (s *peerServer) hangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func TestPoolPipelinesInOrder(t *testing.T) {
	srv := newPeerServer(t, "s3cret")
	p := NewPool(Config{Self: "me"})
	defer p.Close()
	p.SetSecret("s3cret")
	var futs []*Future
	for i := range 2000 {
		futs = append(futs, p.Do(srv.ln.Addr().String(), 7, [][]byte{[]byte("ECHO"), []byte(fmt.Sprint(i))}))
	}
	for i, f := range futs {
		raw, err := f.Wait(context.Background(), 5*time.Second)
		if want := fmt.Sprintf("$%d\r\n%d\r\n", len(fmt.Sprint(i)), i); err != nil || string(raw) != want {
			t.Fatalf("reply %d = %q, %v; want %q", i, raw, err, want)
		}
	}
}

func TestPoolFailures(t *testing.T) {
	srv := newPeerServer(t, "s3cret")
	addr := srv.ln.Addr().String()
	p := NewPool(Config{Self: "me"})
	defer p.Close()

	// Wrong secret: the request fails, not hangs.
	p.SetSecret("wrong")
	if _, err := p.Do(addr, 0, [][]byte{[]byte("ECHO"), []byte("x")}).Wait(context.Background(), 5*time.Second); err == nil {
		t.Fatal("a request over a refused PEERAUTH succeeded")
	}
	p.SetSecret("s3cret")
	ok := func() {
		t.Helper()
		var raw []byte
		var err error
		// The refused link is dropped asynchronously; the next one dials anew.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			raw, err = p.Do(addr, 0, [][]byte{[]byte("ECHO"), []byte("x")}).Wait(context.Background(), 5*time.Second)
			if err == nil {
				break
			}
		}
		if err != nil || string(raw) != "$1\r\nx\r\n" {
			t.Fatalf("request = %q, %v", raw, err)
		}
	}
	ok()

	// The peer hangs up: requests in flight fail; the next one reconnects.
	srv.hangUp()
	ok()

	// A stalled peer: the wait times out, and the link is replaced.
	srv.mu.Lock()
	srv.stall = make(chan struct{})
	stall := srv.stall
	srv.mu.Unlock()
	srv.hangUp()
	// (The first tries may still meet the link the hang-up broke.)
	var err error
	for range 5 {
		start := time.Now()
		_, err = p.Do(addr, 0, [][]byte{[]byte("ECHO"), []byte("y")}).Wait(context.Background(), 200*time.Millisecond)
		if time.Since(start) > 2*time.Second {
			t.Fatalf("stalled peer: %v after %s", err, time.Since(start))
		}
		if errors.Is(err, ErrTimeout) {
			break
		}
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("stalled peer: %v, want a timeout", err)
	}
	close(stall)
	srv.mu.Lock()
	srv.stall = stall
	srv.mu.Unlock()
	ok()

	// Nobody listening: fails at once.
	srv.ln.Close()
	srv.hangUp()
	start := time.Now()
	if _, err := p.Do(addr, 0, [][]byte{[]byte("ECHO"), []byte("z")}).Wait(context.Background(), 5*time.Second); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("dead peer: %v after %s", err, time.Since(start))
	}
}

// Each traffic class travels on its own connections: raft messages on the
// raft pool's first connection to a peer, raft snapshots on its second,
// full syncs on the bulk pool, forwards on the forward pool by key.
func TestLinksClasses(t *testing.T) {
	srv := newPeerServer(t, "s3cret")
	addr := srv.ln.Addr().String()
	l := NewLinks(LinksConfig{Self: "me"})
	defer l.Close()
	l.SetSecret("s3cret")
	for _, tc := range []struct {
		class Class
		key   uint32
		pool  *Pool
		conn  int
	}{
		{ClassForward, 3, l.fwd, 1},
		{ClassRaft, 3, l.raft, 0},
		{ClassRaftSnapshot, 0, l.raft, 1},
		{ClassBulk, 2, l.bulk, 0},
	} {
		raw, err := l.Do(addr, tc.class, tc.key, Raft{Batch: []byte("x")}).Wait(context.Background(), 5*time.Second)
		if err != nil || string(raw) != "$1\r\nx\r\n" {
			t.Fatalf("class %d: %q, %v", tc.class, raw, err)
		}
		tc.pool.mu.Lock()
		pr := tc.pool.peers[addr]
		tc.pool.mu.Unlock()
		var used bool
		if pr != nil {
			c := pr.conns[tc.conn]
			c.mu.Lock()
			used = c.cur != nil
			c.mu.Unlock()
		}
		if !used {
			t.Errorf("class %d did not use connection %d of its pool", tc.class, tc.conn)
		}
	}
	if l.fwd.cfg.MaxReply != 1<<30 || l.raft.cfg.MaxReply != 1<<20 || l.bulk.cfg.MaxReply != 1<<20 {
		t.Errorf("reply bounds: %d %d %d", l.fwd.cfg.MaxReply, l.raft.cfg.MaxReply, l.bulk.cfg.MaxReply)
	}
}

// An Exclusive pool gives each request a connection of its own: a reply
// the peer holds back does not hold up the replies of requests sent
// after it (a peer answers one connection's requests in order).
func TestPoolExclusive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := readReply(br, 1<<20)
					if err != nil {
						return
					}
					el, _ := Elems(req)
					name, _ := Bulk(el[0])
					switch string(name) {
					case "PEERAUTH":
						c.Write([]byte("+OK\r\n"))
					case "SLOW":
						<-release
						c.Write([]byte("+slow\r\n"))
					default:
						c.Write([]byte("+fast\r\n"))
					}
				}
			}()
		}
	}()
	for _, exclusive := range []bool{true, false} {
		p := NewPool(Config{Self: "me", ConnsPerPeer: 1, Exclusive: exclusive})
		addr := ln.Addr().String()
		slow := p.Do(addr, 0, [][]byte{[]byte("SLOW")})
		slow.Flush()
		fast, err := p.Do(addr, 0, [][]byte{[]byte("FAST")}).Wait(context.Background(), 300*time.Millisecond)
		switch {
		case exclusive && (err != nil || string(fast) != "+fast\r\n"):
			t.Fatalf("exclusive: a request behind a held one: %q, %v", fast, err)
		case !exclusive && err == nil:
			t.Fatalf("shared connection: a request overtook a held one (%q): the test does not test", fast)
		}
		release <- struct{}{}
		if exclusive {
			if raw, err := slow.Wait(context.Background(), 5*time.Second); err != nil || string(raw) != "+slow\r\n" {
				t.Fatalf("the held request: %q, %v", raw, err)
			}
		}
		p.Close()
	}
}
