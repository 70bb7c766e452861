package tracking

import (
	"strings"
	"sync"
	"testing"
)

// fakeConn records what it is pushed.
type fakeConn struct {
	id     uint64
	resp3  bool
	subbed bool
	mu     sync.Mutex
	got    []string
}

func (f *fakeConn) ID() uint64       { return f.id }
func (f *fakeConn) Resp3() bool      { return f.resp3 }
func (f *fakeConn) Subscribed() bool { return f.subbed }
func (f *fakeConn) Push(b []byte) {
	f.mu.Lock()
	f.got = append(f.got, strings.ReplaceAll(string(b), "\r\n", " "))
	f.mu.Unlock()
}

func (f *fakeConn) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.got
	f.got = nil
	return g
}

func newTestTable(max int64, conns ...*fakeConn) *Table {
	byID := map[uint64]Conn{}
	for _, c := range conns {
		byID[c.id] = c
	}
	return New("n1", func(id uint64) Conn {
		if c, ok := byID[id]; ok {
			return c
		}
		return nil
	}, func() int64 { return max })
}

func TestDefaultModeOneShot(t *testing.T) {
	a := &fakeConn{id: 1, resp3: true}
	tb := newTestTable(0, a)
	if msg := tb.Enable(a, Options{}); msg != "" {
		t.Fatal(msg)
	}
	tb.Remember(0, 1, [][]byte{[]byte("k"), []byte("j")})
	if k, items, _ := tb.Counts(); k != 2 || items != 2 {
		t.Fatalf("counts %d %d", k, items)
	}
	tb.Invalidate(1, [][]byte{[]byte("k")}, Writer{}) // another table
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{Node: "n2", Client: 1})
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{})
	if got := a.take(); len(got) != 1 || got[0] != ">2 $10 invalidate *1 $1 k " {
		t.Fatalf("pushes %q", got)
	}
	tb.Flush()
	if got := a.take(); len(got) != 1 || got[0] != ">2 $10 invalidate _ " {
		t.Fatalf("flush %q", got)
	}
	if k, items, _ := tb.Counts(); k != 0 || items != 0 {
		t.Fatalf("counts after flush %d %d", k, items)
	}
}

func TestNoLoopAndBCast(t *testing.T) {
	a := &fakeConn{id: 1, resp3: true}
	b := &fakeConn{id: 2, resp3: true}
	tb := newTestTable(0, a, b)
	if msg := tb.Enable(a, Options{BCast: true, NoLoop: true, Prefixes: [][]byte{[]byte("p:")}}); msg != "" {
		t.Fatal(msg)
	}
	if msg := tb.Enable(a, Options{BCast: true, Prefixes: [][]byte{[]byte("p:x")}}); !strings.Contains(msg, "overlaps with an existing prefix 'p:'") {
		t.Fatal(msg)
	}
	tb.Enable(b, Options{NoLoop: true})
	tb.Remember(0, 2, [][]byte{[]byte("p:1")})
	tb.Invalidate(0, [][]byte{[]byte("p:1")}, Writer{Node: "n1", Client: 1}) // a's own
	if got := a.take(); len(got) != 0 {
		t.Fatalf("own write pushed %q", got)
	}
	if got := b.take(); len(got) != 1 {
		t.Fatalf("b got %q", got)
	}
	// A write forwarded elsewhere comes back without its writer: NOLOOP takes it as its own
	// while its reply is awaited.
	tb.Remember(0, 2, [][]byte{[]byte("k")})
	tb.OwnWrites(2, [][]byte{[]byte("k")})
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{})
	if got := b.take(); len(got) != 0 {
		t.Fatalf("own forwarded write pushed %q", got)
	}
	tb.OwnWritesDone(2)
	tb.Remember(0, 2, [][]byte{[]byte("k")})
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{})
	if got := b.take(); len(got) != 1 {
		t.Fatalf("b got %q", got)
	}
	tb.Invalidate(3, [][]byte{[]byte("p:2")}, Writer{}) // BCAST: any table this node tracks
	if got := a.take(); len(got) != 1 || got[0] != ">2 $10 invalidate *1 $3 p:2 " {
		t.Fatalf("bcast %q", got)
	}
	if tb.Disable(1) || !tb.Disable(2) {
		t.Fatal("Disable's count")
	}
	if _, _, p := tb.Counts(); p != 0 {
		t.Fatalf("prefixes left: %d", p)
	}
}

