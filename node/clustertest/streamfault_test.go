package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

// TestStreamGroupWorkersUnderKill runs consumer-group workers (XREADGROUP
// BLOCK, XACK) through the three nodes of a raft table while producers
// XADD, and kill -9s the leader of the stream's slot: every entry whose
// XADD was acknowledged is in the stream afterwards, and was delivered
// to a worker, or is still pending, or is still to be delivered (after
// the group's last delivered ID). None is lost.
func TestStreamGroupWorkersUnderKill(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "xsk", 3)
	const slots = 8
	tb := createModeTable(t, nodes, "xk", "raft", slots, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make([]string, len(nodes))
	for i, nd := range nodes {
		addrs[i] = nd.Addr()
	}
	client := func(i int) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addrs[i%len(addrs)], DB: int(tb.ID), MaxRetries: -1, PoolSize: 1})
	}
	const key = "jobs"
	setup := client(0)
	defer setup.Close()
	if err := setup.XGroupCreateMkStream(ctx, key, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	delivered := map[string]int{} // entry ID -> deliveries seen by workers
	acked := map[string]bool{}    // XACK answered 1
	var workers sync.WaitGroup
	const nWorkers, nProducers, perProducer = 8, 4, 500
	for w := range nWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			at := w
			c := client(at)
			defer func() { c.Close() }()
			name := fmt.Sprintf("w%d", w)
			for ctx.Err() == nil {
				res, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: name, Streams: []string{key, ">"}, Count: 10, Block: time.Second}).Result()
				if errors.Is(err, redis.Nil) || ctx.Err() != nil {
					continue
				}
				if err != nil {
					c.Close()
					at++
					c = client(at)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				for _, st := range res {
					for _, m := range st.Messages {
						mu.Lock()
						delivered[m.ID]++
						mu.Unlock()
						n, err := c.XAck(ctx, key, "g", m.ID).Result()
						if err == nil && n == 1 {
							mu.Lock()
							acked[m.ID] = true
							mu.Unlock()
						}
					}
				}
			}
		}()
	}

	var added sync.Map // entry ID -> true, XADD acknowledged
	var producers sync.WaitGroup
	var progress atomic.Int64
	for p := range nProducers {
		producers.Add(1)
		go func() {
			defer producers.Done()
			at := p
			c := client(at)
			defer func() { c.Close() }()
			for j := range perProducer {
				id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"job", fmt.Sprintf("%d-%d", p, j)}}).Result()
				if err != nil {
					c.Close()
					at++
					c = client(at)
				} else {
					added.Store(id, true)
				}
				progress.Add(1)
			}
		}()
	}
	total := int64(nProducers * perProducer)
	testproc.WaitFor(t, "30% of the entries added", 2*time.Minute, func() bool { return progress.Load() >= total*3/10 })
	s := meta.SlotID(router.SlotOf([]byte(key), slots))
	sl, err := liveAPI(t, nodes, -1).Slot(ctx, "xk", s)
	if err != nil {
		t.Fatal(err)
	}
	ids := nodesByID(t, nodes)
	victim := nodeIndexes(ids, nodes)[sl.Leader]
	nodes[victim].Kill()
	time.Sleep(3 * time.Second)
	nodes[victim] = testproc.StartNode(t, nodes[victim].Spec)
	nodes[victim].WaitHealthy(t)
	producers.Wait()

	// The workers drain the group: nothing left after the last delivered ID.
	check := client(1)
	defer check.Close()
	testproc.WaitFor(t, "the group has delivered every entry", 2*time.Minute, func() bool {
		gs, err := check.XInfoGroups(ctx, key).Result()
		if err != nil || len(gs) != 1 {
			return false
		}
		last, err := check.XRevRangeN(ctx, key, "+", "-", 1).Result()
		return err == nil && len(last) == 1 && gs[0].LastDeliveredID == last[0].ID
	})
	cancel()
	workers.Wait()

	bg := context.Background()
	entries, err := check.XRange(bg, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	inStream := map[string]bool{}
	for _, e := range entries {
		inStream[e.ID] = true
	}
	pending, err := check.XPendingExt(bg, &redis.XPendingExtArgs{Stream: key, Group: "g", Start: "-", End: "+", Count: 1 << 20}).Result()
	if err != nil {
		t.Fatal(err)
	}
	isPending := map[string]bool{}
	for _, p := range pending {
		isPending[p.ID] = true
	}
	var n, lost, gone, pend, dup int
	added.Range(func(k, _ any) bool {
		id := k.(string)
		n++
		switch {
		case !inStream[id]:
			gone++
			t.Errorf("entry %s was added (acknowledged) and is not in the stream", id)
		case delivered[id] == 0 && !isPending[id]:
			lost++
			t.Errorf("entry %s was never delivered and is not pending", id)
		case isPending[id]:
			pend++
		}
		if delivered[id] > 1 {
			dup++
		}
		return true
	})
	for id := range acked {
		if isPending[id] {
			t.Errorf("entry %s acknowledged (XACK 1) and still pending", id)
		}
	}
	t.Logf("MEASURED: %d entries acknowledged by XADD, %d in the stream, %d acknowledged by XACK, %d pending (delivered to a reply that was lost, or not acknowledged), %d delivered twice; lost %d, gone %d",
		n, len(entries), len(acked), pend, dup, lost, gone)
}
