package compat

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// The two servers every test talks to. TestMain starts them once for the whole package.
var (
	redisSrv *server // the oracle: a real redis-server
	pikaSrv  *server // the system under test (a second redis-server with COMPAT_TARGET=redis)
	setupErr error   // why the servers could not be started; every test fails with it
	pikaBin  string  // the pika-node binary ("" with COMPAT_TARGET=redis)
	tmpDir   string  // where the servers keep their files
)

// extraDBs is how many databases besides 0 the scripts may SELECT: redis-server has 16, and
// startServers gives pika-node the tables db1..db<extraDBs>, whose ids are 1..extraDBs.
const extraDBs = 3

// raftDB is the one of them that is a raft table (the others are async): its multi-slot
// commands are units across raft groups (one per slot), on one node too.
const raftDB = 3

// followedDB is an async table with two replicas in a cluster (one on a single node): its
// slots have followers there, so its multi-slot writes are units across its slots' records
// even where one node leads them all (docs/transactions.md, "Durability").
const followedDB = 2

// extraTableSlots is the slot count of those tables (db0 has storage.DefaultSlots). Keys of a
// multi-key command must share a slot in both (see script_slots_test.go).
const extraTableSlots = 16

// authPassword is the --requirepass of the auth pair (see authServers).
const authPassword = "s3cret"

// The auth pair: a redis-server and a pika-node started with --requirepass authPassword. Only
// the tests that need it start it (authServers), once.
var (
	authOnce      sync.Once
	authRedisSrv  *server
	authPikaSrv   *server
	authSetupErr  error
	authServersMu sync.Mutex // guards the two servers for runMain's cleanup
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "pika-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	tmpDir = tmp
	setupErr = startServers(tmp)
	switch {
	case setupErr != nil:
		clusterSetupErr = fmt.Errorf("not started: %w", setupErr)
	case pikaBin != "": // not COMPAT_TARGET=redis
		start := time.Now()
		clusterSetupErr = startCluster(filepath.Join(tmp, "cluster"))
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "compat: cluster setup took %v (err: %v)\n", time.Since(start).Round(time.Millisecond), clusterSetupErr)
		}
	}
	defer func() {
		authServersMu.Lock()
		defer authServersMu.Unlock()
		for _, s := range append([]*server{pikaSrv, redisSrv, authPikaSrv, authRedisSrv}, clusterProcs()...) {
			if s != nil {
				s.Kill()
			}
		}
	}()
	code := m.Run()
	if code != 0 {
		authServersMu.Lock()
		for _, s := range append([]*server{pikaSrv, authPikaSrv}, clusterNodes...) {
			if s != nil {
				fmt.Fprint(os.Stderr, s.Tail(60))
			}
		}
		authServersMu.Unlock()
	}
	return code
}

func startServers(tmp string) error {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server is required as the oracle (apt-get install redis-server): %w", err)
	}
	redisSrv, err = startRedis(redisBin, filepath.Join(tmp, "redis"), "redis")
	if err != nil {
		return err
	}
	if os.Getenv("COMPAT_TARGET") == "redis" {
		// Bound normal clients' output like pika-node must, so TestWireSlowReader checks itself.
		pikaSrv, err = startRedis(redisBin, filepath.Join(tmp, "redis2"), "redis2",
			"--client-output-buffer-limit", "normal 256mb 128mb 60")
		return err
	}
	bin, err := testproc.BuildPikaNode(tmp)
	if err != nil {
		return err
	}
	pikaBin = bin
	pikaSrv, err = startPika(bin, filepath.Join(tmp, "pika"), "pika")
	if err != nil {
		return err
	}
	return createTables(pikaSrv, 1)
}

// createTables gives pika-node the tables db1..db<extraDBs> through its HTTP API (on its
// port + 20000), db<raftDB> in raft mode with raftReplicas replicas, db<followedDB> async with
// two replicas when raftReplicas allows. A cluster allocates table
// ids in creation order from 1, so SELECT n picks db<n> as it picks database n on redis-server.
func createTables(s *server, raftReplicas int) error {
	host, p, err := net.SplitHostPort(s.addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	ac := api.NewClient(net.JoinHostPort(host, strconv.Itoa(port+20000))).WithToken(testproc.AdminToken)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= extraDBs; i++ {
		name := "db" + strconv.Itoa(i)
		req := api.CreateTable{Name: name, Slots: extraTableSlots, Replicas: 1, Mode: meta.ModeAsync}
		switch i {
		case raftDB:
			req.Replicas, req.Mode = raftReplicas, meta.ModeRaft
		case followedDB:
			req.Replicas = min(raftReplicas, 2)
		}
		tb, err := ac.CreateTable(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: create table %s: %w", s.Name, name, err)
		}
		if int(tb.ID) != i {
			return fmt.Errorf("%s: table %s got id %d, want %d", s.Name, name, tb.ID, i)
		}
	}
	// The API answers once the node it asked sees the tables; check that SELECT does.
	err = testproc.Poll(30*time.Second, func() error {
		if err := s.Running(); err != nil {
			return err
		}
		return selectable(s.addr, extraDBs)
	})
	if err != nil {
		return fmt.Errorf("%s: tables created but not served: %w", s.Name, err)
	}
	return nil
}

// selectable checks that SELECT 1..dbs succeed on one connection to addr.
func selectable(addr string, dbs int) error {
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 1; i <= dbs; i++ {
		r, err := c.Do("SELECT", strconv.Itoa(i))
		if err != nil {
			return err
		}
		if r.String() != "+OK" {
			return fmt.Errorf("SELECT %d: %s", i, r)
		}
	}
	return nil
}

// authServers starts the auth pair on first use and fails the test (never skips it) when it
// cannot. The pika-node side is cheap: small caches, and its embedded etcd on free ports.
func authServers(t testing.TB) (redis, pika *server) {
	t.Helper()
	needServers(t)
	authOnce.Do(func() {
		authServersMu.Lock()
		defer authServersMu.Unlock()
		redisBin, err := exec.LookPath("redis-server")
		if err != nil {
			authSetupErr = err
			return
		}
		authRedisSrv, err = startRedis(redisBin, filepath.Join(tmpDir, "redis-auth"), "redis-auth", "--requirepass", authPassword)
		if err != nil {
			authSetupErr = err
			return
		}
		if pikaBin == "" { // COMPAT_TARGET=redis
			authPikaSrv, authSetupErr = startRedis(redisBin, filepath.Join(tmpDir, "redis2-auth"), "redis2-auth", "--requirepass", authPassword)
			return
		}
		authPikaSrv, authSetupErr = startPika(pikaBin, filepath.Join(tmpDir, "pika-auth"), "pika-auth",
			"--requirepass", authPassword, "--block-cache-mb", "8", "--write-buffer-mb", "4")
	})
	if authSetupErr != nil {
		t.Fatalf("auth pair setup: %v", authSetupErr)
	}
	for _, s := range []*server{authRedisSrv, authPikaSrv} {
		if s.Exited() {
			t.Fatalf("%s is not running (exited: %v)", s.Name, s.Err())
		}
	}
	return authRedisSrv, authPikaSrv
}

// needServers fails the test (never skips it) when the servers are not running.
func needServers(t testing.TB) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	for _, s := range []*server{redisSrv, pikaSrv} {
		if s.Exited() {
			t.Fatalf("%s is not running (exited: %v)", s.Name, s.Err())
		}
	}
}

