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

// ---- the model: a few counters, changed by transfers, read all at once;
// and a lock with a fencing counter, taken and released by scripts ------

const (
	unitCounters = 4
	unitStart    = 1000
)

// unitState is the counters, the lock's owner (0: free) and its fencing
// counter (how many times it was taken).
type unitState struct {
	counters [unitCounters]int64
	owner    int
	fence    int64
}

// unitOp is what an operation does.
type unitOp uint8

const (
	// opTransfer moves n from counter a to counter b: MULTI DECRBY a n
	// INCRBY b n EXEC.
	opTransfer unitOp = iota
	// opRead reads every counter at once: MULTI GET ... EXEC, MGET, or a
	// read-only script (EVAL_RO).
	opRead
	// opLimited is a transfer by a script (EVALSHA) that refuses to take
	// counter a below zero: it then changes nothing.
	opLimited
	// opAcquire takes the lock for owner (a script: SET NX of the lock,
	// INCR of the fencing counter, keys of two slots) when it is free,
	// answering the new fencing value, else 0.
	opAcquire
	// opRelease frees the lock if owner holds it (compare-and-delete),
	// answering 1, else 0.
	opRelease
)

type unitInput struct {
	op    unitOp
	a, b  int
	n     int64
	owner int
}

// unitOutput is a read's values, a transfer's two replies (the counters'
// new values; limited: the script refused), or a lock script's reply.
// unknown: an operation whose reply never came, which may or may not have
// taken effect; its Return is the end of the history.
type unitOutput struct {
	vals    [unitCounters]int64
	va, vb  int64
	limited bool
	result  int64
	unknown bool
}

var unitModel = porcupine.Model{
	Init: func() any {
		var s unitState
		for i := range s.counters {
			s.counters[i] = unitStart
		}
		return s
	},
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(unitState), input.(unitInput), output.(unitOutput)
		next := st
		switch in.op {
		case opRead:
			return out.vals == st.counters, st
		case opLimited:
			if st.counters[in.a] < in.n {
				return out.unknown || out.limited, st
			}
		case opAcquire:
			if st.owner != 0 {
				return out.unknown || out.result == 0, st
			}
			next.owner, next.fence = in.owner, st.fence+1
			return out.unknown || out.result == next.fence, next
		case opRelease:
			if st.owner != in.owner {
				return out.unknown || out.result == 0, st
			}
			next.owner = 0
			return out.unknown || out.result == 1, next
		}
		next.counters[in.a] -= in.n
		next.counters[in.b] += in.n
		return out.unknown || (!out.limited && out.va == next.counters[in.a] && out.vb == next.counters[in.b]), next
	},
	Hash: func(state any) uint64 {
		st := state.(unitState)
		h := fnv.New64a()
		for _, v := range append(st.counters[:], int64(st.owner), st.fence) {
			h.Write(strconv.AppendInt(nil, v, 10))
			h.Write([]byte{','})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(unitInput), output.(unitOutput)
		res := fmt.Sprint(out.result)
		if out.unknown {
			res = "?"
		}
		switch in.op {
		case opRead:
			return fmt.Sprintf("read → %v", out.vals)
		case opAcquire:
			return fmt.Sprintf("acquire(%d) → %s", in.owner, res)
		case opRelease:
			return fmt.Sprintf("release(%d) → %s", in.owner, res)
		}
		name := "transfer"
		if in.op == opLimited {
			name = "script-transfer"
		}
		switch {
		case out.unknown:
			return fmt.Sprintf("%s(c%d→c%d, %d) → ?", name, in.a, in.b, in.n)
		case out.limited:
			return fmt.Sprintf("%s(c%d→c%d, %d) → limited", name, in.a, in.b, in.n)
		}
		return fmt.Sprintf("%s(c%d→c%d, %d) → %d, %d", name, in.a, in.b, in.n, out.va, out.vb)
	},
	DescribeState: func(state any) string {
		st := state.(unitState)
		return fmt.Sprintf("%v lock=%d fence=%d", st.counters, st.owner, st.fence)
	},
}

