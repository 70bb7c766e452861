package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

const leaseTTL = "2s"

func redisClient(t *testing.T, n *testproc.Node, opts *redis.Options) *redis.Client {
	t.Helper()
	if opts == nil {
		opts = &redis.Options{}
	}
	opts.Addr = n.Addr()
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterWithExternalEtcd runs three nodes against Debian's etcd and
// walks an operator's day: status, a table with a password, every node
// serving it, metrics, the manager killed and replaced, the dead node
// removed, the table dropped under a live connection.
func TestClusterWithExternalEtcd(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	common := []string{"--etcd", etcd.Endpoint(), "--cluster", "prod", "--lease-ttl", leaseTTL}
	n1 := startNode(t, dir, "n1", common...)
	n1.WaitHealthy(t)
	n2 := startNode(t, dir, "n2", common...)
	n3 := startNode(t, dir, "n3", common...)
	nodes := []*testproc.Node{n1, n2, n3}
	for _, n := range nodes[1:] {
		n.WaitHealthy(t)
	}
	ctx := context.Background()
	srv := func(n *testproc.Node) []string { return []string{"--server", n.HTTPAddr()} }

	var st api.Status
	testproc.WaitFor(t, "3 live nodes in status", 20*time.Second, func() bool {
		pikactlJSON(t, &st, append(srv(n2), "status")...)
		alive := 0
		for _, n := range st.Nodes {
			if n.Alive {
				alive++
			}
		}
		return alive == 3
	})
	if st.Cluster != "prod" || st.Manager == "" || len(st.Tables) != 1 || st.Tables[0].Name != "db0" || st.Health != api.HealthOK {
		t.Fatalf("status: %+v", st)
	}
	// The same status read straight from etcd.
	var st2 api.Status
	pikactlJSON(t, &st2, "--etcd", etcd.Endpoint(), "--cluster", "prod", "status")
	if st2.Manager != st.Manager || len(st2.Nodes) != 3 {
		t.Fatalf("status through etcd: %+v", st2)
	}
	out, _, code := pikactl(t, append(srv(n3), "status")...)
	if code != 0 || !strings.Contains(out, "prod") || !strings.Contains(out, "db0") {
		t.Fatalf("human status (exit %d):\n%s", code, out)
	}

	// A table with a password, created through a node that may not be the
	// manager (the call is forwarded).
	var created api.Table
	pikactlJSON(t, &created, append(srv(n3), "table", "create", "orders", "--slots", "64", "--replicas", "3", "--password", "s3cret")...)
	if created.ID != 1 || created.Slots != 64 || !created.HasPassword {
		t.Fatalf("created %+v", created)
	}
	if _, errs, code := pikactl(t, append(srv(n1), "table", "create", "orders", "--slots", "8")...); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate create: exit %d, %s", code, errs)
	}
	if _, errs, code := pikactl(t, append(srv(n1), "table", "create", "bad", "--slots", "0")...); code != 1 || !strings.Contains(errs, "slots 0") {
		t.Fatalf("bad slots: exit %d, %s", code, errs)
	}
	if _, _, code := pikactl(t, append(srv(n1), "table", "show", "nope")...); code != 1 {
		t.Fatalf("show unknown table: exit %d, want 1", code)
	}
	if _, _, code := pikactl(t, append(srv(n1), "table", "frobnicate")...); code != 2 {
		t.Fatalf("unknown verb: exit %d, want 2", code)
	}
	if _, _, code := pikactl(t, "--server", testproc.Loopback(testproc.Port(t)), "status"); code != 3 {
		t.Fatalf("unreachable server: exit %d, want 3", code)
	}
	var tables []api.Table
	pikactlJSON(t, &tables, append(srv(n1), "table", "list")...)
	if len(tables) != 2 || tables[1].Name != "orders" || tables[1].Health != api.HealthOK {
		t.Fatalf("table list: %+v", tables)
	}
	var slot api.Slot
	pikactlJSON(t, &slot, append(srv(n2), "slot", "show", "orders", "7")...)
	if slot.Slot != 7 || len(slot.Replicas) != 3 || !slot.LeaderAlive || slot.Epoch != 1 {
		t.Fatalf("slot 7: %+v", slot)
	}
	out, _, code = pikactl(t, append(srv(n2), "table", "show", "orders")...)
	if code != 0 || !strings.Contains(out, "orders") {
		t.Fatalf("table show (exit %d):\n%s", code, out)
	}

	// Every node got the table through its watch and serves it, closed
	// until AUTH. (Each node serves every table locally in this issue.)
	for i, n := range nodes {
		c := redisClient(t, n, nil)
		if err := c.Do(ctx, "select", "orders").Err(); err != nil {
			t.Fatalf("%s: select orders: %v", n.Name, err)
		}
		if err := c.Get(ctx, "k").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
			t.Fatalf("%s: get before auth: %v", n.Name, err)
		}
		if err := c.Do(ctx, "auth", "wrong").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
			t.Fatalf("%s: auth wrong: %v", n.Name, err)
		}
		if err := c.Do(ctx, "auth", "s3cret").Err(); err != nil {
			t.Fatalf("%s: auth: %v", n.Name, err)
		}
		if err := c.Set(ctx, "k", fmt.Sprint("v", i), 0).Err(); err != nil {
			t.Fatalf("%s: set: %v", n.Name, err)
		}
		if v, err := c.Get(ctx, "k").Result(); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("%s: get: %q %v", n.Name, v, err)
		}
		// The password opens by table name too, on a fresh connection.
		c2 := redisClient(t, n, &redis.Options{Username: "orders", Password: "s3cret", DB: 1})
		if v, err := c2.Get(ctx, "k").Result(); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("%s: get as user orders in db 1: %q %v", n.Name, v, err)
		}
	}
	m := metrics(t, n1)
	for _, want := range []string{`pika_commands_total{cmd="set"}`, `pika_keys{table="orders",table_id="1"} `,
		`pika_table_slots{table="orders",table_id="1"} 64`, `pika_command_duration_seconds_bucket{cmd="get"`, "pika_etcd_connected 1",
		`pika_rocksdb_property{property="rocksdb.estimate-num-keys"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Kill -9 the manager: another node takes the role within a few
	// seconds (the lease TTL).
	var mgr *testproc.Node
	var others []*testproc.Node
	for _, n := range nodes {
		if h, _, _ := n.Health(); h.IsManager {
			mgr = n
		} else {
			others = append(others, n)
		}
	}
	if mgr == nil {
		t.Fatal("no node says it is the manager")
	}
	killed, _, _ := mgr.Health()
	start := time.Now()
	mgr.Kill()
	var next string
	testproc.WaitFor(t, "a new manager", 30*time.Second, func() bool {
		for _, n := range others {
			if h, _, err := n.Health(); err == nil && h.IsManager {
				next = h.Node
				return true
			}
		}
		return false
	})
	took := time.Since(start)
	t.Logf("MEASURED: manager takeover after kill -9 of the manager node: %s (lease TTL %s)", took.Round(time.Millisecond), leaseTTL)
	if took > 10*time.Second {
		t.Errorf("takeover took %s", took)
	}
	// The others keep serving; the dead node's slots (orders has 3
	// replicas) fail over to its followers: soon every key is writable.
	c := redisClient(t, others[0], &redis.Options{Password: "s3cret", DB: 1})
	testproc.WaitFor(t, "every slot of orders writable after the failover", 20*time.Second, func() bool {
		for i := range 30 {
			err := c.Set(ctx, fmt.Sprint("after", i), "1", 0).Err()
			if err != nil && !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
				t.Fatalf("set after takeover: %v", err)
			}
			if err != nil {
				return false
			}
		}
		return true
	})
	// The dead node is listed as down; its replicas keep it from removal
	// without --force.
	var ns []api.Node
	testproc.WaitFor(t, "the killed node shown down", 20*time.Second, func() bool {
		pikactlJSON(t, &ns, append(srv(others[0]), "node", "list")...)
		for _, n := range ns {
			if string(n.ID) == killed.Node {
				return !n.Alive
			}
		}
		return false
	})
	if _, errs, code := pikactl(t, append(srv(others[1]), "node", "remove", killed.Node)...); code != 1 || !strings.Contains(errs, "--force") {
		t.Fatalf("remove dead node holding replicas: exit %d %s", code, errs)
	}
	if out, errs, code := pikactl(t, append(srv(others[1]), "node", "remove", killed.Node, "--force")...); code != 0 {
		t.Fatalf("forced remove: exit %d %s%s", code, out, errs)
	}
	// The removal was answered once others[1] saw it; others[0] sees it
	// when its watch delivers it.
	testproc.WaitFor(t, "status from another node to show the removal", 10*time.Second, func() bool {
		pikactlJSON(t, &st, append(srv(others[0]), "status")...)
		return len(st.Nodes) == 2
	})
	if string(st.Manager) != next {
		t.Fatalf("status after removal: manager %s (want %s), %d nodes", st.Manager, next, len(st.Nodes))
	}
	// Dropping a table under a live connection: its next command fails
	// clearly, and the connection can SELECT another table.
	live := map[*testproc.Node]*redis.Client{}
	for _, n := range others {
		c := redisClient(t, n, &redis.Options{Password: "s3cret", DB: 1, PoolSize: 1})
		if err := c.Ping(ctx).Err(); err != nil { // connects: AUTH, SELECT 1
			t.Fatalf("%s: ping before the drop: %v", n.Name, err)
		}
		live[n] = c
	}
	if out, errs, code := pikactl(t, append(srv(others[0]), "table", "drop", "orders", "--yes")...); code != 0 {
		t.Fatalf("drop: exit %d %s%s", code, out, errs)
	}
	for _, n := range others {
		c := live[n]
		var err error
		testproc.WaitFor(t, n.Name+" to drop orders", 10*time.Second, func() bool {
			err = c.Get(ctx, "k").Err()
			return err != nil && strings.Contains(err.Error(), "no longer exists")
		})
		if err := c.Do(ctx, "select", "1").Err(); err == nil || err.Error() != "ERR DB index is out of range" {
			t.Fatalf("%s: select of a dropped table: %v", n.Name, err)
		}
	}
	if _, _, code := pikactl(t, append(srv(others[0]), "table", "show", "orders")...); code != 1 {
		t.Fatalf("show dropped table: exit %d, want 1", code)
	}

	// Changes need the admin token, through a node and through --etcd;
	// none or a wrong one is refused (exit 1), reads need none. A drop
	// of a table that does not exist tells them apart without a change:
	// "no table" means the token passed.
	noToken := []string{"PIKA_ADMIN_TOKEN="}
	dropNone := []string{"table", "drop", "none", "--yes"}
	viaEtcd := []string{"--etcd", etcd.Endpoint(), "--cluster", "prod"}
	for _, args := range [][]string{append(srv(others[0]), dropNone...), append(viaEtcd, dropNone...)} {
		if _, errs, code := pikactlWith(t, noToken, args...); code != 1 || !strings.Contains(errs, "needs the cluster's admin token") {
			t.Fatalf("pikactl %v without a token: exit %d, %s", args, code, errs)
		}
		if _, errs, code := pikactlWith(t, []string{"PIKA_ADMIN_TOKEN=not-the-admin-token"}, args...); code != 1 || !strings.Contains(errs, "wrong admin token") {
			t.Fatalf("pikactl %v with a wrong token: exit %d, %s", args, code, errs)
		}
		if _, errs, code := pikactl(t, args...); code != 1 || !strings.Contains(errs, "no table") {
			t.Fatalf("pikactl %v with the token: exit %d, %s", args, code, errs)
		}
	}
	if _, errs, code := pikactlWith(t, noToken, append(srv(others[1]), "table", "list")...); code != 0 {
		t.Fatalf("table list without a token: exit %d, %s", code, errs)
	}
	// token rotate through --token-file rewrites the file; the old token
	// stops working on every live node, the new one works.
	tokenFile := filepath.Join(dir, "ops.token")
	if err := os.WriteFile(tokenFile, []byte(testproc.AdminToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := pikactlWith(t, noToken, append(srv(others[1]), "--token-file", tokenFile, "token", "rotate")...)
	rotated := strings.TrimSpace(out)
	if code != 0 || len(rotated) != 64 {
		t.Fatalf("token rotate: exit %d, %q %s", code, out, errs)
	}
	if b, err := os.ReadFile(tokenFile); err != nil || strings.TrimSpace(string(b)) != rotated {
		t.Fatalf("token file after the rotation: %q, %v; want the new token", b, err)
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v, want 0600", fi.Mode(), err)
	}
	for _, n := range others {
		testproc.WaitFor(t, n.Name+" to refuse the old token", 10*time.Second, func() bool {
			_, errs, _ := pikactl(t, append(srv(n), dropNone...)...)
			return strings.Contains(errs, "wrong admin token")
		})
		if _, errs, code := pikactlWith(t, []string{"PIKA_ADMIN_TOKEN=" + rotated}, append(srv(n), dropNone...)...); code != 1 || !strings.Contains(errs, "no table") {
			t.Fatalf("%s with the new token: exit %d, %s", n.Name, code, errs)
		}
	}
}

// TestEtcdLostAndBack kills etcd under a running node: the node keeps
// serving from its last snapshot and says so, then recovers.
func TestEtcdLostAndBack(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	cport, pport := testproc.Port(t), testproc.Port(t)
	etcd := testproc.StartEtcd(t, dir, cport, pport)
	n := startNode(t, dir, "n1", "--etcd", etcd.Endpoint(), "--lease-ttl", leaseTTL)
	n.WaitHealthy(t)
	ctx := context.Background()
	c := redisClient(t, n, nil)
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	etcd.Kill()
	var h testproc.Health
	testproc.WaitFor(t, "healthz to say degraded", 30*time.Second, func() bool {
		var err error
		h, _, err = n.Health()
		return err == nil && h.Status == "degraded"
	})
	if !strings.Contains(h.Reason, "etcd unreachable") {
		t.Fatalf("degraded reason %q", h.Reason)
	}
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil || !strings.Contains(info, "pika_etcd_connected:0") || !strings.Contains(info, "pika_health:degraded") {
		t.Fatalf("INFO cluster while etcd is down: %v\n%s", err, info)
	}
	if err := c.Set(ctx, "k", "during", 0).Err(); err != nil {
		t.Fatalf("set while etcd is down: %v", err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "during" {
		t.Fatalf("get while etcd is down: %q %v", v, err)
	}
	testproc.StartEtcd(t, dir, cport, pport)
	n.WaitHealthy(t)
}

// TestEtcdUnreachableAtStart: a node whose etcd is not there yet waits and
// says why (no crash), and serves once etcd comes.
func TestEtcdUnreachableAtStart(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	cport, pport := testproc.Port(t), testproc.Port(t)
	n := startNode(t, dir, "n1", "--etcd", testproc.Loopback(cport), "--lease-ttl", leaseTTL)
	testproc.WaitFor(t, "healthz to answer starting", 30*time.Second, func() bool {
		if n.Exited() {
			t.Fatalf("node exited without etcd: %v", n.Err())
		}
		h, code, err := n.Health()
		return err == nil && code == 503 && h.Status == "starting"
	})
	testproc.StartEtcd(t, dir, cport, pport)
	n.WaitHealthy(t)
	c := redisClient(t, n, nil)
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM: a clean stop, exit status 0.
	n.Stop(t, 30*time.Second)
	if n.Err() != nil {
		t.Fatalf("exit after SIGTERM: %v", n.Err())
	}
}

// TestEmbeddedRestartKeepsMetadata: `pika-node start` with the embedded
// etcd bootstraps alone; after kill -9 and restart it is the same node
// with the same tables and data.
func TestEmbeddedRestartKeepsMetadata(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	port := testproc.Port(t, 10000, 20000)
	etcdArgs := []string{"--etcd-listen", testproc.Loopback(testproc.Port(t)), "--etcd-peer-listen", testproc.Loopback(testproc.Port(t))}
	n := startNodeOn(t, port, dir, "solo", etcdArgs...)
	first := n.WaitHealthy(t)
	if !first.IsManager || first.Tables != 1 {
		t.Fatalf("embedded default: %+v", first)
	}
	srv := []string{"--server", n.HTTPAddr()}
	if out, errs, code := pikactl(t, append(srv, "table", "create", "t", "--slots", "16", "--replicas", "1")...); code != 0 {
		t.Fatalf("create: exit %d %s%s", code, out, errs)
	}
	ctx := context.Background()
	c := redisClient(t, n, &redis.Options{DB: 1})
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	n.Kill()
	n = startNodeOn(t, port, dir, "solo", etcdArgs...)
	again := n.WaitHealthy(t)
	if again.Node != first.Node || again.Tables != 2 {
		t.Fatalf("after restart: %+v, before %+v", again, first)
	}
	c = redisClient(t, n, &redis.Options{DB: 1})
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("get after restart: %q %v", v, err)
	}
	var tb api.Table
	pikactlJSON(t, &tb, append(srv, "table", "show", "t")...)
	if tb.ID != 1 || tb.Slots != 16 {
		t.Fatalf("table after restart: %+v", tb)
	}
}

// TestManagerKilledDuringCreate kills -9 the manager while it writes a
// big table's slot records: the next manager finishes the create, so the
// table appears whole (never half) and no job is left.
func TestManagerKilledDuringCreate(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	common := []string{"--etcd", etcd.Endpoint(), "--cluster", "c", "--lease-ttl", leaseTTL}
	n1 := startNode(t, dir, "n1", common...)
	if h := n1.WaitHealthy(t); !h.IsManager {
		t.Fatalf("first node is not the manager: %+v", h)
	}
	n2 := startNode(t, dir, "n2", common...)
	n2.WaitHealthy(t)

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	l := meta.Layout{Cluster: "c"}
	ctx := context.Background()
	// 16384 slots: 164 transactions of slot records after the job.
	created := make(chan int, 1)
	go func() {
		_, _, code := pikactl(t, "--server", n1.HTTPAddr(), "table", "create", "big", "--slots", "16384", "--replicas", "2")
		created <- code
	}()
	var sawSlots int64
	testproc.WaitFor(t, "the create job and some slot records", 30*time.Second, func() bool {
		jobs, err := cli.Get(ctx, l.Jobs(), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || jobs.Count == 0 {
			return false
		}
		slots, err := cli.Get(ctx, l.TableSlots(1), clientv3.WithPrefix(), clientv3.WithCountOnly())
		sawSlots = slots.Count
		return err == nil && slots.Count > 0
	})
	n1.Kill()
	st, err := meta.Load(ctx, cli, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Tables["big"]; ok {
		t.Fatalf("the create finished before the kill (saw %d slot records): the test did not kill mid-create", sawSlots)
	}
	t.Logf("killed the manager with the job and %d of 16384 slot records written", len(st.Slots[1]))
	if code := <-created; code == 0 {
		t.Fatal("pikactl reported success for a create whose manager was killed")
	}
	testproc.WaitFor(t, "n2 to finish the create", 30*time.Second, func() bool {
		st, err = meta.Load(ctx, cli, l)
		return err == nil && len(st.Jobs) == 0 && st.Tables["big"].Slots == 16384
	})
	if !st.Complete(st.Tables["big"]) {
		t.Fatalf("table big has %d of 16384 slot records", len(st.Slots[1]))
	}
	// n2 serves the slots it leads; n1's answer CLUSTERDOWN.
	c := redisClient(t, n2, &redis.Options{DB: 1})
	testproc.WaitFor(t, "n2 to see the finished table", 10*time.Second, func() bool { return c.Ping(ctx).Err() == nil })
	served := 0
	for i := range 20 {
		err := c.Set(ctx, fmt.Sprint("k", i), "v", 0).Err()
		if err == nil {
			served++
		} else if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
			t.Fatalf("serve the resumed table: %v", err)
		}
	}
	if served == 0 {
		t.Fatal("the resumed table serves no key through the live node")
	}
}

// TestStopWithoutEtcd: a node that is not the manager stops on SIGTERM even
// when etcd is gone (its election campaign must not hold it).
func TestStopWithoutEtcd(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	common := []string{"--etcd", etcd.Endpoint(), "--lease-ttl", leaseTTL}
	n1 := startNode(t, dir, "n1", common...)
	n1.WaitHealthy(t)
	n2 := startNode(t, dir, "n2", common...)
	if h := n2.WaitHealthy(t); h.IsManager {
		t.Fatal("the second node is the manager")
	}
	etcd.Kill()
	start := time.Now()
	n2.Stop(t, 30*time.Second)
	if n2.Err() != nil {
		t.Fatalf("exit after SIGTERM without etcd: %v", n2.Err())
	}
	t.Logf("stopped in %s without etcd", time.Since(start).Round(time.Millisecond))
}
