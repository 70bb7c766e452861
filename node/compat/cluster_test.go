package compat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
)

// The cluster the scripts also run against: the differential suite must pass through every
// node of a cluster, and through a TCP load balancer in front of it, as it does on one node.
// TestMain starts it once (startCluster): Debian's etcd as a process, three pika-node processes
// in one cluster whose db0 (and db1..db<extraDBs>) have their slot leaders spread over all
// three, so most commands are forwarded to another node, and haproxy in TCP mode with
// round-robin over the three RESP ports (standing in for LVS), so every new connection of a
// script run may land on another node.
var (
	clusterEtcd     *server   // Debian's etcd (addr is its client endpoint)
	clusterNodes    []*server // node1..node<clusterSize>
	clusterProxy    *server   // haproxy
	clusterSetupErr error     // why the cluster could not be started; its tests fail with it
)

const (
	clusterSize = 3
	clusterName = "compat"
)

// clusterProcs returns every process of the cluster that was started.
func clusterProcs() []*server {
	var out []*server
	for _, s := range append([]*server{clusterProxy, clusterEtcd}, clusterNodes...) {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// clusterTargets are the ways into the cluster the tests use: each node, then haproxy.
func clusterTargets() []*server {
	return append(append([]*server{}, clusterNodes...), clusterProxy)
}

// clusterPair is the pair that compares redis-server with the cluster reached through target.
// A script's other connections go to the other nodes, starting after target's.
func clusterPair(target *server) pair {
	others := make([]*server, 0, len(clusterNodes))
	for i, s := range clusterNodes {
		if s == target {
			others = append(append(others, clusterNodes[i+1:]...), clusterNodes[:i+1]...)
			break
		}
	}
	if len(others) == 0 { // through haproxy: any node
		others = clusterNodes
	}
	return pair{redis: redisSrv, pika: target, dbs: extraDBs, behind: clusterProcs(), others: others}
}

// needCluster fails the test (never skips it, except with COMPAT_TARGET=redis, where there is no
// pika-node) when the cluster is not running, with the reason.
func needCluster(t testing.TB) {
	t.Helper()
	needServers(t)
	if pikaBin == "" {
		t.Skip("COMPAT_TARGET=redis: no pika-node cluster")
	}
	if clusterSetupErr != nil {
		t.Fatalf("cluster setup: %v", clusterSetupErr)
	}
	for _, s := range clusterProcs() {
		if s.Exited() {
			t.Fatalf("%s is not running (exited: %v)\n%s", s.Name, s.Err(), s.Tail(40))
		}
	}
}

// startCluster starts etcd, the nodes and haproxy under dir. On failure it stops what it
// started and returns an error with the tail of the failing process's log.
func startCluster(dir string) (err error) {
	defer func() {
		if err != nil {
			for _, s := range clusterProcs() {
				s.Kill()
			}
		}
	}()
	if err := testproc.CheckEtcd(); err != nil {
		return err
	}
	haproxyBin, err := exec.LookPath("haproxy")
	if err != nil {
		return fmt.Errorf("haproxy is required for the load-balanced runs (apt-get install haproxy): %w", err)
	}
	ports, err := clusterPorts()
	if err != nil {
		return err
	}

	// etcd.
	etcd, err := testproc.SpawnEtcd(filepath.Join(dir, "etcd"), ports.etcdClient, ports.etcdPeer)
	if err != nil {
		return err
	}
	clusterEtcd = &server{Proc: etcd.Proc, addr: etcd.Endpoint()}

	// The nodes: all of them first, since the first manager creates db0 only once all have
	// joined (--bootstrap-expect) and none serves clients before db0 exists.
	var nodes []*testproc.Node
	for i, port := range ports.nodes {
		name := "node" + strconv.Itoa(i+1)
		ndir := filepath.Join(dir, name)
		n, err := testproc.SpawnNode(testproc.NodeSpec{Bin: pikaBin, Name: name, Dir: ndir, Port: port, Data: filepath.Join(ndir, "data"),
			Flags: []string{"--bind", "127.0.0.1", "--etcd", clusterEtcd.addr, "--cluster", clusterName,
				"--bootstrap-expect", strconv.Itoa(clusterSize), "--lease-ttl", "2s", "--block-cache-mb", "16", "--write-buffer-mb", "4",
				"--enable-debug-command", "local"}})
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		clusterNodes = append(clusterNodes, &server{Proc: n.Proc, addr: n.Addr()})
	}
	for i, n := range nodes {
		if _, err := n.AwaitHealthy(90 * time.Second); err != nil {
			return fmt.Errorf("%w\n%s", err, n.Tail(40))
		}
		if err := waitUp(clusterNodes[i], 30*time.Second); err != nil {
			return fmt.Errorf("%w\n%s", err, n.Tail(40))
		}
	}
	if err := checkSpread(clusterNodes[0], "db0"); err != nil {
		return err
	}

	// db1..db<extraDBs>, created through node1 as on the single node; every node must serve them.
	if err := createTables(clusterNodes[0], 3); err != nil {
		return fmt.Errorf("%w\n%s", err, clusterNodes[0].Tail(40))
	}
	for _, s := range clusterNodes[1:] {
		if err := waitSelectable(s, 30*time.Second); err != nil {
			return err
		}
	}
	if err := checkSpread(clusterNodes[0], "db1"); err != nil {
		return err
	}

	// haproxy.
	cfg := filepath.Join(dir, "haproxy", "haproxy.cfg")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg, []byte(haproxyConfig(ports.proxy, clusterNodes)), 0o644); err != nil {
		return err
	}
	clusterProxy, err = startProc("haproxy", haproxyBin, filepath.Dir(cfg), testproc.Loopback(ports.proxy), "-f", cfg, "-db")
	if err != nil {
		return err
	}
	if err := waitUp(clusterProxy, 30*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, clusterProxy.Tail(40))
	}
	return waitSelectable(clusterProxy, 30*time.Second)
}

