package node

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/node/config"
	"go.uber.org/goleak"
)

// etcdEndpoint is the etcd every in-process test node uses, each node in
// a cluster of its own (named after its data directory).
var etcdEndpoint string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pika-node-etcd-")
	if err != nil {
		panic(err)
	}
	srv, err := testproc.StartEmbeddedEtcd(dir)
	if err != nil {
		panic(err)
	}
	etcdEndpoint = srv.Endpoint()
	code := m.Run()
	srv.Close()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(
			// go-redis's pool reaper is stopped by Close but may linger a moment.
			goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
		); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// startNode runs a node on a free loopback port until the test ends.
// It returns the address and a function that stops it (idempotent).
func startNode(t *testing.T, dir string, mutate func(*config.Config)) (string, func()) {
	t.Helper()
	_, addr, stop := startNodeN(t, dir, mutate)
	return addr, stop
}

// startNodeN is startNode that also returns the Node.
func startNodeN(t *testing.T, dir string, mutate func(*config.Config)) (*Node, string, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.Bind = "127.0.0.1"
	cfg.Data = dir
	cfg.Port = freePort(t)
	cfg.Etcd = etcdEndpoint
	h := fnv.New64a()
	h.Write([]byte(dir))
	cfg.Cluster = fmt.Sprintf("t%x", h.Sum64())
	cfg.BlockCacheMB = 8
	cfg.WriteBufferMB = 4
	cfg.PasswordHashCost = 4 // bcrypt's default cost takes 0.75 s under -race
	cfg.AdminTokenFile = dir + ".admin-token"
	if err := os.WriteFile(cfg.AdminTokenFile, []byte(testproc.AdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	addr := n.Addr().String()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return n, addr, stop
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := testproc.FreePort(10000, 20000)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newClient(t *testing.T, addr string, opts *redis.Options) *redis.Client {
	t.Helper()
	if opts == nil {
		opts = &redis.Options{}
	}
	opts.Addr = addr
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// go-redis connects (in its default RESP3), pipelines mixed reads and
// writes, and sees every write in order.
func TestGoRedisPipelines(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	c := newClient(t, addr, nil)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p := c.Pipeline()
	set := p.Set(ctx, "k", "1", 0)
	incr := p.Incr(ctx, "k")
	get := p.Get(ctx, "k")
	push := p.RPush(ctx, "l", "a", "b", "c")
	lr := p.LRange(ctx, "l", 0, -1)
	hset := p.HSet(ctx, "h", "f", "v")
	hget := p.HGet(ctx, "h", "f")
	wrong := p.Incr(ctx, "l")
	if _, err := p.Exec(ctx); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("pipeline error = %v, want the WRONGTYPE of INCR l", err)
	}
	if set.Val() != "OK" || incr.Val() != 2 || get.Val() != "2" || push.Val() != 3 ||
		strings.Join(lr.Val(), ",") != "a,b,c" || hset.Val() != 1 || hget.Val() != "v" || wrong.Err() == nil {
		t.Fatalf("pipeline replies: %v %v %v %v %v %v %v %v", set, incr, get, push, lr, hset, hget, wrong)
	}
}

// Many clients pipelining INCRs on shared and private keys: every
// acknowledged increment is counted exactly once.
func TestConcurrentPipelinedIncrements(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	c := newClient(t, addr, &redis.Options{PoolSize: 16})
	ctx := context.Background()
	const clients, rounds, depth = 8, 50, 16
	errc := make(chan error, clients)
	for w := 0; w < clients; w++ {
		go func(w int) {
			for r := 0; r < rounds; r++ {
				p := c.Pipeline()
				for d := 0; d < depth; d++ {
					p.Incr(ctx, "shared")
					p.Incr(ctx, "own:"+strconv.Itoa(w))
				}
				if _, err := p.Exec(ctx); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}(w)
	}
	for w := 0; w < clients; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Get(ctx, "shared").Val(); got != strconv.Itoa(clients*rounds*depth) {
		t.Fatalf("shared = %s, want %d", got, clients*rounds*depth)
	}
	for w := 0; w < clients; w++ {
		if got := c.Get(ctx, "own:"+strconv.Itoa(w)).Val(); got != strconv.Itoa(rounds*depth) {
			t.Fatalf("own:%d = %s", w, got)
		}
	}
}

func TestRequirePass(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.RequirePass = "s3cret" })
	ctx := context.Background()
	anon := newClient(t, addr, nil)
	if err := anon.Get(ctx, "k").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
		t.Fatalf("unauthenticated GET: %v", err)
	}
	bad := newClient(t, addr, &redis.Options{Password: "wrong"})
	if err := bad.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
	good := newClient(t, addr, &redis.Options{Password: "s3cret"})
	if err := good.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// HELLO 4 is refused with Redis's NOPROTO; CLIENT, INFO and COMMAND answer.
func TestServerCommands(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	c := newClient(t, addr, &redis.Options{Protocol: 2})
	ctx := context.Background()
	if err := c.Do(ctx, "HELLO", "4").Err(); err == nil || err.Error() != "NOPROTO unsupported protocol version" {
		t.Fatalf("HELLO 4: %v", err)
	}
	if err := c.Do(ctx, "CLIENT", "SETNAME", "worker-1").Err(); err != nil {
		t.Fatal(err)
	}
	if name := c.Do(ctx, "CLIENT", "GETNAME").Val(); name != "worker-1" {
		t.Fatalf("CLIENT GETNAME = %v", name)
	}
	if list := c.ClientList(ctx).Val(); !strings.Contains(list, "name=worker-1") {
		t.Fatalf("CLIENT LIST lacks the name: %q", list)
	}
	c.Set(ctx, "a", "1", 0)
	c.Set(ctx, "b", "1", 0)
	c.Set(ctx, "c", "1", time.Hour)
	if ks := c.Info(ctx, "keyspace").Val(); !strings.Contains(ks, "db0:keys=3,expires=1,") {
		t.Fatalf("INFO keyspace = %q", ks)
	}
	if info := c.Info(ctx).Val(); !strings.Contains(info, "redis_version:") || !strings.Contains(info, "connected_clients:") {
		t.Fatalf("INFO lacks fields redis-cli --stat reads: %q", info)
	}
	if cs := c.Info(ctx, "commandstats").Val(); !strings.Contains(cs, "cmdstat_set:calls=3") {
		t.Fatalf("INFO commandstats = %q", cs)
	}
	// The same counts, and the keys, on /metrics (HTTP port: port+20000).
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	resp, err := http.Get("http://" + net.JoinHostPort(host, strconv.Itoa(port+20000)) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`pika_commands_total{cmd="set"} 3`, `pika_command_duration_seconds_count{cmd="set"} 3`,
		`pika_keys{table="db0",table_id="0"} 3`, `pika_keys_with_ttl{table="db0",table_id="0"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	n, err := c.Do(ctx, "COMMAND", "COUNT").Int()
	if err != nil || n < 130 {
		t.Fatalf("COMMAND COUNT = %d, %v", n, err)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "maxclients", "5").Err(); err != nil {
		t.Fatal(err)
	}
	if v := c.ConfigGet(ctx, "maxclients").Val()["maxclients"]; v != "5" {
		t.Fatalf("CONFIG GET maxclients = %q", v)
	}
	// More clients than any open file limit can take (Linux caps it at
	// fs.nr_open, at most 2^31), yet within the bounds of the parameter
	// (1..2^32-1): refused as Redis refuses it, unchanged.
	err = c.Do(ctx, "CONFIG", "SET", "maxclients", "4294967295").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with ") {
		t.Fatalf("CONFIG SET maxclients 2^32-1: %v", err)
	}
	if v := c.ConfigGet(ctx, "maxclients").Val()["maxclients"]; v != "5" {
		t.Fatalf("CONFIG GET maxclients after a refused CONFIG SET = %q", v)
	}
	if v := c.ConfigGet(ctx, "shutdown-timeout").Val()["shutdown-timeout"]; v != "10" {
		t.Fatalf("CONFIG GET shutdown-timeout = %q, want 10", v)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "shutdown-timeout", "3").Err(); err != nil {
		t.Fatal(err)
	}
	if v := c.ConfigGet(ctx, "shutdown-timeout").Val()["shutdown-timeout"]; v != "3" {
		t.Fatalf("CONFIG GET shutdown-timeout = %q, want 3", v)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "shutdown-timeout", "0").Err(); err == nil {
		t.Fatal("CONFIG SET shutdown-timeout 0 accepted")
	}
}

// Connections beyond maxclients get Redis's error; the rest keep working.
func TestMaxClients(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.MaxClients = 2 })
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		conns = append(conns, nc)
		mustExchange(t, nc, "PING\r\n", "+PONG\r\n")
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(extra)
	if string(got) != "-ERR max number of clients reached\r\n" {
		t.Fatalf("extra connection got %q", got)
	}
	mustExchange(t, conns[0], "PING\r\n", "+PONG\r\n")
}

func mustExchange(t *testing.T, nc net.Conn, send, want string) {
	t.Helper()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, send); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != want {
		t.Fatalf("sent %q: got %q (%v), want %q", send, buf, err, want)
	}
}

// A client that never reads its replies is cut off after the write
// timeout, and the node keeps serving others.
func TestNonReadingClientIsCutOff(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.ClientWriteTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	c := newClient(t, addr, nil)
	if err := c.Set(ctx, "big", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := []byte("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	deadline := time.Now().Add(20 * time.Second)
	closed := false
	for time.Now().Before(deadline) {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(req); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // our send buffer is full too; the node must still cut us off
			}
			closed = true
			break
		}
	}
	if !closed {
		t.Fatal("node never disconnected a client that does not read")
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("node stopped serving others: %v", err)
	}
}

// Data survives a clean restart of the node on the same directory.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startNode(t, dir, nil)
	c := newClient(t, addr, nil)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		c.Set(ctx, "k"+strconv.Itoa(i), i, 0)
	}
	c.SAdd(ctx, "s", "a", "b")
	c.Close()
	stop()
	addr, _ = startNode(t, dir, nil)
	c = newClient(t, addr, nil)
	if n := c.DBSize(ctx).Val(); n != 101 {
		t.Fatalf("DBSIZE after restart = %d", n)
	}
	if v := c.Get(ctx, "k42").Val(); v != "42" {
		t.Fatalf("k42 = %q", v)
	}
	if m := c.SMembers(ctx, "s").Val(); len(m) != 2 {
		t.Fatalf("s = %v", m)
	}
}

// An idle client is closed after the configured timeout; CONFIG SET
// timeout 0 turns that off for connections already open.
func TestIdleTimeout(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.Timeout = 200 * time.Millisecond })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	mustExchange(t, nc, "PING\r\n", "+PONG\r\n")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("idle connection not closed: read %d, %v", n, err)
	}
	keep, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	mustExchange(t, keep, "CONFIG SET timeout 0\r\n", "+OK\r\n")
	mustExchange(t, keep, "PING\r\n", "+PONG\r\n") // re-arms the read without a deadline
	time.Sleep(500 * time.Millisecond)             // the subject of the test: idling past the old timeout
	mustExchange(t, keep, "PING\r\n", "+PONG\r\n")
}

// Large commands in flight on many connections share one budget: a client
// that would pass it is disconnected, and a finished one gives its share back.
func TestQueryBudgetIsNodeWide(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) {
		c.MaxBulkBytes = 1 << 20
		c.MaxQueryBytes = 2 << 20
		c.QueryBudgetBytes = 2 << 20
	})
	ctx := context.Background()
	admin := newClient(t, addr, nil)
	held := func() int64 {
		info := admin.Info(ctx, "clients").Val()
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "query_buffers_held:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatalf("INFO clients lacks query_buffers_held: %q", info)
		return 0
	}
	// Four arguments announced, three sent: the 1 MiB one stays held.
	partial := "*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1048576\r\n" + strings.Repeat("v", 1<<20) + "\r\n"
	send := func() (net.Conn, error) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_, err = io.WriteString(nc, partial)
		return nc, err
	}
	waitHeld := func(cond func(int64) bool, what string) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond(held()) {
			if time.Now().After(deadline) {
				t.Fatalf("query_buffers_held = %d: never %s", held(), what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	a, err := send()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(); err != nil {
		t.Fatal(err)
	}
	waitHeld(func(n int64) bool { return n > 3<<19 }, "above 1.5 MiB with two partial commands")
	// The third is cut off while it sends (a reset) or once it has.
	if c, err := send(); err == nil {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("third large command was not refused: read %d, %v", n, err)
		}
	}
	a.Close()
	waitHeld(func(n int64) bool { return n < 1<<20 }, "released after the first client left")
	if err := admin.Set(ctx, "big", strings.Repeat("x", 900<<10), 0).Err(); err != nil {
		t.Fatalf("a large command after the release: %v", err)
	}
}

// A client that writes a whole pipeline before reading any reply (as
// redis-py, Jedis and go-redis pipelines do) gets every reply: the node
// keeps reading while its replies wait for the client. 20 MB each way is
// far beyond both sockets' buffers: a node that stopped reading while its
// replies were stuck would leave both sides waiting.
func TestPipelineWrittenBeforeReading(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.ClientWriteTimeout = 5 * time.Second })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 20000
	arg := strings.Repeat("e", 1024)
	req := []byte(strings.Repeat("*2\r\n$4\r\nECHO\r\n$1024\r\n"+arg+"\r\n", n))
	nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := nc.Write(req); err != nil {
		t.Fatalf("writing the pipeline: %v (the node stopped reading)", err)
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	want := "$1024\r\n" + arg + "\r\n"
	buf := make([]byte, len(want))
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != want {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
}

// KEYS with a pattern that made the old backtracking matcher run for ever
// ("a*a*...*b" with 50 stars against a key of 60 'a's) answers at once,
// and the node keeps serving: the regression test for taking a node down
// with one command.
func TestKeysHostilePattern(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bulk := func(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
	key := strings.Repeat("a", 60)
	mustExchange(t, nc, "*3\r\n"+bulk("SET")+bulk(key)+bulk("v"), "+OK\r\n")
	mustExchange(t, nc, "*2\r\n"+bulk("KEYS")+bulk(strings.Repeat("a*", 50)+"b"), "*0\r\n")
	mustExchange(t, nc, "*2\r\n"+bulk("KEYS")+bulk(strings.Repeat("a*", 50)+"a"), "*1\r\n"+bulk(key))
	mustExchange(t, nc, "*6\r\n"+bulk("SCAN")+bulk("0")+bulk("MATCH")+bulk(strings.Repeat("*a", 50)+"*b")+bulk("COUNT")+bulk("100"), "*2\r\n$1\r\n0\r\n*0\r\n")
	mustExchange(t, nc, "PING\r\n", "+PONG\r\n")
}

// go-redis in its default configuration speaks RESP3 (HELLO 3 first) and
// reads each reply type as the Go value it maps it to: a map, a set, a
// double, pairs of member and score, a verbatim string; a RESP2 client on
// the same node reads the RESP2 forms of the same replies.
func TestGoRedisResp3(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ctx := context.Background()
	c3 := newClient(t, addr, nil)
	c2 := newClient(t, addr, &redis.Options{Protocol: 2})
	if info := c3.ClientInfo(ctx).Val(); info == nil || info.Resp != 3 {
		t.Fatalf("CLIENT INFO of a default go-redis client: %+v, want resp=3", info)
	}
	if info := c2.ClientInfo(ctx).Val(); info == nil || info.Resp != 2 {
		t.Fatalf("CLIENT INFO of a Protocol 2 client: %+v, want resp=2", info)
	}
	c3.HSet(ctx, "h", "f1", "v1", "f2", "v2")
	c3.SAdd(ctx, "s", "a", "b")
	c3.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "m"}, redis.Z{Score: 2, Member: "n"})
	for _, c := range []*redis.Client{c3, c2} {
		if got := c.HGetAll(ctx, "h").Val(); len(got) != 2 || got["f1"] != "v1" || got["f2"] != "v2" {
			t.Errorf("HGETALL = %v", got)
		}
		if got := c.SMembers(ctx, "s").Val(); len(got) != 2 {
			t.Errorf("SMEMBERS = %v", got)
		}
		if got, err := c.ZScore(ctx, "z", "m").Result(); err != nil || got != 1.5 {
			t.Errorf("ZSCORE = %v, %v", got, err)
		}
		zs, err := c.ZRangeWithScores(ctx, "z", 0, -1).Result()
		if err != nil || len(zs) != 2 || zs[0].Member != "m" || zs[0].Score != 1.5 || zs[1].Score != 2 {
			t.Errorf("ZRANGE WITHSCORES = %v, %v", zs, err)
		}
		kv, err := c.HRandFieldWithValues(ctx, "h", 2).Result()
		if err != nil || len(kv) != 2 {
			t.Errorf("HRANDFIELD WITHVALUES = %v, %v", kv, err)
		}
		if err := c.Get(ctx, "nokey").Err(); err != redis.Nil {
			t.Errorf("GET of a missing key: %v, want redis.Nil", err)
		}
		if info, err := c.Info(ctx, "server").Result(); err != nil || !strings.Contains(info, "redis_version:") {
			t.Errorf("INFO server = %q, %v", info, err)
		}
	}
	raw, err := c3.Do(ctx, "HGETALL", "h").Result()
	if _, ok := raw.(map[interface{}]interface{}); err != nil || !ok {
		t.Errorf("HGETALL over RESP3 = %T %v, %v; want a map", raw, raw, err)
	}
	raw, err = c3.Do(ctx, "ZSCORE", "z", "m").Result()
	if f, ok := raw.(float64); err != nil || !ok || f != 1.5 {
		t.Errorf("ZSCORE over RESP3 = %T %v, %v; want a double", raw, raw, err)
	}
}

// go-redis's transactions in its default configuration: TxPipelined
// (MULTI ... EXEC around a pipeline) and Watch (an optimistic transaction,
// retried by the application when EXEC answers nil), over keys of several
// slots on one node.
func TestGoRedisTransactions(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ctx := context.Background()
	c := newClient(t, addr, nil)
	var incr *redis.IntCmd
	var mget *redis.SliceCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "ta", "1", 0)
		incr = p.Incr(ctx, "ta")
		p.Set(ctx, "tb", "x", 0)
		mget = p.MGet(ctx, "ta", "tb")
		return nil
	})
	if err != nil || incr.Val() != 2 || fmt.Sprint(mget.Val()) != "[2 x]" {
		t.Fatalf("TxPipelined: %v; INCR %d, MGET %v", err, incr.Val(), mget.Val())
	}
	bump := func(tx *redis.Tx) error {
		n, err := tx.Get(ctx, "ta").Int()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "ta", n+1, 0)
			return nil
		})
		return err
	}
	if err := c.Watch(ctx, bump, "ta"); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if v := c.Get(ctx, "ta").Val(); v != "3" {
		t.Fatalf("after the watched transaction ta = %q, want 3", v)
	}
	// Another client's write between WATCH and EXEC: go-redis sees
	// redis.TxFailedErr.
	other := newClient(t, addr, nil)
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Set(ctx, "ta", "changed", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "ta", "mine", 0)
			return nil
		})
		return err
	}, "ta")
	if err != redis.TxFailedErr {
		t.Fatalf("Watch with a concurrent write: %v, want redis.TxFailedErr", err)
	}
	if v := c.Get(ctx, "ta").Val(); v != "changed" {
		t.Fatalf("ta = %q, want the other client's value", v)
	}
}

// A reply larger than the client's output limit cuts the client off
// (its connection closes) without the node building it whole; other
// clients are served.
func TestReplyOverOutputLimit(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.MaxOutputBytes = 1 << 20 })
	ctx := context.Background()
	c := newClient(t, addr, &redis.Options{MaxRetries: -1})
	val := strings.Repeat("v", 1024)
	for i := 0; i < 3000; i += 500 {
		args := make([]any, 500)
		for j := range args {
			args[j] = val
		}
		if err := c.RPush(ctx, "big", args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.LRange(ctx, "big", 0, 99).Result(); err != nil || len(n) != 100 {
		t.Fatalf("a small LRANGE: %d elements, %v", len(n), err)
	}
	if _, err := c.LRange(ctx, "big", 0, -1).Result(); err == nil {
		t.Fatal("LRANGE of 3 MB answered a client whose output limit is 1 MB")
	}
	if v, err := newClient(t, addr, nil).LLen(ctx, "big").Result(); err != nil || v != 3000 {
		t.Fatalf("another client after the cut: %d %v", v, err)
	}
}
