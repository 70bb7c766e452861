package forward

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadReply(t *testing.T) {
	for _, raw := range []string{
		"+OK\r\n", "-ERR x\r\n", ":42\r\n", "$-1\r\n", "$0\r\n\r\n", "$3\r\nabc\r\n",
		"*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(raw+"+next\r\n")), 1<<20)
		if err != nil || string(got) != raw {
			t.Errorf("readReply(%q) = %q, %v", raw, got, err)
		}
	}
	for _, bad := range []string{
		"?x\r\n", "$5\r\nab\r\n", "$3\r\nabcXY", "$-2\r\n", "*x\r\n", ":1\n",
		"$99999999999\r\n", strings.Repeat("*1\r\n", 100) + ":1\r\n",
	} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad)), 1<<20); err == nil {
			t.Errorf("readReply(%q) accepted", bad)
		}
	}
	if _, err := readReply(bufio.NewReader(strings.NewReader("$10\r\n0123456789\r\n")), 8); err == nil {
		t.Error("a reply over the limit was accepted")
	}
}

func TestElemsAndInt(t *testing.T) {
	el, err := Elems([]byte("*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"))
	if err != nil || len(el) != 3 || string(el[0]) != "$1\r\na\r\n" || string(el[1]) != "$-1\r\n" || string(el[2]) != ":7\r\n" {
		t.Fatalf("Elems = %q, %v", el, err)
	}
	if _, err := Elems([]byte(":1\r\n")); err == nil {
		t.Fatal("Elems of an integer")
	}
	if v, err := Int([]byte(":-12\r\n")); err != nil || v != -12 {
		t.Fatalf("Int = %d, %v", v, err)
	}
	if !Refused([]byte("-PIKAREFUSE x\r\n")) || Refused([]byte("-ERR x\r\n")) || !IsError([]byte("-E\r\n")) {
		t.Fatal("Refused/IsError")
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n:1\r\n"))
	f.Add([]byte("$3\r\nabc\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := readReply(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		if err == nil && !bytes.HasPrefix(b, raw) {
			t.Fatalf("reply %q is not a prefix of the input", raw)
		}
	})
}

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
