package compat

import (
	"fmt"
	"strings"
	"testing"
)

// multiStep is one command of a two-connection transaction case: conn 0 or 1.
type multiStep struct {
	conn int
	cmd  string
}

// TestWatchOtherClients runs WATCH cases that need a second connection (the writer) on both
// servers, in RESP2 and RESP3, and compares every reply: EXEC is aborted (nil) by another
// client's write, delete, expire or flush of a watched key, even with the same value, and runs
// after writes of other keys.
func TestWatchOtherClients(t *testing.T) {
	needServers(t)
	cases := map[string][]multiStep{
		"write": {{0, "SET k v"}, {0, "WATCH k"}, {1, "SET k v"}, {0, "MULTI"}, {0, "GET k"}, {0, "EXEC"}},
		"other key": {{0, "WATCH k"}, {1, "SET other v"}, {0, "MULTI"}, {0, "SET k mine"}, {0, "EXEC"},
			{1, "GET k"}},
		"delete": {{0, "SET k v"}, {0, "WATCH k"}, {1, "DEL k"}, {0, "MULTI"}, {0, "SET k mine"}, {0, "EXEC"},
			{1, "GET k"}},
		"expire set": {{0, "SET k v"}, {0, "WATCH k"}, {1, "EXPIRE k 100"}, {0, "MULTI"}, {0, "GET k"}, {0, "EXEC"}},
		"member":     {{0, "HSET h f 1"}, {0, "WATCH h"}, {1, "HSET h f 1"}, {0, "MULTI"}, {0, "HGET h f"}, {0, "EXEC"}},
		"flush":      {{0, "SET k v"}, {0, "WATCH k"}, {1, "FLUSHDB"}, {0, "MULTI"}, {0, "PING"}, {0, "EXEC"}},
		"two keys, one written": {{0, "WATCH a b"}, {1, "INCR b"}, {0, "MULTI"}, {0, "INCR a"}, {0, "EXEC"},
			{1, "MGET a b"}},
		"writer's block": {{0, "WATCH k"}, {1, "MULTI"}, {1, "SET k w"}, {1, "EXEC"}, {0, "MULTI"}, {0, "GET k"},
			{0, "EXEC"}},
		"select": {{0, "SELECT 1"}, {0, "WATCH k"}, {1, "SET k db0"}, {0, "MULTI"}, {0, "GET k"}, {0, "EXEC"},
			{1, "SELECT 1"}, {1, "SET k db1"}, {0, "WATCH k"}, {1, "SET k again"}, {0, "MULTI"}, {0, "GET k"},
			{0, "EXEC"}},
	}
	for _, proto := range protocols {
		for name, steps := range cases {
			t.Run(proto.name+"/"+name, func(t *testing.T) {
				p := mainPair()
				var got [2][]string
				for i, srv := range []*server{p.redis, p.pika} {
					if err := p.reset(srv); err != nil {
						t.Fatal(err)
					}
					conns := [2]*side{{srv: srv, resp3: proto.resp3}, {srv: srv, resp3: proto.resp3}}
					for _, c := range conns {
						defer c.close()
					}
					for _, st := range steps {
						r, err := conns[st.conn].do(strings.Fields(st.cmd)...)
						if err != nil {
							t.Fatalf("%s: conn %d: %s: %v", srv.Name, st.conn, st.cmd, err)
						}
						got[i] = append(got[i], fmt.Sprintf("conn %d: %s: %s", st.conn, st.cmd, r))
					}
				}
				for j := range steps {
					if got[0][j] != got[1][j] {
						t.Errorf("redis %s\n         pika  %s", got[0][j], got[1][j])
					}
				}
			})
		}
	}
}

// TestMultiIsolated checks that no other client sees part of a block: while one connection
// runs MULTI INCR a ... INCR z EXEC blocks (keys in different slots), another reads every key
// with MGET; every read must find all counters equal.
func TestMultiIsolated(t *testing.T) {
	needServers(t)
	p := mainPair()
	if err := p.reset(p.pika); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	writer := &side{srv: p.pika}
	defer writer.close()
	done := make(chan error, 1)
	const blocks = 300
	go func() {
		cmds := [][]string{{"MULTI"}}
		for _, k := range keys {
			cmds = append(cmds, []string{"INCR", k})
		}
		cmds = append(cmds, []string{"EXEC"})
		for range blocks {
			reps, err := writer.doPipeline(cmds)
			if err == nil && reps[len(reps)-1].Kind != '*' {
				err = fmt.Errorf("EXEC answered %s", reps[len(reps)-1])
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reader := &side{srv: p.pika}
	defer reader.close()
	reads := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if reads == 0 {
				t.Fatal("no read ran while the blocks ran")
			}
			t.Logf("%d reads during %d blocks", reads, blocks)
			return
		default:
		}
		r, err := reader.do(append([]string{"MGET"}, keys...)...)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		for _, e := range r.Elems[1:] {
			if e.Str != r.Elems[0].Str {
				t.Fatalf("a read saw part of a block: %s", r)
			}
		}
	}
}
