package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

// Linearizability under faults: concurrent go-redis clients run SET, GET,
// APPEND and DEL on a few keys of a 3-replica table through every node
// while the test kills nodes (kill -9, then a restart on the same port and
// data) or cuts or stalls their peer links; the history of each round is
// checked by porcupine against a register per key.
//
// Environment:
//
//	PIKA_LIN_MODE    the table's replication mode: raft (default) or async
//	PIKA_LIN_ROUNDS  rounds of load + faults (default 3 on 3 nodes, 2 on 5)
//	PIKA_LIN_FAULTS  fault kinds to draw from, comma-separated: kill, cut,
//	                 stall (default all three), or none
//	PIKA_LIN_SEED    seed of the victims, fault order and operations (logged)
//	PIKA_LIN_OUT     directory for the visualization (HTML) of a history that
//	                 is not linearizable (default: a new directory under
//	                 $TMPDIR, kept after the test)
//
// The history: a successful operation with its output; a failed GET is
// left out (it observed nothing), so is a write that surely did not run
// (never sent, or refused by the node before forwarding: linRefused); any
// other failed write (timeout, lost connection, a forward that got no
// answer...) is "unknown": open until the end of the history, any output
// (Jepsen's :info). The check is in three steps (see linRound): unknown
// writes no read saw left out (sound for "linearizable"), then GET values
// alone (sound for "not linearizable"), then the whole history.
//
// A round not proven either way in linCheckTimeout is reported, not failed.
// Async mode has no fault-free violation to excuse: every command of a slot
// runs on its single leader. With kill -9 it may lose writes the dead
// leader acknowledged but had not shipped (the documented price of async),
// which porcupine sees as a violation: in async mode a violation in a round
// that killed a node is logged, not failed. Every other violation fails,
// its visualization written to PIKA_LIN_OUT.

const (
	linSlots        = 16
	linKeys         = 8 // per round, each in its own slot
	linClients      = 6
	linCheckTimeout = 30 * time.Second
	linFaultHold    = 2500 * time.Millisecond // > the 2 s lease: failover or elections happen meanwhile
	linPhase        = time.Second             // load before the faults and after healing
	linPhaseOps     = 200                     // and at least this many successful operations
)

// linMode is the replication mode of the tables under test.
func linMode() string {
	if m := os.Getenv("PIKA_LIN_MODE"); m != "" {
		return m
	}
	return "raft"
}

func linEnvInt(t *testing.T, name string, def int64) int64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// ---- the model: one register per key --------------------------------

type linKind uint8

const (
	linGet linKind = iota
	linSet
	linAppend
	linDel
)

type linInput struct {
	kind linKind
	key  string
	arg  string // SET's value, APPEND's suffix: unique per operation
}

// linOutput is GET's value (exists false: a nil reply), APPEND's new length
// or DEL's count. unknown: a write whose reply never came (an error or a
// timeout), which may or may not have taken effect; its Return is the end
// of the history, so the checker may place it anywhere after its call,
// including after everything else (not applied).
type linOutput struct {
	value   string
	exists  bool
	n       int64
	unknown bool
}

type linState struct {
	value  string
	exists bool
}

// linPartition splits a history by key (a register per key), in key order.
func linPartition(h []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range h {
		k := op.Input.(linInput).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		parts[i] = byKey[k]
	}
	return parts
}

var linModel = porcupine.Model{
	Partition: linPartition,
	Init:      func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.kind {
		case linGet:
			return out.exists == st.exists && out.value == st.value, st
		case linSet:
			return true, linState{value: in.arg, exists: true}
		case linAppend:
			next := linState{value: st.value + in.arg, exists: true}
			return out.unknown || out.n == int64(len(next.value)), next
		default: // linDel
			return out.unknown || (out.n == 1) == st.exists, linState{}
		}
	},
	Hash: func(state any) uint64 {
		st := state.(linState)
		h := fnv.New64a()
		h.Write([]byte(st.value))
		if st.exists {
			h.Write([]byte{1})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := func(s string) string {
			if out.unknown {
				return "?"
			}
			return s
		}
		switch in.kind {
		case linGet:
			if !out.exists {
				return fmt.Sprintf("get(%s) → nil", in.key)
			}
			return fmt.Sprintf("get(%s) → %q", in.key, out.value)
		case linSet:
			return fmt.Sprintf("set(%s, %q) → %s", in.key, in.arg, res("OK"))
		case linAppend:
			return fmt.Sprintf("append(%s, %q) → %s", in.key, in.arg, res(fmt.Sprint(out.n)))
		default:
			return fmt.Sprintf("del(%s) → %s", in.key, res(fmt.Sprint(out.n)))
		}
	},
	DescribeState: func(state any) string {
		st := state.(linState)
		if !st.exists {
			return "nil"
		}
		return strconv.Quote(st.value)
	},
}

// ---- the cluster --------------------------------------------------------

// linCluster is etcd and n nodes, each advertising its peer port through
// its own fault proxy, so that the test can cut or stall what each node
// receives from the others.
type linCluster struct {
	nodes   []*testproc.Node
	proxies []*faultProxy
	ids     []string
}

func startLinCluster(t *testing.T, name string, n int) *linCluster {
	t.Helper()
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	common := []string{"--etcd", etcd.Endpoint(), "--cluster", name, "--lease-ttl", leaseTTL,
		// Below the clients' 2 s read timeout: a forward into a cut link
		// answers CLUSTERDOWN rather than leaving the client to time out.
		"--forward-timeout", "1s"}
	lc := &linCluster{}
	for i := range n {
		port := testproc.Port(t, 10000, 20000)
		px := newFaultProxy(t, testproc.Loopback(port+10000))
		t.Cleanup(px.heal) // before the proxy closes: nothing left held
		nd := startNodeOn(t, port, dir, fmt.Sprintf("n%d", i+1), slices.Concat(common, []string{"--advertise-peer", px.ln.Addr().String()})...)
		h := nd.WaitHealthy(t)
		lc.nodes = append(lc.nodes, nd)
		lc.proxies = append(lc.proxies, px)
		lc.ids = append(lc.ids, h.Node)
	}
	testproc.WaitFor(t, fmt.Sprintf("%d nodes alive", n), 20*time.Second, func() bool {
		return lc.aliveCount(t, 0) == n
	})
	return lc
}

