package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/node/internal/testproc"
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
	etcdBin     = "/usr/bin/etcd" // Debian's etcd-server (scripts/install-deps.sh)
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
func clusterPair(target *server) pair {
	return pair{redis: redisSrv, pika: target, dbs: extraDBs, behind: clusterProcs()}
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
		if s.exited() {
			t.Fatalf("%s is not running (exited: %v)\n%s", s.name, s.waitErr, s.logTail(40))
		}
	}
}

// startCluster starts etcd, the nodes and haproxy under dir. On failure it stops what it
// started and returns an error with the tail of the failing process's log.
func startCluster(dir string) (err error) {
	defer func() {
		if err != nil {
			for _, s := range clusterProcs() {
				s.stop()
			}
		}
	}()
	if _, err := os.Stat(etcdBin); err != nil {
		return fmt.Errorf("etcd server: %w (scripts/install-deps.sh installs etcd-server)", err)
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
	ec, ep := "http://"+loopback(ports.etcdClient), "http://"+loopback(ports.etcdPeer)
	clusterEtcd, err = startProc("etcd", etcdBin, filepath.Join(dir, "etcd"), loopback(ports.etcdClient),
		"--name", "e1", "--data-dir", filepath.Join(dir, "etcd", "data"),
		"--listen-client-urls", ec, "--advertise-client-urls", ec,
		"--listen-peer-urls", ep, "--initial-advertise-peer-urls", ep,
		"--initial-cluster", "e1="+ep, "--log-level", "warn")
	if err != nil {
		return err
	}
	if err := waitHTTP(clusterEtcd, ec+"/health", 30*time.Second, func(body []byte) bool { return true }); err != nil {
		return err
	}

	// The nodes: all of them first, since the first manager creates db0 only once all have
	// joined (--bootstrap-expect) and none serves clients before db0 exists.
	for i, port := range ports.nodes {
		name := "node" + strconv.Itoa(i+1)
		ndir := filepath.Join(dir, name)
		s, err := startProc(name, pikaBin, ndir, loopback(port),
			"start", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--data", filepath.Join(ndir, "data"),
			"--etcd", clusterEtcd.addr, "--cluster", clusterName, "--bootstrap-expect", strconv.Itoa(clusterSize),
			"--lease-ttl", "2s", "--block-cache-mb", "16", "--write-buffer-mb", "4")
		if err != nil {
			return err
		}
		clusterNodes = append(clusterNodes, s)
	}
	for _, s := range clusterNodes {
		healthy := func(body []byte) bool {
			var h struct {
				Status string `json:"status"`
			}
			return json.Unmarshal(body, &h) == nil && h.Status == "ok"
		}
		if err := waitHTTP(s, "http://"+httpAddr(s)+"/healthz", 90*time.Second, healthy); err != nil {
			return err
		}
		if err := waitUp(s, 30*time.Second); err != nil {
			return fmt.Errorf("%w\n%s", err, s.logTail(40))
		}
	}
	if err := checkSpread(clusterNodes[0], "db0"); err != nil {
		return err
	}

	// db1..db<extraDBs>, created through node1 as on the single node; every node must serve them.
	if err := createTables(clusterNodes[0]); err != nil {
		return fmt.Errorf("%w\n%s", err, clusterNodes[0].logTail(40))
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
	clusterProxy, err = startProc("haproxy", haproxyBin, filepath.Dir(cfg), loopback(ports.proxy), "-f", cfg, "-db")
	if err != nil {
		return err
	}
	if err := waitUp(clusterProxy, 30*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, clusterProxy.logTail(40))
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
`, loopback(port))
	for _, s := range nodes {
		fmt.Fprintf(&b, "    server %s %s\n", s.name, s.addr)
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

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// httpAddr is a node's HTTP address (its port + 20000).
func httpAddr(s *server) string {
	host, p, _ := net.SplitHostPort(s.addr)
	port, _ := strconv.Atoi(p)
	return net.JoinHostPort(host, strconv.Itoa(port+20000))
}

// waitHTTP polls url until it answers 200 with a body ok accepts, s exits, or limit passes.
func waitHTTP(s *server, url string, limit time.Duration, ok func(body []byte) bool) error {
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("%s exited: %v\n%s", s.name, s.waitErr, s.logTail(40))
		}
		resp, err := c.Get(url)
		if err == nil {
			var body []byte
			body, err = readAll(resp)
			if err == nil && resp.StatusCode == http.StatusOK && ok(body) {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s not ready within %v (last: %s)\n%s", s.name, url, limit, last, s.logTail(40))
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// waitSelectable waits until SELECT 1..extraDBs works on s.
func waitSelectable(s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := selectable(s.addr, extraDBs)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || s.exited() {
			return fmt.Errorf("%s: SELECT 1..%d: %w\n%s", s.name, extraDBs, err, s.logTail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSpread checks, through s's HTTP API, that the slot leaders of table are all the nodes.
func checkSpread(s *server, table string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slots, err := api.NewClient(httpAddr(s)).Slots(ctx, table)
	if err != nil {
		return fmt.Errorf("%s: slots of %s: %w", s.name, table, err)
	}
	leaders := map[string]int{}
	for _, sl := range slots {
		if sl.Leader == "" || !sl.LeaderAlive {
			return fmt.Errorf("%s: slot %d of %s has no live leader (%q)\n%s", s.name, sl.Slot, table, sl.Leader, s.logTail(40))
		}
		leaders[string(sl.Leader)]++
	}
	if len(leaders) != clusterSize {
		return fmt.Errorf("%s: the %d slots of %s have leaders %v: want them spread over %d nodes\n%s",
			s.name, len(slots), table, leaders, clusterSize, s.logTail(40))
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
		t.Run(target.name, func(t *testing.T) {
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
// node and through haproxy: TestClusterScripts/<target>/<script>.
func TestClusterScripts(t *testing.T) { clusterScripts(t, false) }

// TestClusterScriptsPipelined is TestClusterScripts with each script's commands pipelined.
func TestClusterScriptsPipelined(t *testing.T) { clusterScripts(t, true) }

func clusterScripts(t *testing.T, pipelined bool) {
	needCluster(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, target := range clusterTargets() {
		t.Run(target.name, func(t *testing.T) {
			for _, f := range files {
				t.Run(filepath.Base(f), func(t *testing.T) {
					needCluster(t)
					runScript(t, f, pipelined, clusterPair(target))
				})
			}
		})
	}
}

// TestClusterCrossSlot runs TestCrossSlot's cases through node2 and through haproxy.
func TestClusterCrossSlot(t *testing.T) {
	needCluster(t)
	for _, target := range []*server{clusterNodes[1], clusterProxy} {
		t.Run(target.name, func(t *testing.T) {
			crossSlotTests(t, func(t *testing.T) pair {
				needCluster(t)
				return clusterPair(target)
			})
		})
	}
}
