package compat

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
)

// Protocol-level hostile input. Where redis-server has a defined answer the reply bytes must be
// identical; in every case the server must keep answering PING on a new connection.

// sentinel is appended to inputs after which the connection stays open, so that the reader
// knows where the replies end without sleeping.
const sentinel = "*2\r\n$4\r\nECHO\r\n$8\r\nSENTINEL\r\n"
const sentinelReply = "$8\r\nSENTINEL\r\n"

// exchange writes input on a new connection and returns every byte the server sends: up to
// EOF when closes is set, else up to the sentinel's reply.
func exchange(addr string, input string, closes bool, byteByByte bool) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	if !closes {
		input += sentinel
	}
	if byteByByte {
		for i := 0; i < len(input); i++ {
			if _, err := c.Write([]byte{input[i]}); err != nil {
				return "", err
			}
		}
	} else if _, err := io.WriteString(c, input); err != nil {
		return "", err
	}
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if !closes && strings.HasSuffix(got.String(), sentinelReply) {
			return strings.TrimSuffix(got.String(), sentinelReply), nil
		}
		if err != nil {
			if closes && (errors.Is(err, io.EOF) || isReset(err)) {
				return got.String(), nil
			}
			return got.String(), err
		}
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

func requireAlive(t *testing.T, s *server, after string) {
	t.Helper()
	if err := testproc.Ping(s.addr, 5*time.Second); err != nil {
		t.Fatalf("%s does not answer PING on a new connection after %s: %v", s.Name, after, err)
	}
}

func TestWireProtocol(t *testing.T) {
	needServers(t)
	cases := []struct {
		name   string
		input  string
		closes bool // the server answers with an error and closes the connection
		slow   bool // write byte by byte
	}{
		{name: "bad bulk length", input: "*1\r\n$x\r\n", closes: true},
		{name: "empty bulk length", input: "*1\r\n$\r\n", closes: true},
		{name: "negative bulk length", input: "*1\r\n$-5\r\n", closes: true},
		{name: "bulk over 512MB", input: "*1\r\n$536870913\r\n", closes: true},
		{name: "bulk of 1GB", input: "*1\r\n$1073741824\r\n", closes: true},
		{name: "bulk length overflow", input: "*1\r\n$99999999999999999999\r\n", closes: true},
		{name: "multibulk over INT_MAX", input: "*2147483648\r\n", closes: true},
		{name: "multibulk not a number", input: "*abc\r\n", closes: true},
		{name: "multibulk empty count", input: "*\r\nPING\r\n", closes: true},
		{name: "expected dollar", input: "*2\r\nxx\r\n", closes: true},
		{name: "expected dollar after first arg", input: "*2\r\n$4\r\nECHO\r\n:5\r\n", closes: true},
		{name: "reply after good command", input: "PING\r\n*1\r\n$x\r\n", closes: true},
		{name: "inline unbalanced double quote", input: "SET \"a b\r\n", closes: true},
		{name: "inline unbalanced single quote", input: "ECHO 'abc\r\n", closes: true},
		{name: "inline text after closing quote", input: "ECHO \"abc\"def\r\n", closes: true},
		// Exactly one byte over redis's 64KB inline limit, so the server has read all of it when
		// it answers (unread input would turn the close into a reset that can eat the reply).
		{name: "inline too big", input: strings.Repeat("a", 64<<10+1), closes: true},
		{name: "inline PING", input: "PING\r\n"},
		{name: "inline lower case LF only", input: "ping\n"},
		{name: "inline empty lines", input: "  \r\n\r\n\nPING\r\n"},
		{name: "inline arguments", input: "SET wire:k \"hello world\"\r\nGET wire:k\r\nDEL wire:k\r\n"},
		{name: "inline escapes", input: "ECHO \"a\\x41b\\n\" 'it\\'s'\r\nECHO \"q\\\"q\"\r\n"},
		{name: "inline unknown command", input: "FOO bar baz\r\n"},
		{name: "inline wrong arity", input: "GET\r\n"},
		{name: "empty multibulk ignored", input: "*0\r\n*1\r\n$4\r\nPING\r\n"},
		{name: "null multibulk ignored", input: "*-1\r\nPING\r\n"},
		{name: "empty command name", input: "*1\r\n$0\r\n\r\n"},
		{name: "pipeline", input: strings.Repeat("*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n", 200) + "*1\r\n$4\r\nPING\r\n"},
		{name: "binary bulk", input: "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\x00\xffb\r\n"},
		{name: "byte by byte", input: "*3\r\n$3\r\nSET\r\n$6\r\nwire:b\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$6\r\nwire:b\r\nPING\r\n", slow: true},
		{name: "multibulk and inline mixed", input: "*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			needServers(t)
			want, err := exchange(redisSrv.addr, tc.input, tc.closes, tc.slow)
			if err != nil {
				t.Fatalf("redis: %v (got %q)", err, want)
			}
			got, err := exchange(pikaSrv.addr, tc.input, tc.closes, tc.slow)
			if err != nil {
				t.Errorf("pika: %v (got %q, redis sent %q)", err, got, want)
			} else if got != want {
				t.Errorf("input %q:\nredis=%q\npika =%q", tc.input, want, got)
			}
			requireAlive(t, pikaSrv, tc.name)
		})
	}
}

