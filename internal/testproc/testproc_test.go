package testproc

import (
	"bufio"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcLifecycle(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "sub", "sh.log")
	// Says hello, and on SIGTERM goodbye before it exits with status 3.
	p := Start(t, "sh", log, exec.Command("sh", "-c", `trap 'echo goodbye; exit 3' TERM; echo hello; while :; do sleep 0.05; done`))
	WaitFor(t, "hello in the log", 10*time.Second, func() bool { return strings.Contains(p.Log(), "hello") })
	if p.Exited() || p.Running() != nil || p.Err() != nil {
		t.Fatalf("running: exited %v, %v, %v", p.Exited(), p.Running(), p.Err())
	}
	if tail := p.Tail(1); !strings.Contains(tail, "hello") || !strings.Contains(tail, "last 1 lines of sh") {
		t.Errorf("Tail(1) = %q", tail)
	}
	p.Stop(t, 10*time.Second)
	if !p.Exited() || !strings.Contains(p.Log(), "goodbye") {
		t.Fatalf("after Stop: exited %v, log %q", p.Exited(), p.Log())
	}
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("Err() = %v, want exit status 3", p.Err())
	}
	if err := p.Running(); !errors.Is(err, ErrExited) {
		t.Errorf("Running() = %v, want ErrExited", err)
	}
	p.Kill() // no-op once exited

	// Kill: SIGKILL, which sh cannot trap.
	q := Start(t, "sleep", filepath.Join(dir, "sleep.log"), exec.Command("sh", "-c", `trap '' TERM; exec sleep 60`))
	q.Kill()
	<-q.Done()
	if !strings.Contains(q.Err().Error(), "killed") {
		t.Errorf("Err() after Kill = %v", q.Err())
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if err := Poll(10*time.Second, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Poll = %v after %d tries", err, n)
	}
	begin := time.Now()
	err := Poll(time.Minute, func() error { return ErrExited })
	if !errors.Is(err, ErrExited) || time.Since(begin) > time.Second {
		t.Fatalf("Poll on ErrExited = %v after %v, want at once", err, time.Since(begin))
	}
	err = Poll(50*time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "never") {
		t.Fatalf("Poll past its limit = %v", err)
	}
}

func TestFreePortAndPing(t *testing.T) {
	p, err := FreePort(10000, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if p < portLow || p+20000 > portHigh {
		t.Fatalf("FreePort(10000, 20000) = %d: out of [%d, %d]", p, portLow, portHigh)
	}
	l, err := net.Listen("tcp", Loopback(Port(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	replies := []string{"+PONG\r\n", "-NOAUTH Authentication required.\r\n", "-ERR no\r\n"}
	go func() {
		for _, r := range replies {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte(r))
			c.Close()
		}
	}()
	if err := Ping(l.Addr().String(), 5*time.Second); err != nil {
		t.Errorf("Ping +PONG: %v", err)
	}
	if err := Ping(l.Addr().String(), 5*time.Second); err != ErrNoAuth {
		t.Errorf("Ping NOAUTH: %v", err)
	}
	if err := Ping(l.Addr().String(), 5*time.Second); err == nil {
		t.Errorf("Ping -ERR: nil")
	}
}
