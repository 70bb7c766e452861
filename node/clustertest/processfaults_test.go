package clustertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
)

// Process-level faults of issue 17's chaos suite: a node's own files
// damaged while it is down, and a node run out of file descriptors.

// TestCorruptedWALProcess damages the RocksDB write-ahead log of a node
// killed with SIGKILL (so its writes are in the WAL only: a clean stop
// would flush them to SST files) by overwriting 16 bytes in the middle of
// the records the test wrote. Restarted as it was, the node refuses to
// start: it exits non-zero, and its log names the damaged file and the
// way out (--wal-recovery point-in-time). Started with that flag, it
// serves what comes before the damage: a prefix of the writes, each with
// its value, with DBSIZE counting exactly those keys, and takes writes
// again. A kill -9 after the recovery loses nothing more, and the start
// in the default mode after it is not refused again over the same damage.
func TestCorruptedWALProcess(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "wal", 1)
	n := nodes[0]
	first := n.WaitHealthy(t)
	ctx := context.Background()
	dbDir := filepath.Join(n.Spec.Data, "db")

	// The region of the WAL the test's writes take: from its size before
	// them to its size after (the node writes the WAL as it acknowledges;
	// the page cache keeps it across a SIGKILL).
	wal := newestWAL(t, dbDir)
	before := fileSize(t, wal)
	const N = 300
	value := func(i int) string { return fmt.Sprintf("v%03d-", i) + strings.Repeat(strconv.Itoa(i%10), 200) }
	c := redisClient(t, n, nil)
	for i := range N {
		if err := c.Set(ctx, fmt.Sprintf("k%03d", i), value(i), 0).Err(); err != nil {
			t.Fatalf("SET k%03d: %v", i, err)
		}
	}
	c.Close()
	if now := newestWAL(t, dbDir); now != wal {
		t.Fatalf("the node switched WAL files during the writes (%s, then %s): the damage would miss them", filepath.Base(wal), filepath.Base(now))
	}
	after := fileSize(t, wal)
	if after-before < N*200 {
		t.Fatalf("%s grew by %d bytes for %d writes of 200+ bytes", filepath.Base(wal), after-before, N)
	}
	n.Kill()
	end := fileSize(t, wal)
	at := before + (after-before)/2
	f, err := os.OpenFile(wal, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("0123456789abcdef"), at); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes; the writes took [%d, %d); 16 bytes overwritten at %d", filepath.Base(wal), end, before, after, at)

	// Restarted as it was: it refuses, and says why and what to do.
	spec := n.Spec
	spec.Log = filepath.Join(spec.Dir, "n1-refused.log")
	refused := testproc.StartNode(t, spec)
	testproc.WaitFor(t, "the restart on a damaged WAL to exit or serve", 60*time.Second, func() bool {
		return refused.Exited() || testproc.Ping(refused.Addr(), time.Second) == nil
	})
	if !refused.Exited() {
		t.Fatalf("the node serves on a WAL damaged in its middle, without --wal-recovery point-in-time:\n%s", refused.Tail(20))
	}
	var ee *exec.ExitError
	if !errors.As(refused.Err(), &ee) || ee.ExitCode() <= 0 {
		t.Fatalf("the refused start ended with %v, want an exit with a non-zero status", refused.Err())
	}
	log := refused.Log()
	for _, want := range []string{filepath.Base(wal), "refusing to start", "--wal-recovery point-in-time"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log of the refused start does not say %q:\n%s", want, refused.Tail(20))
		}
	}
	t.Logf("refused start: %v; %s", refused.Err(), strings.TrimSpace(lastLineWith(log, "refusing to start")))

	// With the loss accepted: a prefix of the writes, each with its value.
	spec = n.Spec
	spec.Flags = append(slices.Clone(spec.Flags), "--wal-recovery", "point-in-time")
	spec.Log = filepath.Join(spec.Dir, "n1-pit.log")
	pit := testproc.StartNode(t, spec)
	if h := pit.WaitHealthy(t); h.Node != first.Node {
		t.Fatalf("after point-in-time recovery the node is %q, before it was %q", h.Node, first.Node)
	}
	c = redisClient(t, pit, nil)
	testproc.WaitFor(t, "the recovered node to serve db0", 10*time.Second, func() bool { return c.DBSize(ctx).Err() == nil })
	kept := checkWritePrefix(t, c, N, value)
	t.Logf("MEASURED: WAL damaged at %d of the %d bytes of %d writes: point-in-time recovery kept %d of %d keys (a prefix)",
		at-before, after-before, N, kept, N)
	if kept == 0 || kept >= N {
		t.Errorf("point-in-time recovery kept %d of %d keys, want those before the damage, in the middle of the writes: some, not all", kept, N)
	}
	if err := c.Set(ctx, "after-recovery", "yes", 0).Err(); err != nil {
		t.Fatalf("SET after point-in-time recovery: %v", err)
	}
	c.Close()

	// A crash after the recovery loses nothing more: not the prefix, not
	// the write made since; and the start in the default mode is not
	// refused again over the damage the recovery accepted (the recovery
	// flushes what it kept, so the damaged WAL is no longer read).
	pit.Kill()
	spec = n.Spec
	spec.Log = filepath.Join(spec.Dir, "n1-again.log")
	last := testproc.StartNode(t, spec)
	if _, err := last.AwaitHealthy(60 * time.Second); err != nil {
		t.Fatalf("kill -9 after the point-in-time recovery, then a start in the default mode: %v\n%s", err, last.Tail(20))
	}
	c = redisClient(t, last, nil)
	testproc.WaitFor(t, "the restarted node to serve db0", 10*time.Second, func() bool { return c.DBSize(ctx).Err() == nil })
	if got := checkWritePrefix(t, c, N, value); got != kept {
		t.Errorf("after a kill -9 following the recovery: %d of the writes, right after the recovery %d", got, kept)
	}
	if v, err := c.Get(ctx, "after-recovery").Result(); err != nil || v != "yes" {
		t.Errorf("GET after-recovery (written after the recovery, before the kill): %q, %v", v, err)
	}
}

