// Command movebench measures slot moves on a running cluster (make
// bench-move starts one and runs it):
//
//  1. fills slot 0 of a table with -mb MB (keys with a hash tag of slot 0,
//     4 KiB values, pipelined) and every other slot with -other-mb MB;
//  2. runs a steady load (-clients go-redis clients through -addr, SET and
//     GET 1:1 over keys of every slot but 0) for -steady, recording
//     throughput and each operation's latency;
//  3. moves slot 0 to -to (pikactl slot move, through the API) under the
//     same load: the copy speed (slot bytes / time from the move's start to
//     the end of its catch-up step), the hand-over step's length, and the
//     latency of operations on slot 0 keys (a second load of -clients/4
//     clients writes only there) during the move vs before;
//  4. runs `pikactl rebalance` (the table onto every node) under the load:
//     throughput during it vs steady.
//
// It prints one line of key=value figures for the script to format.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

type opts struct {
	addr, http, pikactl, table, to string
	slots                          uint32
	mb, otherMB                    int
	clients                        int
	steady                         time.Duration
	rebalanceArgs                  string
}

func main() {
	var o opts
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9221", "RESP address of the node the load goes through")
	flag.StringVar(&o.http, "http", "127.0.0.1:29221", "HTTP address of a node (the API)")
	flag.StringVar(&o.pikactl, "pikactl", "bin/pikactl", "pikactl binary (rebalance)")
	flag.StringVar(&o.table, "table", "big", "table")
	flag.StringVar(&o.to, "to", "", "node id to move slot 0 to")
	flag.IntVar(&o.mb, "mb", 1024, "MB written into slot 0")
	flag.IntVar(&o.otherMB, "other-mb", 16, "MB written into each other slot")
	flag.IntVar(&o.clients, "clients", 16, "load clients")
	flag.DurationVar(&o.steady, "steady", 10*time.Second, "steady-state load phase")
	flag.StringVar(&o.rebalanceArgs, "rebalance-args", "--concurrency 1 --limit-mbps 20", "pikactl rebalance flags")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "movebench:", err)
		os.Exit(1)
	}
}

// recorder keeps operation latencies and counts of a load phase.
type recorder struct {
	mu   sync.Mutex
	lats []time.Duration
	errs int
	n    atomic.Int64
}

func (r *recorder) add(d time.Duration, err error) {
	r.n.Add(1)
	r.mu.Lock()
	r.lats = append(r.lats, d)
	if err != nil {
		r.errs++
	}
	r.mu.Unlock()
}

