package command

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/stream"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// XADD * takes the command's clock; an ID in the past continues from the
// last one.
func TestStreamAutoIDs(t *testing.T) {
	n := newTestNode(t)
	n.expect("$1700000000000-0", "XADD", "s", "*", "a", "1")
	n.expect("$1700000000000-1", "XADD", "s", "*", "a", "1")
	n.nowMS -= 5000 // the clock went back
	n.expect("$1700000000000-2", "XADD", "s", "*", "a", "1")
	n.nowMS += 10000
	n.expect("$1700000005000-0", "XADD", "s", "*", "a", "1")
	n.expect("$1700000005000-1", "XADD", "s", "1700000005000-*", "a", "1")
	n.expect("$1700000005001-0", "XADD", "s", "1700000005001-*", "a", "1")
}

// streamState reads the stored metadata and counts the members of each
// kind, checking the meta's Count against them.
func streamState(t *testing.T, n *testNode, key string) (stream.Meta, map[byte]int) {
	t.Helper()
	v := n.eng.View(storage.DefaultTable)
	txn := v.Txn(slotOf(key))
	m, ok, err := txn.Meta([]byte(key))
	if err != nil || !ok {
		t.Fatalf("%s: meta %v %v", key, ok, err)
	}
	s, err := stream.DecodeMeta(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[byte]int{}
	total := 0
	if err := txn.ScanMembers([]byte(key), m.Version, nil, false, func(member, _ []byte) bool {
		kinds[member[0]]++
		total++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if uint64(total) != m.Count {
		t.Errorf("%s: meta counts %d members, %d stored", key, m.Count, total)
	}
	if int(s.Length) != kinds[stream.KindEntry] {
		t.Errorf("%s: length %d, %d entries stored", key, s.Length, kinds[stream.KindEntry])
	}
	return s, kinds
}

func slotOf(key string) storage.SlotID { return router.SlotOf([]byte(key), storage.DefaultSlots) }

// Approximate trimming removes whole nodes of 100 entries counted from
// the first added, as redis-server's radix tree holds them; exact
// trimming goes inside the first node.
func TestStreamTrimNodes(t *testing.T) {
	n := newTestNode(t)
	for i := 1; i <= 350; i++ {
		n.do("XADD", "s", fmt.Sprintf("%d-1", i), "f", "v")
	}
	_, kinds := streamState(t, n, "s")
	if kinds[stream.KindNode] != 4 {
		t.Fatalf("350 entries in %d nodes, want 4", kinds[stream.KindNode])
	}
	n.expect(":0", "XTRIM", "s", "MAXLEN", "~", "300")
	n.expect(":100", "XTRIM", "s", "MAXLEN", "~", "250")
	n.expect(":0", "XTRIM", "s", "MAXLEN", "~", "249")
	n.expect(":100", "XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "100")
	n.expect(":0", "XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "99")
	n.expect(":10", "XTRIM", "s", "MAXLEN", "140")
	s, kinds := streamState(t, n, "s")
	if s.FirstID != (stream.ID{Ms: 211, Seq: 1}) || kinds[stream.KindNode] != 2 {
		t.Errorf("after trimming: first %v, %d nodes", s.FirstID, kinds[stream.KindNode])
	}
	// Both nodes end before 400: removed whole.
	n.expect(":140", "XTRIM", "s", "MINID", "~", "400")
	n.expect(":0", "XTRIM", "s", "MINID", "400")
	_, kinds = streamState(t, n, "s")
	if kinds[stream.KindNode] != 0 {
		t.Errorf("empty stream keeps %d nodes", kinds[stream.KindNode])
	}
	n.expect(":1", "EXISTS", "s")
	n.expect(":0", "XLEN", "s")
}

// XDEL empties and removes nodes; the first ID and max deleted ID
// follow.
func TestStreamDelNodes(t *testing.T) {
	n := newTestNode(t)
	for i := 1; i <= 120; i++ {
		n.do("XADD", "s", fmt.Sprintf("%d-0", i), "f", "v")
	}
	var ids []string
	for i := 101; i <= 120; i++ {
		ids = append(ids, fmt.Sprintf("%d-0", i))
	}
	n.expect(":20", append([]string{"XDEL", "s"}, ids...)...)
	s, kinds := streamState(t, n, "s")
	if kinds[stream.KindNode] != 1 || s.MaxDeleted != (stream.ID{Ms: 120}) || s.LastID != (stream.ID{Ms: 120}) {
		t.Errorf("after XDEL: %d nodes, %+v", kinds[stream.KindNode], s)
	}
	n.expect(":1", "XDEL", "s", "1-0")
	s, _ = streamState(t, n, "s")
	if s.FirstID != (stream.ID{Ms: 2}) {
		t.Errorf("first ID %v after deleting the first entry", s.FirstID)
	}
	// A new entry starts a node: the first is full (100 places taken).
	n.do("XADD", "s", "200-0", "f", "v")
	_, kinds = streamState(t, n, "s")
	if kinds[stream.KindNode] != 2 {
		t.Errorf("%d nodes, want 2", kinds[stream.KindNode])
	}
}

// The PEL is kept twice (per group and per consumer) and in step with
// the group's consumers through XREADGROUP, XCLAIM, XACK, XAUTOCLAIM and
// DELCONSUMER.
func TestStreamPELBookkeeping(t *testing.T) {
	n := newTestNode(t)
	for i := 1; i <= 5; i++ {
		n.do("XADD", "s", fmt.Sprintf("%d-0", i), "f", "v")
	}
	n.expect("+OK", "XGROUP", "CREATE", "s", "g", "0")
	n.do("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
	n.do("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
	check := func(pel, owned int) {
		t.Helper()
		_, kinds := streamState(t, n, "s")
		if kinds[stream.KindPending] != pel || kinds[stream.KindOwned] != owned {
			t.Errorf("PEL %d, owned %d; want %d, %d", kinds[stream.KindPending], kinds[stream.KindOwned], pel, owned)
		}
	}
	check(5, 5)
	n.nowMS += 1000
	n.expect("*2 $1-0 $2-0", "XCLAIM", "s", "g", "bob", "500", "1-0", "2-0", "JUSTID")
	n.expect("*4 :5 $1-0 $5-0 *2 *2 $alice $1 *2 $bob $4", "XPENDING", "s", "g")
	n.expect("*1 *4 $1-0 $bob :0 :1", "XPENDING", "s", "g", "-", "+", "1")
	n.expect(":2", "XACK", "s", "g", "1-0", "3-0", "9-0")
	check(3, 3)
	n.expect(":1", "XDEL", "s", "2-0")
	n.nowMS += 1000
	n.expect("*3 $0-0 *2 *2 $4-0 *2 $f $v *2 $5-0 *2 $f $v *1 $2-0", "XAUTOCLAIM", "s", "g", "carol", "10", "0")
	check(2, 2)
	n.expect("*4 :2 $4-0 $5-0 *1 *2 $carol $2", "XPENDING", "s", "g")
	n.expect(":2", "XGROUP", "DELCONSUMER", "s", "g", "carol")
	check(0, 0)
	n.expect(":1", "XGROUP", "DESTROY", "s", "g")
	_, kinds := streamState(t, n, "s")
	if kinds[stream.KindGroup]+kinds[stream.KindConsumer] != 0 {
		t.Errorf("group left members: %v", kinds)
	}
}

// Idle times come from the command's clock.
func TestStreamIdle(t *testing.T) {
	n := newTestNode(t)
	n.do("XADD", "s", "1-0", "f", "v")
	n.do("XGROUP", "CREATE", "s", "g", "0")
	n.do("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
	n.nowMS += 1234
	n.expect("*1 *4 $1-0 $c :1234 :1", "XPENDING", "s", "g", "-", "+", "10")
	n.expect("*0", "XPENDING", "s", "g", "IDLE", "1235", "-", "+", "10")
	n.expect("*1 *6 $name $c $pending :1 $idle :1234", "XINFO", "CONSUMERS", "s", "g")
	n.expect("*0", "XCLAIM", "s", "g", "d", "2000", "1-0")
	n.expect("*1 $1-0", "XCLAIM", "s", "g", "d", "1000", "1-0", "IDLE", "300", "JUSTID")
	n.expect("*1 *4 $1-0 $d :300 :1", "XPENDING", "s", "g", "-", "+", "10")
}

// Keyspace events, named as Redis names them.
func TestEventsStreams(t *testing.T) {
	runHZEventCases(t, []hzEventCase{
		{"xadd", nil, "XADD s 1-1 a b", "xadd s"},
		{"xadd trims", []string{"XADD s 1-1 a b"}, "XADD s MAXLEN 1 2-1 a b", "xadd s, xtrim s"},
		{"xadd nomkstream", nil, "XADD s NOMKSTREAM 1-1 a b", ""},
		{"xadd smaller", []string{"XADD s 5-1 a b"}, "XADD s 1-1 a b", ""},
		{"xdel", []string{"XADD s 1-1 a b"}, "XDEL s 1-1", "xdel s"},
		{"xdel none", []string{"XADD s 1-1 a b"}, "XDEL s 2-1", ""},
		{"xtrim", []string{"XADD s 1-1 a b"}, "XTRIM s MAXLEN 0", "xtrim s"},
		{"xtrim none", []string{"XADD s 1-1 a b"}, "XTRIM s MAXLEN 1", ""},
		{"xsetid", []string{"XADD s 1-1 a b"}, "XSETID s 5-5", "xsetid s"},
		{"xgroup create", []string{"XADD s 1-1 a b"}, "XGROUP CREATE s g 0", "xgroup-create s"},
		{"xgroup create mkstream", nil, "XGROUP CREATE s g 0 MKSTREAM", "xgroup-create s"},
		{"xgroup setid", []string{"XGROUP CREATE s g 0 MKSTREAM"}, "XGROUP SETID s g 0", "xgroup-setid s"},
		{"xgroup destroy", []string{"XGROUP CREATE s g 0 MKSTREAM"}, "XGROUP DESTROY s g", "xgroup-destroy s"},
		{"xgroup createconsumer", []string{"XGROUP CREATE s g 0 MKSTREAM"}, "XGROUP CREATECONSUMER s g c", "xgroup-createconsumer s"},
		{"xgroup delconsumer", []string{"XGROUP CREATE s g 0 MKSTREAM", "XGROUP CREATECONSUMER s g c"}, "XGROUP DELCONSUMER s g c", "xgroup-delconsumer s"},
		{"xreadgroup creates the consumer", []string{"XADD s 1-1 a b", "XGROUP CREATE s g 0"}, "XREADGROUP GROUP g c STREAMS s >", "xgroup-createconsumer s"},
		{"xclaim creates the consumer", []string{"XADD s 1-1 a b", "XGROUP CREATE s g 0", "XREADGROUP GROUP g c STREAMS s >"}, "XCLAIM s g d 0 1-1", "xgroup-createconsumer s"},
		{"del", []string{"XADD s 1-1 a b"}, "DEL s", "del s"},
	})
}

// A copy (COPY, RENAME) holds every member: entries, nodes, groups,
// consumers, PELs.
func TestStreamCopy(t *testing.T) {
	n := newTestNode(t)
	for i := 1; i <= 150; i++ {
		n.do("XADD", "s", fmt.Sprintf("%d-0", i), "f", "v")
	}
	n.do("XGROUP", "CREATE", "s", "g", "0")
	n.do("XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s", ">")
	n.expect(":1", "COPY", "s", "s2")
	n.expect("+OK", "RENAME", "s", "s3")
	for _, k := range []string{"s2", "s3"} {
		s, kinds := streamState(t, n, k)
		if s.Length != 150 || kinds[stream.KindNode] != 2 || kinds[stream.KindPending] != 10 || kinds[stream.KindConsumer] != 1 {
			t.Errorf("%s: %+v %v", k, s, kinds)
		}
		if got := shorten(n.do("XPENDING", k, "g")); !strings.HasPrefix(got, "*4 :10 $1-0 $10-0") {
			t.Errorf("%s: XPENDING %s", k, got)
		}
	}
	n.expect("+stream", "TYPE", "s3")
}

// TestStreamObjectAndDump: OBJECT ENCODING of a stream is "stream", as in
// Redis; DUMP refuses it with a clear error until its RDB form is written
// (not a payload of another type); MEMORY USAGE counts what it holds.
func TestStreamObjectAndDump(t *testing.T) {
	n := newTestNode(t)
	n.expect("$3-0", "XADD", "s", "3-0", "f", "v")
	n.expect("$stream", "OBJECT", "ENCODING", "s")
	n.expect("-"+string(errDumpStream), "DUMP", "s")
	if got := shorten(n.do("MEMORY", "USAGE", "s")); !strings.HasPrefix(got, ":") || got == ":0" {
		t.Fatalf("MEMORY USAGE of a stream: %s", got)
	}
}
