package script

import (
	"errors"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
)

// The Lua side alone, with a fake command runner; the differential suite
// (node/compat testdata/scripting.txt, functions.txt) compares everything
// a client sees with redis-server.

// runBody runs body with the given Call and returns the reply (RESP2).
func runBody(t *testing.T, r *Runner, body string, call func(args [][]byte, resp3 bool) ([]byte, error)) (string, error) {
	t.Helper()
	s, err := Compile([]byte(body))
	if err != nil {
		t.Fatalf("compile %q: %v", body, err)
	}
	var out resp.Reply
	err = r.Run(s, &Env{Name: s.SHA, Keys: [][]byte{[]byte("k1")}, Args: [][]byte{[]byte("a1")}, Call: call}, &out)
	return string(out.B), err
}

func TestConversions(t *testing.T) {
	r := NewRunner()
	echo := func(reply string) func([][]byte, bool) ([]byte, error) {
		return func([][]byte, bool) ([]byte, error) { return []byte(reply), nil }
	}
	for _, tc := range []struct{ body, reply, want string }{
		{"return 3.7", "", ":3\r\n"},
		{"return {1, 'a', {ok='x'}, {err='E y'}, false, true}", "", "*6\r\n:1\r\n$1\r\na\r\n+x\r\n-E y\r\n$-1\r\n:1\r\n"},
		{"return {1, nil, 3}", "", "*1\r\n:1\r\n"},
		{"return redis.call('x')", "*3\r\n:1\r\n$-1\r\n$2\r\nab\r\n", "*3\r\n:1\r\n$-1\r\n$2\r\nab\r\n"},
		{"return type(redis.call('x'))", "+OK\r\n", "$5\r\ntable\r\n"},
		{"return redis.call('x').ok", "+OK\r\n", "$2\r\nOK\r\n"},
		{"return redis.pcall('x')", "-WRONGTYPE bad\r\n", "-WRONGTYPE bad\r\n"},
		{"local ok, e = pcall(redis.call, 'x'); return e", "-ERR boom\r\n", "$8\r\nERR boom\r\n"},
		{"redis.setresp(3); return redis.call('x').double", ",1.5\r\n", ":1\r\n"},
		{"redis.setresp(3); return redis.call('x').map.f", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "$1\r\nv\r\n"},
		{"redis.setresp(3); return redis.call('x') == nil", "_\r\n", ":1\r\n"},
		{"return {KEYS[1], ARGV[1]}", "", "*2\r\n$2\r\nk1\r\n$2\r\na1\r\n"},
	} {
		got, err := runBody(t, r, tc.body, echo(tc.reply))
		if err != nil || got != tc.want {
			t.Errorf("%s (reply %q): %q, %v; want %q", tc.body, tc.reply, got, err, tc.want)
		}
	}
}

func TestErrorsAndSandbox(t *testing.T) {
	r := NewRunner()
	none := func([][]byte, bool) ([]byte, error) { return []byte("+OK\r\n"), nil }
	for _, tc := range []struct{ body, want string }{
		{"error('boom')", "-ERR user_script:1: boom script: "},
		{"\n\nerror({err='MY code'})", "-MY code script: "},
		{"x = 1", "-ERR user_script:1: Attempt to modify a readonly table script: "},
		{"return nope", "-ERR user_script:1: Script attempted to access nonexistent global variable 'nope' script: "},
		{"return os.time()", "-ERR user_script:1: Script attempted to access nonexistent global variable 'os' script: "},
		{"local x = nil + 1", "-ERR user_script:1: attempt to perform arithmetic on a nil value script: "},
		{"redis.call = nil", "-ERR user_script:1: Attempt to modify a readonly table script: "},
	} {
		got, err := runBody(t, r, tc.body, none)
		if err != nil || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, %v; want %q...", tc.body, got, err, tc.want)
		}
	}
	// A state that served a script that tried to change it serves the
	// next one unchanged.
	if got, _ := runBody(t, r, "return type(redis.call)", none); got != "$8\r\nfunction\r\n" {
		t.Errorf("redis.call after an attempt to replace it: %q", got)
	}
}

