package script

import (
	"context"
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/resp"
)

// FuzzScript compiles and runs hostile script bodies (EVAL's argument is
// a client's): each must compile or answer an error, and run to a reply,
// an error reply or the stop of its deadline, never panic the process.
func FuzzScript(f *testing.F) {
	for _, seed := range []string{
		"return 1", "return {1, {2, {3}}}", "error('x')", "return redis.call('get', KEYS[1])",
		"local t = setmetatable({}, {__index = function(t, k) return k end}) return t.x",
		"return cjson.decode('[1,2')", "return struct.pack('>i', 1)", "return pcall(error)",
		"#!lua flags=no-writes\nreturn 1", "return string.format('%d', 'x')", "while true do end",
		"return {err = 1}", "return {ok = {}}", "return {double = 'x'}", "local a = ... return a",
		"return coroutine.wrap(function() coroutine.yield(1) end)()", "return loadstring('return 1')()",
	} {
		f.Add(seed)
	}
	r := NewRunner()
	f.Fuzz(func(t *testing.T, body string) {
		s, err := Compile([]byte(body))
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("a compile error that is not a reply: %T %v", err, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var out resp.Reply
		call := func([][]byte, bool) ([]byte, error) { return []byte("*2\r\n+OK\r\n$1\r\nx\r\n"), nil }
		if err := r.Run(s, &Env{Name: s.SHA, Call: call, Ctx: ctx}, &out); err == nil && len(out.B) == 0 {
			t.Fatal("a run with no error and no reply")
		}
	})
}
