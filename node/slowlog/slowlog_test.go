package slowlog

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func join(a [][]byte) string { return string(bytes.Join(a, []byte(" "))) }

func TestThresholdAndOrder(t *testing.T) {
	l := New()
	if l.Slow(9999*time.Microsecond) || !l.Slow(10*time.Millisecond) {
		t.Fatal("default threshold is 10000 µs, inclusive")
	}
	l.SetThreshold(-1)
	if l.Slow(time.Hour) {
		t.Fatal("a negative threshold logs nothing")
	}
	l.SetThreshold(0)
	if !l.Slow(0) {
		t.Fatal("threshold 0 logs everything")
	}
	l.SetMaxLen(3)
	now := time.Unix(1700000000, 0)
	for i := range 5 {
		l.Add(now, time.Duration(i)*time.Microsecond, args("set", "k", "v"), "1.2.3.4:5", "")
	}
	got := l.Newest(-1)
	if len(got) != 3 || got[0].ID != 4 || got[2].ID != 2 || got[0].Micros != 4 || got[0].Time != 1700000000 {
		t.Fatalf("newest first, 3 kept: %+v", got)
	}
	if n := l.Newest(1); len(n) != 1 || n[0].ID != 4 {
		t.Fatalf("Newest(1): %+v", n)
	}
	l.SetMaxLen(1)
	if l.Len() != 1 {
		t.Fatalf("lowering the max length trims: %d", l.Len())
	}
	l.Reset()
	l.Add(now, 0, args("ping"), "", "")
	if e := l.Newest(-1); len(e) != 1 || e[0].ID != 5 {
		t.Fatalf("ids go on counting after RESET: %+v", e)
	}
}

func TestTrimmedArguments(t *testing.T) {
	l := New()
	long := strings.Repeat("x", 200)
	many := []string{"rpush", "l"}
	for i := range 40 {
		many = append(many, strings.Repeat("a", i%3))
	}
	l.Add(time.Now(), 0, args("set", "k", long), "", "")
	l.Add(time.Now(), 0, args(many...), "", "")
	got := l.Newest(-1)
	if a := got[1].Args[2]; string(a) != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Errorf("long argument kept as %q", a)
	}
	if a := got[0].Args; len(a) != 32 || string(a[31]) != "... (11 more arguments)" || string(a[30]) != many[30] {
		t.Errorf("42 arguments kept as %d, last %q", len(a), a[len(a)-1])
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"auth pw", "auth (redacted)"},
		{"AUTH user pw", "AUTH (redacted) (redacted)"},
		{"hello 3 auth default x setname n1", "hello 3 auth (redacted) (redacted) setname n1"},
		{"acl setuser u1 on >pw", "acl setuser (redacted) (redacted) (redacted)"},
		{"acl list", "acl list"},
		{"config set requirepass x maxclients 10 masterauth y", "config set requirepass (redacted) maxclients 10 masterauth (redacted)"},
		{"config get requirepass", "config get requirepass"},
		{"migrate h 1 '' 0 10 auth pw keys a b", "migrate h 1 '' 0 10 auth (redacted) keys a b"},
		{"migrate h 1 '' 0 10 auth2 u pw keys a", "migrate h 1 '' 0 10 auth2 (redacted) (redacted) keys a"},
		{"set auth x", "set auth x"},
	} {
		in := args(strings.Fields(c.in)...)
		if got := join(Redact(in)); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
		if join(in) != c.in {
			t.Errorf("%s: Redact changed its input", c.in)
		}
	}
}
