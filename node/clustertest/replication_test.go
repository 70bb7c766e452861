package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
)

var keysMetric = regexp.MustCompile(`pika_keys\{table="rep",table_id="(\d+)"\} (\d+)`)

// storedKeys is how many keys of table rep node n stores (leader and
// follower slots alike).
func storedKeys(t *testing.T, n *testproc.Node) int {
	t.Helper()
	m := keysMetric.FindStringSubmatch(metrics(t, n))
	if m == nil {
		return -1
	}
	v, _ := strconv.Atoi(m[2])
	return v
}

// checkEqual runs `pikactl slot check rep` and fails unless every slot is
// proven equal on every replica.
func checkEqual(t *testing.T, via *testproc.Node) {
	t.Helper()
	var checks []api.SlotCheck
	out, errs, code := pikactl(t, "--json", "--server", via.HTTPAddr(), "slot", "check", "rep")
	if err := json.Unmarshal([]byte(out), &checks); err != nil {
		t.Fatalf("slot check (exit %d): %v\n%s%s", code, err, out, errs)
	}
	for _, c := range checks {
		if !c.Equal || len(c.Replicas) != 3 {
			t.Fatalf("slot %d not proven equal: %+v", c.Slot, c)
		}
	}
	if code != 0 || len(checks) == 0 {
		t.Fatalf("slot check: exit %d, %d slots", code, len(checks))
	}
}

// TestAsyncReplication: every write to a table with 3 replicas reaches the
// two followers of its slot; a follower killed under writes catches up
// from the slot logs after its restart.
func TestAsyncReplication(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "rp", 3)
	tb := createTable(t, nodes, "rep", 32, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})

	const keys = 500
	for i := range keys {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	testproc.WaitFor(t, "every node to store every key", 30*time.Second, func() bool {
		for _, n := range nodes {
			if storedKeys(t, n) != keys {
				return false
			}
		}
		return true
	})
	t.Logf("MEASURED: %d writes on 3 replicas everywhere %s after the last acknowledgement", keys, time.Since(start).Round(time.Millisecond))
	// Observability: roles, followers and their lag (0 once caught up).
	testproc.WaitFor(t, "INFO replication to show two followers caught up", 10*time.Second, func() bool {
		info, err := c.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "pika_followers:2") && strings.Contains(info, "max_lag=0,") &&
			!strings.Contains(info, "pika_slots_followed:0")
	})
	if m := metrics(t, nodes[0]); !strings.Contains(m, "pika_replication_lag_entries{follower=") || !strings.Contains(m, "pika_replication_shipped_bytes_total") {
		t.Fatal("/metrics lacks the replication lag and bytes")
	}
	var one api.Slot
	pikactlJSON(t, &one, "--server", nodes[2].HTTPAddr(), "slot", "show", "rep", "3")
	if len(one.Positions) != 3 {
		t.Fatalf("slot show: positions %+v", one.Positions)
	}
	for _, p := range one.Positions {
		if p.Error != "" || p.Lag != 0 || p.Index == 0 {
			t.Fatalf("slot show after catch-up: %+v", one.Positions)
		}
	}

	// Kill a follower (node 3 follows every slot it does not lead) under
	// writes, restart it: it catches up from the logs.
	victim := nodes[2]
	victim.Kill()
	written := keys
	for i := keys; i < keys+300; i++ {
		err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err()
		switch {
		case err == nil:
			written++
		case strings.HasPrefix(err.Error(), "CLUSTERDOWN"): // its own slots
		default:
			t.Fatal(err)
		}
	}
	restarted := testproc.StartNode(t, victim.Spec)
	restarted.WaitHealthy(t)
	testproc.WaitFor(t, "the restarted follower to catch up", 30*time.Second, func() bool {
		want := storedKeys(t, nodes[0])
		return want == written && storedKeys(t, nodes[1]) == want && storedKeys(t, restarted) == want
	})
	checkEqual(t, nodes[1])
	// FLUSHDB goes through the logs: every replica empties.
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "every replica emptied by FLUSHDB", 10*time.Second, func() bool {
		return storedKeys(t, nodes[0]) == 0 && storedKeys(t, nodes[1]) == 0 && storedKeys(t, restarted) == 0
	})
	checkEqual(t, nodes[1])
}

