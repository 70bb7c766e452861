package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
)

// startRedisServer runs a redis-server 7.0 on a free port for the test.
func startRedisServer(t *testing.T, dir, name string) *redis.Client {
	t.Helper()
	port := testproc.Port(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, name+".log"))
	testproc.Start(t, name, filepath.Join(dir, name+".out"), cmd)
	c := redis.NewClient(&redis.Options{Addr: testproc.Loopback(port), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	testproc.WaitFor(t, name+" to answer", 15*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil })
	return c
}

// fillRedis writes n keys of every type and size to c: strings (some
// integers, some long), lists, sets of integers and of strings, hashes and
// sorted sets, small and past the listpack and intset limits, a third
// with an expiry.
func fillRedis(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 5))
	p := c.Pipeline()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k:%d", i)
		size := 1 + r.IntN(20)
		if i%50 == 0 {
			size = 600
		}
		switch i % 6 {
		case 0:
			p.Set(ctx, key, strings.Repeat(strconv.Itoa(i), 1+r.IntN(30)), 0)
		case 1:
			for j := 0; j < size; j++ {
				p.RPush(ctx, key, fmt.Sprintf("item-%d-%d", i, j))
			}
		case 2:
			for j := 0; j < size; j++ {
				p.SAdd(ctx, key, j*7)
			}
		case 3:
			for j := 0; j < size; j++ {
				p.SAdd(ctx, key, fmt.Sprintf("m%d", j))
			}
		case 4:
			for j := 0; j < size; j++ {
				p.HSet(ctx, key, fmt.Sprintf("f%d", j), strings.Repeat("v", r.IntN(100)))
			}
		case 5:
			for j := 0; j < size; j++ {
				p.ZAdd(ctx, key, redis.Z{Score: r.NormFloat64(), Member: fmt.Sprintf("z%d", j)})
			}
		}
		if i%3 == 0 {
			p.Expire(ctx, key, time.Hour)
		}
		if p.Len() > 1000 {
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// transferState is the part of pikactl's --state file the test reads.
type transferState struct {
	Cursor uint64 `json:"cursor"`
	Done   bool   `json:"done"`
	Copied int64  `json:"copied"`
}

// TestImportExport copies a redis-server with a few thousand keys of every
// type into a table of a 3-node cluster with pikactl import, killed midway
// (paced by --limit-mbps so that it is) and resumed from its --state file,
// checks it with --verify, then exports the table to a second
// redis-server and verifies that copy too.
func TestImportExport(t *testing.T) {
	needSetup(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("this test needs redis-server: %v", err)
	}
	_, nodes := startNodes(t, "imp", 3)
	tb := createTable(t, nodes, "imported", 64, 1)
	dir := t.TempDir()
	src := startRedisServer(t, dir, "redis-src")
	const keys = 3000
	fillRedis(t, src, keys)
	from := "redis://" + src.Options().Addr + "/0"
	srv := []string{"--server", nodes[1].HTTPAddr()}
	state := filepath.Join(dir, "import.state")

	// A run paced to about 40 KB/s, killed once it has copied some keys.
	cmd := exec.Command(pikactlBin, append(srv, "import", "--from", from, "--table", "imported",
		"--state", state, "--limit-mbps", "0.04", "--batch", "50")...)
	cmd.Env = append(os.Environ(), "PIKA_ADMIN_TOKEN="+testproc.AdminToken)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mid transferState
	testproc.WaitFor(t, "the import to copy some keys", 60*time.Second, func() bool {
		b, err := os.ReadFile(state)
		return err == nil && json.Unmarshal(b, &mid) == nil && mid.Copied >= 200
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	b, err := os.ReadFile(state)
	if err != nil || json.Unmarshal(b, &mid) != nil || mid.Done || mid.Cursor == 0 {
		t.Fatalf("state after the kill: %s (%v): want a cursor midway", b, err)
	}
	t.Logf("killed after %d keys, cursor %d", mid.Copied, mid.Cursor)

	// Resumed without pacing, then verified.
	out, errs, code := pikactl(t, append(srv, "--json", "import", "--from", from, "--table", "imported", "--state", state, "--verify")...)
	if code != 0 {
		t.Fatalf("resumed import: exit %d\n%s\n%s", code, out, errs)
	}
	var sum struct {
		Copied, Skipped, Failed int64
		Done                    bool
		MBps                    float64 `json:"mb_per_second"`
		Verify                  struct{ Checked, Missing, Extra, Different int64 }
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	// A SCAN may return a key twice, and the batch in flight at the kill
	// is copied again: at least every key, a few more at most.
	if !sum.Done || sum.Failed != 0 || sum.Copied < keys || sum.Verify.Checked != keys ||
		sum.Verify.Missing+sum.Verify.Extra+sum.Verify.Different != 0 {
		t.Fatalf("import summary: %s", out)
	}
	t.Logf("import: %+v", sum)

	// A value changed on one side shows in --verify.
	pc := redisClient(t, nodes[2], &redis.Options{DB: int(tb.ID)})
	ctx := context.Background()
	if err := pc.RPush(ctx, "k:1", "extra").Err(); err != nil {
		t.Fatal(err)
	}
	out, _, code = pikactl(t, append(srv, "import", "--from", from, "--table", "imported", "--state", state, "--verify")...)
	if code != 1 || !strings.Contains(out, `different: "k:1"`) || !strings.Contains(out, "1 different") {
		t.Fatalf("verify after a change: exit %d\n%s", code, out)
	}

	// Export to an empty redis-server, verified.
	dst := startRedisServer(t, dir, "redis-dst")
	to := "redis://" + dst.Options().Addr + "/0"
	if err := pc.Del(ctx, "k:1").Err(); err != nil {
		t.Fatal(err)
	}
	out, errs, code = pikactl(t, append(srv, "export", "--to", to, "--table", "imported", "--verify")...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("verify: %d keys checked, 0 missing, 0 extra, 0 different", keys-1)) {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errs)
	}
	if n, err := dst.DBSize(ctx).Result(); err != nil || n != keys-1 {
		t.Fatalf("exported %d keys (%v), want %d", n, err, keys-1)
	}
	if ttl, err := dst.TTL(ctx, "k:3").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("k:3's TTL after the round trip: %v %v", ttl, err)
	}
	t.Log(strings.TrimSpace(out))
}
