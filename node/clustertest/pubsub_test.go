package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// receiver is one go-redis subscriber and what it received, read on a
// goroutine of its own until its connection fails.
type receiver struct {
	node  int
	ps    *redis.PubSub
	mu    sync.Mutex
	got   []string // "publisher:seq" payloads, in arrival order
	ended chan struct{}
}

func (r *receiver) read(ctx context.Context) {
	defer close(r.ended)
	for {
		m, err := r.ps.ReceiveMessage(ctx)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.got = append(r.got, m.Payload)
		r.mu.Unlock()
	}
}

// check reports the first way r's messages from publishers pubs, seqs
// from..to-1 each, are not each received exactly once in publish order.
func (r *receiver) check(pubs []int, from, to int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[int]int{}
	for _, p := range pubs {
		next[p] = from
	}
	for _, payload := range r.got {
		ps, ss, _ := strings.Cut(payload, ":")
		p, _ := strconv.Atoi(ps)
		s, _ := strconv.Atoi(ss)
		want, ok := next[p]
		if !ok || s < from {
			continue // another phase's
		}
		if s != want {
			return fmt.Errorf("from publisher %d: got seq %d, want %d", p, s, want)
		}
		next[p] = want + 1
	}
	for _, p := range pubs {
		if next[p] != to {
			return fmt.Errorf("from publisher %d: received up to seq %d, want %d", p, next[p], to)
		}
	}
	return nil
}

// TestPubsubAcrossNodes: subscribers on every node of three (two to the
// channel, one to a pattern matching it, on each), a publisher on every
// node: each message reaches each subscriber exactly once, in each
// publisher's order, and PUBLISH answers the cluster's receiver count.
// Then node 3 is killed with kill -9: its subscribers are disconnected,
// the others keep receiving every message, and PUBLISH counts only them;
// a subscriber of the restarted node 3 receives again.
func TestPubsubAcrossNodes(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "pubsub", 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var receivers []*receiver
	var readers sync.WaitGroup
	subscribe := func(i int, pattern bool) *receiver {
		t.Helper()
		c := redisClient(t, nodes[i], nil)
		var ps *redis.PubSub
		if pattern {
			ps = c.PSubscribe(ctx, "jo*")
		} else {
			ps = c.Subscribe(ctx, "jobs")
		}
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("subscribing through node %d: %v", i+1, err)
		}
		r := &receiver{node: i, ps: ps, ended: make(chan struct{})}
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.read(ctx)
		}()
		return r
	}
	for i := range nodes {
		receivers = append(receivers, subscribe(i, false), subscribe(i, false), subscribe(i, true))
	}
	defer func() {
		cancel()
		for _, r := range receivers {
			r.ps.Close() // a read in progress does not heed ctx
		}
		readers.Wait()
	}()

	publish := func(pubs []int, from, to, wantCount int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, len(pubs))
		for _, p := range pubs {
			c := redisClient(t, nodes[p], nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := from; s < to; s++ {
					n, err := c.Publish(ctx, "jobs", fmt.Sprintf("%d:%d", p, s)).Result()
					if err != nil || int(n) != wantCount {
						errs <- fmt.Errorf("PUBLISH through node %d, seq %d: %d receivers, %v; want %d", p+1, s, n, err, wantCount)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	awaitAll := func(rs []*receiver, pubs []int, from, to int) {
		t.Helper()
		for _, r := range rs {
			testproc.WaitFor(t, fmt.Sprintf("a subscriber of node %d has its messages", r.node+1), 20*time.Second, func() bool {
				return r.check(pubs, from, to) == nil
			})
		}
	}

	const n = 200
	publish([]int{0, 1, 2}, 0, n, len(receivers))
	awaitAll(receivers, []int{0, 1, 2}, 0, n)

	nodes[2].Kill()
	var alive []*receiver
	for _, r := range receivers {
		if r.node == 2 {
			select {
			case <-r.ended:
			case <-time.After(10 * time.Second):
				t.Fatalf("a subscriber of the killed node 3 was not disconnected")
			}
			continue
		}
		alive = append(alive, r)
	}
	publish([]int{0, 1}, n, 2*n, len(alive))
	awaitAll(alive, []int{0, 1}, n, 2*n)

	nodes[2] = testproc.StartNode(t, nodes[2].Spec)
	nodes[2].WaitHealthy(t)
	again := subscribe(2, false)
	receivers = append(receivers, again)
	publish([]int{0}, 2*n, 2*n+10, len(alive)+1)
	awaitAll(append(alive, again), []int{0}, 2*n, 2*n+10)
	for _, r := range append(alive, again) {
		if err := r.check([]int{0}, 2*n, 2*n+10); err != nil {
			t.Errorf("subscriber of node %d: %v", r.node+1, err)
		}
	}
}
