package command

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/storage"
)

// testNode is a real Engine in a temp dir with the command table, driven
// command by command.
type testNode struct {
	t       testing.TB
	eng     *storage.Engine
	tbl     *Table
	cursors *Cursors
	nowMS   int64
	// events collects every keyspace event of the commands (all classes
	// on, K and E): expectEvents reads them.
	events *Events
}

func newTestNode(t testing.TB) *testNode {
	t.Helper()
	n := &testNode{t: t, tbl: NewTable(), cursors: NewCursors(100, 1<<20), nowMS: 1_700_000_000_000}
	var classes atomic.Uint32
	classes.Store(uint32(ParseEventClasses("KEA")))
	n.events = NewEvents(&classes)
	eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return n.nowMS }})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.EnsureTable(storage.DefaultTable, storage.DefaultSlots); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	n.eng = eng
	return n
}

// do runs one command and returns its raw RESP reply.
func (n *testNode) do(args ...string) string {
	n.t.Helper()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	var r resp.Reply
	spec := n.tbl.Lookup(bargs[0])
	if spec == nil {
		n.t.Fatalf("unknown command %q", args[0])
	}
	if !spec.ArityOK(len(bargs)) {
		return "-" + string(WrongArgs(spec.Name)) + "\r\n"
	}
	Run(spec, &Ctx{Args: bargs, R: &r, Engine: n.eng, Table: storage.DefaultTable, Slots: storage.DefaultSlots, Cursors: n.cursors, Events: n.events})
	return string(r.B)
}

// expect runs a command and compares its reply, written with the RESP
// framing shortened: "+OK", ":1", "$-1", "-ERR ...", "*2 $a $b" (array of
// bulks separated by spaces).
func (n *testNode) expect(want string, args ...string) {
	n.t.Helper()
	got := n.do(args...)
	if short := shorten(got); short != want {
		n.t.Errorf("%s: got %q, want %q", strings.Join(args, " "), short, want)
	}
}

// expectEvents runs a command and compares the keyspace events it
// recorded, written "event key" and separated by ", " in the order
// recorded ("" for none); a generic event's class is not shown.
func (n *testNode) expectEvents(want string, args ...string) {
	n.t.Helper()
	n.events.Take()
	n.do(args...)
	var got []string
	for _, ev := range n.events.Take() {
		got = append(got, ev.Name+" "+string(ev.Key))
	}
	if g := strings.Join(got, ", "); g != want {
		n.t.Errorf("%s: events %q, want %q", strings.Join(args, " "), g, want)
	}
}

// shorten renders a RESP reply compactly: bulks as $value, arrays as
// "*n elems...", everything space separated.
func shorten(raw string) string {
	var out []string
	for len(raw) > 0 {
		line, rest, _ := strings.Cut(raw, "\r\n")
		raw = rest
		switch line[0] {
		case '$':
			if line == "$-1" {
				out = append(out, "$-1")
				continue
			}
			val, rest, _ := strings.Cut(raw, "\r\n")
			raw = rest
			out = append(out, "$"+val)
		default:
			out = append(out, line)
		}
	}
	return strings.Join(out, " ")
}
