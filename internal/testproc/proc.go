package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process with its output (stdout and stderr) appended to
// a log file.
type Proc struct {
	Name    string // names the process in messages
	LogPath string // its output

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, set before done is closed
}

// ErrExited is wrapped by Running's error, and Poll gives up at once on it.
var ErrExited = errors.New("exited")

// Spawn starts cmd as name, its output appended to logPath (whose
// directory it creates), and returns at once. The process is killed when
// this process dies (Pdeathsig); otherwise the caller kills it.
func Spawn(name, logPath string, cmd *exec.Cmd) (*Proc, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // if the test binary dies, take the process with it
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Start is Spawn for the duration of test t: it fails t if the process
// cannot start, and at t's cleanup kills it and, if t failed, logs the
// last 40 lines of its log.
func Start(t testing.TB, name, logPath string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := Spawn(name, logPath, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.DumpLog(t, 40)
		}
	})
	return p
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited says whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process exited (nil for status 0), or nil while it runs.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Running is nil while the process runs; then an error wrapping ErrExited
// that says how it exited.
func (p *Proc) Running() error {
	if !p.Exited() {
		return nil
	}
	return fmt.Errorf("%s %w: %v", p.Name, ErrExited, p.err)
}

// Kill sends SIGKILL (kill -9) and waits until the process is gone.
func (p *Proc) Kill() {
	if !p.Exited() {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM and waits for the process to exit: a clean shutdown.
// If it has not exited within limit, Stop fails t (without stopping it)
// and kills the process. Stop returns how long the process took.
func (p *Proc) Stop(t testing.TB, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	if !p.Exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Errorf("%s did not stop in %s after SIGTERM", p.Name, limit)
		p.Kill()
	}
	return time.Since(begin)
}

// Log is the whole log so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail is the log's last lines under a header, for a failure message, or
// "" while the log is empty.
func (p *Proc) Tail(lines int) string {
	log := strings.TrimRight(p.Log(), "\n")
	if log == "" {
		return ""
	}
	all := strings.Split(log, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("---- last %d lines of %s (%s) ----\n%s\n----\n", len(all), p.Name, p.LogPath, strings.Join(all, "\n"))
}

// DumpLog logs the log's last lines to t.
func (p *Proc) DumpLog(t testing.TB, lines int) {
	t.Helper()
	if tail := p.Tail(lines); tail != "" {
		t.Log("\n" + tail)
	}
	p.KeepLog(t)
}

// KeepLog copies the whole log of a failed test's process out of the
// test's temporary directory, which the test removes, to
// $TMPDIR/pika-failed-logs/<test>/<name>.log, and says where: a rare
// failure (make chaos) is then read whole, not from the tail alone.
func (p *Proc) KeepLog(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(p.LogPath)
	if err != nil || len(b) == 0 {
		return
	}
	dir := filepath.Join(os.TempDir(), "pika-failed-logs", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	path := filepath.Join(dir, p.Name+".log")
	if err := os.WriteFile(path, b, 0o644); err == nil {
		t.Logf("the whole log of %s: %s", p.Name, path)
	}
}