// TestFailover: kill -9 a node that leads slots of a 3-replica table: the
// manager promotes a follower for each of its slots; every write that had
// reached the followers is read back through the survivors; the killed
// node returns as a follower and catches up.
func TestFailover(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "fo", 3)
	tb := createTable(t, nodes, "rep", 16, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[1], &redis.Options{DB: int(tb.ID)})
	const keys = 300
	for i := range keys {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testproc.WaitFor(t, "every node to store every key", 30*time.Second, func() bool {
		for _, n := range nodes {
			if storedKeys(t, n) != keys {
				return false
			}
		}
		return true
	})
	// The victim is the manager's node too, half the time: takeover and
	// failover together.
	victim := nodes[0]
	victimID := func() string { h, _, _ := victim.Health(); return h.Node }()
	led := 0
	var slots []api.Slot
	pikactlJSON(t, &slots, "--server", nodes[1].HTTPAddr(), "slot", "show", "rep")
	for _, s := range slots {
		if string(s.Leader) == victimID {
			led++
		}
	}
	if led == 0 {
		t.Fatalf("the victim leads no slot of rep")
	}
	// Writers through the two survivors, across every slot, during the kill.
	type load struct {
		acked   []string
		lastErr time.Time
		errs    int
		err     error
	}
	stopLoad := make(chan struct{})
	loads := make(chan load, 4)
	for g := range 4 {
		go func() {
			var l load
			wc := redisClient(t, nodes[1+g%2], &redis.Options{DB: int(tb.ID), MaxRetries: -1})
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					loads <- l
					return
				default:
				}
				k := fmt.Sprintf("w%d-%d", g, i)
				err := wc.Set(ctx, k, k, 0).Err()
				switch {
				case err == nil:
					l.acked = append(l.acked, k)
				case strings.HasPrefix(err.Error(), "CLUSTERDOWN"):
					l.errs++
					l.lastErr = time.Now()
				default:
					l.err = err
					loads <- l
					return
				}
			}
		}()
	}
	testproc.WaitFor(t, "the load to run", 10*time.Second, func() bool { return storedKeys(t, nodes[1]) > keys+200 })
	start := time.Now()
	victim.Kill()
	testproc.WaitFor(t, "the victim seen down", 30*time.Second, func() bool {
		var ns []api.Node
		out, _, code := pikactl(t, "--json", "--server", nodes[1].HTTPAddr(), "node", "list")
		if code != 0 || json.Unmarshal([]byte(out), &ns) != nil {
			return false
		}
		for _, n := range ns {
			if string(n.ID) == victimID {
				return !n.Alive
			}
		}
		return false
	})
	testproc.WaitFor(t, "every slot led by a live node", 30*time.Second, func() bool {
		var ss []api.Slot
		out, _, code := pikactl(t, "--json", "--server", nodes[1].HTTPAddr(), "slot", "show", "rep")
		if code != 0 || json.Unmarshal([]byte(out), &ss) != nil {
			return false
		}
		for _, s := range ss {
			if !s.LeaderAlive {
				return false
			}
		}
		return true
	})
	window := time.Since(start)
	// Let the load run on the new leaders, then stop it.
	base := storedKeys(t, nodes[1])
	testproc.WaitFor(t, "writes after the failover", 10*time.Second, func() bool { return storedKeys(t, nodes[1]) >= base+200 })
	close(stopLoad)
	var lastErr time.Time
	var acked []string
	errs := 0
	for range 4 {
		l := <-loads
		if l.err != nil {
			t.Fatalf("a writer saw a non-CLUSTERDOWN error: %v", l.err)
		}
		acked = append(acked, l.acked...)
		errs += l.errs
		if l.lastErr.After(lastErr) {
			lastErr = l.lastErr
		}
	}
	lost := 0
	for _, k := range acked {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != k {
			lost++ // acknowledged by the dead leader, not yet shipped: async's price
		}
	}
	unavailable := time.Duration(0)
	if !lastErr.IsZero() {
		unavailable = lastErr.Sub(start)
	}
	t.Logf("MEASURED: under 4 writers, %d writes acknowledged, %d answered CLUSTERDOWN, writes to the dead leader's slots failed for %s after the kill; %d acknowledged writes lost (async mode)",
		len(acked), errs, unavailable.Round(time.Millisecond), lost)
	if errs == 0 || lost > len(acked)/10 {
		t.Fatalf("%d CLUSTERDOWN, %d of %d acknowledged writes lost", errs, lost, len(acked))
	}
	for i := range keys {
		if v, err := c.Get(ctx, fmt.Sprint("k", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("after failover, k%d: %q %v", i, v, err)
		}
	}
	t.Logf("MEASURED: kill -9 of a node leading %d of 16 slots (lease TTL %s): every slot served again after %s; all %d writes read back",
		led, leaseTTL, window.Round(time.Millisecond), keys)
	for i := keys; i < keys+100; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("write after failover: %v", err)
		}
	}
	restarted := testproc.StartNode(t, victim.Spec)
	restarted.WaitHealthy(t)
	testproc.WaitFor(t, "the returned node to catch up as a follower", 30*time.Second, func() bool {
		want := storedKeys(t, nodes[1])
		return storedKeys(t, nodes[2]) == want && storedKeys(t, restarted) == want
	})
	checkEqual(t, nodes[2])
}

