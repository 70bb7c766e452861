package crashtest

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/redis/go-redis/v9"
)

const (
	rounds  = 3
	writers = 8
	// Each round kills the server after a random number of acknowledged writes in this range.
	minAcks = 2000
	maxAcks = 20000
)

var (
	pikaBin  string
	setupErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "pika-crash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	if os.Getenv("CRASH_TARGET") != "redis" {
		pikaBin, setupErr = testproc.BuildPikaNode(tmp)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// etcdArgsOf holds the embedded etcd flags used for each data directory.
var etcdArgsOf = map[string][]string{}

// startNode starts pika-node on dataDir, its output in logPath, and waits
// until it answers PING. If the test fails, the last lines of logPath are
// logged at its end: each run logs to its own file.
func startNode(t *testing.T, dataDir, logPath string) *testproc.Node {
	t.Helper()
	etcdArgs, ok := etcdArgsOf[dataDir]
	if !ok {
		// The embedded etcd keeps its addresses across restarts of the node.
		var err error
		if etcdArgs, err = testproc.EmbeddedEtcdArgs(); err != nil {
			t.Fatal(err)
		}
		etcdArgsOf[dataDir] = etcdArgs
	}
	port := testproc.Port(t, 10000, 20000)
	var n *testproc.Node
	if os.Getenv("CRASH_TARGET") == "redis" {
		// Harness self-check: redis-server with an fsync'd AOF keeps every acknowledged write too.
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dataDir,
			"--save", "", "--appendonly", "yes", "--appendfsync", "always")
		n = &testproc.Node{Proc: testproc.Start(t, "redis-server", logPath, cmd), Port: port}
	} else {
		n = testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "pika-node", Port: port, Data: dataDir, Log: logPath, Flags: etcdArgs})
	}
	n.WaitServing(t, 60*time.Second)
	return n
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1, // a retried write could be applied twice; count only what was acknowledged
		DialTimeout:     2 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		PoolSize:        writers + 2,
	})
}

// acked is what one writer got acknowledged. Only that writer touches it until it is merged.
type acked struct {
	strings map[string]string   // key -> value of an acknowledged SET
	counter map[string]int64    // key -> highest acknowledged INCR result
	lists   map[string][]string // key -> elements of acknowledged LPUSHes
	hashes  map[string]map[string]string
	sets    map[string][]string
	zsets   map[string]map[string]float64
}

func newAcked() *acked {
	return &acked{
		strings: map[string]string{},
		counter: map[string]int64{},
		lists:   map[string][]string{},
		hashes:  map[string]map[string]string{},
		sets:    map[string][]string{},
		zsets:   map[string]map[string]float64{},
	}
}

func (a *acked) merge(b *acked) {
	for k, v := range b.strings {
		a.strings[k] = v
	}
	for k, v := range b.counter {
		a.counter[k] = max(a.counter[k], v)
	}
	for k, v := range b.lists {
		a.lists[k] = append(a.lists[k], v...)
	}
	for k, m := range b.hashes {
		if a.hashes[k] == nil {
			a.hashes[k] = map[string]string{}
		}
		for f, v := range m {
			a.hashes[k][f] = v
		}
	}
	for k, v := range b.sets {
		a.sets[k] = append(a.sets[k], v...)
	}
	for k, m := range b.zsets {
		if a.zsets[k] == nil {
			a.zsets[k] = map[string]float64{}
		}
		for f, v := range m {
			a.zsets[k][f] = v
		}
	}
}

func (a *acked) size() int {
	n := len(a.strings) + len(a.counter)
	for _, v := range a.lists {
		n += len(v)
	}
	for _, v := range a.hashes {
		n += len(v)
	}
	for _, v := range a.sets {
		n += len(v)
	}
	for _, v := range a.zsets {
		n += len(v)
	}
	return n
}

