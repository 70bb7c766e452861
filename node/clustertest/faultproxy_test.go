package clustertest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
)

// faultProxy forwards TCP connections to a node's peer port and, on
// demand, drops every connection or stalls all traffic: faults a real link
// shows but loopback does not.
type faultProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	stall  chan struct{} // open while stalled
	drops  int
	stalls int
	// refusing: every new connection is closed at once (cut, until heal).
	refusing bool
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", testproc.Loopback(testproc.Port(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, stall: make(chan struct{})}
	close(p.stall)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			refusing := p.refusing
			p.mu.Unlock()
			if refusing {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.drop() })
	return p
}

func (p *faultProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stall := p.stall
			p.mu.Unlock()
			<-stall
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil { // EOF or a dropped connection
			break
		}
	}
	dst.Close()
	src.Close()
}

// drop closes every proxied connection.
func (p *faultProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.drops++
}

// stallFor holds all traffic for d.
func (p *faultProxy) stallFor(d time.Duration) {
	p.mu.Lock()
	ch := make(chan struct{})
	p.stall = ch
	p.stalls++
	p.mu.Unlock()
	time.Sleep(d)
	close(ch)
}

// cut drops every proxied connection and refuses new ones until heal: the
// node behind the proxy receives nothing on its peer port.
func (p *faultProxy) cut() {
	p.mu.Lock()
	p.refusing = true
	p.mu.Unlock()
	p.drop()
}

// hold stalls all traffic until heal (stallFor without the timer): bytes
// sent meanwhile are delivered late, after heal.
func (p *faultProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stall: // flowing
		p.stall = make(chan struct{})
		p.stalls++
	default: // already held
	}
}

// heal ends a cut or a hold: held bytes flow, new connections are accepted.
func (p *faultProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = false
	select {
	case <-p.stall:
	default:
		close(p.stall)
	}
}

// TestReplicationThroughLinkFaults: node 3's peer link goes through a
// proxy that drops its connections and stalls it while clients write;
// replication resumes from each follower's position: no gap, no
// duplicate, replicas proven equal.
func TestReplicationThroughLinkFaults(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	common := []string{"--etcd", etcd.Endpoint(), "--cluster", "lf", "--lease-ttl", "3s", "--forward-timeout", "1s"}
	var nodes []*testproc.Node
	for i := range 2 {
		nd := startNode(t, dir, fmt.Sprintf("n%d", i+1), common...)
		nd.WaitHealthy(t)
		nodes = append(nodes, nd)
	}
	port3 := testproc.Port(t, 10000, 20000)
	proxy := newFaultProxy(t, testproc.Loopback(port3+10000))
	n3 := startNodeOn(t, port3, dir, "n3", append(common, "--advertise-peer", proxy.ln.Addr().String())...)
	n3.WaitHealthy(t)
	nodes = append(nodes, n3)
	var st api.Status
	testproc.WaitFor(t, "3 nodes alive", 20*time.Second, func() bool {
		pikactlJSON(t, &st, "--server", nodes[0].HTTPAddr(), "status")
		return len(st.Nodes) == 3
	})
	tb := createTable(t, nodes, "rep", 16, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID), MaxRetries: -1})

	// Writes through node 1 (its own slots and node 2's: node 3's slots
	// are reached through the faulty link, and may fail while it is cut).
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		acked := 0
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- acked
				return
			default:
			}
			if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err == nil {
				acked++
			} else if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
				t.Errorf("set: %v", err)
			}
		}
	}()
	for round := range 6 {
		testproc.WaitFor(t, "some writes", 10*time.Second, func() bool { return storedKeys(t, nodes[0]) > 100*(round+1) })
		if round%2 == 0 {
			proxy.drop()
		} else {
			proxy.stallFor(300 * time.Millisecond)
		}
	}
	close(stop)
	acked := <-done
	testproc.WaitFor(t, "every replica to store the same keys", 30*time.Second, func() bool {
		want := storedKeys(t, nodes[0])
		return want > 0 && storedKeys(t, nodes[1]) == want && storedKeys(t, n3) == want
	})
	t.Logf("MEASURED: %d writes acknowledged through %d dropped links and %d 300 ms stalls on node 3's peer link; replicas converged",
		acked, proxy.drops, proxy.stalls)
	checkEqual(t, nodes[1])
}