// The scripts of the test: a transfer that refuses to go below zero, a
// read of every counter, and a lock with a fencing counter.
var (
	limitedTransfer = redis.NewScript(`
local a = tonumber(redis.call('get', KEYS[1]))
local b = tonumber(redis.call('get', KEYS[2]))
local n = tonumber(ARGV[1])
if a < n then return {'limited'} end
redis.call('set', KEYS[1], a - n)
redis.call('set', KEYS[2], b + n)
return {a - n, b + n}`)
	readCounters = redis.NewScript(`
local r = {}
for i, k in ipairs(KEYS) do r[i] = tonumber(redis.call('get', k)) end
return r`)
	acquireLock = redis.NewScript(`
if redis.call('set', KEYS[1], ARGV[1], 'NX') then return redis.call('incr', KEYS[2]) end
return 0`)
	// releaseLock declares the fencing counter too (and reads it), so
	// that it is a unit over two slots like acquireLock: in an async table
	// a write of one slot is acknowledged by its leader alone, and a
	// release the leader acknowledged but had not shipped when it was
	// killed came back as a held lock after the failover (async
	// replication's loss window, as Redis's; a unit's records are
	// acknowledged by the followers before its decision).
	releaseLock = redis.NewScript(`
redis.call('get', KEYS[2])
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`)
)

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
	`|the slots of the (transaction|command|script) (stayed busy|are moving); retry` +
	`|a node of the (transaction|script's unit) did not answer before its decision \(nothing ran\): .*` +
	`|(the|a) slot's leadership is changing; retry` +
	`|a slot's leadership handover did not finish in time; retry)$`)

func unitNotApplied(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && unitRefusal.MatchString(re.Error())
}