var logEntriesMetric = regexp.MustCompile(`pika_slot_log_entries\{table="rep",table_id="\d+"\} (\d+)`)

// TestFullSync: a follower that was down while its leaders' logs were
// trimmed past its position gets each slot copied from a snapshot, then the
// log, and converges.
func TestFullSync(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "fs", 3, "--slot-log-max-age", "1s", "--slot-log-trim-interval", "100ms")
	tb := createTable(t, nodes, "rep", 8, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testproc.WaitFor(t, "every node to store every key", 30*time.Second, func() bool {
		for _, n := range nodes {
			if storedKeys(t, n) != 100 {
				return false
			}
		}
		return true
	})
	// The follower goes; the others' writes and trims go on (their slots
	// led by n3 answer CLUSTERDOWN until the failover).
	victim := nodes[2]
	victim.Kill()
	written := 100
	for i := 100; i < 400; i++ {
		switch err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); {
		case err == nil:
			written++
		case !strings.HasPrefix(err.Error(), "CLUSTERDOWN"):
			t.Fatal(err)
		}
	}
	testproc.WaitFor(t, "the logs trimmed to one entry per slot", 30*time.Second, func() bool {
		m := logEntriesMetric.FindStringSubmatch(metrics(t, nodes[0]))
		return m != nil && m[1] == "8"
	})
	restarted := testproc.StartNode(t, victim.Spec)
	restarted.WaitHealthy(t)
	testproc.WaitFor(t, "the restarted follower to converge by full sync", 30*time.Second, func() bool {
		return storedKeys(t, nodes[0]) == written && storedKeys(t, nodes[1]) == written && storedKeys(t, restarted) == written
	})
	log, _ := os.ReadFile(restarted.LogPath)
	if !strings.Contains(string(log), "full sync of a slot from its leader") {
		t.Fatal("the follower converged without a full sync: the test did not test it")
	}
	// And the log flows again after the full sync.
	for i := 400; i < 450; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err == nil {
			written++
		}
	}
	testproc.WaitFor(t, "new writes on every replica after the full sync", 30*time.Second, func() bool {
		return storedKeys(t, nodes[0]) == written && storedKeys(t, nodes[1]) == written && storedKeys(t, restarted) == written
	})
	checkEqual(t, restarted)
}