// aliveCount is how many nodes the cluster sees alive, asked through node
// via (-1 when pikactl fails, e.g. during a manager takeover).
func (lc *linCluster) aliveCount(t *testing.T, via int) int {
	t.Helper()
	alive, ok := lc.alive(t, via)
	if !ok {
		return -1
	}
	n := 0
	for _, a := range alive {
		if a {
			n++
		}
	}
	return n
}

// alive maps node ids to the cluster's view of their liveness.
func (lc *linCluster) alive(t *testing.T, via int) (map[string]bool, bool) {
	t.Helper()
	var st api.Status
	out, _, code := pikactl(t, "--json", "--server", lc.nodes[via].HTTPAddr(), "status")
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		return nil, false
	}
	m := map[string]bool{}
	for _, nd := range st.Nodes {
		m[string(nd.ID)] = nd.Alive
	}
	return m, true
}

// keyLeaders tells which nodes lead the slot of one of keys in table lin,
// as `pikactl slot show` says (none if it fails).
func (lc *linCluster) keyLeaders(t *testing.T, keys []string) map[int]bool {
	t.Helper()
	var slots []api.Slot
	out, _, code := pikactl(t, "--json", "--server", lc.nodes[0].HTTPAddr(), "slot", "show", "lin")
	leads := map[int]bool{}
	if code != 0 || json.Unmarshal([]byte(out), &slots) != nil {
		return leads
	}
	for _, k := range keys {
		s := router.SlotOf([]byte(k), linSlots)
		for _, sl := range slots {
			if sl.Slot == s {
				if i := slices.Index(lc.ids, string(sl.Leader)); i >= 0 {
					leads[i] = true
				}
			}
		}
	}
	return leads
}

// moveAway starts a move of every slot of keys that node holds to a node
// that does not hold it, and returns the jobs.
func (lc *linCluster) moveAway(t *testing.T, via, node int, keys []string) []string {
	t.Helper()
	cli := api.NewClient(lc.nodes[via].HTTPAddr()).WithToken(testproc.AdminToken)
	from := meta.NodeID(lc.ids[node])
	var jobs []string
	seen := map[meta.SlotID]bool{}
	for _, k := range keys {
		s := router.SlotOf([]byte(k), linSlots)
		if seen[s] {
			continue
		}
		seen[s] = true
		sl, err := cli.Slot(context.Background(), "lin", s)
		if err != nil || !slices.Contains(sl.Replicas, from) {
			continue
		}
		for _, id := range lc.ids {
			if to := meta.NodeID(id); !slices.Contains(sl.Replicas, to) {
				j, err := cli.MoveSlot(context.Background(), api.MoveSlot{Table: "lin", Slot: s, From: from, To: to})
				if err != nil {
					t.Fatalf("move %d %s -> %s: %v", s, from, to, err)
				}
				jobs = append(jobs, j.ID)
				break
			}
		}
	}
	return jobs
}

// createModeTable creates a table with the given replication mode through
// pikactl and waits until every node serves all of it.
func createModeTable(t *testing.T, nodes []*testproc.Node, name, mode string, slots, replicas int) api.Table {
	t.Helper()
	var tb api.Table
	pikactlJSON(t, &tb, "--server", nodes[0].HTTPAddr(), "table", "create", name,
		"--slots", fmt.Sprint(slots), "--replicas", fmt.Sprint(replicas), "--mode", mode)
	if string(tb.Mode) != mode {
		t.Fatalf("table %s created with mode %q, want %q", name, tb.Mode, mode)
	}
	for _, nd := range nodes {
		c := redisClient(t, nd, &redis.Options{DB: int(tb.ID)})
		testproc.WaitFor(t, nd.Name+" to serve "+name, 30*time.Second, func() bool { return c.DBSize(context.Background()).Err() == nil })
		c.Close()
	}
	return tb
}

