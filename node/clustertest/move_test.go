package clustertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/storage"
)

// moveLoad is a read/write load through several nodes while slots move:
// writers SET their own keys in pipelines of 8, readers GET keys already
// acknowledged and compare. Every error is counted: a move must cost
// clients time, never an error.
type moveLoad struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	ops    atomic.Int64
	errs   atomic.Int64
	mu     sync.Mutex
	acked  map[string]string
	sample []string         // the first errors
	maxLat [2]time.Duration // before and during the moves (the longest pipeline)
	during atomic.Bool
}

func startMoveLoad(t *testing.T, clients []*redis.Client) *moveLoad {
	t.Helper()
	l := &moveLoad{stop: make(chan struct{}), acked: map[string]string{}}
	for w, c := range clients {
		l.wg.Add(2)
		go l.writer(c, w)
		go l.reader(c, uint64(w))
	}
	return l
}

func (l *moveLoad) fail(err error) {
	l.errs.Add(1)
	l.mu.Lock()
	if len(l.sample) < 10 {
		l.sample = append(l.sample, err.Error())
	}
	l.mu.Unlock()
}

func (l *moveLoad) writer(c *redis.Client, w int) {
	defer l.wg.Done()
	ctx := context.Background()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		start := time.Now()
		pipe := c.Pipeline()
		kv := make([][2]string, 8)
		for j := range kv {
			kv[j] = [2]string{fmt.Sprintf("w%d:%d:%d", w, i, j), fmt.Sprintf("v%d.%d", i, j)}
			pipe.Set(ctx, kv[j][0], kv[j][1], 0)
		}
		cmds, err := pipe.Exec(ctx)
		lat := time.Since(start)
		l.mu.Lock()
		ph := 0
		if l.during.Load() {
			ph = 1
		}
		l.maxLat[ph] = max(l.maxLat[ph], lat)
		l.mu.Unlock()
		for j, cmd := range cmds {
			if cmd.Err() != nil {
				l.fail(fmt.Errorf("SET %s: %w", kv[j][0], cmd.Err()))
				continue
			}
			l.mu.Lock()
			l.acked[kv[j][0]] = kv[j][1]
			l.mu.Unlock()
			l.ops.Add(1)
		}
		if err != nil && len(cmds) == 0 {
			l.fail(err)
		}
	}
}

func (l *moveLoad) reader(c *redis.Client, seed uint64) {
	defer l.wg.Done()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.mu.Lock()
		var k, want string
		n := rng.IntN(len(l.acked) + 1)
		for k, want = range l.acked { // a random acknowledged key
			if n--; n <= 0 {
				break
			}
		}
		l.mu.Unlock()
		if k == "" {
			time.Sleep(time.Millisecond)
			continue
		}
		got, err := c.Get(ctx, k).Result()
		switch {
		case err != nil:
			l.fail(fmt.Errorf("GET %s: %w", k, err))
		case got != want:
			l.fail(fmt.Errorf("GET %s = %q, acknowledged %q", k, got, want))
		default:
			l.ops.Add(1)
		}
	}
}

// finish stops the load and fails the test on any client error.
func (l *moveLoad) finish(t *testing.T) map[string]string {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d operations, %d errors; longest pipeline %s before the moves, %s during them",
		l.ops.Load(), l.errs.Load(), l.maxLat[0].Round(time.Millisecond), l.maxLat[1].Round(time.Millisecond))
	if l.errs.Load() > 0 {
		t.Errorf("%d client errors during the moves, first: %s", l.errs.Load(), strings.Join(l.sample, "; "))
	}
	return l.acked
}

// nodesByID maps node ids to the test's nodes.
func nodesByID(t *testing.T, nodes []*testproc.Node) map[meta.NodeID]*testproc.Node {
	t.Helper()
	out := map[meta.NodeID]*testproc.Node{}
	for _, nd := range nodes {
		h, _, err := nd.Health()
		if err != nil {
			t.Fatalf("%s: %v", nd.Name, err)
		}
		out[meta.NodeID(h.Node)] = nd
	}
	return out
}

// nodeIndexes maps node ids (nodesByID) to their places in nodes.
func nodeIndexes(ids map[meta.NodeID]*testproc.Node, nodes []*testproc.Node) map[meta.NodeID]int {
	out := map[meta.NodeID]int{}
	for id, nd := range ids {
		out[id] = slices.Index(nodes, nd)
	}
	return out
}