func (r *recorder) take() (lats []time.Duration, errs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lats, errs = r.lats, r.errs
	r.lats, r.errs = nil, 0
	return lats, errs
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// tagOf returns a hash tag whose keys fall in slot s.
func tagOf(s router.SlotID, slots uint32) string {
	for i := 0; ; i++ {
		tag := fmt.Sprintf("t%d", i)
		if router.SlotOf([]byte(tag), slots) == s {
			return tag
		}
	}
}

// fill writes mb MB of 4 KiB random values (incompressible: the slot's
// size on disk is what was written) into keys of tag's slot.
func fill(ctx context.Context, c *redis.Client, tag string, mb int) error {
	rng := rand.NewChaCha8([32]byte([]byte(fmt.Sprintf("%-32s", tag))))
	n := mb * 256
	for i := 0; i < n; i += 64 {
		p := c.Pipeline()
		for j := i; j < min(n, i+64); j++ {
			val := make([]byte, 4096)
			_, _ = rng.Read(val)
			p.Set(ctx, fmt.Sprintf("fill{%s}:%d", tag, j), val, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func run(o opts) error {
	ctx := context.Background()
	cli := api.NewClient(o.http).WithToken(os.Getenv("PIKA_ADMIN_TOKEN"))
	tb, err := cli.Table(ctx, o.table)
	if err != nil {
		return err
	}
	o.slots = tb.Slots
	c := redis.NewClient(&redis.Options{Addr: o.addr, DB: int(tb.ID), PoolSize: o.clients * 2, MaxRetries: -1, ReadTimeout: 30 * time.Second})
	defer c.Close()
	tags := make([]string, o.slots)
	for s := range o.slots {
		tags[s] = tagOf(router.SlotID(s), o.slots)
	}
	t0 := time.Now()
	if err := fill(ctx, c, tags[0], o.mb); err != nil {
		return fmt.Errorf("fill slot 0: %w", err)
	}
	fillRate := float64(o.mb) / time.Since(t0).Seconds()
	var wg sync.WaitGroup
	for s := 1; s < int(o.slots); s++ {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fill(ctx, c, tags[s], o.otherMB) }()
	}
	wg.Wait()

	var stop atomic.Bool
	var load, slot0 recorder
	val := strings.Repeat("x", 256)
	for w := range o.clients + o.clients/4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				var key string
				rec := &load
				if w >= o.clients { // the slot-0 writers
					key = fmt.Sprintf("w{%s}:%d:%d", tags[0], w, i%1000)
					rec = &slot0
				} else {
					key = fmt.Sprintf("w{%s}:%d:%d", tags[1+(i+w)%(int(o.slots)-1)], w, i%1000)
				}
				start := time.Now()
				var err error
				if i%2 == 0 || rec == &slot0 {
					err = c.Set(ctx, key, val, 0).Err()
				} else if err = c.Get(ctx, key).Err(); err == redis.Nil {
					err = nil
				}
				rec.add(time.Since(start), err)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	// Steady state.
	time.Sleep(2 * time.Second) // warm-up, not measured
	load.take()
	slot0.take()
	n0 := load.n.Load()
	time.Sleep(o.steady)
	steadyOps := float64(load.n.Load()-n0) / o.steady.Seconds()
	steadyLats, steadyErrs := load.take()
	slot0Before, _ := slot0.take()

	// The move of slot 0.
	sl, err := cli.Slot(ctx, o.table, 0)
	if err != nil {
		return err
	}
	// The leader's INFO says when its full sync of slot 0 runs.
	st, err := cli.Status(ctx)
	if err != nil {
		return err
	}
	var leaderRESP string
	for _, n := range st.Nodes {
		if n.ID == sl.Leader {
			leaderRESP = n.RESP
		}
	}
	lc := redis.NewClient(&redis.Options{Addr: leaderRESP, MaxRetries: -1})
	defer lc.Close()
	syncing := func() bool {
		info, err := lc.Info(ctx, "replication").Result()
		return err == nil && !strings.Contains(info, "pika_full_syncs_running:0")
	}
	var syncStart, syncEnd time.Time
	start := time.Now()
	j, err := cli.MoveSlot(ctx, api.MoveSlot{Table: o.table, Slot: 0, To: meta.NodeID(o.to)})
	if err != nil {
		return fmt.Errorf("move: %w", err)
	}
	steps := map[meta.MoveStep]time.Time{meta.MoveAdd: start}
	var final meta.Job
	for final.Move == nil || !final.Move.Step.Final() {
		time.Sleep(5 * time.Millisecond)
		if s := syncing(); s && syncStart.IsZero() {
			syncStart = time.Now()
		} else if !s && !syncStart.IsZero() && syncEnd.IsZero() {
			syncEnd = time.Now()
		}
		js, err := cli.Jobs(ctx)
		if err != nil {
			continue
		}
		for _, x := range js {
			if x.ID == j.ID {
				final = x
				if _, ok := steps[x.Move.Step]; !ok {
					steps[x.Move.Step] = time.Now()
				}
			}
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("the move did not finish in 30 min: %+v", final.Move)
		}
	}
	moveTook := time.Since(start)
	if final.Move.Step != meta.MoveDone {
		return fmt.Errorf("the move ended %s: %s", final.Move.Step, final.Move.Error)
	}
	moveLats, moveErrs := load.take()
	slot0During, slot0Errs := slot0.take()
	copyEnd := steps[meta.MoveHandover]
	if copyEnd.IsZero() {
		copyEnd = steps[meta.MoveRemove]
	}
	copySecs := copyEnd.Sub(start).Seconds()
	if syncEnd.IsZero() {
		return fmt.Errorf("never saw the leader's full sync of slot 0 (INFO replication)")
	}
	syncSecs := syncEnd.Sub(start).Seconds()
	handover := steps[meta.MoveRemove].Sub(steps[meta.MoveHandover])

	// Rebalance under the load.
	n1 := load.n.Load()
	r0 := time.Now()
	args := append([]string{"--server", o.http, "--timeout", "30m", "rebalance", o.table}, strings.Fields(o.rebalanceArgs)...)
	out, err := exec.Command(o.pikactl, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pikactl rebalance: %v\n%s", err, out)
	}
	rebalSecs := time.Since(r0).Seconds()
	rebalOps := float64(load.n.Load()-n1) / rebalSecs
	_, rebalErrs := load.take()
	moves := strings.Count(string(out), "done")

	fmt.Printf("fill_mbps=%.1f slot_bytes=%d from=%s sync_s=%.2f sync_mbps=%.1f copy_s=%.2f copy_mbps=%.1f move_s=%.2f handover_ms=%.1f "+
		"steady_ops=%.0f steady_p99_ms=%.2f steady_max_ms=%.1f steady_errs=%d "+
		"move_p99_ms=%.2f move_max_ms=%.1f move_errs=%d slot0_p99_before_ms=%.2f slot0_max_before_ms=%.1f slot0_p99_ms=%.2f slot0_max_ms=%.1f slot0_errs=%d "+
		"rebalance_s=%.1f rebalance_ops=%.0f rebalance_ratio=%.2f rebalance_errs=%d rebalance_lines=%d\n",
		fillRate, final.Move.Bytes, sl.Leader, syncSecs, float64(final.Move.Bytes)/1e6/syncSecs, copySecs, float64(final.Move.Bytes)/1e6/copySecs, moveTook.Seconds(), float64(handover.Microseconds())/1000,
		steadyOps, ms(pct(steadyLats, 0.99)), ms(pct(steadyLats, 1)), steadyErrs,
		ms(pct(moveLats, 0.99)), ms(pct(moveLats, 1)), moveErrs, ms(pct(slot0Before, 0.99)), ms(pct(slot0Before, 1)), ms(pct(slot0During, 0.99)), ms(pct(slot0During, 1)), slot0Errs,
		rebalSecs, rebalOps, rebalOps/steadyOps, rebalErrs, moves)
	fmt.Fprintf(os.Stderr, "%s", out)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
