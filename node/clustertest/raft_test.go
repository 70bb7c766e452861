package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
)

// createRaftTable creates a raft-mode table and waits until every node
// serves it and every slot has an elected leader in the routing.
func createRaftTable(t *testing.T, nodes []*testproc.Node, name string, slots, replicas int) api.Table {
	t.Helper()
	var tb api.Table
	pikactlJSON(t, &tb, "--server", nodes[0].HTTPAddr(), "table", "create", name, "--slots", fmt.Sprint(slots),
		"--replicas", fmt.Sprint(replicas), "--mode", "raft")
	for _, nd := range nodes {
		c := redisClient(t, nd, &redis.Options{DB: int(tb.ID), MaxRetries: -1})
		testproc.WaitFor(t, nd.Name+" to serve "+name, 20*time.Second, func() bool {
			for s := range slots {
				// One write per slot through this node proves the slot
				// has a leader that commits.
				if c.Set(context.Background(), fmt.Sprintf("probe{%d}", s), "x", 0).Err() != nil {
					return false
				}
			}
			return true
		})
		c.Close()
	}
	return tb
}

// A raft table: writes through any node are committed by a majority and
// readable through every node; killing a leader's node under a write load
// elects new leaders (the test prints how long slots were unavailable),
// loses no acknowledged write, and the node comes back as a follower.
func TestRaftTable(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "raft", 3)
	tb := createRaftTable(t, nodes, "r", 16, 3)
	ctx := context.Background()
	clients := make([]*redis.Client, len(nodes))
	for i, nd := range nodes {
		clients[i] = redisClient(t, nd, &redis.Options{DB: int(tb.ID), MaxRetries: -1})
	}
	for i := range 200 {
		if err := clients[i%3].Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("set k%d: %v", i, err)
		}
	}
	for i := range 200 {
		got, err := clients[(i+1)%3].Get(ctx, fmt.Sprint("k", i)).Result()
		if err != nil || got != fmt.Sprint(i) {
			t.Fatalf("get k%d through another node: %q %v", i, got, err)
		}
	}
	if n, err := clients[2].Incr(ctx, "ctr").Result(); err != nil || n != 1 {
		t.Fatalf("incr: %d %v", n, err)
	}

	// Writers through the two survivors during the kill.
	victim := nodes[0]
	var mu sync.Mutex
	var acked []string
	var lastErr time.Time
	var firstErr time.Time
	errs := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[1+g%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d-%d", g, i)
				err := c.Set(ctx, k, k, 0).Err()
				mu.Lock()
				if err == nil {
					acked = append(acked, k)
				} else if strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
					errs++
					if firstErr.IsZero() {
						firstErr = time.Now()
					}
					lastErr = time.Now()
				} else {
					t.Errorf("write %s: %v", k, err)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // load before the kill
	killed := time.Now()
	victim.Kill()
	// Every slot is writable again through the survivors.
	testproc.WaitFor(t, "every slot writable after the kill", 20*time.Second, func() bool {
		for s := range 16 {
			if clients[1].Set(ctx, fmt.Sprintf("after{%d}", s), "y", 0).Err() != nil {
				return false
			}
		}
		return true
	})
	recovered := time.Since(killed)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	window := time.Duration(0)
	if errs > 0 {
		window = lastErr.Sub(firstErr)
	}
	t.Logf("MEASURED: raft failover after kill -9: every slot writable %s after the kill; client errors %d over %s; acknowledged writes %d",
		recovered.Round(time.Millisecond), errs, window.Round(time.Millisecond), len(acked))
	mu.Unlock()
	for _, k := range acked {
		got, err := clients[2].Get(ctx, k).Result()
		if err != nil || got != k {
			t.Fatalf("acknowledged write %s lost after failover: %q %v", k, got, err)
		}
	}
	// The victim returns as a follower and catches up.
	back := testproc.StartNode(t, victim.Spec)
	back.WaitHealthy(t)
	nodes[0] = back
	bc := redisClient(t, back, &redis.Options{DB: int(tb.ID), MaxRetries: -1})
	testproc.WaitFor(t, "the restarted node to serve", 20*time.Second, func() bool {
		got, err := bc.Get(ctx, acked[len(acked)-1]).Result()
		return err == nil && got == acked[len(acked)-1]
	})
	var slots []api.Slot
	pikactlJSON(t, &slots, "--server", nodes[1].HTTPAddr(), "slot", "show", "r")
	for _, s := range slots {
		if s.Leader == "" {
			t.Errorf("slot %d has no leader in the routing", s.Slot)
		}
	}
	// pikactl failover of a raft slot is a raft leader transfer: hand
	// slot 0 to the restarted node, and writes go on through any node.
	backID := func() string { h, _, _ := back.Health(); return h.Node }()
	if string(slots[0].Leader) != backID {
		var sw api.Switchover
		// The killed node was the manager's: until a new manager holds
		// the role, pikactl answers exit 3 ("retry"), as scripts expect.
		testproc.WaitFor(t, "a manager to take the failover", 20*time.Second, func() bool {
			out, _, code := pikactl(t, "--json", "--server", nodes[2].HTTPAddr(), "failover", "r", "0", "--to", backID)
			if code == 3 {
				return false
			}
			if code != 0 || json.Unmarshal([]byte(out), &sw) != nil {
				t.Fatalf("failover: exit %d %s", code, out)
			}
			return true
		})
		if string(sw.To) != backID {
			t.Fatalf("failover answered %+v", sw)
		}
		t.Logf("MEASURED: raft leader transfer of slot 0 took %s", sw.Took)
	}
	var s0 api.Slot
	pikactlJSON(t, &s0, "--server", nodes[1].HTTPAddr(), "slot", "show", "r", "0")
	if string(s0.Leader) != backID {
		t.Fatalf("slot 0 led by %s after the transfer, want %s", s0.Leader, backID)
	}
	if err := clients[1].Set(ctx, "probe{0}", "after-transfer", 0).Err(); err != nil {
		t.Fatalf("write after transfer: %v", err)
	}
	if got, err := bc.Get(ctx, "probe{0}").Result(); err != nil || got != "after-transfer" {
		t.Fatalf("read on the new leader: %q %v", got, err)
	}
}