func TestCallErrorStopsTheRun(t *testing.T) {
	r := NewRunner()
	stop := errors.New("grow")
	calls := 0
	got, err := runBody(t, r, "pcall(redis.call, 'x'); pcall(redis.call, 'y'); return 1", func([][]byte, bool) ([]byte, error) {
		calls++
		return nil, stop
	})
	if !errors.Is(err, stop) || got != "" || calls != 1 {
		t.Fatalf("a Call error under pcall: reply %q, err %v after %d calls; want the error, no reply, 1 call", got, err, calls)
	}
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"#!lua flags=bogus\nreturn 1", "ERR Unexpected flag in script shebang: bogus"},
		{"#!python\nreturn 1", "ERR Unexpected engine in script shebang: #!python"},
		{"return {1", "ERR Error compiling script (new function): user_script:1:"},
	} {
		_, err := Compile([]byte(tc.body))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
	s, err := Compile([]byte("#!lua flags=no-writes,allow-oom\nreturn 1"))
	if err != nil || !s.ReadOnly() {
		t.Fatalf("no-writes shebang: %v, read-only %v", err, s != nil && s.ReadOnly())
	}
	if s.SHA != SHA1Hex([]byte("#!lua flags=no-writes,allow-oom\nreturn 1")) {
		t.Fatal("the SHA1 is not the body's")
	}
}

func TestCacheEvicts(t *testing.T) {
	c := NewCache(100)
	var scripts []*Script
	for i := range 5 {
		s, err := Compile([]byte("return '" + strings.Repeat("x", 20) + string(rune('a'+i)) + "'"))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, s)
		c.Put(s)
		c.Get(scripts[0].SHA) // the first stays the most recently used
	}
	if c.Bytes() > 100 || c.Get(scripts[0].SHA) == nil || c.Get(scripts[1].SHA) != nil {
		t.Fatalf("after 5 puts of %d bytes into 100: %d bytes, first kept %v, second kept %v",
			len(scripts[0].Body), c.Bytes(), c.Get(scripts[0].SHA) != nil, c.Get(scripts[1].SHA) != nil)
	}
	c.Flush()
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatal("Flush left scripts")
	}
}

func TestLibrary(t *testing.T) {
	r := NewRunner()
	lib, err := r.CompileLibrary([]byte("#!lua name=l\nlocal n = 0\nredis.register_function{function_name='f', callback=function(keys, args) n = n + 1 return {keys[1], args[1], n} end, flags={'no-writes'}}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Functions) != 1 || !lib.Functions[0].ReadOnly() {
		t.Fatalf("functions %+v", lib.Functions)
	}
	var out resp.Reply
	if err := r.RunFunction(lib.Functions[0], &Env{Name: "f", Keys: [][]byte{[]byte("k")}, Args: [][]byte{[]byte("a")}}, &out); err != nil {
		t.Fatal(err)
	}
	if got := string(out.B); got != "*3\r\n$1\r\nk\r\n$1\r\na\r\n:1\r\n" {
		t.Fatalf("FCALL reply %q", got)
	}
	for _, tc := range []struct{ code, want string }{
		{"return 1", "ERR Missing library metadata"},
		{"#!lua name=x\nlocal y = 1", "ERR No functions registered"},
		{"#!lua name=x\nredis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"},
	} {
		if _, err := r.CompileLibrary([]byte(tc.code)); err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %q", tc.code, err, tc.want)
		}
	}
}

func TestLrand48(t *testing.T) {
	// POSIX lrand48 after srand48(seed), as glibc's gives them: the
	// generator Redis's math.random uses.
	for _, tc := range []struct {
		seed int32
		want []uint64
	}{
		{0, []uint64{366850414, 1610402240, 206956554}},
		{42, []uint64{1598855263, 735945821}},
	} {
		var r lrand48
		r.seed(tc.seed)
		for i, w := range tc.want {
			if got := r.next(); got != w {
				t.Fatalf("seed %d, value %d: %d, want %d", tc.seed, i, got, w)
			}
		}
	}
}