// checkWritePrefix reads the keys k000..k<n-1> and requires those present
// to be a prefix k000..k<m-1>, each with its value(i), and DBSIZE to count
// them and after-recovery (when present): the state of a point in time of
// one client's sequential writes. It returns m.
func checkWritePrefix(t *testing.T, c *redis.Client, n int, value func(int) string) int {
	t.Helper()
	ctx := context.Background()
	present, prefix := 0, -1
	var holes []int
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		v, err := c.Get(ctx, k).Result()
		switch {
		case err == redis.Nil:
			if prefix < 0 {
				prefix = i
			}
			continue
		case err != nil:
			t.Fatalf("GET %s: %v", k, err)
		case v != value(i):
			t.Errorf("GET %s = %.20q..., want %.20q...", k, v, value(i))
		}
		present++
		if prefix >= 0 && len(holes) < 5 {
			holes = append(holes, i)
		}
	}
	if prefix < 0 {
		prefix = n
	}
	if present != prefix {
		t.Errorf("%d keys present, not a prefix: k%03d is missing, yet keys after it are present (numbers %v...)", present, prefix, holes)
	}
	extra := int64(0)
	if e, err := c.Exists(ctx, "after-recovery").Result(); err == nil {
		extra = e
	}
	if size, err := c.DBSize(ctx).Result(); err != nil || size != int64(present)+extra {
		t.Errorf("DBSIZE = %d (%v), want the %d keys present", size, err, int64(present)+extra)
	}
	return prefix
}

