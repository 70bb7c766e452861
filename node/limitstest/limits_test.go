package limitstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

var (
	pikaBin  string
	setupErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "pika-limits-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitstest:", err)
		os.Exit(1)
	}
	pikaBin, setupErr = testproc.BuildPikaNode(tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// node is one pika-node process.
type node struct {
	*testproc.Node
	etcd string // its embedded etcd's client address, "" with --etcd
}

// nofile is how a node is started under a low open file limit: bash sets
// it (soft and hard) and execs the node. Run as root, the node could raise
// its hard limit again (CAP_SYS_RESOURCE), as Redis would: setpriv drops
// that capability, where it can.
func nofile(limit int, bin string, args ...string) *exec.Cmd {
	argv := append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, limit), bin}, args...)
	if os.Geteuid() == 0 {
		drop := []string{"--bounding-set=-sys_resource", "--inh-caps=-sys_resource"}
		if sp, err := exec.LookPath("setpriv"); err == nil && exec.Command(sp, append(drop, "true")...).Run() == nil {
			return exec.Command(sp, append(append(drop, "bash"), argv...)...)
		}
	}
	return exec.Command("bash", argv...)
}

type startOpts struct {
	nofile int      // 0: the limit this process gives its children
	etcd   string   // --etcd; "": embedded, on free ports
	args   []string // more flags
}

// start starts pika-node on a free port; it does not wait for it to serve.
func start(t *testing.T, name string, o startOpts) *node {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	dir := t.TempDir()
	n := &node{}
	flags := []string{"--bind", "127.0.0.1", "--block-cache-mb", "8", "--write-buffer-mb", "4"}
	if o.etcd != "" {
		flags = append(flags, "--etcd", o.etcd)
	} else {
		etcdArgs, err := testproc.EmbeddedEtcdArgs()
		if err != nil {
			t.Fatal(err)
		}
		flags = append(flags, etcdArgs...)
		n.etcd = etcdArgs[1]
	}
	spec := testproc.NodeSpec{Bin: pikaBin, Name: name, Dir: dir, Data: filepath.Join(dir, "data"), Flags: append(flags, o.args...)}
	if o.nofile > 0 {
		spec.Command = func(bin string, args ...string) *exec.Cmd { return nofile(o.nofile, bin, args...) }
	}
	n.Node = testproc.StartNode(t, spec)
	return n
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
}

// configInt is CONFIG GET name as a number.
func configInt(t *testing.T, c *redis.Client, name string) int {
	t.Helper()
	m, err := c.ConfigGet(context.Background(), name).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", name, err)
	}
	v, err := strconv.Atoi(m[name])
	if err != nil {
		t.Fatalf("CONFIG GET %s: %q", name, m[name])
	}
	return v
}

