package testproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServerBin is the redis-server the tests compare with: the first on
// PATH (redis-server 7.0, as the project's reference).
const RedisServerBin = "redis-server"

// Redis is a throw-away redis-server process with one RESP2 connection to
// it, for tests that compare this project's behaviour with Redis'. Its
// methods are for one goroutine at a time.
type Redis struct {
	*Proc
	Port int
	Dir  string // its --dir and its log (Dir/redis.log)

	conn net.Conn
	r    *bufio.Reader
}

// StartRedis starts redis-server for the duration of test t (see Start)
// on a free loopback port, without persistence, with any further
// arguments, and waits (30 s at most) until it answers PING. It fails t,
// never skips it, when redis-server is not on PATH: a comparison that did
// not run must not pass. The server runs with LC_ALL=C, so that Lua's
// table.sort compares strings bytewise there as gopher-lua does.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath(RedisServerBin)
	if err != nil {
		t.Fatalf("the test compares with a real redis-server, which is not on PATH: %v", err)
	}
	dir := t.TempDir()
	port := Port(t)
	cmd := exec.Command(bin, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	r := &Redis{Proc: Start(t, "redis-server", filepath.Join(dir, "redis.log"), cmd), Port: port, Dir: dir}
	err = Poll(30*time.Second, func() error {
		if err := r.Running(); err != nil {
			return err
		}
		return Ping(r.Addr(), 2*time.Second)
	})
	if err != nil {
		t.Fatalf("redis-server answering PING: %v", err)
	}
	if r.conn, err = net.DialTimeout("tcp", r.Addr(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.r = bufio.NewReader(r.conn)
	t.Cleanup(func() { r.conn.Close() })
	return r
}

// Addr is its address.
func (r *Redis) Addr() string { return Loopback(r.Port) }

// StatusReply is a RESP simple string reply (+OK).
type StatusReply string

// ErrorReply is a RESP error reply (-ERR ...), as a value: Do's error is
// for the connection.
type ErrorReply string

// Do sends a command on the connection and reads its RESP2 reply (30 s at
// most): an int64, a string (a bulk string), nil (a null bulk or null
// array), a StatusReply, an ErrorReply or a []any of these.
func (r *Redis) Do(args ...string) (any, error) {
	if err := r.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(r.conn, b.String()); err != nil {
		return nil, err
	}
	return readReply(r.r)
}

// Eval runs script with EVAL and no keys in a fresh Lua VM (SCRIPT FLUSH
// first: nothing a script changes in the VM reaches the next one) and
// returns its reply as Do does.
func (r *Redis) Eval(script string) (any, error) {
	reply, err := r.Do("SCRIPT", "FLUSH")
	if err != nil {
		return nil, err
	}
	if reply != StatusReply("OK") {
		return nil, fmt.Errorf("SCRIPT FLUSH answered %#v", reply)
	}
	return r.Do("EVAL", script, "0")
}

// readReply reads one RESP2 reply (see Do).
func readReply(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("empty RESP line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return StatusReply(body), nil
	case '-':
		return ErrorReply(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		elems := make([]any, n)
		for i := range elems {
			if elems[i], err = readReply(br); err != nil {
				return nil, err
			}
		}
		return elems, nil
	}
	return nil, fmt.Errorf("bad RESP line %q", line)
}