// linRoundKeys are round r's keys, each in its own slot: every round starts
// from absent keys, and the keys' leaders are spread over the nodes.
func linRoundKeys(round int) []string {
	var keys []string
	used := map[router.SlotID]bool{}
	for i := 0; len(keys) < linKeys; i++ {
		k := fmt.Sprintf("lin%d-%d", round, i)
		if s := router.SlotOf([]byte(k), linSlots); !used[s] {
			used[s] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// ---- the clients --------------------------------------------------------

// linLog is what one client recorded.
type linLog struct {
	ops           []porcupine.Operation // ClientId: generation*linClients + client; Return -1: unknown
	ok            int
	unknownWrites int
	failedReads   int // dropped: a failed read observed nothing
	failedWrites  int // dropped: never sent (dial), or refused before running (linRefused)
	errs          map[string]int
}

// linErrKind names an error for the counts (and tells "dial": nothing was
// sent).
func linErrKind(err error) string {
	var oe *net.OpError
	var ne net.Error
	var re redis.Error
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		return "dial"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &re):
		if f := strings.Fields(re.Error()); len(f) > 0 {
			return f[0]
		}
		return "redis"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection lost"
	default:
		return "other"
	}
}

// linRefusal is the node's answer for a slot whose leader is unknown or
// down in its routing: given before anything is forwarded (node/route.go
// leaderDown), so the write did not run: a failed operation, as Jepsen's
// :fail, rather than an unknown one. (Were it to have run anyway, the
// checker would rightly report it.)
var linRefusal = regexp.MustCompile(`^CLUSTERDOWN slot \d+ of table \S+ (has no leader|is not served: its leader \S+ is down)$`)

func linRefused(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && linRefusal.MatchString(re.Error())
}

// linClient runs random operations on keys until stop, recording each
// with its call and return times since start.
func linClient(id int, c *redis.Client, keys []string, start time.Time, stop <-chan struct{}, seed uint64, okOps *atomic.Int64) linLog {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	now := func() int64 { return time.Since(start).Nanoseconds() }
	l := linLog{errs: map[string]int{}}
	gen := 0
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return l
		default:
		}
		in := linInput{key: keys[rng.IntN(len(keys))]}
		switch p := rng.IntN(100); {
		case p < 45:
			in.kind = linGet
		case p < 80:
			in.kind, in.arg = linSet, fmt.Sprintf("c%d.%d;", id, seq)
		case p < 92:
			in.kind, in.arg = linAppend, fmt.Sprintf("+%d.%d;", id, seq)
		default:
			in.kind = linDel
		}
		var out linOutput
		var err error
		call := now()
		switch in.kind {
		case linGet:
			out.value, err = c.Get(ctx, in.key).Result()
			out.exists = err == nil
			if errors.Is(err, redis.Nil) {
				err = nil
			}
		case linSet:
			err = c.Set(ctx, in.key, in.arg, 0).Err()
		case linAppend:
			out.n, err = c.Append(ctx, in.key, in.arg).Result()
		case linDel:
			out.n, err = c.Del(ctx, in.key).Result()
		}
		ret := now()
		if err == nil {
			l.ok++
			okOps.Add(1)
			l.ops = append(l.ops, porcupine.Operation{ClientId: gen*linClients + id, Input: in, Call: call, Output: out, Return: ret})
			continue
		}
		kind := linErrKind(err)
		l.errs[kind]++
		switch {
		case in.kind == linGet:
			l.failedReads++
		case kind == "dial" || linRefused(err):
			l.failedWrites++
		default:
			// Applied or not, nobody knows: open until the end of the
			// history. This client's next operations go on another row of
			// the visualization (a new process, as in Jepsen).
			l.unknownWrites++
			l.ops = append(l.ops, porcupine.Operation{ClientId: gen*linClients + id, Input: in, Call: call, Output: linOutput{unknown: true}, Return: -1})
			gen++
		}
		// Back off a little after an error: a client spinning on a dead
		// slot would fill the history with unknown writes.
		select {
		case <-stop:
			return l
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ---- faults -------------------------------------------------------------

// A linFault is a fault on one node:
//
//   - kill: kill -9, then (after linFaultHold, and once the cluster saw it
//     dead) a restart on the same port, data and flags;
//   - cut: its fault proxy drops every connection to the node's peer port
//     and refuses new ones until healed;
//   - stall: its fault proxy holds all bytes to and from the node's peer
//     port (on connections other nodes opened to it) until healed, then
//     delivers them late.
//
// cut and stall are asymmetric partitions: the proxy sits only in front of
// the node's own peer port, so they stop what the others send to the node
// (forwarded commands, replication or raft messages to it as a follower,
// the manager's requests) and the replies on those connections, while the
// connections the node opens to the others (through their proxies) keep
// working: the node still forwards, ships to its followers, sends votes.
// Its etcd lease is untouched (etcd is not behind the proxy).
type linFault struct {
	kind       string
	node       int
	start, end int64    // history time
	jobs       []string // a move's jobs
}

func linFaultKinds(t *testing.T, def []string) []string {
	t.Helper()
	s := os.Getenv("PIKA_LIN_FAULTS")
	if s == "" {
		return def
	}
	var kinds []string
	for _, k := range strings.Split(s, ",") {
		switch k = strings.TrimSpace(k); k {
		case "none":
			return nil
		case "kill", "cut", "stall", "move":
			kinds = append(kinds, k)
		default:
			t.Fatalf("PIKA_LIN_FAULTS: unknown fault %q (kill, cut, stall, move or none)", k)
		}
	}
	return kinds
}

// ---- the test -----------------------------------------------------------

// TestLinearizable3Nodes: 6 clients, one round of load per fault, one node
// faulty at a time: a majority of every slot's replicas always lives.
func TestLinearizable3Nodes(t *testing.T) {
	runLinearizability(t, "lin3", 3, 3, 1, []string{"kill", "cut", "stall"})
}

// TestLinearizable5Nodes: the same on 5 nodes with up to two faulty nodes
// at once (two in even rounds, one in odd ones).
func TestLinearizable5Nodes(t *testing.T) {
	runLinearizability(t, "lin5", 5, 2, 2, []string{"kill", "cut", "stall"})
}

// TestLinearizableThroughMoves: 4 nodes, every round moves the replicas
// one node holds of the round's keys' slots to the node that holds none
// (slot move jobs: raft learner, promotion, leader transfer, removal)
// under the clients' load.
func TestLinearizableThroughMoves(t *testing.T) {
	runLinearizability(t, "linmv", 4, 3, 1, []string{"move"})
}

type linTotals struct {
	ops, ok, unknown, failedReads, failedWrites, pruned int
	errs                                                map[string]int
	faults                                              map[string]int
	illegal, expected, timedOut, suspect                int
	checking                                            time.Duration
}

func runLinearizability(t *testing.T, cluster string, n, defRounds, maxDown int, defKinds []string) {
	needSetup(t)
	mode := linMode()
	rounds := int(linEnvInt(t, "PIKA_LIN_ROUNDS", int64(defRounds)))
	kinds := linFaultKinds(t, defKinds)
	seed := uint64(linEnvInt(t, "PIKA_LIN_SEED", time.Now().UnixNano()))
	t.Logf("mode %s, %d nodes, %d rounds, faults %v, PIKA_LIN_SEED=%d", mode, n, rounds, kinds, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	lc := startLinCluster(t, cluster, n)
	tb := createModeTable(t, lc.nodes, "lin", mode, linSlots, 3)
	opts := func() *redis.Options {
		return &redis.Options{DB: int(tb.ID), ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
			DialTimeout: time.Second, DialerRetries: 1, PoolSize: 2}
	}
	clients := make([]*redis.Client, linClients)
	var via []string
	for i := range clients {
		clients[i] = redisClient(t, lc.nodes[i%n], opts()) // any node serves any key
		via = append(via, fmt.Sprintf("client %d: %s", i, lc.nodes[i%n].Name))
	}
	t.Logf("the clients' nodes (a failure names the client of each operation): %s", strings.Join(via, ", "))
	readers := make([]*redis.Client, n) // the test's own probes, one per node
	for i := range readers {
		readers[i] = redisClient(t, lc.nodes[i], opts())
	}

	tot := linTotals{errs: map[string]int{}, faults: map[string]int{}}
	off := 0 // the fault kinds are taken in turn, from a random one
	if len(kinds) > 0 {
		off = rng.IntN(len(kinds))
	}
	for round := range rounds {
		// The round's faults: distinct victims, leaders of the round's keys
		// first (a fault on a node that leads none of them only delays
		// its copies), kinds in turn.
		keys := linRoundKeys(round)
		var faults []linFault
		if len(kinds) > 0 {
			down := 1
			if round%2 == 0 {
				down = maxDown
			}
			leads := lc.keyLeaders(t, keys)
			victims := rng.Perm(n)
			sort.SliceStable(victims, func(a, b int) bool { return leads[victims[a]] && !leads[victims[b]] })
			for j, v := range victims[:down] {
				faults = append(faults, linFault{kind: kinds[(round*maxDown+j+off)%len(kinds)], node: v})
			}
		}
		linRound(t, lc, clients, readers, round, keys, faults, rng.Uint64(), mode, &tot)
	}

	var fk []string
	for k, c := range tot.faults {
		fk = append(fk, fmt.Sprintf("%s %d", k, c))
	}
	sort.Strings(fk)
	if len(fk) == 0 {
		fk = []string{"none"}
	}
	var ek []string
	for k, c := range tot.errs {
		ek = append(ek, fmt.Sprintf("%s %d", k, c))
	}
	sort.Strings(ek)
	if len(ek) == 0 {
		ek = []string{"none"}
	}
	result := "linearizable in every round"
	switch {
	case tot.illegal > tot.expected:
		result = fmt.Sprintf("NOT linearizable in %d rounds", tot.illegal)
	case tot.illegal > 0:
		result = fmt.Sprintf("not linearizable in %d rounds with kill -9 (async: acknowledged writes lost), linearizable otherwise", tot.illegal)
	}
	if tot.timedOut > 0 {
		result += fmt.Sprintf("; the checker timed out (unknown) in %d rounds", tot.timedOut)
	}
	if tot.suspect > 0 {
		result += fmt.Sprintf(", %d of them SUSPECT (not linearizable without the unobserved unknown writes)", tot.suspect)
	}
	t.Logf("MEASURED: linearizability, mode %s, %d nodes, %d clients: %d rounds, %d operations checked (%d ok, %d unknown writes of which %d unobserved left out), %d failed reads and %d failed writes dropped; faults: %s; client errors: %s; result: %s; checking took %s",
		mode, n, linClients, rounds, tot.ops, tot.ok, tot.unknown, tot.pruned, tot.failedReads, tot.failedWrites,
		strings.Join(fk, ", "), strings.Join(ek, ", "), result, tot.checking.Round(time.Millisecond))
}

// linRound runs one round: load, faults, healing, recovery, load, then the
// check of the round's history.
func linRound(t *testing.T, lc *linCluster, clients, readers []*redis.Client, round int, keys []string, faults []linFault, seed uint64, mode string, tot *linTotals) {
	t.Helper()
	n := len(lc.nodes)
	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	stop := make(chan struct{})
	stopLoad := sync.OnceFunc(func() { close(stop) })
	defer stopLoad()
	var okOps atomic.Int64
	logs := make(chan linLog, len(clients))
	for i, c := range clients {
		go func() { logs <- linClient(i, c, keys, start, stop, seed, &okOps) }()
	}
	load := func(what string) {
		t.Helper()
		t0, base := time.Now(), okOps.Load()
		testproc.WaitFor(t, what, 60*time.Second, func() bool {
			return time.Since(t0) >= linPhase && okOps.Load() >= base+linPhaseOps
		})
	}
	load(fmt.Sprintf("round %d: load before the faults", round))

	// A node the faults spare, to ask about the others.
	victim := map[int]bool{}
	for _, f := range faults {
		victim[f.node] = true
	}
	via := 0
	for victim[via] {
		via++
	}
	injected := time.Now()
	var desc []string
	for i := range faults {
		f := &faults[i]
		f.start = now()
		nd := lc.nodes[f.node]
		desc = append(desc, f.kind+" "+nd.Name)
		switch f.kind {
		case "kill":
			nd.Kill()
		case "cut":
			lc.proxies[f.node].cut()
		case "stall":
			lc.proxies[f.node].hold()
		case "move":
			f.jobs = lc.moveAway(t, via, f.node, keys)
			desc[len(desc)-1] += fmt.Sprintf(" (%d slots)", len(f.jobs))
		}
		tot.faults[f.kind]++
	}
	if len(faults) > 0 {
		t.Logf("round %d: %s", round, strings.Join(desc, ", "))
	}
	for _, f := range faults {
		if f.kind == "kill" {
			id := lc.ids[f.node]
			testproc.WaitFor(t, fmt.Sprintf("round %d: %s seen dead", round, lc.nodes[f.node].Name), 30*time.Second, func() bool {
				alive, ok := lc.alive(t, via)
				return ok && !alive[id]
			})
		}
	}
	if len(faults) > 0 {
		time.Sleep(time.Until(injected.Add(linFaultHold))) // the fault lasts; the load goes on
	}
	for i := range faults {
		f := &faults[i]
		switch f.kind {
		case "kill":
			old := lc.nodes[f.node]
			nd := testproc.StartNode(t, old.Spec)
			nd.WaitHealthy(t)
			lc.nodes[f.node] = nd
		case "move":
			cli := api.NewClient(lc.nodes[via].HTTPAddr()).WithToken(testproc.AdminToken)
			for _, id := range f.jobs {
				if j := waitJob(t, cli, id, 60*time.Second); j.Move.Step != meta.MoveDone {
					t.Fatalf("round %d: move %s ended %s: %s", round, id, j.Move.Step, j.Move.Error)
				}
			}
		default:
			lc.proxies[f.node].heal()
		}
		f.end = now()
	}
	if len(faults) > 0 {
		testproc.WaitFor(t, fmt.Sprintf("round %d: %d nodes alive after healing", round, n), 30*time.Second, func() bool {
			return lc.aliveCount(t, via) == n
		})
	}
	healed := time.Now()
	// Every key served through every node again.
	testproc.WaitFor(t, fmt.Sprintf("round %d: every key served through every node", round), 30*time.Second, func() bool {
		for _, r := range readers {
			for _, k := range keys {
				if err := r.Get(context.Background(), k).Err(); err != nil && !errors.Is(err, redis.Nil) {
					return false
				}
			}
		}
		return true
	})
	recovered := time.Since(healed)
	load(fmt.Sprintf("round %d: load after healing", round))
	stopLoad()

	// The history: unknown writes stay open to its end; one dense client
	// id per (client, generation) for the visualization.
	end := now()
	var ops []porcupine.Operation
	var rl linLog
	rl.errs = map[string]int{}
	for range clients {
		l := <-logs
		ops = append(ops, l.ops...)
		rl.ok += l.ok
		rl.unknownWrites += l.unknownWrites
		rl.failedReads += l.failedReads
		rl.failedWrites += l.failedWrites
		for k, c := range l.errs {
			rl.errs[k] += c
			tot.errs[k] += c
		}
	}
	ids := map[int]int{}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].ClientId < ops[j].ClientId })
	for i := range ops {
		if _, ok := ids[ops[i].ClientId]; !ok {
			ids[ops[i].ClientId] = len(ids)
		}
		ops[i].ClientId = ids[ops[i].ClientId]
		if ops[i].Return < 0 {
			ops[i].Return = end
		}
	}
	tot.ok += rl.ok
	tot.unknown += rl.unknownWrites
	tot.failedReads += rl.failedReads
	tot.failedWrites += rl.failedWrites

	// Three steps, the later ones only for the keys that failed the one
	// before:
	//  1. without the unknown writes nobody observed (linPrune): cheap, and
	//     passing it proves the round linearizable;
	//  2. the same with APPEND's lengths and DEL's counts forgotten
	//     (linWeaken): as cheap, and failing it proves the round NOT
	//     linearizable (GET values alone disprove it);
	//  3. the whole history of those keys, within linCheckTimeout (unknown
	//     writes open to the end make a disproof exponential).
	annotate := func(info *porcupine.LinearizationInfo) {
		var ann []porcupine.Annotation
		for _, f := range faults {
			ann = append(ann, porcupine.Annotation{Tag: "faults", Start: f.start, End: f.end,
				Description: f.kind + " " + lc.nodes[f.node].Name, BackgroundColor: "#f4cccc"})
		}
		info.AddAnnotations(ann)
	}
	checkStart := time.Now()
	checked := linPrune(ops)
	res, info := porcupine.CheckOperationsVerbose(linModel, checked, linCheckTimeout)
	pruned := len(ops) - len(checked)
	tot.ops += len(checked)
	tot.pruned += pruned
	prunedVerdict, how := "", ""
	if res == porcupine.Illegal && pruned > 0 {
		bad := map[string]bool{}
		var where []string
		for _, f := range linFailures(checked, info) {
			bad[f.key] = true
			where = append(where, f.text)
		}
		prunedVerdict = fmt.Sprintf("without the %d unobserved unknown writes NOT linearizable: %s", pruned, strings.Join(where, "; "))
		prunedInfo := info
		badOps := slices.DeleteFunc(slices.Clone(ops), func(op porcupine.Operation) bool { return !bad[op.Input.(linInput).key] })
		checked = linPrune(linWeaken(badOps))
		if res, info = porcupine.CheckOperationsVerbose(linModel, checked, linCheckTimeout); res == porcupine.Illegal {
			how = " (proven by GET values alone, without the unobserved unknown writes: APPEND lengths and DEL counts shown as ?)"
		} else {
			t.Logf("round %d: %s; checking those keys' whole history", round, prunedVerdict)
			checked = badOps
			res, info = porcupine.CheckOperationsVerbose(linModel, checked, linCheckTimeout)
			if res == porcupine.Unknown {
				annotate(&prunedInfo)
				prunedVerdict += "; visualization: " + linVisualize(t, prunedInfo, round, "pruned")
			}
		}
	}
	took := time.Since(checkStart)
	tot.checking += took
	t.Logf("round %d: %d operations (%d ok, %d unknown writes; %d failed reads, %d failed writes dropped), every key served again %s after healing; %d unobserved unknown writes left out of the check: %s in %s",
		round, len(ops), rl.ok, rl.unknownWrites, rl.failedReads, rl.failedWrites, recovered.Round(time.Millisecond),
		pruned, linResultName(res), took.Round(time.Millisecond))
	switch res {
	case porcupine.Unknown:
		tot.timedOut++
		if prunedVerdict != "" {
			tot.suspect++
			t.Logf("round %d: SUSPECT: porcupine timed out after %s on the whole history, and %s", round, linCheckTimeout, prunedVerdict)
		} else {
			t.Logf("round %d: porcupine timed out after %s: the history is neither proven linearizable nor not", round, linCheckTimeout)
		}
	case porcupine.Illegal:
		tot.illegal++
		annotate(&info)
		path := linVisualize(t, info, round, "")
		var where []string
		for _, f := range linFailures(checked, info) {
			where = append(where, f.text)
		}
		killed := slices.ContainsFunc(faults, func(f linFault) bool { return f.kind == "kill" })
		if mode == "async" && killed {
			tot.expected++
			t.Logf("round %d: NOT linearizable%s after kill -9 in async mode: expected, a dead leader's acknowledged writes that it had not shipped are lost: %s; visualization: %s",
				round, how, strings.Join(where, "; "), path)
		} else {
			t.Errorf("round %d (faults %v): NOT linearizable%s: %s; visualization: %s", round, desc, how, strings.Join(where, "; "), path)
		}
	}
}