// openFileLimit is the soft open file limit of process pid.
func openFileLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Skipf("no /proc/%d/limits: %v", pid, err)
	}
	m := regexp.MustCompile(`(?m)^Max open files\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no open file limit in /proc/%d/limits:\n%s", pid, b)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// lowLimit is the open file limit the flood tests run the node under, and
// flood how many connections they open: more than it can hold.
const (
	lowLimit = 400
	flood    = 450
)

// A node under a low open file limit fits maxclients to it (with Redis's
// warning), refuses the clients past it with Redis's error, refuses a
// CONFIG SET maxclients the limit cannot take, and survives connections
// past its file descriptors (maxclients clients held, and the peer port,
// which maxclients does not bound): it waits for descriptors and accepts
// again, on both ports.
// Before listen.Loop, the first failed Accept (EMFILE) stopped the node.
func TestConnectionFloodPastFDLimit(t *testing.T) {
	n := start(t, "node", startOpts{nofile: lowLimit})
	n.WaitServing(t, 60*time.Second)
	if limit := openFileLimit(t, n.Pid()); limit != lowLimit {
		t.Skipf("the node runs with an open file limit of %d, not %d (it could raise it)", limit, lowLimit)
	}
	ctx := context.Background()
	c := newClient(n.Addr())
	defer c.Close()

	// maxclients fitted to the limit, as Redis does.
	maxClients := configInt(t, c, "maxclients")
	if maxClients < 1 || maxClients > lowLimit-256 {
		t.Errorf("CONFIG GET maxclients = %d under an open file limit of %d, want 1..%d", maxClients, lowLimit, lowLimit-256)
	}
	warning := fmt.Sprintf("You requested maxclients of 10000 requiring at least %d max file descriptors", 10000+lowLimit-maxClients)
	reduced := fmt.Sprintf("Current maximum open files is %d. maxclients has been reduced to %d to compensate for low ulimit", lowLimit, maxClients)
	if log := n.Log(); !strings.Contains(log, warning) || !strings.Contains(log, reduced) {
		t.Errorf("no warning %q ... %q in the log", warning, reduced)
	}
	info, err := c.Info(ctx, "clients").Result()
	if err != nil || !strings.Contains(info, fmt.Sprintf("maxclients:%d\r\n", maxClients)) {
		t.Errorf("INFO clients (%v):\n%s", err, info)
	}
	err = c.ConfigSet(ctx, "maxclients", strconv.Itoa(maxClients+lowLimit)).Err()
	want := fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with %d", maxClients)
	if err == nil || err.Error() != want {
		t.Errorf("CONFIG SET maxclients %d: %v, want %q", maxClients+lowLimit, err, want)
	}
	if got := configInt(t, c, "maxclients"); got != maxClients {
		t.Errorf("maxclients after a refused CONFIG SET: %d, want %d", got, maxClients)
	}
	c.Close()

	// Clients past maxclients: refused with Redis's error, the node serves on.
	conns := make([]net.Conn, 0, flood)
	for range flood {
		nc, err := net.DialTimeout("tcp", n.Addr(), 2*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v (the node exited: %v)", len(conns), err, n.Exited())
		}
		conns = append(conns, nc)
	}
	pongs, refused, other := 0, 0, map[string]int{}
	for _, nc := range conns {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, "PING\r\n") // a refused connection may be gone already
		line, err := bufio.NewReader(nc).ReadString('\n')
		switch {
		case line == "+PONG\r\n":
			pongs++
		case line == "-ERR max number of clients reached\r\n":
			refused++
		case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
			other["reset"]++ // refused, its error line lost to our PING's reset
		default:
			other[fmt.Sprintf("%q %v", line, err)]++
		}
	}
	for _, nc := range conns {
		nc.Close()
	}
	t.Logf("%d connections: %d served, %d refused with the max clients error, other: %v", flood, pongs, refused, other)
	if pongs < 1 || pongs > maxClients || refused < 1 || pongs+refused+other["reset"] != flood {
		t.Fatalf("%d connections, maxclients %d: %d served, %d refused with the max clients error, other: %v", flood, maxClients, pongs, refused, other)
	}
	if n.Exited() {
		t.Fatalf("the node exited after %d connections: %v", flood, n.Err())
	}
	n.WaitServing(t, 60*time.Second) // (the closed connections unregister as the node reads their EOF)

	// Past the file descriptors: all but one of maxclients clients held
	// (the one left is for the late client below, which may connect
	// before the node has read the held ones' EOF), and peer connections
	// waiting for PEERAUTH (maxclients does not count them; at most 256
	// wait, the node closes the others at once, but each needs a
	// descriptor to be accepted).
	held := make([]net.Conn, 0, maxClients)
	for range maxClients - 1 {
		nc, err := net.DialTimeout("tcp", n.Addr(), 2*time.Second)
		if err != nil {
			t.Fatalf("dial client %d: %v", len(held), err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, "PING\r\n")
		if line, err := bufio.NewReader(nc).ReadString('\n'); line != "+PONG\r\n" {
			t.Fatalf("held client %d: %q %v", len(held), line, err)
		}
		held = append(held, nc)
	}
	peers := make([]net.Conn, 0, flood)
	defer func() {
		for _, p := range append(peers, held...) {
			p.Close()
		}
	}()
	for range flood {
		p, err := net.DialTimeout("tcp", n.PeerAddr(), 2*time.Second)
		if err != nil {
			t.Fatalf("dial the peer port (%d): %v (the node exited: %v)", len(peers), err, n.Exited())
		}
		peers = append(peers, p)
	}
	testproc.WaitFor(t, "the node to log a failed accept on the peer port", 10*time.Second, func() bool {
		return strings.Contains(n.Log(), `msg="accept failed; retrying" listener=peers`)
	})
	// A client connecting meanwhile waits in the listen backlog ...
	late, err := net.DialTimeout("tcp", n.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if _, err := io.WriteString(late, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(peers, held...) {
		p.Close()
	}
	peers, held = nil, nil
	// ... and is served once descriptors are free again.
	late.SetReadDeadline(time.Now().Add(15 * time.Second))
	if line, err := bufio.NewReader(late).ReadString('\n'); line != "+PONG\r\n" {
		t.Fatalf("a client that connected while the node was out of file descriptors: %q %v", line, err)
	}
	if n.Exited() {
		t.Fatalf("the node exited: %v", n.Err())
	}
	n.WaitServing(t, 60*time.Second)
	t.Logf("failed accepts logged on the client port too: %v", strings.Contains(n.Log(), `msg="accept failed; retrying" listener=clients`))
}

// Too low a limit for even one client beside the reserve: the node does
// not start, and says why.
func TestFDLimitTooLowToStart(t *testing.T) {
	n := start(t, "node", startOpts{nofile: 200})
	select {
	case <-n.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("pika-node under ulimit -n 200 neither served nor exited")
	}
	if n.Err() == nil {
		t.Fatalf("pika-node under ulimit -n 200 exited with status 0:\n%s", n.Tail(10))
	}
	if log := n.Log(); !strings.Contains(log, "the open file limit (ulimit -n) of 200 is not enough to start") {
		if strings.Contains(log, "pika-node starting") {
			t.Skip("the node raised its open file limit (it has CAP_SYS_RESOURCE)")
		}
		t.Fatalf("no reason given:\n%s", n.Tail(10))
	}
}

// Without a low limit the node keeps the default maxclients of 10000 when
// its limit allows 10000 + the reserve, and fits it with a warning when not.
func TestDefaultMaxClients(t *testing.T) {
	n := start(t, "node", startOpts{})
	n.WaitServing(t, 60*time.Second)
	c := newClient(n.Addr())
	defer c.Close()
	got := configInt(t, c, "maxclients")
	limit := openFileLimit(t, n.Pid())
	reduced := strings.Contains(n.Log(), "maxclients has been reduced to")
	t.Logf("open file limit %d, maxclients %d", limit, got)
	switch {
	case limit >= 10000+256 && (got != 10000 || reduced):
		t.Fatalf("open file limit %d: maxclients %d (reduced: %v), want 10000", limit, got, reduced)
	case limit < 10000+256 && (got > limit-256 || !reduced):
		t.Fatalf("open file limit %d: maxclients %d (warning: %v), want at most %d with the warning", limit, got, reduced, limit-256)
	}
}

// A client that never reads its replies does not hold up a shutdown: its
// connection is closed, and the node stops cleanly (storage closed, status
// 0), within the default --shutdown-timeout (10s) and long before
// --client-write-timeout. (The node did so before shutdown-timeout too.)
func TestShutdownWithNonReadingClient(t *testing.T) {
	n := start(t, "node", startOpts{args: []string{"--client-write-timeout", "5m"}})
	n.WaitServing(t, 60*time.Second)
	nc, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	big := strings.Repeat("x", 1<<20)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", len(big), big)
	if line, err := bufio.NewReader(nc).ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("SET: %q %v", line, err)
	}
	// 32 MiB of replies the client does not read (below the 128 MiB
	// output buffer limit, which would disconnect it).
	get := strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 32)
	if _, err := io.WriteString(nc, get); err != nil {
		t.Fatal(err)
	}
	// The node has queued what the socket does not take.
	c := newClient(n.Addr())
	defer c.Close()
	testproc.WaitFor(t, "replies queued for the client", 10*time.Second, func() bool {
		info, err := c.Info(context.Background(), "clients").Result()
		return err == nil && !strings.Contains(info, "reply_queues_held:0\r\n")
	})
	c.Close()
	took := n.Stop(t, 30*time.Second)
	t.Logf("stopped %s after SIGTERM", took)
	if n.Err() != nil || !strings.Contains(n.Log(), `msg="pika-node stopped"`) {
		t.Fatalf("not a clean stop (%v):\n%s", n.Err(), n.Tail(10))
	}
}

// A command stuck waiting for another node (here a forwarded GET to a
// stopped node, with --forward-timeout 60s) does not keep the node alive
// after SIGTERM: past --shutdown-timeout it logs what had not stopped and
// exits with status 1, without closing storage under the stuck command.
// Before shutdown-timeout, it waited for the forward to time out.
func TestShutdownTimeoutCutsAStuckCommand(t *testing.T) {
	a := start(t, "a", startOpts{args: []string{"--bootstrap-expect", "2", "--forward-timeout", "60s", "--shutdown-timeout", "1s", "--lease-ttl", "10s"}})
	b := start(t, "b", startOpts{etcd: a.etcd, args: []string{"--bootstrap-expect", "2", "--lease-ttl", "10s"}})
	a.WaitServing(t, 60*time.Second)
	b.WaitServing(t, 60*time.Second)

	// A key whose slot b leads.
	var h struct{ Node meta.NodeID }
	resp, err := http.Get("http://" + b.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := api.NewClient(a.HTTPAddr()).Slots(context.Background(), "db0")
	if err != nil {
		t.Fatal(err)
	}
	onB := map[uint32]bool{}
	for _, s := range slots {
		if s.Leader == h.Node {
			onB[uint32(s.Slot)] = true
		}
	}
	if len(onB) == 0 {
		t.Fatalf("b (%s) leads none of db0's %d slots", h.Node, len(slots))
	}
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprint("k", i); onB[uint32(router.SlotOf([]byte(k), uint32(len(slots))))] {
			key = k
		}
	}

	// Until a forwards to b and b answers, a GET through a may fail at
	// once (a's routing does not have b's peer yet) instead of getting
	// stuck: wait for one answered by b before stopping it.
	c := newClient(a.Addr())
	defer c.Close()
	testproc.WaitFor(t, "a GET through a answered by b", 10*time.Second, func() bool {
		return c.Get(context.Background(), key).Err() == redis.Nil
	})

	b.Signal(syscall.SIGSTOP)
	defer b.Signal(syscall.SIGCONT)
	nc, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The GET is stuck once a has run it (CLIENT LIST: cmd=get) and no
	// reply came: a GET answered at once (a forward that failed, CI saw
	// one) is no stuck command, so it is sent again.
	stuck := false
	for try := 0; !stuck && try < 5; try++ {
		fmt.Fprintf(nc, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
		testproc.WaitFor(t, "a to run the GET", 10*time.Second, func() bool {
			list, err := c.ClientList(context.Background()).Result()
			if err != nil {
				return false
			}
			for _, line := range strings.Split(list, "\n") {
				if strings.Contains(line, "addr="+nc.LocalAddr().String()+" ") && strings.Contains(line, "cmd=get") {
					return true
				}
			}
			return false
		})
		nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 512)
		n, err := nc.Read(buf)
		var ne net.Error
		stuck = n == 0 && errors.As(err, &ne) && ne.Timeout()
		if !stuck {
			t.Logf("the GET was answered (%q, %v): sending it again", buf[:n], err)
		}
	}
	if !stuck {
		t.Fatal("a GET forwarded to a stopped node never stayed stuck")
	}
	c.Close()

	took := a.Stop(t, 30*time.Second)
	t.Logf("a stopped %s after SIGTERM", took)
	log := a.Log()
	if !regexp.MustCompile(`msg="shutdown-timeout passed: stopping without waiting for the rest".* still_running="?[^"\n]*\bclients\b`).MatchString(log) {
		t.Fatalf("no log of the stuck client connection at the deadline:\n%s", a.Tail(10))
	}
	var ee *exec.ExitError
	if !errors.As(a.Err(), &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", a.Err())
	}
}