// server is a child process serving RESP on addr.
type server struct {
	*testproc.Proc
	addr string
}

// startProc starts bin with args in dir, logging to dir/<name>.log, and returns at once; addr is
// where the process will serve.
func startProc(name, bin, dir, addr string, args ...string) (*server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	p, err := testproc.Spawn(name, filepath.Join(dir, name+".log"), cmd)
	if err != nil {
		return nil, err
	}
	return &server{Proc: p, addr: addr}, nil
}

// waitUp waits until s answers PING with +PONG (or NOAUTH: a server with a password is up),
// failing if it exits or limit passes.
func waitUp(s *server, limit time.Duration) error {
	err := testproc.Poll(limit, func() error {
		if err := s.Running(); err != nil {
			return err
		}
		if err := testproc.Ping(s.addr, time.Second); err != nil && err != testproc.ErrNoAuth {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s answering PING on %s: %w", s.Name, s.addr, err)
	}
	return nil
}

// serving waits until s, just started, answers PING (see waitUp); if it does not within 90 s,
// serving kills it and dumps its log to stderr.
func serving(s *server) (*server, error) {
	if err := waitUp(s, 90*time.Second); err != nil {
		s.Kill()
		fmt.Fprint(os.Stderr, s.Tail(40))
		return nil, err
	}
	return s, nil
}

func startRedis(bin, dir, name string, extra ...string) (*server, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	// DEBUG as test harnesses run it: from this host (diag.txt).
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", dir, "--enable-debug-command", "local"}
	s, err := startProc(name, bin, dir, testproc.Loopback(port), append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	return serving(s)
}

func startPika(bin, dir, name string, extra ...string) (*server, error) {
	etcdArgs, err := testproc.EmbeddedEtcdArgs()
	if err != nil {
		return nil, err
	}
	n, err := testproc.SpawnNode(testproc.NodeSpec{Bin: bin, Name: name, Dir: dir, Data: filepath.Join(dir, "data"),
		Flags: append(append(etcdArgs, "--enable-debug-command", "local"), extra...)})
	if err != nil {
		return nil, err
	}
	return serving(&server{Proc: n.Proc, addr: n.Addr()})
}

// usedMemory asks the server at addr for INFO memory's used_memory (the heap in use, in bytes).
//
// The bound is 30 s, not the 5 s of the liveness checks: this reads a figure, and a CI run
// saw INFO memory take over 5 s right after TestWireHugeQuery had the -race build hold and
// free a gigabyte (runtime.ReadMemStats stops the world).
func usedMemory(addr string) (int64, error) {
	c, err := Dial(addr, 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r, err := c.Do("INFO", "memory")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(r.Str, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no used_memory: %s", r)
}

// vmRSS returns the resident set size of pid in bytes (Linux).
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("VmRSS not found")
}

// TestScripts replays every testdata/*.txt and testdata/single/*.txt script against both
// servers, in RESP2 and in RESP3: TestScripts/<protocol>/<script>.
func TestScripts(t *testing.T) {
	needServers(t)
	files := singleNodeScripts(t)
	for _, proto := range protocols {
		for _, f := range files {
			t.Run(proto.name+"/"+strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
				needServers(t)
				runScriptFile(t, f, false, proto.resp3)
			})
		}
	}
}

// TestScriptsPipelined replays every script with its commands pipelined.
func TestScriptsPipelined(t *testing.T) {
	needServers(t)
	files := singleNodeScripts(t)
	for _, proto := range protocols {
		for _, f := range files {
			t.Run(proto.name+"/"+strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
				needServers(t)
				runScriptFile(t, f, true, proto.resp3)
			})
		}
	}
}

// singleNodeScripts are the scripts replayed on one node: testdata/*.txt, which the cluster
// replays too, and testdata/single/*.txt, whose units span slots that one node leads only when
// it leads them all.
func singleNodeScripts(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.txt", filepath.Join("single", "*.txt")} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil || len(m) == 0 {
			t.Fatalf("no scripts in testdata/%s: %v", pattern, err)
		}
		files = append(files, m...)
	}
	return files
}