func TestOptInOut(t *testing.T) {
	a := &fakeConn{id: 1, resp3: true}
	tb := newTestTable(0, a)
	tb.Enable(a, Options{OptIn: true})
	if msg := tb.Caching(1, false); msg != ErrCachingNo {
		t.Fatal(msg)
	}
	tb.Remember(0, 1, [][]byte{[]byte("x")})
	if msg := tb.Caching(1, true); msg != "" {
		t.Fatal(msg)
	}
	if !tb.InfoOf(1).Caching {
		t.Fatal("caching not shown")
	}
	tb.Remember(0, 1, [][]byte{[]byte("y")})
	tb.EndCommand(1)
	tb.Remember(0, 1, [][]byte{[]byte("z")})
	for _, k := range []string{"x", "y", "z"} {
		tb.Invalidate(0, [][]byte{[]byte(k)}, Writer{})
	}
	if got := a.take(); len(got) != 1 || !strings.Contains(got[0], "$1 y") {
		t.Fatalf("optin %q", got)
	}
	if msg := tb.Enable(a, Options{OptOut: true}); msg != ErrSwitchOpt {
		t.Fatal(msg)
	}
}

func TestRedirect(t *testing.T) {
	a := &fakeConn{id: 1}               // RESP2
	r := &fakeConn{id: 2, subbed: true} // RESP2, subscribed
	r3 := &fakeConn{id: 3, resp3: true} // RESP3
	b := &fakeConn{id: 4, resp3: true}  // RESP3, redirects to a client gone
	tb := newTestTable(0, a, r, r3, b)
	tb.Enable(a, Options{Redirect: 2})
	tb.Remember(0, 1, [][]byte{[]byte("k")})
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{})
	if got := r.take(); len(got) != 1 || got[0] != "*3 $7 message $20 __redis__:invalidate *1 $1 k " {
		t.Fatalf("RESP2 redirect %q", got)
	}
	tb.Enable(a, Options{Redirect: 3})
	tb.Flush()
	if got := r3.take(); len(got) != 1 || got[0] != ">2 $10 invalidate $-1 " {
		t.Fatalf("RESP3 redirect of a RESP2 tracker's flush %q", got)
	}
	tb.Enable(b, Options{Redirect: 99})
	tb.Remember(0, 4, [][]byte{[]byte("k")})
	tb.Invalidate(0, [][]byte{[]byte("k")}, Writer{})
	if got := b.take(); len(got) != 1 || got[0] != ">2 $21 tracking-redir-broken :99 " {
		t.Fatalf("broken %q", got)
	}
	if !tb.InfoOf(4).BrokenRedir {
		t.Fatal("broken redirect not shown")
	}
}

func TestMaxKeysEvicts(t *testing.T) {
	a := &fakeConn{id: 1, resp3: true}
	tb := newTestTable(2, a)
	tb.Enable(a, Options{})
	tb.Remember(0, 1, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
	if k, _, _ := tb.Counts(); k != 2 {
		t.Fatalf("keys %d", k)
	}
	if got := a.take(); len(got) != 1 {
		t.Fatalf("evictions pushed %q", got)
	}
}

func TestOutboxHoldsBehindReplies(t *testing.T) {
	var sent []string
	ob := NewOutbox(func(b []byte) error { sent = append(sent, string(b)); return nil }, 10, func() {})
	ob.Push([]byte("a"))
	ob.Begin()
	ob.Push([]byte("b"))
	if len(sent) != 1 {
		t.Fatalf("sent %q while busy", sent)
	}
	ob.Release()
	if len(sent) != 2 || sent[1] != "b" {
		t.Fatalf("sent %q", sent)
	}
	cut := false
	ob2 := NewOutbox(func([]byte) error { return nil }, 4, func() { cut = true })
	ob2.Begin()
	ob2.Push([]byte("12345"))
	if !cut {
		t.Fatal("not cut off past its bound")
	}
}

func TestBCastGroupsAndPayload(t *testing.T) {
	a := &fakeConn{id: 1, resp3: true}
	tb := newTestTable(0, a)
	tb.Enable(a, Options{BCast: true, Prefixes: [][]byte{[]byte("e:"), []byte("b:")}})
	w := Writer{Node: "n2", Client: 7}
	p := KeysPayload(w, [][]byte{[]byte("e:2"), []byte("b:9"), []byte("e:1"), []byte("q"), []byte("e:1")})
	gotW, keys, ok := parseKeys(p[1:])
	if !ok || gotW != w || len(keys) != 5 || string(keys[4]) != "e:1" {
		t.Fatalf("payload round trip: %v %v %q", ok, gotW, keys)
	}
	if _, _, ok := parseKeys(p[1 : len(p)-1]); ok {
		t.Fatal("a truncated payload parsed")
	}
	tb.Handle(0, nil, p)
	got := a.take()
	want := []string{">2 $10 invalidate *1 $3 b:9 ", ">2 $10 invalidate *2 $3 e:1 $3 e:2 "}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("pushes %q, want %q", got, want)
	}
}
