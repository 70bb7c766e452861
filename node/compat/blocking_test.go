package compat

import (
	"fmt"
	"testing"
	"time"
)

// blockingSides runs fn against redis-server and pika-node, each a
// subtest.
func blockingSides(t *testing.T, fn func(t *testing.T, srv *server)) {
	needServers(t)
	for _, srv := range []*server{redisSrv, pikaSrv} {
		t.Run(srv.Name, func(t *testing.T) { fn(t, srv) })
	}
}

func dialT(t *testing.T, srv *server) *Conn {
	t.Helper()
	c, err := Dial(srv.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustDo(t *testing.T, c *Conn, want string, args ...string) {
	t.Helper()
	r, err := c.Do(args...)
	if err != nil || r.String() != want {
		t.Fatalf("%q: %s, %v; want %s", args, r, err, want)
	}
}

// CLIENT UNBLOCK ends a wait as a timeout (a null) or with -UNBLOCKED,
// and answers 0 for a client that does not wait.
func TestClientUnblock(t *testing.T) {
	blockingSides(t, func(t *testing.T, srv *server) {
		waiter, other := dialT(t, srv), dialT(t, srv)
		mustDo(t, other, "+OK", "FLUSHALL")
		id, err := waiter.Do("CLIENT", "ID")
		if err != nil {
			t.Fatal(err)
		}
		sid := fmt.Sprint(id.Int)
		for _, tc := range []struct{ how, want string }{{"TIMEOUT", "(nil-array)"}, {"ERROR", "-UNBLOCKED client unblocked via CLIENT UNBLOCK"}, {"", "(nil-array)"}} {
			if err := waiter.Send("BLPOP", "unblock-me", "0"); err != nil {
				t.Fatal(err)
			}
			if err := awaitBlocked(srv, 1); err != nil {
				t.Fatal(err)
			}
			args := []string{"CLIENT", "UNBLOCK", sid}
			if tc.how != "" {
				args = append(args, tc.how)
			}
			mustDo(t, other, ":1", args...)
			r, err := waiter.Read()
			if err != nil || r.String() != tc.want {
				t.Fatalf("the waiter, unblocked %s: %s, %v; want %s", tc.how, r, err, tc.want)
			}
		}
		mustDo(t, other, ":0", "CLIENT", "UNBLOCK", sid)
		if err := awaitBlocked(srv, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// A waiter that goes away takes nothing: the element pushed after it left
// stays in the list.
func TestBlockedClientGone(t *testing.T) {
	blockingSides(t, func(t *testing.T, srv *server) {
		waiter, other := dialT(t, srv), dialT(t, srv)
		mustDo(t, other, "+OK", "FLUSHALL")
		if err := waiter.Send("BLPOP", "gone", "0"); err != nil {
			t.Fatal(err)
		}
		if err := awaitBlocked(srv, 1); err != nil {
			t.Fatal(err)
		}
		waiter.Close()
		if err := awaitBlocked(srv, 0); err != nil {
			t.Fatal(err)
		}
		mustDo(t, other, ":1", "RPUSH", "gone", "job")
		mustDo(t, other, ":1", "LLEN", "gone")
	})
}

// Commands pipelined behind a blocking command wait for it and then run,
// in order.
func TestBlockedPipeline(t *testing.T) {
	blockingSides(t, func(t *testing.T, srv *server) {
		waiter, other := dialT(t, srv), dialT(t, srv)
		mustDo(t, other, "+OK", "FLUSHALL")
		if _, err := waiter.nc.Write(append(EncodeCommand("BLPOP", "pipe", "0"), append(EncodeCommand("LLEN", "pipe"), EncodeCommand("PING")...)...)); err != nil {
			t.Fatal(err)
		}
		if err := awaitBlocked(srv, 1); err != nil {
			t.Fatal(err)
		}
		mustDo(t, other, ":2", "RPUSH", "pipe", "a", "b")
		for _, want := range []string{`["pipe" "a"]`, ":1", "+PONG"} {
			r, err := waiter.Read()
			if err != nil || r.String() != want {
				t.Fatalf("pipelined after BLPOP: %s, %v; want %s", r, err, want)
			}
		}
	})
}
