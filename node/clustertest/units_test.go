package clustertest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// TestUnitsAcrossNodes: MULTI ... EXEC blocks over keys whose slots three
// nodes lead (an async table of one replica) run as one unit through any
// node. Transfers between ten counters (MULTI DECRBY a n INCRBY b n EXEC)
// run concurrently through every node while readers take all counters in
// one block: every read must add up to the total, and so must the end.
// Then a node is killed with kill -9 and restarted under the same load:
// acknowledged transfers stay whole.
func TestUnitsAcrossNodes(t *testing.T) {
	_, nodes := startNodes(t, "units", 3)
	tb := createTable(t, nodes, "tx", 16, 1)
	ctx := context.Background()
	clients := make([]*redis.Client, len(nodes))
	for i, nd := range nodes {
		clients[i] = redisClient(t, nd, &redis.Options{DB: int(tb.ID), MaxRetries: -1})
		defer clients[i].Close()
	}
	const counters, start = 10, 1000
	keys := make([]string, counters)
	for i := range keys {
		keys[i] = "acct:" + strconv.Itoa(i)
	}

	// One block setting every counter, through node 1; read back one by
	// one through node 3.
	cmds, err := clients[0].TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, start, 0)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("MULTI SET ... EXEC: %v", err)
	}
	if len(cmds) != counters {
		t.Fatalf("EXEC answered %d replies, want %d", len(cmds), counters)
	}
	for _, k := range keys {
		if v, err := clients[2].Get(ctx, k).Int(); err != nil || v != start {
			t.Fatalf("GET %s = %d, %v; want %d", k, v, err, start)
		}
	}

	total := counters * start
	sum := func(c *redis.Client) (int, error) {
		var gets []*redis.StringCmd
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			gets = gets[:0]
			for _, k := range keys {
				gets = append(gets, p.Get(ctx, k))
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		s := 0
		for _, g := range gets {
			v, err := g.Int()
			if err != nil {
				return 0, err
			}
			s += v
		}
		return s, nil
	}

	// run runs the load for d; with faults, a failed transfer or read is
	// counted, not an error (a node is down), but a read that succeeds
	// must still be whole.
	var failed int
	run := func(d time.Duration, faults bool) (transfers, reads int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		deadline := time.Now().Add(d)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clients[w%len(clients)]
				for time.Now().Before(deadline) {
					a, b := rand.IntN(counters), rand.IntN(counters)
					if a == b {
						continue
					}
					n := 1 + rand.IntN(9)
					_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.DecrBy(ctx, keys[a], int64(n))
						p.IncrBy(ctx, keys[b], int64(n))
						return nil
					})
					if err != nil && faults {
						mu.Lock()
						failed++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("transfer through %s: %v", nodes[w%len(nodes)].Name, err)
						return
					}
					mu.Lock()
					transfers++
					mu.Unlock()
				}
			}()
		}
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clients[(r+1)%len(clients)]
				for time.Now().Before(deadline) {
					s, err := sum(c)
					if err != nil && faults {
						mu.Lock()
						failed++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("read through %s: %v", nodes[(r+1)%len(nodes)].Name, err)
						return
					}
					if s != total {
						t.Errorf("a block read the counters adding up to %d, want %d: it saw part of a transfer", s, total)
						return
					}
					mu.Lock()
					reads++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return transfers, reads
	}
	transfers, reads := run(5*time.Second, false)
	t.Logf("%d transfers and %d whole reads through 3 nodes", transfers, reads)
	if transfers == 0 || reads == 0 {
		t.Fatalf("%d transfers, %d reads: the load did not run", transfers, reads)
	}
	for i, c := range clients {
		if s, err := sum(c); err != nil || s != total {
			t.Fatalf("through %s the counters add up to %d (%v), want %d", nodes[i].Name, s, err, total)
		}
	}

	// kill -9 of a node leading some counters under the same load, and
	// back: units in flight through it or on its slots end whole
	// (prepared parts are resolved after its restart), nothing stays
	// locked, and every acknowledged transfer is there.
	victim := nodes[1]
	done := make(chan [2]int)
	go func() {
		tr, rd := run(6*time.Second, true)
		done <- [2]int{tr, rd}
	}()
	time.Sleep(time.Second) // the load runs before the kill
	victim.Kill()
	restarted := testproc.StartNode(t, victim.Spec)
	restarted.WaitHealthy(t)
	got := <-done
	t.Logf("with a kill -9 and restart: %d transfers, %d whole reads, %d failed", got[0], got[1], failed)
	clients[1] = redisClient(t, restarted, &redis.Options{DB: int(tb.ID), MaxRetries: -1})
	defer clients[1].Close()
	testproc.WaitFor(t, "every counter readable after the restart", 20*time.Second, func() bool {
		_, err := sum(clients[0])
		return err == nil
	})
	for i, c := range clients {
		if s, err := sum(c); err != nil || s != total {
			t.Fatalf("after the restart, through %s the counters add up to %d (%v), want %d", nodes[i].Name, s, err, total)
		}
	}
	// Nothing stays locked: a block writing every counter runs.
	if _, err := clients[1].TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.IncrBy(ctx, k, 0)
		}
		return nil
	}); err != nil {
		t.Fatalf("a block over every counter after the restart: %v", err)
	}
}
