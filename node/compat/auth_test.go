package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authPair is the servers started with --requirepass authPassword (pika-node: db0's password).
func authPair(t *testing.T) pair {
	t.Helper()
	r, p := authServers(t)
	return pair{redis: r, pika: p, password: authPassword}
}

// TestAuthScripts replays testdata/auth/*.txt against the auth pair, one command at a time
// and pipelined, each script on new (unauthenticated) connections.
func TestAuthScripts(t *testing.T) {
	authPair(t) // fail here, once, if the pair cannot start
	files, err := filepath.Glob(filepath.Join("testdata", "auth", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata/auth: %v", err)
	}
	for _, pipelined := range []bool{false, true} {
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".txt")
			if pipelined {
				name += "/pipelined"
			}
			t.Run(name, func(t *testing.T) {
				runScript(t, f, pipelined, authPair(t))
			})
		}
	}
}

// exchangeAll runs cmds on a new connection to s and returns the replies (a connection error
// fails the test).
func exchangeAll(t *testing.T, s *server, cmds ...[]string) []Reply {
	t.Helper()
	c, err := Dial(s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	defer c.Close()
	var out []Reply
	for _, cmd := range cmds {
		r, err := c.Do(cmd...)
		if err != nil {
			t.Fatalf("%s: %s: %v", s.Name, strings.Join(cmd, " "), err)
		}
		out = append(out, r)
	}
	return out
}

// SELECT before AUTH is where pika-node differs from Redis by design: a password closes a
// table, not the connection, so SELECT is allowed (and picks a table that may be closed or
// open) where Redis answers NOAUTH. Everything else on the selected table is still refused.
func TestAuthSelect(t *testing.T) {
	p := authPair(t)
	cmds := [][]string{
		{"SELECT", "0"},
		{"SELECT", "1"},
		{"GET", "k"},
		{"AUTH", authPassword},
		{"SELECT", "0"},
		{"GET", "k"},
	}
	r := exchangeAll(t, p.redis, cmds...)
	k := exchangeAll(t, p.pika, cmds...)
	want := [2][]string{ // redis, pika-node
		{"-NOAUTH Authentication required.", "-NOAUTH Authentication required.", "-NOAUTH Authentication required.", "+OK", "+OK", "(nil)"},
		{"+OK", "-ERR DB index is out of range", "-NOAUTH Authentication required.", "+OK", "+OK", "(nil)"},
	}
	if os.Getenv("COMPAT_TARGET") == "redis" {
		want[1] = want[0]
	}
	for i, cmd := range cmds {
		if r[i].String() != want[0][i] || k[i].String() != want[1][i] {
			t.Errorf("%s: redis=%s pika=%s, want redis=%s pika=%s", strings.Join(cmd, " "), r[i], k[i], want[0][i], want[1][i])
		}
	}
}

// HELLO 2 and 3 with AUTH answer the same map on both servers (a flat array in RESP2, a map in
// RESP3) but for the connection id and the version.
func TestAuthHello(t *testing.T) {
	p := authPair(t)
	for _, cmd := range [][]string{
		{"HELLO", "2", "AUTH", "default", authPassword},
		{"HELLO", "2", "AUTH", "default", authPassword, "SETNAME", "conn-name"},
		{"HELLO", "3", "AUTH", "default", authPassword},
		{"HELLO", "3", "AUTH", "default", authPassword, "SETNAME", "conn-name"},
	} {
		var maps [2]Reply
		for i, s := range []*server{p.redis, p.pika} {
			maps[i] = exchangeAll(t, s, cmd)[0]
		}
		r, k := maps[0], maps[1]
		want := byte('*')
		if cmd[1] == "3" {
			want = '%'
		}
		if r.Kind != want || k.Kind != want || len(r.Elems) != len(k.Elems) || len(r.Elems)%2 != 0 {
			t.Fatalf("%s: redis=%s pika=%s", strings.Join(cmd, " "), r, k)
		}
		for i := 0; i < len(r.Elems); i += 2 {
			key := r.Elems[i].String()
			if k.Elems[i].String() != key {
				t.Errorf("%s: field %d is %s on redis, %s on pika", strings.Join(cmd, " "), i/2, key, k.Elems[i])
				continue
			}
			rv, kv := r.Elems[i+1], k.Elems[i+1]
			switch key {
			case `"id"`:
				if rv.Kind != ':' || kv.Kind != ':' || kv.Int <= 0 {
					t.Errorf("%s: id redis=%s pika=%s", strings.Join(cmd, " "), rv, kv)
				}
			case `"version"`:
				if rv.Kind != '$' || kv.Kind != '$' || kv.Str == "" {
					t.Errorf("%s: version redis=%s pika=%s", strings.Join(cmd, " "), rv, kv)
				}
			default:
				if rv.String() != kv.String() {
					t.Errorf("%s: %s redis=%s pika=%s", strings.Join(cmd, " "), key, rv, kv)
				}
			}
		}
	}
}

// Before AUTH a command may have at most 10 arguments of 16 KB each (Redis 7): past either,
// the reply is Redis's protocol error and the connection is closed, so a client without the
// password cannot make the node hold more than a few hundred KB. Within them, or after AUTH,
// the command runs (or answers NOAUTH).
func TestAuthUnauthenticatedBounds(t *testing.T) {
	p := authPair(t)
	eleven := []string{"DEL", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	big := strings.Repeat("x", 16385)
	for _, s := range []*server{p.redis, p.pika} {
		t.Run(s.Name, func(t *testing.T) {
			for _, tc := range []struct {
				cmd  []string
				want string
			}{
				{eleven, "-ERR Protocol error: unauthenticated multibulk length"},
				{[]string{"GET", big}, "-ERR Protocol error: unauthenticated bulk length"},
			} {
				c, err := Dial(s.addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				r, err := c.Do(tc.cmd...)
				if err != nil || r.String() != tc.want {
					t.Errorf("%s ... (%d args): %s, %v; want %s", tc.cmd[0], len(tc.cmd), r, err, tc.want)
				}
				if r, err := c.Do("PING"); err == nil {
					t.Errorf("after the protocol error the connection still answers: %s", r)
				}
				c.Close()
			}
			got := exchangeAll(t, s,
				eleven[:10],
				[]string{"GET", big[:16384]},
				[]string{"AUTH", authPassword},
				eleven,
				[]string{"GET", big},
			)
			want := []string{"-NOAUTH Authentication required.", "-NOAUTH Authentication required.", "+OK", ":0", "(nil)"}
			for i, r := range got {
				if r.String() != want[i] {
					t.Errorf("reply %d: %s, want %s", i, r, want[i])
				}
			}
		})
	}
}
