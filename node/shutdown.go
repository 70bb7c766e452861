package node

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// parts counts the goroutines of Run by what they are ("clients", "raft",
// ...): Run waits for some of them by name, and when shutdown-timeout
// passes it logs the ones that have not stopped.
type parts struct {
	mu      sync.Mutex
	stopped sync.Cond
	n       map[string]int
}

func newParts() *parts {
	p := &parts{n: map[string]int{}}
	p.stopped.L = &p.mu
	return p
}

// start counts one more goroutine of part; it calls the function returned
// when it stops.
func (p *parts) start(part string) (done func()) {
	p.mu.Lock()
	p.n[part]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.n[part]--; p.n[part] == 0 {
				delete(p.n, part)
				p.stopped.Broadcast()
			}
			p.mu.Unlock()
		})
	}
}

// wait returns once no goroutine of part runs.
func (p *parts) wait(part string) {
	p.mu.Lock()
	for p.n[part] > 0 {
		p.stopped.Wait()
	}
	p.mu.Unlock()
}

// running lists the parts with goroutines running, "clients (3), raft".
func (p *parts) running() string {
	p.mu.Lock()
	names := make([]string, 0, len(p.n))
	for name, k := range p.n {
		if k > 1 {
			name = fmt.Sprintf("%s (%d)", name, k)
		}
		names = append(names, name)
	}
	p.mu.Unlock()
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// stop finishes Run once its context is done: it waits for Run's
// goroutines and the connections (closed by then), closes the peer links
// and storage, and stops the embedded etcd. Nothing a client does may keep
// the node alive: past shutdown-timeout it logs what has not stopped and
// returns an error without waiting any longer. Storage is closed only once
// nothing uses it (a command stuck on a lock or a peer could still be
// running): if that did not happen in time, it stays open and the process
// exits without closing it, which loses nothing acknowledged (every
// acknowledged write is in RocksDB's WAL, as after kill -9).
func (n *Node) stop(g *errgroup.Group) error {
	stopped := make(chan error, 1)
	var engineClosed atomic.Bool
	go func() {
		err := g.Wait()
		n.parts.wait("clients")
		n.txns.Drain() // the decisions the coordinator still has to forget
		done := n.parts.start("peer links")
		n.links.Close()
		done()
		n.parts.wait("peers")
		n.txns.Close() // a prepared part stays recorded for the next start
		done = n.parts.start("storage (closing)")
		n.eng.Close()
		engineClosed.Store(true)
		done()
		done = n.parts.start("embedded etcd (stopping)")
		n.stopEtcd()
		done()
		stopped <- err
	}()
	timeout := time.Duration(n.shutdownTimeout.Load())
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-stopped:
		n.log.Info("pika-node stopped")
		return err
	case <-t.C:
	}
	still := n.parts.running()
	storage := "storage closed"
	if !engineClosed.Load() {
		storage = "storage not closed (every acknowledged write is in its WAL)"
	}
	n.log.Error("shutdown-timeout passed: stopping without waiting for the rest", "shutdown_timeout", timeout,
		"still_running", still, "storage_closed", engineClosed.Load())
	return fmt.Errorf("not stopped within shutdown-timeout (%s); still running: %s; %s", timeout, still, storage)
}