// newestWAL is the RocksDB write-ahead log file of dir with the highest
// number (RocksDB names them <number>.log).
func newestWAL(t *testing.T, dir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	best, bestNum := "", int64(-1)
	for _, l := range logs {
		num, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(l), ".log"), 10, 64)
		if err == nil && num > bestNum {
			best, bestNum = l, num
		}
	}
	if best == "" {
		t.Fatalf("no WAL file (<number>.log) in %s (%v)", dir, logs)
	}
	return best
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// lastLineWith is the last line of log containing s, or "".
func lastLineWith(log, s string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// fdLimit is the open file limit (soft and hard) TestFDExhaustion runs
// its node under: node/listen keeps 256 descriptors for everything but
// clients, so maxclients is fitted to about 64.
const fdLimit = 320

// TestFDExhaustion runs a node under an open file limit of fdLimit
// (prlimit; run as root, without CAP_SYS_RESOURCE, so that it cannot
// raise it): it lowers maxclients to fit, with Redis's warning. Clients
// connect one by one until the node refuses one with Redis's "max number
// of clients reached": it admits exactly maxclients. Then more clients
// than the open file limit connect at once and hold their connections:
// each is refused with the same error, and the node, which closes its end
// of each, stays below its limit (no accept fails) and keeps serving on
// the connections it has (PING, SET, GET) and on /healthz. Closed clients
// make room for as many new ones, and no more. The node never exits.
// (node/limitstest goes past the descriptors, through the peer port,
// which maxclients does not bound.)
func TestFDExhaustion(t *testing.T) {
	needSetup(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) sets the node's open file limit: %v", err)
	}
	dir := t.TempDir()
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	flags := []string{"--bind", "127.0.0.1", "--block-cache-mb", "16", "--write-buffer-mb", "4",
		"--etcd", etcd.Endpoint(), "--cluster", "fd", "--lease-ttl", leaseTTL}
	n := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "n1", Dir: dir, Flags: flags,
		Command: func(bin string, args ...string) *exec.Cmd { return underFDLimit(t, prlimit, fdLimit, bin, args...) }})
	n.WaitHealthy(t)
	if got := openFiles(t, n.Pid()); got != fdLimit {
		t.Fatalf("the node runs with an open file limit of %d, not %d", got, fdLimit)
	}
	ctx := context.Background()
	control := redisClient(t, n, &redis.Options{PoolSize: 1, ReadTimeout: 10 * time.Second})
	mc, err := control.ConfigGet(ctx, "maxclients").Result()
	if err != nil {
		t.Fatal(err)
	}
	maxClients, err := strconv.Atoi(mc["maxclients"])
	if err != nil || maxClients < 2 || maxClients > fdLimit-256 {
		t.Fatalf("CONFIG GET maxclients = %q under an open file limit of %d, want 2..%d", mc["maxclients"], fdLimit, fdLimit-256)
	}
	if want := fmt.Sprintf("Current maximum open files is %d. maxclients has been reduced to %d", fdLimit, maxClients); !strings.Contains(n.Log(), want) {
		t.Errorf("no warning %q in the log", want)
	}
	connected := infoInt(t, control, "clients", "connected_clients")

	// One by one until refused: exactly maxclients get in.
	var served []net.Conn
	defer func() {
		for _, c := range served {
			c.Close()
		}
	}()
	refusal := ""
	for len(served) <= fdLimit {
		c, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v (node: %v)", len(served)+1, err, n.Running())
		}
		line, err := roundTrip(c, "PING")
		if line == "+PONG\r\n" {
			served = append(served, c)
			continue
		}
		c.Close()
		refusal = fmt.Sprintf("%q %v", line, err)
		if line != "-ERR max number of clients reached\r\n" && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Fatalf("client %d: %s, want PONG or the max clients error", len(served)+1, refusal)
		}
		break
	}
	t.Logf("MEASURED: open file limit %d: maxclients %d; %d clients before, %d more got in, then %s", fdLimit, maxClients, connected, len(served), refusal)
	if refusal == "" {
		t.Fatalf("%d clients got in under maxclients %d: none refused", len(served), maxClients)
	}
	if connected+len(served) != maxClients {
		t.Errorf("%d clients were in, %d more got in: %d, want maxclients %d", connected, len(served), connected+len(served), maxClients)
	}

	// A burst past the open file limit, held open: every one refused.
	// The node's descriptors are sampled meanwhile: maxclients keeps it
	// below its limit, so that no accept fails (nor would a RocksDB file).
	stopSampling := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.Pid())); err == nil {
				most = max(most, len(fds))
			}
			select {
			case <-stopSampling:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	var burst []net.Conn
	defer func() {
		for _, c := range burst {
			c.Close()
		}
	}()
	for range fdLimit {
		c, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d of the burst: %v (node: %v)", len(burst)+1, err, n.Running())
		}
		burst = append(burst, c)
	}
	refusedAll := 0
	for i, c := range burst {
		// Nothing written: a refused client reads the error, then EOF.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if line != "-ERR max number of clients reached\r\n" {
			t.Errorf("client %d of the burst: %q %v, want the max clients error", i+1, line, err)
			continue
		}
		refusedAll++
	}
	close(stopSampling)
	most := <-peak
	t.Logf("MEASURED: a burst of %d clients past maxclients, held open: %d refused with the max clients error; the node held at most %d descriptors of %d",
		len(burst), refusedAll, most, fdLimit)
	if most == 0 || most >= fdLimit {
		t.Errorf("the node held at most %d descriptors during the burst (limit %d)", most, fdLimit)
	}
	if log := n.Log(); strings.Contains(log, "accept failed") {
		t.Errorf("an accept failed at maxclients %d under an open file limit of %d:\n%s", maxClients, fdLimit, lastLineWith(log, "accept failed"))
	}
	if rejected := infoInt(t, control, "stats", "rejected_connections"); rejected < 1+refusedAll {
		t.Errorf("rejected_connections = %d, want at least the %d refused", rejected, 1+refusedAll)
	}

	// The node serves on: the connections it has, and /healthz.
	if err := control.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING on an existing connection: %v", err)
	}
	if err := control.Set(ctx, "fd:k", "v1", 0).Err(); err != nil {
		t.Fatalf("SET on an existing connection: %v", err)
	}
	if v, err := control.Get(ctx, "fd:k").Result(); err != nil || v != "v1" {
		t.Fatalf("GET on an existing connection: %q, %v", v, err)
	}
	if line, err := roundTrip(served[0], "GET fd:k"); line != "$2\r\n" {
		t.Fatalf("GET on a client let in before the refusals: %q %v", line, err)
	}
	if h, code, err := n.Health(); err != nil || code != 200 || h.Status != "ok" {
		t.Fatalf("/healthz while at maxclients: %d %+v %v", code, h, err)
	}

	// Closed clients make room for as many new ones, no more.
	const freed = 5
	for _, c := range served[len(served)-freed:] {
		c.Close()
	}
	served = served[:len(served)-freed]
	testproc.WaitFor(t, fmt.Sprintf("connected_clients to fall to %d", maxClients-freed), 10*time.Second, func() bool {
		return infoInt(t, control, "clients", "connected_clients") == maxClients-freed
	})
	for i := range freed {
		c, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if line, err := roundTrip(c, "PING"); line != "+PONG\r\n" {
			c.Close()
			t.Fatalf("new client %d of %d after %d were closed: %q %v", i+1, freed, freed, line, err)
		}
		served = append(served, c)
	}
	c, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line != "-ERR max number of clients reached\r\n" {
		t.Fatalf("a client past maxclients again: %q %v, want the max clients error", line, err)
	}

	if err := n.Running(); err != nil {
		t.Fatalf("the node: %v\n%s", err, n.Tail(20))
	}
	if log := n.Log(); strings.Contains(log, "panic:") || strings.Contains(log, "DATA RACE") {
		t.Fatalf("the node's log:\n%s", n.Tail(40))
	}
}

// underFDLimit runs bin under an open file limit of limit, soft and hard
// (prlimit). Run as root, the node could raise its hard limit again
// (CAP_SYS_RESOURCE): setpriv drops that capability first.
func underFDLimit(t *testing.T, prlimit string, limit int, bin string, args ...string) *exec.Cmd {
	argv := append([]string{fmt.Sprintf("--nofile=%d:%d", limit, limit), "--", bin}, args...)
	if os.Geteuid() != 0 {
		return exec.Command(prlimit, argv...)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("run as root, the node needs setpriv (util-linux) to drop CAP_SYS_RESOURCE: %v", err)
	}
	drop := []string{"--bounding-set=-sys_resource", "--inh-caps=-sys_resource"}
	return exec.Command(setpriv, append(append(drop, prlimit), argv...)...)
}

// openFiles is the soft open file limit of process pid.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Max open files\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no open file limit in /proc/%d/limits:\n%s", pid, b)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// infoInt is the number field of INFO section.
func infoInt(t *testing.T, c *redis.Client, section, field string) int {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:(\d+)\r?$`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("no %s in INFO %s:\n%s", field, section, info)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// roundTrip sends an inline command on c and reads the first line of its
// reply (10 s at most).
func roundTrip(c net.Conn, cmd string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