// linPrune leaves out the unknown SETs and APPENDs whose value no read
// saw (values are unique and end with ';', so a value read contains the
// argument of every write that shaped it). Sound: if the rest linearizes,
// the whole history does, with the left-out writes placed after everything
// else (they are open to the end of the history, and their output is
// unknown). Not the converse (an unobserved write may explain an APPEND's
// length or DEL's count) unless those are forgotten too (linWeaken): in a
// linearization, between an unobserved write and the next SET or DEL no
// GET runs (it would see the write's value), so taking the write out
// changes no observation left.
func linPrune(ops []porcupine.Operation) []porcupine.Operation {
	reads := map[string][]string{}
	for _, op := range ops {
		if in, out := op.Input.(linInput), op.Output.(linOutput); in.kind == linGet && out.exists {
			reads[in.key] = append(reads[in.key], out.value)
		}
	}
	kept := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		if out.unknown && (in.kind == linSet || in.kind == linAppend) &&
			!slices.ContainsFunc(reads[in.key], func(v string) bool { return strings.Contains(v, in.arg) }) {
			continue
		}
		kept = append(kept, op)
	}
	return kept
}

// linWeaken forgets APPEND's lengths and DEL's counts (any output goes):
// GET values are the only observations left, so every unknown write no GET
// saw can be left out without changing the verdict (see linPrune). A
// weakened history that is not linearizable proves the original is not.
func linWeaken(ops []porcupine.Operation) []porcupine.Operation {
	out := slices.Clone(ops)
	for i, op := range out {
		if k := op.Input.(linInput).kind; k == linAppend || k == linDel {
			o := op.Output.(linOutput)
			o.unknown = true
			out[i].Output = o
		}
	}
	return out
}

