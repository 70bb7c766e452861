package listen

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

// Accept failing for want of file descriptors does not end Loop.Run: it
// retries and serves the next connection. Closed under a live context it
// reports it; with the context done it returns nil.
func TestLoopSurvivesEMFILE(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var serving sync.WaitGroup
	track := func(string) func() {
		serving.Add(1)
		return serving.Done
	}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	ln := &failingListener{fails: 5, err: emfile, conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	served := make(chan net.Conn, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	clients := Loop{Name: "clients", Log: log, Track: track, Serve: func(c net.Conn) { served <- c }}
	go func() { done <- clients.Run(ctx, ln) }()

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
		t.Fatalf("Run returned after EMFILE: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection after the failures was not served")
	}
	serving.Wait()

	ln.Close() // not by the node: nothing would ever accept again
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run on a closed listener: %v, want net.ErrClosed", err)
	}

	// Failing when the context ends: returns nil.
	ln = &failingListener{fails: 1 << 30, err: emfile, closed: make(chan struct{})}
	peers := Loop{Name: "peers", Log: log, Track: track, Serve: func(net.Conn) {}}
	go func() { done <- peers.Run(ctx, ln) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after its context ended: %v", err)
	}
}
