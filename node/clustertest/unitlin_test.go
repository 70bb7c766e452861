package clustertest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/redis/go-redis/v9"
)

// ---- the model: a few counters, changed by transfers, read all at once --

const (
	unitCounters = 4
	unitStart    = 1000
)

type unitState [unitCounters]int64

// unitInput is a transfer of n from counter a to counter b (MULTI DECRBY
// a n INCRBY b n EXEC) or a read of every counter (read: MULTI GET ...
// EXEC, or MGET).
type unitInput struct {
	read bool
	a, b int
	n    int64
}

// unitOutput is a read's values or a transfer's two replies (the counters'
// new values). unknown: a transfer whose reply never came, which may or
// may not have taken effect; its Return is the end of the history.
type unitOutput struct {
	vals    unitState
	va, vb  int64
	unknown bool
}

var unitModel = porcupine.Model{
	Init: func() any {
		var s unitState
		for i := range s {
			s[i] = unitStart
		}
		return s
	},
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(unitState), input.(unitInput), output.(unitOutput)
		if in.read {
			return out.vals == st, st
		}
		next := st
		next[in.a] -= in.n
		next[in.b] += in.n
		return out.unknown || (out.va == next[in.a] && out.vb == next[in.b]), next
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		for _, v := range state.(unitState) {
			h.Write(strconv.AppendInt(nil, v, 10))
			h.Write([]byte{','})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(unitInput), output.(unitOutput)
		if in.read {
			return fmt.Sprintf("read → %v", out.vals)
		}
		if out.unknown {
			return fmt.Sprintf("transfer(c%d→c%d, %d) → ?", in.a, in.b, in.n)
		}
		return fmt.Sprintf("transfer(c%d→c%d, %d) → %d, %d", in.a, in.b, in.n, out.va, out.vb)
	},
	DescribeState: func(state any) string { return fmt.Sprint(state.(unitState)) },
}

// unitRefusal is an answer pika-node gives only before a unit's decision
// (nothing of it ran): a slot's leader down or unknown, slots busy or
// moving until the deadline, a participant that did not answer its lock
// (node/txn's runUnitAcross), a leadership change that refused the unit. The checker
// holds it to that: such transfers are left out of the history as not
// applied. Any other error (a forwarded unit whose leader did not answer
// after it was sent, an unknown outcome) may have run: its operation is
// left pending to the end of the history.
var unitRefusal = regexp.MustCompile(`^CLUSTERDOWN (` +
	`slot \d+ of table \S+ (has no leader|is not served: its leader \S+ is down)` +
	`|the slots of the (transaction|command) (stayed busy|are moving); retry` +
	`|a node of the transaction did not answer before its decision \(nothing ran\): .*` +
	`|(the|a) slot's leadership is changing; retry` +
	`|a slot's leadership handover did not finish in time; retry)$`)

func unitNotApplied(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && unitRefusal.MatchString(re.Error())
}

// TestUnitsLinearizable checks with porcupine that transfers between
// counters whose slots three nodes lead (units across nodes, an async
// table of one replica) and reads of all counters at once (MULTI/GET/EXEC
// and MGET), through every node, are linearizable, while a node is
// killed with kill -9 and restarted: every read sees every transfer whole
// or not at all, in an order consistent with real time, and each
// transfer's replies are the counters' values at that point.
// Then, still under load, the slots of two counters are moved to nodes
// that did not hold them (the slot moves of pikactl), one after the
// other, and a node is cut off from its peers for 2 s (its peer port,
// through a fault proxy): units keep being whole through the moves'
// copies and hand-overs and through the partition.
//
// In an async table of one replica (units across nodes), an async table
// of two ("async-followers": the victim's slots fail over to their
// followers before it restarts; every transfer is a unit whose records
// the followers acknowledged before its decision, so none acknowledged
// is lost) and a raft table of three (units across raft groups; the
// victim's groups elect other leaders, and the parts it led are ended by
// them), on 4 nodes. PIKA_UNIT_LIN_ROUNDS runs each mode that many times
// on fresh clusters (make chaos: 2).
func TestUnitsLinearizable(t *testing.T) {
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("PIKA_UNIT_LIN_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for _, mode := range []string{"async", "async-followers", "raft"} {
		for r := range rounds {
			name := mode
			if rounds > 1 {
				name = fmt.Sprintf("%s/round%d", mode, r)
			}
			t.Run(name, func(t *testing.T) { testUnitsLinearizable(t, mode) })
		}
	}
}