// TestWireIncomplete sends requests that redis accepts and waits on (a huge multibulk count, a
// 512MB bulk header) and hangs up: the server must survive and not allocate ahead.
func TestWireIncomplete(t *testing.T) {
	needServers(t)
	for _, input := range []string{"*1048577\r\n", "*1048577\r\n$4\r\nPING\r\n", "*1\r\n$536870912\r\n", "*2\r\n$3\r\nGET\r\n$536870912\r\nabc"} {
		for _, s := range []*server{redisSrv, pikaSrv} {
			before, _ := vmRSS(s.Pid())
			c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, input); err != nil {
				t.Fatalf("%s: write %q: %v", s.Name, input, err)
			}
			// A PING on a second connection is answered while the first request is incomplete.
			requireAlive(t, s, "an incomplete request "+strings.ReplaceAll(input, "\r\n", " "))
			after, _ := vmRSS(s.Pid())
			c.Close()
			if after-before > 256<<20 {
				t.Errorf("%s: RSS grew by %d MB after an incomplete request %q", s.Name, (after-before)>>20, input)
			}
			requireAlive(t, s, "closing an incomplete request")
		}
	}
}

// stream writes up to total bytes (after prefix) in 1MB chunks and reports how many bytes were
// written before the server closed the connection, and what the server sent back.
func stream(t *testing.T, addr, prefix string, chunk []byte, total int64) (sent int64, closed bool, reply string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	replyc := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := c.Read(buf)
			if b.Len() < 4096 {
				b.Write(buf[:n])
			}
			if err != nil {
				replyc <- b.String()
				return
			}
		}
	}()
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, prefix); err != nil {
		return 0, true, <-replyc
	}
	for sent < total {
		// The deadline is per chunk: a write that waits 30 s is a stall
		// (the server stopped reading without closing). One deadline for
		// the whole stream timed out a slow but flowing stream (986 MB in
		// 30 s under -race on a loaded CI machine).
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		n, err := c.Write(chunk)
		sent += int64(n)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("write stalled for 30s after %d MB without the server closing the connection", sent>>20)
				c.Close()
				return sent, false, <-replyc
			}
			c.Close()
			return sent, true, <-replyc
		}
	}
	c.Close()
	return sent, false, <-replyc
}

