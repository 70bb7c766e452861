package command

import (
	"strconv"
	"strings"
	"testing"
)

// The HyperLogLog commands over storage: replies, events, expiry and the
// writes PFCOUNT and a failing PFADD make. Their values are compared byte
// for byte with redis-server in node/hll and node/compat (hll.txt).
func TestHLLCommands(t *testing.T) {
	n := newTestNode(t)
	n.expectEvents("pfadd h", "PFADD", "h", "a", "b", "c")
	n.expectEvents("", "PFADD", "h", "a")
	n.expect(":0", "PFADD", "h")
	n.expectEvents("pfadd new", "PFADD", "new") // creating counts as a change
	n.expect("$HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff", "GET", "new")

	// PFCOUNT of one key stores the estimate in the value, without an event.
	before := n.do("GET", "h")
	n.expectEvents("", "PFCOUNT", "h")
	n.expect(":3", "PFCOUNT", "h")
	after := n.do("GET", "h")
	if before == after || !strings.Contains(after, "HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00") {
		t.Errorf("PFCOUNT did not cache its estimate: %q", after)
	}
	n.expect(":3", "PFCOUNT", "h", "nokey", "new")
	n.expect(":0", "PFCOUNT", "nokey")

	// Expiry is kept by every write.
	n.expect(":1", "PEXPIRE", "h", "100000")
	n.expect(":1", "PFADD", "h", "d")
	n.expect(":4", "PFCOUNT", "h")
	n.expectEvents("pfadd h", "PFMERGE", "h", "new")
	n.expect(":100000", "PTTL", "h")

	// PFMERGE: every key is merged into the first, which may not exist.
	n.expect(":1", "PFADD", "{x}b", "c", "d", "e")
	n.expectEvents("pfadd {x}d", "PFMERGE", "{x}d", "h", "{x}b", "nokey")
	n.expect(":5", "PFCOUNT", "{x}d")
	n.expect("+OK", "PFMERGE", "alone")
	n.expect(":0", "PFCOUNT", "alone")

	// Errors, Redis's words.
	n.expect("+OK", "SET", "str", "not an hll")
	n.expect("-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFADD", "str", "a")
	n.expect("-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFCOUNT", "h", "str")
	n.expect("-WRONGTYPE Key is not a valid HyperLogLog string value.", "PFMERGE", "h", "str")
	n.expect(":1", "LPUSH", "list", "a")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "PFCOUNT", "list")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "PFMERGE", "list", "h")

	// A sparse value covering registers 0..99 only: an element of a
	// register in it is added, one past it is the corruption Redis
	// finds; what the first changed stays, as on redis-server.
	bad := "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\x63"
	n.expect("+OK", "SET", "bad", bad)
	n.expect("-INVALIDOBJ Corrupted HLL object detected", "PFCOUNT", "bad")
	n.expect("-INVALIDOBJ Corrupted HLL object detected", "PFADD", "bad", "a") // a's register is past 99
	n.expect("$"+bad, "GET", "bad")
	inside := ""
	for i := 0; inside == "" && i < 5000; i++ {
		e := "e" + strconv.Itoa(i)
		if n.do("PFADD", "bad", e) == ":1\r\n" {
			inside = e
		}
		n.do("SET", "bad", bad)
	}
	if inside == "" {
		t.Fatal("no element of a register below 100")
	}
	n.expectEvents("", "PFADD", "bad", inside, "a")
	if got := n.do("GET", "bad"); got == "$"+strconv.Itoa(len(bad))+"\r\n"+bad+"\r\n" {
		t.Errorf("a failing PFADD dropped the change of the element before: %q", got)
	}

	// PFDEBUG.
	n.expect("-ERR The specified key does not exist", "PFDEBUG", "decode", "nokey")
	n.expect(":1", "PFADD", "abc", "a", "b", "c")
	n.expect("$Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603", "PFDEBUG", "DECODE", "abc")
	n.expect("+sparse", "PFDEBUG", "encoding", "abc")
	n.expect("-ERR Unknown PFDEBUG subcommand 'nope'", "PFDEBUG", "nope", "abc")
	n.expect(":1", "PFDEBUG", "TODENSE", "abc")
	n.expect(":0", "PFDEBUG", "TODENSE", "abc")
	n.expect("+dense", "PFDEBUG", "encoding", "abc")
	n.expect("-ERR HLL encoding is not sparse", "PFDEBUG", "decode", "abc")
	n.expect(":3", "PFCOUNT", "abc")
	if r := n.do("PFDEBUG", "GETREG", "abc"); !strings.HasPrefix(r, "*16384\r\n:0\r\n") {
		t.Errorf("PFDEBUG GETREG: %.40q", r)
	}
}