func testUnitsLinearizable(t *testing.T, mode string) {
	lc := startLinCluster(t, "unitlin"+strings.ReplaceAll(mode, "-", ""), 4) // peer links through fault proxies
	nodes := lc.nodes
	replicas := map[string]int{"async": 1, "async-followers": 2, "raft": 3}[mode]
	tb := createModeTable(t, nodes, "ul", strings.TrimSuffix(mode, "-followers"), 16, replicas)
	ctx := context.Background()
	keys := unitSpreadKeys(t, nodes, tb)
	t.Logf("counters %v", keys)
	setup := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	defer setup.Close()
	var args []any
	for _, k := range keys {
		args = append(args, k, unitStart)
	}
	if err := setup.MSet(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}

	clientOn := func(i int) *redis.Client {
		return redisClient(t, nodes[i], &redis.Options{DB: int(tb.ID), MaxRetries: -1, ReadTimeout: 5 * time.Second})
	}
	var mu sync.Mutex
	var ops []porcupine.Operation
	var unknown []int // indexes in ops of the transfers whose reply never came
	nextID := 0
	newID := func() int {
		mu.Lock()
		defer mu.Unlock()
		nextID++
		return nextID
	}
	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var transfers, reads, notApplied int
	var crossSlot []string   // replies no client of one redis-server gets
	var unknownErrs []string // the first few errors of transfers left pending
	writer := func(node int, seed uint64) {
		defer wg.Done()
		c := clientOn(node)
		defer c.Close()
		rng := rand.New(rand.NewPCG(seed, 1))
		id := newID()
		for {
			select {
			case <-stop:
				return
			default:
			}
			in := unitInput{a: rng.IntN(unitCounters), b: rng.IntN(unitCounters), n: int64(1 + rng.IntN(9))}
			if in.a == in.b {
				continue
			}
			var dec, inc *redis.IntCmd
			call := now()
			_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				dec = p.DecrBy(ctx, keys[in.a], in.n)
				inc = p.IncrBy(ctx, keys[in.b], in.n)
				return nil
			})
			ret := now()
			mu.Lock()
			switch {
			case err == nil:
				ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Return: ret,
					Output: unitOutput{va: dec.Val(), vb: inc.Val()}})
				transfers++
			case unitNotApplied(err):
				notApplied++
			default:
				if strings.Contains(err.Error(), "CROSSSLOT") {
					crossSlot = append(crossSlot, err.Error())
				}
				unknown = append(unknown, len(ops))
				ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: unitOutput{unknown: true}})
				if len(unknownErrs) < 10 {
					unknownErrs = append(unknownErrs, err.Error())
				}
			}
			mu.Unlock()
			if err != nil {
				if !unitNotApplied(err) {
					id = newID() // its operation may still be pending
				}
				time.Sleep(50 * time.Millisecond) // a node is down: do not pile up
			}
		}
	}
	reader := func(node int, mget bool) {
		defer wg.Done()
		c := clientOn(node)
		defer c.Close()
		id := newID()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var vals unitState
			call := now()
			var err error
			if mget {
				var got []any
				if got, err = c.MGet(ctx, keys...).Result(); err == nil {
					for i, v := range got {
						s, _ := v.(string)
						if vals[i], err = strconv.ParseInt(s, 10, 64); err != nil {
							break
						}
					}
				}
			} else {
				var gets []*redis.StringCmd
				_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					gets = gets[:0]
					for _, k := range keys {
						gets = append(gets, p.Get(ctx, k))
					}
					return nil
				})
				for i := 0; err == nil && i < len(gets); i++ {
					vals[i], err = gets[i].Int64()
				}
			}
			ret := now()
			if err != nil {
				id = newID()
				time.Sleep(50 * time.Millisecond)
				continue
			}
			mu.Lock()
			ops = append(ops, porcupine.Operation{ClientId: id, Input: unitInput{read: true}, Call: call, Return: ret,
				Output: unitOutput{vals: vals}})
			reads++
			mu.Unlock()
		}
	}
	for i := range 4 {
		wg.Add(1)
		go writer(i%len(nodes), uint64(i)+uint64(start.UnixNano()))
	}
	wg.Add(2)
	go reader(1, false)
	go reader(2, true)

	// The fault: the node leading some counters, and coordinating some
	// clients' units, is killed in the middle of the load and restarted.
	time.Sleep(1500 * time.Millisecond)
	victim := nodes[2]
	h, _, err := victim.Health()
	if err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	if mode == "async-followers" {
		awaitFailover(t, nodes[0], tb, victim.Name, meta.NodeID(h.Node))
	} else {
		time.Sleep(time.Second)
	}
	restarted := testproc.StartNode(t, victim.Spec)
	restarted.WaitHealthy(t)
	live := slices.Clone(nodes) // the clients' goroutines read nodes
	live[2] = restarted
	time.Sleep(2 * time.Second) // load after the restart
	moved := unitMoveCounters(t, live, tb, keys[:2], replicas)
	time.Sleep(time.Second) // load after the moves
	// A partition: node 2 receives nothing on its peer port for 2 s (its
	// units' participants elsewhere, and the units other nodes ask of it,
	// fail or give up and resolve), then heals.
	lc.proxies[1].cut()
	time.Sleep(2 * time.Second)
	lc.proxies[1].heal()
	time.Sleep(2 * time.Second) // load after the partition
	close(stop)
	wg.Wait()
	end := now()
	for _, i := range unknown {
		ops[i].Return = end
	}
	t.Logf("%d transfers, %d reads, %d transfers refused before their decision, %d with no reply; moved %s", transfers, reads, notApplied, len(unknown), moved)
	for _, e := range unknownErrs {
		t.Logf("a transfer with no known outcome: %s", e)
	}
	if transfers == 0 || reads == 0 {
		t.Fatal("the load did not run")
	}
	if len(crossSlot) > 0 {
		t.Errorf("%d transfers answered CROSSSLOT: %s", len(crossSlot), crossSlot[0])
	}
	res, info := porcupine.CheckOperationsVerbose(unitModel, ops, 90*time.Second)
	switch res {
	case porcupine.Illegal:
		path := t.TempDir() + "/units.html"
		if err := porcupine.VisualizePath(unitModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
		t.Fatal("the history of transfers and reads is not linearizable")
	case porcupine.Unknown:
		t.Log("porcupine timed out: the result is unknown (not a violation)")
	}
	// Every counter readable through every node, adding up.
	for i, nd := range live {
		c := redisClient(t, nd, &redis.Options{DB: int(tb.ID)})
		got, err := c.MGet(ctx, keys...).Result()
		c.Close()
		if err != nil {
			t.Fatalf("MGET through node %d: %v", i+1, err)
		}
		sum := 0
		for _, v := range got {
			n, _ := strconv.Atoi(v.(string))
			sum += n
		}
		if sum != unitCounters*unitStart {
			t.Fatalf("through node %d the counters add up to %d, want %d", i+1, sum, unitCounters*unitStart)
		}
	}
}