// TestWireHugeQuery streams requests larger than 1GB; the server must hang up before it has
// taken ~1.1GB and stay up.
func TestWireHugeQuery(t *testing.T) {
	needServers(t)
	const limit = 1100 << 20
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	cases := []struct {
		name     string
		prefix   string
		chunk    []byte
		pikaOnly bool // redis 7 accepts this input (its limits are different), so only pika-node is held to the bound
	}{
		// The error replies are not compared here: the server closes with unread input, so the
		// kernel resets the connection and may drop the reply. TestWireProtocol compares them.
		{name: "inline line without newline", prefix: "", chunk: chunk},
		{name: "600MB bulk", prefix: "*1\r\n$629145600\r\n", chunk: chunk},
		// 2000 arguments of 1MB each: 2GB in one command, every part within the protocol limits.
		{name: "2GB multibulk of 1MB args", prefix: "*2000\r\n$4\r\nECHO\r\n", chunk: []byte("$1048576\r\n" + strings.Repeat("b", 1<<20) + "\r\n"), pikaOnly: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			needServers(t)
			if !tc.pikaOnly {
				sent, closed, reply := stream(t, redisSrv.addr, tc.prefix, tc.chunk, limit)
				if !closed {
					t.Fatalf("harness: redis did not close after %d MB", sent>>20)
				}
				t.Logf("redis closed after %d MB: %q", sent>>20, clip(reply))
			} else if os.Getenv("COMPAT_TARGET") == "redis" {
				t.Skip("redis-server accepts this input; the bound is pika-node's")
			}
			start := time.Now()
			sent, closed, reply := stream(t, pikaSrv.addr, tc.prefix, tc.chunk, limit)
			t.Logf("pika: closed=%v after %d MB in %v: %q", closed, sent>>20, time.Since(start).Round(time.Millisecond), clip(reply))
			if !closed {
				t.Errorf("pika-node took %d MB of one request without closing the connection", sent>>20)
			}
			requireAlive(t, pikaSrv, tc.name)
		})
	}
}

// TestWireSlowReader pipelines GETs of a 1MB value without reading the replies. pika-node must
// bound the memory it spends on that client: either cut the client off (output buffer limit)
// or stop reading its input (backpressure). Other clients keep being served meanwhile.
// redis-server's default output buffer for normal clients is unlimited, so this is pika-only
// (with COMPAT_TARGET=redis the second redis-server runs with a 256MB limit).
//
// The bound is checked on the server's heap (INFO memory used_memory), not its RSS: the
// test binary of pika-node is built with the race detector, whose shadow memory makes RSS
// grow about five times what the heap holds (a CI run saw 585 MB of RSS for less than the
// 128 MB output limit).
func TestWireSlowReader(t *testing.T) {
	needServers(t)
	s := pikaSrv
	c, err := Dial(s.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	value := strings.Repeat("v", 1<<20)
	if r, err := c.Do("SET", "wire:big", value); err != nil || r.String() != "+OK" {
		t.Fatalf("SET: %v %s", err, r)
	}
	baseRSS, err := vmRSS(s.Pid())
	if err != nil {
		t.Fatal(err)
	}
	base, err := usedMemory(s.addr)
	if err != nil {
		t.Fatal(err)
	}

	slow, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	const gets = 1500 // 1.5GB of replies
	req := bytes.Repeat(EncodeCommand("GET", "wire:big"), gets)
	_ = slow.SetWriteDeadline(time.Now().Add(5 * time.Second))
	written, werr := slow.Write(req)
	t.Logf("wrote %d of %d request bytes (%v)", written, len(req), werr)

	// Watch pika's memory for a while; other clients must be served all along.
	var peak, peakRSS int64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if rss, err := vmRSS(s.Pid()); err == nil && rss > peakRSS {
			peakRSS = rss
		}
		if used, err := usedMemory(s.addr); err == nil && used > peak {
			peak = used
		}
		// Another connection is served (within a bound generous enough for a
		// loaded CI machine: this checks that nothing blocks, not speed).
		if err := testproc.Ping(s.addr, 5*time.Second); err != nil {
			t.Fatalf("PING on another connection failed while a client does not read: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	growth := peak - base

	// Was the slow client cut off? Read at most 64MB: the kernel buffers hold a few MB, so a
	// cut-off connection ends (EOF or reset) before that; a throttled one delivers it all.
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, rerr := io.Copy(io.Discard, io.LimitReader(slow, 64<<20))
	var ne net.Error
	timedOut := errors.As(rerr, &ne) && ne.Timeout()
	cut := !timedOut && n < 64<<20
	t.Logf("heap grew by %d MB, RSS by %d MB (peaks); slow client read %d MB then %v; cut off=%v",
		growth>>20, (peakRSS-baseRSS)>>20, n>>20, rerr, cut)
	if !cut && growth > 512<<20 {
		t.Errorf("pika-node buffered %d MB of replies for a client that does not read (no output bound, no backpressure)", growth>>20)
	}
	slow.Close()
	requireAlive(t, s, "a slow reader")
	if r, err := c.Do("DEL", "wire:big"); err != nil {
		t.Errorf("DEL: %v %s", err, r)
	}
}
