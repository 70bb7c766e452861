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
	"syscall"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/internal/testproc"
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
				s.stop()
			}
		}
	}()
	code := m.Run()
	if code != 0 {
		authServersMu.Lock()
		for _, s := range append([]*server{pikaSrv, authPikaSrv}, clusterNodes...) {
			if s != nil {
				s.dumpLog(os.Stderr, 60)
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
	return createTables(pikaSrv)
}

// createTables gives pika-node the tables db1..db<extraDBs> through its HTTP API (on its
// port + 20000). A cluster allocates table ids in creation order from 1, so SELECT n picks
// db<n> as it picks database n on redis-server.
func createTables(s *server) error {
	host, p, err := net.SplitHostPort(s.addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	ac := api.NewClient(net.JoinHostPort(host, strconv.Itoa(port+20000)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= extraDBs; i++ {
		name := "db" + strconv.Itoa(i)
		tb, err := ac.CreateTable(ctx, api.CreateTable{Name: name, Slots: extraTableSlots, Replicas: 1, Mode: meta.ModeAsync})
		if err != nil {
			return fmt.Errorf("%s: create table %s: %w", s.name, name, err)
		}
		if int(tb.ID) != i {
			return fmt.Errorf("%s: table %s got id %d, want %d", s.name, name, tb.ID, i)
		}
	}
	// The API answers once the node it asked sees the tables; check that SELECT does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := selectable(s.addr, extraDBs)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || s.exited() {
			return fmt.Errorf("%s: tables created but not served: %w", s.name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
		if s.exited() {
			t.Fatalf("%s is not running (exited: %v)", s.name, s.waitErr)
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
		if s.exited() {
			t.Fatalf("%s is not running (exited: %v)", s.name, s.waitErr)
		}
	}
}

// server is a child process serving RESP on addr.
type server struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

func (s *server) dumpLog(w *os.File, lines int) {
	if tail := s.logTail(lines); tail != "" {
		fmt.Fprint(w, tail)
	}
}

// logTail returns the last lines of the server's log under a header, or "" if there is no log.
func (s *server) logTail(lines int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil || len(data) == 0 {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("---- last %d lines of %s log (%s) ----\n%s\n----\n", len(all), s.name, s.logPath, strings.Join(all, "\n"))
}

// spawn starts bin with args in dir, logging to dir/<name>.log, and waits until addr answers PING.
func spawn(name, bin, dir, addr string, args ...string) (*server, error) {
	s, err := startProc(name, bin, dir, addr, args...)
	if err != nil {
		return nil, err
	}
	if err := waitUp(s, 90*time.Second); err != nil {
		s.stop()
		s.dumpLog(os.Stderr, 40)
		return nil, err
	}
	return s, nil
}

// startProc starts bin with args in dir, logging to dir/<name>.log, and returns at once; addr is
// where the process will serve.
func startProc(name, bin, dir, addr string, args ...string) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// If the test binary dies, take the server down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	return s, nil
}

// waitUp polls addr with PING until it answers +PONG (or NOAUTH: a server with a password is
// up), the process exits, or the deadline passes.
func waitUp(s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("%s exited before answering PING: %v", s.name, s.waitErr)
		}
		if last = ping(s.addr, time.Second); last == nil || last == errNoAuth {
			return nil
		}
		select {
		case <-s.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer PING on %s within %v: %v", s.name, s.addr, limit, last)
}

// errNoAuth is ping's error when the server wants a password.
var errNoAuth = errors.New("PING answered NOAUTH")

// ping opens a new connection and expects +PONG.
func ping(addr string, timeout time.Duration) error {
	c, err := Dial(addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Do("PING")
	if err != nil {
		return err
	}
	if r.String() == "-NOAUTH Authentication required." {
		return errNoAuth
	}
	if r.String() != "+PONG" {
		return fmt.Errorf("PING answered %s", r)
	}
	return nil
}

func startRedis(bin, dir, name string, extra ...string) (*server, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", dir}
	return spawn(name, bin, dir, addr, append(args, extra...)...)
}

func startPika(bin, dir, name string, extra ...string) (*server, error) {
	port, err := testproc.FreePort(10000, 20000) // pika-node also listens on port+10000 and port+20000
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	etcdArgs, err := testproc.EmbeddedEtcdArgs()
	if err != nil {
		return nil, err
	}
	args := append([]string{"start", "--port", strconv.Itoa(port), "--data", filepath.Join(dir, "data")}, etcdArgs...)
	return spawn(name, bin, dir, addr, append(args, extra...)...)
}

// usedMemory asks the server at addr for INFO memory's used_memory (the heap in use, in bytes).
func usedMemory(addr string) (int64, error) {
	c, err := Dial(addr, 5*time.Second)
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

// TestScripts replays every testdata/*.txt script against both servers.
func TestScripts(t *testing.T) {
	needServers(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			needServers(t)
			runScriptFile(t, f, false)
		})
	}
}

// TestScriptsPipelined replays every script with its commands pipelined.
func TestScriptsPipelined(t *testing.T) {
	needServers(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			needServers(t)
			runScriptFile(t, f, true)
		})
	}
}