// TestSwitchoverAndDrainUnderLoad: pikactl failover and node drain move
// leaderships while go-redis clients write through every node: no client
// sees an error, every acknowledged write is there, replicas are equal,
// and the drained node leads nothing.
func TestSwitchoverAndDrainUnderLoad(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "sw", 3)
	tb := createTable(t, nodes, "rep", 8, 3)
	ctx := context.Background()

	stop := make(chan struct{})
	type result struct {
		acked []string
		err   error
	}
	results := make(chan result, 6)
	for g := range 6 {
		go func() {
			var r result
			c := redisClient(t, nodes[g%3], &redis.Options{DB: int(tb.ID), MaxRetries: -1})
			for i := 0; ; i++ {
				select {
				case <-stop:
					results <- r
					return
				default:
				}
				k := fmt.Sprintf("w%d-%d", g, i)
				if err := c.Set(ctx, k, k, 0).Err(); err != nil {
					r.err = fmt.Errorf("set %s via %s: %w", k, nodes[g%3].Name, err)
					results <- r
					return
				}
				r.acked = append(r.acked, k)
			}
		}()
	}

	var slots []api.Slot
	pikactlJSON(t, &slots, "--server", nodes[1].HTTPAddr(), "slot", "show", "rep")
	s0 := slots[0]
	var target string
	for _, r := range s0.Replicas {
		if r != s0.Leader {
			target = string(r)
			break
		}
	}
	var sw api.Switchover
	pikactlJSON(t, &sw, "--server", nodes[2].HTTPAddr(), "failover", "rep", "0", "--to", target)
	if string(sw.To) != target || sw.From != s0.Leader {
		t.Fatalf("switchover: %+v", sw)
	}
	t.Logf("MEASURED: switchover of slot 0 under 6 writers: commands held %s, took %s", sw.Paused, sw.Took)

	drained := nodes[2] // n1 holds db0 alone (1 replica): it could not be drained
	h, _, _ := drained.Health()
	var d api.Drain
	pikactlJSON(t, &d, "--server", nodes[1].HTTPAddr(), "node", "drain", h.Node)
	t.Logf("MEASURED: drain of %s under 6 writers: %d leaderships moved in %s", h.Node, d.Moved, d.Took)
	if len(d.Stuck) > 0 {
		t.Fatalf("drain left %v", d.Stuck)
	}
	close(stop)
	var acked []string
	for range 6 {
		r := <-results
		if r.err != nil {
			t.Fatalf("a client saw an error during switchover/drain: %v", r.err)
		}
		acked = append(acked, r.acked...)
	}
	c := redisClient(t, nodes[1], &redis.Options{DB: int(tb.ID)})
	for _, k := range acked {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != k {
			t.Fatalf("acknowledged %s: %q %v", k, v, err)
		}
	}
	pikactlJSON(t, &slots, "--server", nodes[1].HTTPAddr(), "slot", "show", "rep")
	for _, s := range slots {
		if string(s.Leader) == h.Node {
			t.Fatalf("slot %d still led by the drained node", s.Slot)
		}
	}
	t.Logf("%d writes acknowledged during the moves, all read back", len(acked))
	checkEqual(t, nodes[1])
}

// TestReplicaMaintenance: a node dead longer than --replica-down-timeout
// has its slot copies re-created on a live node that holds none of them;
// every slot gets back to 3 replicas, proven equal.
func TestReplicaMaintenance(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "rm", 4, "--replica-down-timeout", "2s")
	tb := createTable(t, nodes, "rep", 8, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	for i := range 200 {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Every write on every replica before the kill (async: a write only the
	// dead node had would be lost, which is not what this test is about).
	checkEqual(t, nodes[0])
	victim := nodes[3]
	h, _, _ := victim.Health()
	start := time.Now()
	victim.Kill()
	testproc.WaitFor(t, "the dead node's copies re-created elsewhere", 30*time.Second, func() bool {
		var slots []api.Slot
		out, _, code := pikactl(t, "--json", "--server", nodes[1].HTTPAddr(), "slot", "show", "rep")
		if code != 0 || json.Unmarshal([]byte(out), &slots) != nil {
			return false
		}
		for _, s := range slots {
			if len(s.Replicas) != 3 || !s.LeaderAlive {
				return false
			}
			for _, r := range s.Replicas {
				if string(r) == h.Node {
					return false
				}
			}
		}
		return true
	})
	t.Logf("MEASURED: copies of dead node %s re-created on live nodes %s after its death (timeout 2s, lease 2s)", h.Node, time.Since(start).Round(time.Millisecond))
	filled := func() bool {
		for _, n := range nodes[:3] {
			if storedKeys(t, n) != 200 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !filled() {
		if time.Now().After(deadline) {
			for _, n := range nodes[:3] {
				info, _ := redisClient(t, n, nil).Info(ctx, "replication").Result()
				t.Logf("%s stores %d keys; %s", n.Name, storedKeys(t, n), info)
			}
			out, _, _ := pikactl(t, "--server", nodes[0].HTTPAddr(), "slot", "show", "rep")
			t.Fatalf("the new copies were not filled in 30 s\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkEqual(t, nodes[0])
}