// haproxyConfig is a TCP round-robin balancer on 127.0.0.1:port over the nodes' RESP ports.
func haproxyConfig(port int, nodes []*server) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096

defaults
    mode tcp
    timeout connect 1s
    timeout client 1h
    timeout server 1h

frontend resp
    bind %s
    default_backend pika

backend pika
    balance roundrobin
`, testproc.Loopback(port))
	for _, s := range nodes {
		fmt.Fprintf(&b, "    server %s %s\n", s.Name, s.addr)
	}
	return b.String()
}

// portSet is the ports of the cluster, picked at once so that no two overlap (a node also
// takes its port + 10000 and + 20000, and the nodes bind theirs only when they start).
type portSet struct {
	etcdClient, etcdPeer, proxy int
	nodes                       []int
}

func clusterPorts() (portSet, error) {
	taken := map[int]bool{}
	pick := func(offsets ...int) (int, error) {
		for range 100 {
			p, err := testproc.FreePort(offsets...)
			if err != nil {
				return 0, err
			}
			all := append([]int{0}, offsets...)
			ok := true
			for _, off := range all {
				ok = ok && !taken[p+off]
			}
			if ok {
				for _, off := range all {
					taken[p+off] = true
				}
				return p, nil
			}
		}
		return 0, errors.New("no free ports for the cluster")
	}
	var ps portSet
	var err error
	if ps.etcdClient, err = pick(); err != nil {
		return ps, err
	}
	if ps.etcdPeer, err = pick(); err != nil {
		return ps, err
	}
	if ps.proxy, err = pick(); err != nil {
		return ps, err
	}
	for range clusterSize {
		p, err := pick(10000, 20000)
		if err != nil {
			return ps, err
		}
		ps.nodes = append(ps.nodes, p)
	}
	return ps, nil
}

// httpAddr is a node's HTTP address (its port + 20000).
func httpAddr(s *server) string {
	host, p, _ := net.SplitHostPort(s.addr)
	port, _ := strconv.Atoi(p)
	return net.JoinHostPort(host, strconv.Itoa(port+20000))
}

// waitSelectable waits until SELECT 1..extraDBs works on s.
func waitSelectable(s *server, limit time.Duration) error {
	err := testproc.Poll(limit, func() error {
		if err := s.Running(); err != nil {
			return err
		}
		return selectable(s.addr, extraDBs)
	})
	if err != nil {
		return fmt.Errorf("%s: SELECT 1..%d: %w\n%s", s.Name, extraDBs, err, s.Tail(40))
	}
	return nil
}

// checkSpread checks, through s's HTTP API, that the slot leaders of table are all the nodes.
func checkSpread(s *server, table string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slots, err := api.NewClient(httpAddr(s)).Slots(ctx, table)
	if err != nil {
		return fmt.Errorf("%s: slots of %s: %w", s.Name, table, err)
	}
	leaders := map[string]int{}
	for _, sl := range slots {
		if sl.Leader == "" || !sl.LeaderAlive {
			return fmt.Errorf("%s: slot %d of %s has no live leader (%q)\n%s", s.Name, sl.Slot, table, sl.Leader, s.Tail(40))
		}
		leaders[string(sl.Leader)]++
	}
	if len(leaders) != clusterSize {
		return fmt.Errorf("%s: the %d slots of %s have leaders %v: want them spread over %d nodes\n%s",
			s.Name, len(slots), table, leaders, clusterSize, s.Tail(40))
	}
	return nil
}

// TestClusterSetup checks that the cluster is up with its slots spread (startCluster checked it
// once; this fails with the reason if it could not), and that haproxy spreads connections: as
// many connections as nodes, opened one after the other, land on every node.
func TestClusterSetup(t *testing.T) {
	needCluster(t)
	for _, table := range []string{"db0", "db1"} {
		if err := checkSpread(clusterNodes[0], table); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, s := range clusterNodes {
		_, port, _ := net.SplitHostPort(s.addr)
		want[port] = true
	}
	got := map[string]bool{}
	for range clusterNodes {
		c, err := Dial(clusterProxy.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r, err := c.Do("INFO", "server")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(r.Str, "\r\n") {
			if port, ok := strings.CutPrefix(line, "tcp_port:"); ok {
				got[port] = true
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d connections through haproxy reached the nodes on ports %v; want %v", len(clusterNodes), got, want)
	}
	for port := range got {
		if !want[port] {
			t.Fatalf("a connection through haproxy reached port %s, not a node's (%v)", port, want)
		}
	}
}

// TestClusterScanEmpty: through every target, SCAN over the empty db0 ends in one call, as on
// redis-server: slots are placed in contiguous ranges per leader, so a call visits each node
// once (at most 64 steps are chained per call; one step per slot would need 16 calls).
func TestClusterScanEmpty(t *testing.T) {
	needCluster(t)
	if err := mainPair().reset(clusterNodes[0]); err != nil {
		t.Fatal(err)
	}
	for _, target := range clusterTargets() {
		t.Run(target.Name, func(t *testing.T) {
			c, err := Dial(target.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cursor, calls := "0", 0
			for {
				r, err := c.Do("SCAN", cursor)
				if err != nil {
					t.Fatal(err)
				}
				calls++
				if r.Kind != '*' || len(r.Elems) != 2 || r.Elems[1].Kind != '*' || len(r.Elems[1].Elems) != 0 {
					t.Fatalf("SCAN %s (call %d) = %s, want an empty page", cursor, calls, r)
				}
				if cursor = r.Elems[0].Str; cursor == "0" {
					break
				}
				if calls > 1024 {
					t.Fatalf("SCAN over the empty db0 did not end after %d calls", calls)
				}
			}
			if calls != 1 {
				t.Fatalf("SCAN over the empty db0 took %d calls, want 1", calls)
			}
		})
	}
}

// TestClusterScripts replays every testdata/*.txt script against the cluster through each
// node and through haproxy, in RESP2 and RESP3: TestClusterScripts/<protocol>/<target>/<script>.
func TestClusterScripts(t *testing.T) { clusterScripts(t, false) }

// TestClusterScriptsPipelined is TestClusterScripts with each script's commands pipelined.
func TestClusterScriptsPipelined(t *testing.T) { clusterScripts(t, true) }

func clusterScripts(t *testing.T, pipelined bool) {
	needCluster(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, proto := range protocols {
		for _, target := range clusterTargets() {
			t.Run(proto.name+"/"+target.Name, func(t *testing.T) {
				for _, f := range files {
					t.Run(filepath.Base(f), func(t *testing.T) {
						needCluster(t)
						p := clusterPair(target)
						p.resp3 = proto.resp3
						runScript(t, f, pipelined, p)
					})
				}
			})
		}
	}
}

// TestClusterCrossSlot runs TestCrossSlot's cases through node2 and through haproxy: every
// line runs as on redis-server, those whose keys' slots several nodes lead as units across
// them.
func TestClusterCrossSlot(t *testing.T) {
	needCluster(t)
	leaders, err := clusterLeaders(clusterNodes[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []*server{clusterNodes[1], clusterProxy} {
		t.Run(target.Name, func(t *testing.T) {
			crossSlotTests(t, func(t *testing.T) pair {
				needCluster(t)
				p := clusterPair(target)
				p.leaders = leaders
				return p
			})
		})
	}
}

// TestClusterRandomKeyUniform: RANDOMKEY through a node picks every key of the table about as
// often, wherever its slot's leader is: the node answering is picked by its key count, not
// this node first.
func TestClusterRandomKeyUniform(t *testing.T) {
	needCluster(t)
	c, err := Dial(clusterNodes[0].addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	do := func(args ...string) Reply {
		t.Helper()
		r, err := c.Do(args...)
		if err != nil || r.Kind == '-' {
			t.Fatalf("%v: %v %v", args, r, err)
		}
		return r
	}
	do("SELECT", "1")
	do("FLUSHDB")
	defer do("FLUSHDB")
	const keys, draws = 40, 4000
	for i := range keys {
		do("SET", fmt.Sprintf("rk%d", i), "v")
	}
	seen := map[string]int{}
	for range draws {
		seen[do("RANDOMKEY").Str]++
	}
	// Expected 100 each (binomial sd ~10); picking this node first would give its keys
	// about three times as many.
	for i := range keys {
		k := fmt.Sprintf("rk%d", i)
		if n := seen[k]; n < 40 || n > 200 {
			t.Errorf("%s drawn %d times of %d, expected about %d", k, n, draws, draws/keys)
		}
	}
}
