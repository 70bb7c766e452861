package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/router"
)

var (
	pikaBin    string
	pikactlBin string
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
		setupErr = testproc.CheckEtcd()
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

// startNode starts pika-node on a free port with the given extra flags:
// data in dir/name, output in dir/name.log (see startNodeOn).
func startNode(t *testing.T, dir, name string, extra ...string) *testproc.Node {
	t.Helper()
	return startNodeOn(t, 0, dir, name, extra...)
}

// startNodeOn starts pika-node on port (0: a free one) with this suite's
// flags (loopback, small caches) and the extra ones. testproc.StartNode(t,
// n.Spec) restarts a node on its port and data.
func startNodeOn(t *testing.T, port int, dir, name string, extra ...string) *testproc.Node {
	t.Helper()
	flags := append([]string{"--bind", "127.0.0.1", "--block-cache-mb", "16", "--write-buffer-mb", "4"}, extra...)
	return testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: name, Dir: dir, Port: port, Flags: flags})
}

// metrics is the node's /metrics.
func metrics(t *testing.T, n *testproc.Node) string {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
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

// pikactl runs the real binary, with the test clusters' admin token, and
// returns its stdout, stderr and exit code.
func pikactl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return pikactlWith(t, []string{"PIKA_ADMIN_TOKEN=" + testproc.AdminToken}, args...)
}

// pikactlWith is pikactl with env added to the environment instead of the
// admin token.
func pikactlWith(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pikactlBin, args...)
	cmd.Env = append(os.Environ(), env...)
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

// startNodes runs Debian's etcd and n pika-nodes of cluster name (each
// with the extra flags and a 2 s lease), each healthy, and waits until the
// cluster sees all n alive.
func startNodes(t *testing.T, name string, n int, extra ...string) (*testproc.Etcd, []*testproc.Node) {
	t.Helper()
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	flags := append([]string{"--etcd", etcd.Endpoint(), "--cluster", name, "--lease-ttl", leaseTTL}, extra...)
	var nodes []*testproc.Node
	for i := range n {
		nd := startNode(t, dir, fmt.Sprintf("n%d", i+1), flags...)
		nd.WaitHealthy(t)
		nodes = append(nodes, nd)
	}
	waitAlive(t, nodes[0], n)
	return etcd, nodes
}

// waitAlive waits until the cluster, as via sees it, has n nodes alive.
func waitAlive(t *testing.T, via *testproc.Node, n int) {
	t.Helper()
	testproc.WaitFor(t, fmt.Sprintf("%d nodes alive", n), 20*time.Second, func() bool {
		var st api.Status
		pikactlJSON(t, &st, "--server", via.HTTPAddr(), "status")
		alive := 0
		for _, x := range st.Nodes {
			if x.Alive {
				alive++
			}
		}
		return alive == n
	})
}

// createTable creates a table through pikactl and waits until every node
// serves it.
func createTable(t *testing.T, nodes []*testproc.Node, name string, slots, replicas int) api.Table {
	t.Helper()
	var tb api.Table
	pikactlJSON(t, &tb, "--server", nodes[0].HTTPAddr(), "table", "create", name, "--slots", fmt.Sprint(slots), "--replicas", fmt.Sprint(replicas))
	for _, nd := range nodes {
		c := redisClient(t, nd, &redis.Options{DB: int(tb.ID)})
		testproc.WaitFor(t, nd.Name+" to serve "+name, 10*time.Second, func() bool { return c.DBSize(context.Background()).Err() == nil })
		c.Close()
	}
	return tb
}

// keysLedBy returns perSlot keys (prefix and a number) of each slot of
// table tb that node leads, as via's routing shows it, and those slots.
func keysLedBy(t *testing.T, via *testproc.Node, tb api.Table, node, prefix string, perSlot int) ([]string, map[router.SlotID]bool) {
	t.Helper()
	var slots []api.Slot
	pikactlJSON(t, &slots, "--server", via.HTTPAddr(), "slot", "show", tb.Name)
	led := map[router.SlotID]bool{}
	for _, s := range slots {
		if string(s.Leader) == node {
			led[router.SlotID(s.Slot)] = true
		}
	}
	if len(led) == 0 {
		t.Fatalf("%s leads no slot of %s", node, tb.Name)
	}
	var keys []string
	for i := 0; len(keys) < perSlot*len(led); i++ {
		if k := fmt.Sprint(prefix, i); led[router.SlotOf([]byte(k), tb.Slots)] {
			keys = append(keys, k)
		}
	}
	return keys, led
}