// write runs one writer until ctx is done: a cycle of SET, INCR, LPUSH, HSET, SADD and ZADD on
// keys no other writer touches, recording each write the server acknowledged.
func write(ctx context.Context, c *redis.Client, round, w int, rec *acked, acks, errs *atomic.Int64) {
	prefix := fmt.Sprintf("crash:r%d:w%d:", round, w)
	ctr, list, hash, set, zset := prefix+"ctr", prefix+"list", prefix+"hash", prefix+"set", prefix+"zset"
	for i := 0; ctx.Err() == nil; i++ {
		var err error
		switch i % 6 {
		case 0:
			key, val := fmt.Sprintf("%ss:%d", prefix, i), fmt.Sprintf("v%d-%d", i, rand.Int64())
			if err = c.Set(ctx, key, val, 0).Err(); err == nil {
				rec.strings[key] = val
			}
		case 1:
			var n int64
			if n, err = c.Incr(ctx, ctr).Result(); err == nil {
				rec.counter[ctr] = max(rec.counter[ctr], n)
			}
		case 2:
			e := "e" + strconv.Itoa(i)
			if err = c.LPush(ctx, list, e).Err(); err == nil {
				rec.lists[list] = append(rec.lists[list], e)
			}
		case 3:
			f, v := "f"+strconv.Itoa(i), "v"+strconv.Itoa(i)
			if err = c.HSet(ctx, hash, f, v).Err(); err == nil {
				if rec.hashes[hash] == nil {
					rec.hashes[hash] = map[string]string{}
				}
				rec.hashes[hash][f] = v
			}
		case 4:
			m := "m" + strconv.Itoa(i)
			if err = c.SAdd(ctx, set, m).Err(); err == nil {
				rec.sets[set] = append(rec.sets[set], m)
			}
		case 5:
			m, score := "m"+strconv.Itoa(i), float64(i)+0.5
			if err = c.ZAdd(ctx, zset, redis.Z{Score: score, Member: m}).Err(); err == nil {
				if rec.zsets[zset] == nil {
					rec.zsets[zset] = map[string]float64{}
				}
				rec.zsets[zset][m] = score
			}
		}
		if err == nil {
			acks.Add(1)
		} else {
			errs.Add(1)
			if ctx.Err() == nil {
				// The server is going away (or refused the write): back off a little.
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
}

// verify checks every acknowledged write against the restarted server and returns the number
// of missing ones (reporting the first few).
func verify(t *testing.T, c *redis.Client, all *acked) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	missing := 0
	report := func(format string, args ...any) {
		missing++
		if missing <= 20 {
			t.Errorf("lost acknowledged write: "+format, args...)
		}
	}

	keys := make([]string, 0, len(all.strings))
	for k := range all.strings {
		keys = append(keys, k)
	}
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		vals, err := c.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatalf("MGET: %v", err)
		}
		for i, k := range batch {
			if s, _ := vals[i].(string); vals[i] == nil || s != all.strings[k] {
				report("SET %s %s: GET returns %v", k, all.strings[k], vals[i])
			}
		}
	}
	for k, want := range all.counter {
		got, err := c.Get(ctx, k).Int64()
		if err != nil || got < want {
			report("INCR %s acknowledged %d: GET returns %d (%v)", k, want, got, err)
		}
	}
	for k, elems := range all.lists {
		got, err := c.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatalf("LRANGE %s: %v", k, err)
		}
		have := make(map[string]bool, len(got))
		for _, e := range got {
			have[e] = true
		}
		for _, e := range elems {
			if !have[e] {
				report("LPUSH %s %s: element missing (list has %d elements)", k, e, len(got))
			}
		}
	}
	for k, fields := range all.hashes {
		got, err := c.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatalf("HGETALL %s: %v", k, err)
		}
		for f, v := range fields {
			if got[f] != v {
				report("HSET %s %s %s: HGET returns %q", k, f, v, got[f])
			}
		}
	}
	for k, members := range all.sets {
		got, err := c.SMembersMap(ctx, k).Result()
		if err != nil {
			t.Fatalf("SMEMBERS %s: %v", k, err)
		}
		for _, m := range members {
			if _, ok := got[m]; !ok {
				report("SADD %s %s: member missing", k, m)
			}
		}
	}
	for k, members := range all.zsets {
		got, err := c.ZRangeWithScores(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatalf("ZRANGE %s: %v", k, err)
		}
		have := make(map[string]float64, len(got))
		for _, z := range got {
			have[z.Member.(string)] = z.Score
		}
		for m, score := range members {
			if s, ok := have[m]; !ok || s != score {
				report("ZADD %s %v %s: ZSCORE is %v (present=%v)", k, score, m, s, ok)
			}
		}
	}
	return missing
}

// TestKillRestart writes concurrently, kill -9s pika-node at a random moment, restarts it on the
// same data directory and checks every acknowledged write (of this and all earlier rounds).
func TestKillRestart(t *testing.T) {
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	logPath := func(run int) string { return filepath.Join(dir, fmt.Sprintf("pika-node.%d.log", run)) }
	all := newAcked()
	n := startNode(t, dataDir, logPath(0))
	for round := 1; round <= rounds; round++ {
		client := newClient(n.Addr())
		ctx, cancel := context.WithCancel(context.Background())
		var acks, errs atomic.Int64
		recs := make([]*acked, writers)
		var wg sync.WaitGroup
		for w := range writers {
			recs[w] = newAcked()
			wg.Add(1)
			go func() {
				defer wg.Done()
				write(ctx, client, round, w, recs[w], &acks, &errs)
			}()
		}

		// Kill after a random number of acknowledged writes, confirmed by polling, plus a random
		// few milliseconds so the kill lands anywhere in a write's life.
		target := int64(minAcks + rand.IntN(maxAcks-minAcks))
		deadline := time.Now().Add(30 * time.Second)
		for acks.Load() < target {
			if n.Exited() {
				cancel()
				wg.Wait()
				t.Fatalf("round %d: pika-node exited under load: %v", round, n.Err())
			}
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				t.Fatalf("round %d: only %d of %d writes acknowledged in 30s (%d errors)", round, acks.Load(), target, errs.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		errsBeforeKill := errs.Load()
		n.Kill()
		cancel()
		wg.Wait()
		client.Close()
		for _, r := range recs {
			all.merge(r)
		}
		t.Logf("round %d: killed after %d acknowledged writes (target %d, %d errors before the kill); %d writes to check",
			round, acks.Load(), target, errsBeforeKill, all.size())
		if errsBeforeKill > 0 {
			t.Errorf("round %d: %d writes failed before the kill", round, errsBeforeKill)
		}

		start := time.Now()
		n = startNode(t, dataDir, logPath(round))
		t.Logf("round %d: restarted in %v", round, time.Since(start).Round(time.Millisecond))
		client = newClient(n.Addr())
		if missing := verify(t, client, all); missing > 0 {
			t.Errorf("round %d: %d acknowledged writes lost", round, missing)
		}
		client.Close()
		if t.Failed() {
			break
		}
	}
	n.Kill()
}
