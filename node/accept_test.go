package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failingListener fails Accept with err fails times, then hands out the
// conns queued on it; Close makes Accept fail with net.ErrClosed.
type failingListener struct {
	mu     sync.Mutex
	fails  int
	err    error
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *failingListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// Accept failing for want of file descriptors does not end acceptLoop: it
// retries and serves the next connection. Closed under a live context it
// reports it; with the context done it returns nil.
func TestAcceptLoopSurvivesEMFILE(t *testing.T) {
	n := &Node{log: slog.New(slog.NewTextHandler(io.Discard, nil)), parts: newParts()}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	ln := &failingListener{fails: 5, err: emfile, conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	served := make(chan net.Conn, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.acceptLoop(ctx, ln, "clients", func(c net.Conn) { served <- c }) }()

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ln.conns <- a
	select {
	case c := <-served:
		if c != a {
			t.Fatal("served another connection")
		}
	case err := <-done:
		t.Fatalf("acceptLoop returned after EMFILE: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection after the failures was not served")
	}
	n.parts.wait("clients")

	ln.Close() // not by the node: nothing would ever accept again
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("acceptLoop on a closed listener: %v, want net.ErrClosed", err)
	}

	// Failing when the context ends: returns nil.
	ln = &failingListener{fails: 1 << 30, err: emfile, closed: make(chan struct{})}
	go func() { done <- n.acceptLoop(ctx, ln, "peers", func(net.Conn) {}) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("acceptLoop after its context ended: %v", err)
	}
}