func linResultName(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "linearizable"
	case porcupine.Illegal:
		return "NOT linearizable"
	default:
		return "unknown (timed out)"
	}
}

// linFailure is a key whose history does not linearize, and text that
// tells how far the checker got, the value then, the last operations it
// could place and the first ones it could not (times in ms since the round
// began).
type linFailure struct{ key, text string }

func linFailures(ops []porcupine.Operation, info porcupine.LinearizationInfo) []linFailure {
	desc := func(op porcupine.Operation) string {
		return fmt.Sprintf("%s [%.1f, %.1f] by client %d", linModel.DescribeOperation(op.Input, op.Output),
			float64(op.Call)/1e6, float64(op.Return)/1e6, op.ClientId%linClients)
	}
	parts := linPartition(ops)
	partials := info.PartialLinearizations()
	var bad []linFailure
	for i, p := range parts {
		if i >= len(partials) {
			break
		}
		var best []int // indices into p
		for _, l := range partials[i] {
			if len(l) > len(best) {
				best = l
			}
		}
		if len(best) >= len(p) {
			continue
		}
		st := linModel.Init()
		placed := map[int]bool{}
		for _, id := range best {
			_, st = linModel.Step(st, p[id].Input, p[id].Output)
			placed[id] = true
		}
		var last, next []string
		for _, id := range best[max(0, len(best)-3):] {
			last = append(last, desc(p[id]))
		}
		var rest []porcupine.Operation
		for id, op := range p {
			if !placed[id] {
				rest = append(rest, op)
			}
		}
		sort.SliceStable(rest, func(a, b int) bool { return rest[a].Return < rest[b].Return })
		for _, op := range rest[:min(3, len(rest))] {
			next = append(next, desc(op))
		}
		key := p[0].Input.(linInput).key
		bad = append(bad, linFailure{key, fmt.Sprintf("key %s: at most %d of its %d operations linearize, ending with %s (value %s); not placed: %s",
			key, len(best), len(p), strings.Join(last, ", "), linModel.DescribeState(st), strings.Join(next, ", "))})
	}
	return bad
}