// liveAPI is the API of a live node other than nodes[not] (-1: any).
func liveAPI(t *testing.T, nodes []*testproc.Node, not int) *api.Client {
	t.Helper()
	for i, nd := range nodes {
		if i != not && !nd.Exited() {
			return api.NewClient(nd.HTTPAddr()).WithToken(testproc.AdminToken)
		}
	}
	t.Fatal("no live node")
	return nil
}

// waitJob polls a job until its move is final.
func waitJob(t *testing.T, cli *api.Client, id string, limit time.Duration) meta.Job {
	t.Helper()
	var job meta.Job
	testproc.WaitFor(t, "job "+id+" to finish", limit, func() bool {
		js, err := cli.Jobs(context.Background())
		if err != nil {
			return false
		}
		for _, j := range js {
			if j.ID == id {
				job = j
				return j.Move != nil && j.Move.Step.Final()
			}
		}
		return false
	})
	return job
}

// moveAndWait moves slot s of table to node to (from its leader) and
// fails unless the move completes.
func moveAndWait(t *testing.T, cli *api.Client, table string, s meta.SlotID, from, to meta.NodeID) meta.Job {
	t.Helper()
	var j meta.Job
	var err error
	testproc.WaitFor(t, fmt.Sprintf("move of %s/%d accepted", table, s), 20*time.Second, func() bool {
		j, err = cli.MoveSlot(context.Background(), api.MoveSlot{Table: table, Slot: s, From: from, To: to})
		return err == nil
	})
	j = waitJob(t, cli, j.ID, 60*time.Second)
	if j.Move.Step != meta.MoveDone {
		t.Fatalf("move %s/%d %s -> %s ended %s: %s", table, s, from, to, j.Move.Step, j.Move.Error)
	}
	return j
}

// slotSettled reports whether every slot of a table has a live leader,
// want replicas and no change under way.
func slotsSettled(t *testing.T, cli *api.Client, table string, want int) ([]api.Slot, bool) {
	t.Helper()
	slots, err := cli.Slots(context.Background(), table)
	if err != nil {
		return nil, false
	}
	for _, s := range slots {
		if !s.LeaderAlive || len(s.Replicas) != want || len(s.Learners) > 0 || len(s.Removing) > 0 || s.State != meta.SlotServing {
			return slots, false
		}
	}
	return slots, true
}