// TestUnitsLinearizable checks with porcupine that transfers between
// counters whose slots three nodes lead (units across nodes, an async
// table of one replica: MULTI/DECRBY/INCRBY/EXEC, and a script that
// refuses to take a counter below zero), reads of all counters at once
// (MULTI/GET/EXEC, MGET and a read-only script), and a lock taken and
// released by scripts (SET NX of the lock and INCR of its fencing
// counter, keys of two slots; compare-and-delete), through every node,
// are linearizable, while a node is
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
	var transfers, reads, notApplied int // transfers: every operation that writes
	var done [opRelease + 1]int          // operations answered, by kind
	var limited int                      // script transfers that met the limit
	var crossSlot []string               // replies no client of one redis-server gets
	var unknownErrs []string             // the first few errors of operations left pending
	// record adds an operation that ended with err (nil: out is its
	// reply) and says whether the client may go on with the same id.
	record := func(id int, in unitInput, call, ret int64, out unitOutput, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Return: ret, Output: out})
			done[in.op]++
			if out.limited {
				limited++
			}
			if in.op == opRead {
				reads++
			} else {
				transfers++
			}
			return true
		case in.op == opRead:
			return false // a read that failed changed nothing
		case unitNotApplied(err):
			notApplied++
			return true
		}
		if strings.Contains(err.Error(), "CROSSSLOT") {
			crossSlot = append(crossSlot, err.Error())
		}
		unknown = append(unknown, len(ops))
		ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: unitOutput{unknown: true}})
		if len(unknownErrs) < 10 {
			unknownErrs = append(unknownErrs, err.Error())
		}
		return false // its operation may still be pending
	}
	// loop runs op until the test stops, as one client (a new id after
	// an operation that may still be pending).
	loop := func(node int, op func(c *redis.Client, id int) (ok bool, failed bool)) {
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
			ok, failed := op(c, id)
			if !ok {
				id = newID()
			}
			if failed {
				time.Sleep(50 * time.Millisecond) // a node is down: do not pile up
			}
		}
	}
	// writer transfers by MULTI ... EXEC, or (script) by the limited
	// transfer script, larger amounts, which sometimes meet the limit.
	writer := func(node int, seed uint64, script bool) {
		rng := rand.New(rand.NewPCG(seed, 1))
		loop(node, func(c *redis.Client, id int) (bool, bool) {
			in := unitInput{a: rng.IntN(unitCounters), b: rng.IntN(unitCounters), n: int64(1 + rng.IntN(9))}
			if in.a == in.b {
				return true, false
			}
			var out unitOutput
			var err error
			call := now()
			if script {
				in.op, in.n = opLimited, int64(1+rng.IntN(300))
				var res []any
				if res, err = limitedTransfer.Run(ctx, c, []string{keys[in.a], keys[in.b]}, in.n).Slice(); err == nil {
					if len(res) == 1 {
						out.limited = true
					} else {
						out.va, out.vb = res[0].(int64), res[1].(int64)
					}
				}
			} else {
				var dec, inc *redis.IntCmd
				_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					dec = p.DecrBy(ctx, keys[in.a], in.n)
					inc = p.IncrBy(ctx, keys[in.b], in.n)
					return nil
				})
				out.va, out.vb = dec.Val(), inc.Val()
			}
			return record(id, in, call, now(), out, err), err != nil
		})
	}
	// reader reads every counter by MULTI ... EXEC, MGET or a read-only
	// script.
	reader := func(node int, how string) {
		loop(node, func(c *redis.Client, id int) (bool, bool) {
			var out unitOutput
			call := now()
			var err error
			switch how {
			case "mget":
				var got []any
				if got, err = c.MGet(ctx, keys...).Result(); err == nil {
					for i, v := range got {
						s, _ := v.(string)
						if out.vals[i], err = strconv.ParseInt(s, 10, 64); err != nil {
							break
						}
					}
				}
			case "script":
				var got []int64
				if got, err = readCounters.RunRO(ctx, c, keys).Int64Slice(); err == nil {
					copy(out.vals[:], got)
				}
			default:
				var gets []*redis.StringCmd
				_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					gets = gets[:0]
					for _, k := range keys {
						gets = append(gets, p.Get(ctx, k))
					}
					return nil
				})
				for i := 0; err == nil && i < len(gets); i++ {
					out.vals[i], err = gets[i].Int64()
				}
			}
			return record(id, unitInput{op: opRead}, call, now(), out, err), err != nil
		})
	}
	// locker takes the lock and releases it, by scripts over the lock and
	// its fencing counter (keys of two slots); after a take whose reply
	// never came it releases too (it may hold the lock).
	lockKeys := []string{"ul-lock", "ul-fence"}
	if router.SlotOf([]byte(lockKeys[0]), tb.Slots) == router.SlotOf([]byte(lockKeys[1]), tb.Slots) {
		t.Fatalf("%v hash to one slot: the lock scripts would not be units", lockKeys)
	}
	locker := func(node int, owner int) {
		held := false
		loop(node, func(c *redis.Client, id int) (bool, bool) {
			in := unitInput{op: opAcquire, owner: owner}
			if held {
				in.op = opRelease
			}
			var out unitOutput
			var err error
			call := now()
			if in.op == opAcquire {
				out.result, err = acquireLock.Run(ctx, c, lockKeys, owner).Int64()
			} else {
				out.result, err = releaseLock.Run(ctx, c, lockKeys, owner).Int64()
			}
			ok := record(id, in, call, now(), out, err)
			if in.op == opAcquire {
				held = err == nil && out.result > 0 || !ok // a take with no known outcome may hold it
			} else {
				held = err != nil // not done, or perhaps not: release again
			}
			return ok, err != nil
		})
	}
	for i := range 4 {
		wg.Add(1)
		go writer(i%len(nodes), uint64(i)+uint64(start.UnixNano()), i%2 == 1)
	}
	wg.Add(5)
	go reader(1, "multi")
	go reader(2, "mget")
	go reader(3, "script")
	go locker(0, 1)
	go locker(3, 2)

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
	t.Logf("answered: %d transfers by MULTI, %d by script (%d limited), %d reads, %d lock takes, %d releases",
		done[opTransfer], done[opLimited], limited, done[opRead], done[opAcquire], done[opRelease])
	if done[opLimited] == 0 || done[opAcquire] == 0 || done[opRelease] == 0 {
		t.Fatal("the scripts did not run")
	}
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
	cli := api.NewClient(ask.HTTPAddr()).WithToken(testproc.AdminToken)
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