// linVisualize writes porcupine's visualization into $PIKA_LIN_OUT, or a
// new directory kept after the test (t.TempDir is removed), and returns
// its path.
func linVisualize(t *testing.T, info porcupine.LinearizationInfo, round int, suffix string) string {
	t.Helper()
	dir := os.Getenv("PIKA_LIN_OUT")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "pika-lin-"); err != nil {
			t.Errorf("visualization: %v", err)
			return ""
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("visualization: %v", err)
		return ""
	}
	name := fmt.Sprintf("%s-%s-round%d", t.Name(), linMode(), round)
	if suffix != "" {
		name += "-" + suffix
	}
	path := filepath.Join(dir, name+".html")
	if err := porcupine.VisualizePath(linModel, info, path); err != nil {
		t.Errorf("visualization: %v", err)
	}
	return path
}

// TestLinearizabilityModel: the register model itself, on small histories
// whose answer is known: it accepts a linearizable one, rejects a stale
// read, and takes an unknown write as applied or not.
func TestLinearizabilityModel(t *testing.T) {
	op := func(client int, call, ret int64, kind linKind, key, arg string, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: linInput{kind: kind, key: key, arg: arg}, Call: call, Output: out, Return: ret}
	}
	got := func(v string) linOutput { return linOutput{value: v, exists: true} }
	unknown := linOutput{unknown: true}
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{
			op(0, 0, 1, linGet, "a", "", linOutput{}),
			op(0, 2, 3, linSet, "a", "x", linOutput{}),
			op(1, 4, 5, linAppend, "a", "yz", linOutput{n: 3}),
			op(1, 6, 7, linGet, "a", "", got("xyz")),
			op(0, 8, 9, linDel, "a", "", linOutput{n: 1}),
			op(0, 10, 11, linDel, "a", "", linOutput{n: 0}),
			op(1, 12, 13, linGet, "b", "", linOutput{}),
		}, porcupine.Ok},
		{"concurrent reads either side of a write", []porcupine.Operation{
			op(0, 0, 10, linSet, "a", "x", linOutput{}),
			op(1, 1, 2, linGet, "a", "", got("x")),
			op(2, 3, 4, linGet, "a", "", linOutput{}), // after the x read: stale
		}, porcupine.Illegal},
		{"stale read after an acknowledged write", []porcupine.Operation{
			op(0, 0, 1, linSet, "a", "x", linOutput{}),
			op(0, 2, 3, linSet, "a", "y", linOutput{}),
			op(1, 4, 5, linGet, "a", "", got("x")),
		}, porcupine.Illegal},
		{"wrong append length", []porcupine.Operation{
			op(0, 0, 1, linSet, "a", "x", linOutput{}),
			op(0, 2, 3, linAppend, "a", "y", linOutput{n: 1}),
		}, porcupine.Illegal},
		{"unknown write applied", []porcupine.Operation{
			op(0, 0, 100, linSet, "a", "x", unknown),
			op(1, 5, 6, linGet, "a", "", got("x")),
			op(1, 7, 8, linAppend, "a", "y", linOutput{n: 2}),
		}, porcupine.Ok},
		{"unknown write never applied", []porcupine.Operation{
			op(0, 0, 100, linSet, "a", "x", unknown),
			op(1, 5, 6, linGet, "a", "", linOutput{}),
			op(1, 7, 8, linGet, "a", "", linOutput{}),
		}, porcupine.Ok},
		{"unknown write seen, then gone", []porcupine.Operation{
			op(0, 0, 100, linSet, "a", "x", unknown),
			op(1, 5, 6, linGet, "a", "", got("x")),
			op(1, 7, 8, linGet, "a", "", linOutput{}),
		}, porcupine.Illegal},
	} {
		if res, _ := porcupine.CheckOperationsVerbose(linModel, tc.ops, 10*time.Second); res != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, linResultName(res), linResultName(tc.want))
		}
	}
	// An unobserved unknown APPEND that explains a later length: pruned it
	// fails, weakened and pruned it passes, whole it passes. A stale read
	// fails all three.
	artifact := []porcupine.Operation{
		op(0, 0, 1, linSet, "a", "c0.1;", linOutput{}),
		op(1, 2, 100, linAppend, "a", "+1.1;", unknown),
		op(0, 3, 4, linAppend, "a", "+0.2;", linOutput{n: 15}),
		op(0, 5, 6, linSet, "a", "c0.3;", linOutput{}),
		op(0, 7, 8, linGet, "a", "", got("c0.3;")),
	}
	stale := []porcupine.Operation{
		op(0, 0, 1, linSet, "a", "c0.1;", linOutput{}),
		op(1, 2, 100, linAppend, "a", "+1.1;", unknown),
		op(0, 3, 4, linSet, "a", "c0.2;", linOutput{}),
		op(0, 5, 6, linGet, "a", "", got("c0.1;")),
	}
	for _, tc := range []struct {
		name                string
		ops                 []porcupine.Operation
		pruned, weak, whole porcupine.CheckResult
	}{
		{"unobserved append explains a length", artifact, porcupine.Illegal, porcupine.Ok, porcupine.Ok},
		{"stale read", stale, porcupine.Illegal, porcupine.Illegal, porcupine.Illegal},
	} {
		for _, c := range []struct {
			what string
			ops  []porcupine.Operation
			want porcupine.CheckResult
		}{{"pruned", linPrune(tc.ops), tc.pruned}, {"weakened and pruned", linPrune(linWeaken(tc.ops)), tc.weak}, {"whole", tc.ops, tc.whole}} {
			if res, _ := porcupine.CheckOperationsVerbose(linModel, c.ops, 10*time.Second); res != c.want {
				t.Errorf("%s, %s: %s, want %s", tc.name, c.what, linResultName(res), linResultName(c.want))
			}
		}
	}

	// linPrune leaves out exactly the unknown writes no read saw.
	h := []porcupine.Operation{
		op(0, 0, 100, linSet, "a", "c0.1;", unknown),
		op(1, 1, 100, linSet, "a", "c1.1;", unknown),
		op(2, 2, 100, linAppend, "a", "+2.1;", unknown),
		op(3, 3, 100, linAppend, "a", "+3.1;", unknown),
		op(4, 4, 100, linDel, "a", "", unknown),
		op(5, 5, 100, linSet, "b", "c0.1;", unknown),
		op(6, 10, 11, linGet, "a", "", got("c0.1;+3.1;")),
	}
	var kept []int
	for _, o := range linPrune(h) {
		kept = append(kept, o.ClientId)
	}
	if !slices.Equal(kept, []int{0, 3, 4, 6}) {
		t.Errorf("linPrune kept clients %v, want [0 3 4 6]", kept)
	}
}