// checkTableEqual waits until `slot check` proves every slot of table
// equal on its replicas.
func checkTableEqual(t *testing.T, via *testproc.Node, table string, replicas int) {
	t.Helper()
	cli := api.NewClient(via.HTTPAddr()).WithToken(testproc.AdminToken)
	deadline := time.Now().Add(30 * time.Second)
	for {
		checks, err := cli.Check(context.Background(), table, nil)
		bad := ""
		if err != nil || len(checks) == 0 {
			bad = fmt.Sprintf("%d checks, %v", len(checks), err)
		}
		for _, c := range checks {
			if !c.Equal || len(c.Replicas) != replicas {
				bad = fmt.Sprintf("%+v", c)
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot check of %s not equal after 30s: %s", table, bad)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkNoSlotData opens a stopped node's storage, compacts it and fails
// if any slot of table tb still has data there.
func checkNoSlotData(t *testing.T, nd *testproc.Node, tb api.Table, slots []meta.SlotID) {
	t.Helper()
	eng, err := storage.Open(storage.Options{Dir: nd.Spec.Data})
	if err != nil {
		t.Fatalf("open %s's storage: %v", nd.Name, err)
	}
	defer eng.Close()
	if err := eng.EnsureTable(tb.ID, tb.Slots); err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if err := eng.CompactSlot(tb.ID, s); err != nil {
			t.Fatal(err)
		}
		ss, err := eng.OpenSlotSnapshot(tb.ID, s)
		if err != nil {
			t.Fatal(err)
		}
		ops, _, err := ss.Next(1 << 20)
		ss.Close()
		size, _ := eng.SlotSize(tb.ID, s)
		if err != nil || len(ops) > 0 || size > 0 {
			t.Fatalf("%s still holds %d records (%d bytes) of moved slot %d of %s (err %v)", nd.Name, len(ops), size, s, tb.Name, err)
		}
	}
}

// TestSlotMoves walks scale-out and scale-in under a pipelined read/write
// load through three nodes, for both replication modes: a fourth node
// joins; a slot moves to it and back; pikactl rebalance spreads the table
// onto it; pikactl node remove moves everything off a node and
// deregisters it. No client error, every acknowledged write read back,
// replicas proven equal, and the removed node keeps no data of the table.
func TestSlotMoves(t *testing.T) {
	for _, mode := range []string{"async", "raft"} {
		t.Run(mode, func(t *testing.T) { testSlotMoves(t, mode) })
	}
}

func testSlotMoves(t *testing.T, mode string) {
	needSetup(t)
	replicas := 2
	if mode == "raft" {
		replicas = 3
	}
	etcd, nodes := startNodes(t, "mv"+mode, 3)
	tb := createModeTable(t, nodes, "mv", mode, 16, replicas)
	ctx := context.Background()
	c1 := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	for i := range 2000 {
		if err := c1.Set(ctx, fmt.Sprint("pre", i), strings.Repeat("x", 100), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A fourth node joins.
	n4 := startNode(t, nodes[0].Spec.Dir, "n4", "--etcd", etcd.Endpoint(), "--cluster", "mv"+mode, "--lease-ttl", leaseTTL)
	n4.WaitHealthy(t)
	nodes = append(nodes, n4)
	cli := api.NewClient(nodes[0].HTTPAddr()).WithToken(testproc.AdminToken)
	testproc.WaitFor(t, "4 nodes alive", 20*time.Second, func() bool {
		st, err := cli.Status(ctx)
		return err == nil && len(st.Nodes) == 4
	})
	ids := nodesByID(t, nodes)
	idOf := func(nd *testproc.Node) meta.NodeID {
		for id, x := range ids {
			if x == nd {
				return id
			}
		}
		t.Fatalf("no id for %s", nd.Name)
		return ""
	}

	var clients []*redis.Client
	for _, nd := range []*testproc.Node{nodes[0], nodes[2], nodes[3]} {
		clients = append(clients, redisClient(t, nd, &redis.Options{DB: int(tb.ID), PoolSize: 4}))
	}
	load := startMoveLoad(t, clients)
	testproc.WaitFor(t, "load running", 20*time.Second, func() bool { return load.ops.Load() > 2000 })
	load.during.Store(true)

	// Slot 0 to the new node and back.
	s0, err := cli.Slot(ctx, "mv", 0)
	if err != nil {
		t.Fatal(err)
	}
	orig := s0.Leader
	start := time.Now()
	j := moveAndWait(t, cli, "mv", 0, orig, idOf(n4))
	t.Logf("MEASURED: %s move of slot 0 (%d bytes) %s -> %s took %s", mode, j.Move.Bytes, orig, idOf(n4), time.Since(start).Round(time.Millisecond))
	s0, _ = cli.Slot(ctx, "mv", 0)
	if s0.Leader != idOf(n4) || slices.Contains(s0.Replicas, orig) {
		t.Fatalf("after the move slot 0 is %+v", s0)
	}
	moveAndWait(t, cli, "mv", 0, idOf(n4), orig)

	// Rebalance onto the new node.
	out, errs, code := pikactl(t, "--server", nodes[1].HTTPAddr(), "rebalance", "mv", "--concurrency", "2")
	if code != 0 {
		t.Fatalf("pikactl rebalance: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("rebalance:\n%s", out)
	st, err := cli.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Replicas == 0 {
			t.Fatalf("after rebalance %s holds no replica: %+v", n.ID, st.Nodes)
		}
	}
	// Scale in: node 2 moves everything off and is deregistered.
	victim := nodes[1]
	vid := idOf(victim)
	out, errs, code = pikactl(t, "--server", nodes[0].HTTPAddr(), "node", "remove", string(vid))
	if code != 0 {
		t.Fatalf("pikactl node remove: exit %d\n%s%s", code, out, errs)
	}
	slots, ok := slotsSettled(t, cli, "mv", replicas)
	if !ok {
		testproc.WaitFor(t, "slots settled after the removal", 30*time.Second, func() bool {
			slots, ok = slotsSettled(t, cli, "mv", replicas)
			return ok
		})
	}
	for _, s := range slots {
		if slices.Contains(s.Replicas, vid) {
			t.Fatalf("slot %d still on the removed node: %+v", s.Slot, s)
		}
	}
	acked := load.finish(t)
	for k, v := range acked {
		got, err := c1.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("%s after the moves: %q %v, acknowledged %q", k, got, err, v)
		}
	}
	for i := range 2000 {
		if err := c1.Get(ctx, fmt.Sprint("pre", i)).Err(); err != nil {
			t.Fatalf("pre%d after the moves: %v", i, err)
		}
	}
	checkTableEqual(t, nodes[0], "mv", replicas)
	victim.Stop(t, 30*time.Second)
	all := make([]meta.SlotID, tb.Slots)
	for i := range all {
		all[i] = meta.SlotID(i)
	}
	checkNoSlotData(t, victim, tb, all)
}
