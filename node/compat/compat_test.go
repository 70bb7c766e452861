package compat

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/internal/testproc"
)

// The two servers every test talks to. TestMain starts them once for the whole package.
var (
	redisSrv *server // the oracle: a real redis-server
	pikaSrv  *server // the system under test (a second redis-server with COMPAT_TARGET=redis)
	setupErr error   // why the servers could not be started; every test fails with it
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
	setupErr = startServers(tmp)
	defer func() {
		if pikaSrv != nil {
			pikaSrv.stop()
		}
		if redisSrv != nil {
			redisSrv.stop()
		}
	}()
	code := m.Run()
	if code != 0 && pikaSrv != nil {
		pikaSrv.dumpLog(os.Stderr, 60)
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
	pikaSrv, err = startPika(bin, filepath.Join(tmp, "pika"))
	return err
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
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	fmt.Fprintf(w, "---- last %d lines of %s log (%s) ----\n%s\n----\n", len(all), s.name, s.logPath, strings.Join(all, "\n"))
}

// spawn starts bin with args in dir, logging to dir/<name>.log, and waits until addr answers PING.
func spawn(name, bin, dir, addr string, args ...string) (*server, error) {
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
	if err := waitPing(s, 90*time.Second); err != nil {
		s.stop()
		s.dumpLog(os.Stderr, 40)
		return nil, err
	}
	return s, nil
}

// waitPing polls addr with PING until it answers +PONG, the process exits, or the deadline passes.
func waitPing(s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("%s exited before answering PING: %v", s.name, s.waitErr)
		}
		if last = ping(s.addr, time.Second); last == nil {
			return nil
		}
		select {
		case <-s.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer PING on %s within %v: %v", s.name, s.addr, limit, last)
}

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

func startPika(bin, dir string) (*server, error) {
	port, err := testproc.FreePort(10000, 20000) // pika-node also listens on port+10000 and port+20000
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	etcdArgs, err := testproc.EmbeddedEtcdArgs()
	if err != nil {
		return nil, err
	}
	return spawn("pika", bin, dir, addr, append([]string{"start", "--port", strconv.Itoa(port), "--data", filepath.Join(dir, "data")}, etcdArgs...)...)
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