// TestRaftKillAllAndRestart: acknowledged writes to a raft table survive
// kill -9 of every node at once: after all three restart, every slot
// serves again and every acknowledged key has its value.
func TestRaftKillAllAndRestart(t *testing.T) {
	needSetup(t)
	mode := linMode()
	_, nodes := startNodes(t, "ka", 3)
	tb := createModeTable(t, nodes, "lin", mode, linSlots, 3)
	ctx := context.Background()
	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID), ReadTimeout: 5 * time.Second})
	const keys, batch = 2000, 100
	// Pipelines of SETs; a write that fails (a raft group still electing
	// its first leader answers CLUSTERDOWN) is sent again until
	// acknowledged: the same value, so a duplicate is harmless.
	acked := map[string]string{}
	var pending []string
	for i := range keys {
		pending = append(pending, fmt.Sprint("ka", i))
	}
	resent := 0
	var lastErr error
	for deadline := time.Now().Add(60 * time.Second); len(pending) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes not acknowledged in 60 s; last error: %v", len(pending), keys, lastErr)
		}
		var failed []string
		for b := 0; b < len(pending); b += batch {
			pipe := c.Pipeline()
			cmds := map[string]*redis.StatusCmd{}
			for _, k := range pending[b:min(b+batch, len(pending))] {
				cmds[k] = pipe.Set(ctx, k, "v"+k, 0)
			}
			pipe.Exec(ctx) // each command's own error below
			for k, cmd := range cmds {
				if err := cmd.Err(); err != nil {
					failed, lastErr = append(failed, k), err
				} else {
					acked[k] = "v" + k
				}
			}
		}
		resent += len(failed)
		pending = failed
	}
	if resent > 0 {
		t.Logf("%d writes sent again after an error (last: %v)", resent, lastErr)
	}
	// A key of every slot, to see each slot serve again.
	slotKey := map[router.SlotID]string{}
	for k := range acked {
		if s := router.SlotOf([]byte(k), linSlots); slotKey[s] == "" {
			slotKey[s] = k
		}
	}
	if len(slotKey) != linSlots {
		t.Fatalf("%d keys cover %d of %d slots", keys, len(slotKey), linSlots)
	}

	// kill -9 of all three at once, then all three back.
	for _, nd := range nodes {
		nd.Signal(syscall.SIGKILL)
	}
	for _, nd := range nodes {
		nd.Kill()
	}
	start := time.Now()
	var restarted []*testproc.Node
	for _, nd := range nodes {
		restarted = append(restarted, testproc.StartNode(t, nd.Spec))
	}
	for _, nd := range restarted {
		nd.WaitHealthy(t)
	}
	healthy := time.Since(start)
	var readers []*redis.Client
	for _, nd := range restarted {
		readers = append(readers, redisClient(t, nd, &redis.Options{DB: int(tb.ID), ReadTimeout: 5 * time.Second}))
	}
	served := map[router.SlotID]bool{}
	testproc.WaitFor(t, "every slot to serve again through every node", 60*time.Second, func() bool {
		for s, k := range slotKey {
			if served[s] {
				continue
			}
			ok := true
			for _, r := range readers {
				if err := r.Get(ctx, k).Err(); err != nil && !errors.Is(err, redis.Nil) {
					ok = false
					break
				}
			}
			served[s] = ok
		}
		for _, ok := range served {
			if !ok {
				return false
			}
		}
		return len(served) == linSlots
	})
	allServed := time.Since(start)

	// Every acknowledged key through every node; a read that fails (not
	// one that answers a wrong value) is sent again, for up to 30 s.
	var missing []string
	var examples []string
	for i, r := range readers {
		lost := 0
		pending := slices.Collect(maps.Keys(acked))
		for deadline := time.Now().Add(30 * time.Second); len(pending) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reads through %s still failing after 30 s: %d keys, last error %v", restarted[i].Name, len(pending), lastErr)
			}
			pipe := r.Pipeline()
			cmds := map[string]*redis.StringCmd{}
			for _, k := range pending {
				cmds[k] = pipe.Get(ctx, k)
			}
			pipe.Exec(ctx)
			pending = pending[:0]
			for k, cmd := range cmds {
				v, err := cmd.Result()
				switch {
				case err != nil && !errors.Is(err, redis.Nil):
					pending, lastErr = append(pending, k), err
				case v != acked[k]:
					lost++
					if len(examples) < 5 {
						examples = append(examples, fmt.Sprintf("%s via %s: %q", k, restarted[i].Name, v))
					}
				}
			}
		}
		missing = append(missing, fmt.Sprintf("%d through %s", lost, restarted[i].Name))
	}
	t.Logf("MEASURED: kill -9 of all 3 nodes (mode %s, %d slots, %d acknowledged writes): all healthy %s after the restart began, every slot served through every node after %s; acknowledged writes missing: %s",
		mode, linSlots, len(acked), healthy.Round(time.Millisecond), allServed.Round(time.Millisecond), strings.Join(missing, ", "))
	if len(examples) > 0 {
		t.Fatalf("acknowledged writes missing after kill -9 of every node (%s); e.g. %s", strings.Join(missing, ", "), strings.Join(examples, "; "))
	}
}