// unitSpreadKeys picks unitCounters key names whose slots (of table tb)
// are led by every node of the cluster, so that transfers between them run
// as units across nodes.
func unitSpreadKeys(t *testing.T, nodes []*testproc.Node, tb api.Table) []string {
	t.Helper()
	slots, err := api.NewClient(nodes[0].HTTPAddr()).Slots(context.Background(), tb.Name)
	if err != nil {
		t.Fatal(err)
	}
	leaderOf := map[uint32]string{}
	for _, sl := range slots {
		leaderOf[uint32(sl.Slot)] = string(sl.Leader)
	}
	leaders := map[string]bool{}
	for _, l := range leaderOf {
		leaders[l] = true
	}
	var keys []string
	used := map[string]int{}
	for i := 0; len(keys) < unitCounters && i < 10000; i++ {
		k := "c" + strconv.Itoa(i)
		l := leaderOf[uint32(router.SlotOf([]byte(k), tb.Slots))]
		// Round robin over the leaders: at most ceil(counters/leaders)
		// each (a raft table's leaders may not be on every node).
		if used[l] < (unitCounters+len(leaders)-1)/len(leaders) {
			used[l]++
			keys = append(keys, k)
		}
	}
	if len(keys) < unitCounters || len(used) < min(3, len(nodes)) {
		t.Fatal(errors.New("could not spread the counters over the nodes"))
	}
	return keys
}

// unitMoveCounters moves the slot of each key (of tb) to a node that does
// not hold it, one move after the other, each awaited until done; it
// says what it moved.
func unitMoveCounters(t *testing.T, nodes []*testproc.Node, tb api.Table, keys []string, replicas int) string {
	t.Helper()
	cli := liveAPI(t, nodes, -1)
	ids := nodesByID(t, nodes)
	var done []string
	for _, k := range keys {
		testproc.WaitFor(t, "the table's slots settled", 60*time.Second, func() bool {
			_, ok := slotsSettled(t, cli, tb.Name, replicas)
			return ok
		})
		s := meta.SlotID(router.SlotOf([]byte(k), tb.Slots))
		sl, err := cli.Slot(context.Background(), tb.Name, s)
		if err != nil {
			t.Fatal(err)
		}
		var to meta.NodeID
		for id := range ids {
			if !slices.Contains(sl.Replicas, id) {
				to = id
				break
			}
		}
		if to == "" {
			t.Fatalf("slot %d of %s is on every node", s, tb.Name)
		}
		moveAndWait(t, cli, tb.Name, s, sl.Leader, to)
		done = append(done, fmt.Sprintf("slot %d (%s) %s -> %s", s, k, sl.Leader, to))
	}
	return strings.Join(done, ", ")
}

// awaitFailover waits until no slot of tb is led by the killed node id
// (named name), asking node ask.
func awaitFailover(t *testing.T, ask *testproc.Node, tb api.Table, name string, id meta.NodeID) {
	t.Helper()
	cli := api.NewClient(ask.HTTPAddr())
	testproc.WaitFor(t, "failover of "+name+"'s slots", 60*time.Second, func() bool {
		slots, err := cli.Slots(context.Background(), tb.Name)
		if err != nil {
			return false
		}
		for _, sl := range slots {
			if sl.Leader == id {
				return false
			}
		}
		return true
	})
}