// A raft table's replica on a node dead longer than --replica-down-timeout
// is re-created on the spare node by a configuration change of each group
// (learner, snapshot, promotion, removal of the dead one): writes go on,
// nothing acknowledged is lost, and `slot check` proves the new replicas
// equal to the others.
func TestRaftReplicaReplaced(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "raftrep", 4, "--replica-down-timeout", "2s")
	tb := createRaftTable(t, nodes, "rr", 8, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID), MaxRetries: -1})
	for i := range 300 {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
	}
	// The victim: a node holding replicas of rr, not node 1 (our client's).
	var slots []api.Slot
	pikactlJSON(t, &slots, "--server", nodes[0].HTTPAddr(), "slot", "show", "rr")
	ids := map[string]*testproc.Node{}
	for _, nd := range nodes {
		h, _, _ := nd.Health()
		ids[h.Node] = nd
	}
	var victim *testproc.Node
	var victimID string
	for _, id := range slots[0].Replicas {
		if ids[string(id)] != nodes[0] {
			victim, victimID = ids[string(id)], string(id)
			break
		}
	}
	held := 0
	for _, s := range slots {
		for _, r := range s.Replicas {
			if string(r) == victimID {
				held++
			}
		}
	}
	start := time.Now()
	victim.Kill()
	acked := 300
	testproc.WaitFor(t, "every slot of rr on 3 live replicas again, no learner", 60*time.Second, func() bool {
		// Writes go on during the change (errors allowed while a
		// leader is re-elected; only acknowledged ones are checked).
		if c.Set(ctx, fmt.Sprint("k", acked), fmt.Sprint(acked), 0).Err() == nil {
			acked++
		}
		slots = nil // a reused element would keep a learner the JSON omits
		pikactlJSON(t, &slots, "--server", nodes[0].HTTPAddr(), "slot", "show", "rr")
		for _, s := range slots {
			if len(s.Learners) > 0 || len(s.Replicas) != 3 {
				return false
			}
			for _, r := range s.Replicas {
				if string(r) == victimID {
					return false
				}
			}
		}
		return true
	})
	t.Logf("MEASURED: %d raft replicas of a dead node re-created elsewhere %s after the kill (replica-down-timeout 2s)", held, time.Since(start).Round(time.Millisecond))
	for i := range acked {
		got, err := c.Get(ctx, fmt.Sprint("k", i)).Result()
		if err != nil || got != fmt.Sprint(i) {
			t.Fatalf("k%d after the replica change: %q %v", i, got, err)
		}
	}
	var checks []api.SlotCheck
	testproc.WaitFor(t, "slot check equal on every replica", 20*time.Second, func() bool {
		out, _, _ := pikactl(t, "--json", "--server", nodes[0].HTTPAddr(), "slot", "check", "rr")
		if json.Unmarshal([]byte(out), &checks) != nil || len(checks) != 8 {
			return false
		}
		for _, ch := range checks {
			if !ch.Equal || len(ch.Replicas) != 3 {
				return false
			}
		}
		return true
	})
}
