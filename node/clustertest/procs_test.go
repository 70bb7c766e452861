package clustertest

import (
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/node/internal/testproc"
)

var (
	pikaBin    string
	pikactlBin string
	etcdBin    = "/usr/bin/etcd" // Debian's etcd-server (scripts/install-deps.sh)
	setupErr   error
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "clustertest-bin-")
	if err != nil {
		panic(err)
	}
	pikaBin, setupErr = testproc.BuildPikaNode(tmp)
	if setupErr == nil {
		pikactlBin, setupErr = testproc.BuildPikactl(tmp)
	}
	if setupErr == nil {
		if _, err := os.Stat(etcdBin); err != nil {
			setupErr = fmt.Errorf("etcd server: %w (make deps installs etcd-server)", err)
		}
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func needSetup(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

// proc is a child process with its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, logPath, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.dumpLog(t, 40)
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM and waits (a clean shutdown).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop in 30s after SIGTERM", p.name)
		p.kill()
	}
}

func (p *proc) dumpLog(t *testing.T, lines int) {
	data, _ := os.ReadFile(p.log)
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	t.Logf("---- last %d lines of %s (%s)\n%s", len(ls), p.name, p.log, strings.Join(ls, "\n"))
}

func freePort(t *testing.T, offsets ...int) int {
	t.Helper()
	p, err := testproc.FreePort(offsets...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// etcdServer is Debian's etcd as a separate process.
type etcdServer struct {
	*proc
	dir        string
	clientPort int
	peerPort   int
}

func (e *etcdServer) endpoint() string { return addr(e.clientPort) }

func startEtcd(t *testing.T, dir string, clientPort, peerPort int) *etcdServer {
	t.Helper()
	c, p := "http://"+addr(clientPort), "http://"+addr(peerPort)
	pr := startProc(t, "etcd", filepath.Join(dir, "etcd.log"), etcdBin,
		"--name", "e1", "--data-dir", filepath.Join(dir, "etcd-data"),
		"--listen-client-urls", c, "--advertise-client-urls", c,
		"--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
		"--initial-cluster", "e1="+p, "--log-level", "warn")
	e := &etcdServer{proc: pr, dir: dir, clientPort: clientPort, peerPort: peerPort}
	waitFor(t, "etcd to serve", 30*time.Second, func() bool {
		if pr.exited() {
			t.Fatalf("etcd exited: %v", pr.err)
		}
		resp, err := http.Get("http://" + e.endpoint() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return e
}

// pikaNode is a pika-node process.
type pikaNode struct {
	*proc
	port int
	dir  string
	args []string
}

func (n *pikaNode) addr() string     { return addr(n.port) }
func (n *pikaNode) httpAddr() string { return addr(n.port + 20000) }

// startNode starts pika-node on a free port with the given extra flags.
func startNode(t *testing.T, dir, name string, extra ...string) *pikaNode {
	t.Helper()
	return startNodeOn(t, freePort(t, 10000, 20000), dir, name, extra...)
}

func startNodeOn(t *testing.T, port int, dir, name string, extra ...string) *pikaNode {
	t.Helper()
	args := append([]string{"start", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--data", filepath.Join(dir, name), "--block-cache-mb", "16", "--write-buffer-mb", "4"}, extra...)
	p := startProc(t, name, filepath.Join(dir, name+".log"), pikaBin, args...)
	return &pikaNode{proc: p, port: port, dir: dir, args: extra}
}

// health is /healthz's body.
type health struct {
	Status        string `json:"status"`
	Node          string `json:"node"`
	EtcdConnected bool   `json:"etcd_connected"`
	Manager       string `json:"manager"`
	IsManager     bool   `json:"is_manager"`
	Tables        int    `json:"tables"`
	Reason        string `json:"reason"`
}

func (n *pikaNode) health() (health, int, error) {
	var h health
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + n.httpAddr() + "/healthz")
	if err != nil {
		return h, 0, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, resp.StatusCode, err
}

// waitHealthy waits until the node answers /healthz with status ok.
func (n *pikaNode) waitHealthy(t *testing.T) health {
	t.Helper()
	var h health
	waitFor(t, n.name+" healthy", 60*time.Second, func() bool {
		if n.exited() {
			t.Fatalf("%s exited: %v", n.name, n.err)
		}
		var err error
		h, _, err = n.health()
		return err == nil && h.Status == "ok"
	})
	return h
}

func (n *pikaNode) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + n.httpAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// pikactl runs the real binary and returns its stdout, stderr and exit code.
func pikactl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pikactlBin, args...)
	cmd.Env = os.Environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pikactl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// pikactlJSON runs pikactl --json and decodes its output, failing the test
// unless it exits 0.
func pikactlJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errs, code := pikactl(t, append([]string{"--json"}, args...)...)
	if code != 0 {
		t.Fatalf("pikactl %v: exit %d: %s%s", args, code, out, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("pikactl %v: bad JSON %q: %v", args, out, err)
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNodes runs Debian's etcd and n pika-nodes of cluster name (each
// with the extra flags and a 2 s lease), each healthy, and waits until the
// cluster sees all n alive.
func startNodes(t *testing.T, name string, n int, extra ...string) (*etcdServer, []*pikaNode) {
	t.Helper()
	dir := t.TempDir()
	etcd := startEtcd(t, dir, freePort(t), freePort(t))
	flags := append([]string{"--etcd", etcd.endpoint(), "--cluster", name, "--lease-ttl", leaseTTL}, extra...)
	var nodes []*pikaNode
	for i := range n {
		nd := startNode(t, dir, fmt.Sprintf("n%d", i+1), flags...)
		nd.waitHealthy(t)
		nodes = append(nodes, nd)
	}
	waitFor(t, fmt.Sprintf("%d nodes alive", n), 20*time.Second, func() bool {
		var st api.Status
		pikactlJSON(t, &st, "--server", nodes[0].httpAddr(), "status")
		alive := 0
		for _, x := range st.Nodes {
			if x.Alive {
				alive++
			}
		}
		return alive == n
	})
	return etcd, nodes
}

// createTable creates a table through pikactl and waits until every node
// serves it.
func createTable(t *testing.T, nodes []*pikaNode, name string, slots, replicas int) api.Table {
	t.Helper()
	var tb api.Table
	pikactlJSON(t, &tb, "--server", nodes[0].httpAddr(), "table", "create", name, "--slots", fmt.Sprint(slots), "--replicas", fmt.Sprint(replicas))
	for _, nd := range nodes {
		c := redisClient(t, nd, &redis.Options{DB: int(tb.ID)})
		waitFor(t, nd.name+" to serve "+name, 10*time.Second, func() bool { return c.DBSize(context.Background()).Err() == nil })
		c.Close()
	}
	return tb
}
