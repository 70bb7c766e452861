package command

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// checkCollection verifies that key's stored members match its meta: the
// data CF holds exactly Count members under the live version (for a list,
// exactly the indexes [Head, Tail)), and a zset's score index has one entry
// per member with the member's score.
func checkCollection(t *testing.T, n *testNode, key string) {
	t.Helper()
	txn := n.eng.View(storage.DefaultTable).Txn(router.SlotOf([]byte(key), storage.DefaultSlots))
	m, ok, err := txn.Meta([]byte(key))
	if err != nil || !ok {
		t.Fatalf("%s: meta ok=%v err=%v", key, ok, err)
	}
	members := map[string]float64{}
	var count uint64
	err = txn.ScanMembers([]byte(key), m.Version, nil, false, func(member, value []byte) bool {
		count++
		if m.Type == storage.TypeZSet {
			members[string(member)] = storage.DecodeScore(value)
		}
		if m.Type == storage.TypeList {
			i := binary.BigEndian.Uint64(member)
			if i < m.Head || i >= m.Tail {
				t.Errorf("%s: item at index %d outside [%d, %d)", key, i, m.Head, m.Tail)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != m.Count {
		t.Errorf("%s: %d members stored, meta count %d", key, count, m.Count)
	}
	if m.Type == storage.TypeList && m.Tail-m.Head != m.Count {
		t.Errorf("%s: head %d tail %d count %d", key, m.Head, m.Tail, m.Count)
	}
	if m.Type == storage.TypeZSet {
		var idx uint64
		err = txn.ScanScores([]byte(key), m.Version, math.Inf(-1), math.Inf(1), false, func(score float64, member []byte) bool {
			idx++
			if s, ok := members[string(member)]; !ok || s != score {
				t.Errorf("%s: index entry %q at %v, member score %v (present %v)", key, member, score, s, ok)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if idx != m.Count {
			t.Errorf("%s: %d score index entries, count %d", key, idx, m.Count)
		}
	}
}

func bulks(items ...string) string {
	out := []string{fmt.Sprintf("*%d", len(items))}
	for _, it := range items {
		out = append(out, "$"+it)
	}
	return strings.Join(out, " ")
}

func TestListPushPopRange(t *testing.T) {
	n := newTestNode(t)
	n.expect(":1", "lpush", "l", "a")
	n.expect(":3", "lpush", "l", "b", "c")
	n.expect(":5", "rpush", "l", "x", "y")
	n.expect(bulks("c", "b", "a", "x", "y"), "lrange", "l", "0", "-1")
	n.expect(":5", "llen", "l")
	n.expect(":0", "llen", "nokey")
	n.expect(":6", "lpushx", "l", "p")
	n.expect(":8", "rpushx", "l", "q", "r")
	n.expect(":0", "lpushx", "nokey", "a")
	n.expect(":0", "exists", "nokey")
	n.expect(bulks("p", "c"), "lrange", "l", "0", "1")
	n.expect(bulks("q", "r"), "lrange", "l", "-2", "-1")
	n.expect(bulks("p", "c", "b"), "lrange", "l", "-100", "2")
	n.expect("*0", "lrange", "l", "5", "2")
	n.expect("*0", "lrange", "l", "100", "200")
	n.expect(bulks("p", "c", "b", "a", "x", "y", "q", "r"), "lrange", "l", "0", "9223372036854775807")
	n.expect("*0", "lrange", "nokey", "0", "-1")
	n.expect("-ERR value is not an integer or out of range", "lrange", "l", "a", "1")
	checkCollection(t, n, "l")

	n.expect("$p", "lpop", "l")
	n.expect("$r", "rpop", "l")
	n.expect(bulks("c", "b"), "lpop", "l", "2")
	n.expect(bulks("q"), "rpop", "l", "1")
	n.expect("*0", "lpop", "l", "0")
	n.expect(bulks("a", "x", "y"), "lrange", "l", "0", "-1")
	checkCollection(t, n, "l")
	n.expect(bulks("y", "x", "a"), "rpop", "l", "10")
	n.expect(":0", "exists", "l")
	n.expect("$-1", "lpop", "l")
	n.expect("*-1", "lpop", "l", "2")
	n.expect("*-1", "rpop", "l", "0")
	n.expect("-ERR value is out of range, must be positive", "lpop", "l", "-1")
	n.expect("-ERR value is out of range, must be positive", "lpop", "l", "abc")
	n.expect("-ERR wrong number of arguments for 'lpop' command", "lpop", "l", "1", "2")
	// A recreated list does not see the old items.
	n.expect(":1", "rpush", "l", "new")
	n.expect(bulks("new"), "lrange", "l", "0", "-1")
	checkCollection(t, n, "l")
	n.expect(":1", "dbsize")
}

func TestListIndexSet(t *testing.T) {
	n := newTestNode(t)
	n.expect(":10", "rpush", "r", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	n.expect("$0", "lindex", "r", "0")
	n.expect("$9", "lindex", "r", "-1")
	n.expect("$0", "lindex", "r", "-10")
	n.expect("$-1", "lindex", "r", "10")
	n.expect("$-1", "lindex", "r", "-11")
	n.expect("$-1", "lindex", "nokey", "x")
	n.expect("-ERR value is not an integer or out of range", "lindex", "r", "x")
	n.expect("+OK", "lset", "r", "0", "zero")
	n.expect("+OK", "lset", "r", "-1", "nine")
	n.expect(bulks("zero", "1", "2", "3", "4", "5", "6", "7", "8", "nine"), "lrange", "r", "0", "-1")
	n.expect("-ERR index out of range", "lset", "r", "10", "x")
	n.expect("-ERR no such key", "lset", "nokey", "0", "x")
	n.expect("+OK", "set", "s", "v")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "lset", "s", "x", "v")
	for _, cmd := range [][]string{{"lpush", "s", "a"}, {"rpop", "s"}, {"llen", "s"}, {"lrange", "s", "0", "1"}, {"lrem", "s", "0", "a"}, {"lpos", "s", "a"}, {"linsert", "s", "before", "a", "b"}} {
		n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", cmd...)
	}
}

func TestListRem(t *testing.T) {
	n := newTestNode(t)
	n.expect(":7", "rpush", "rm", "a", "b", "a", "c", "a", "b", "a")
	n.expect(":2", "lrem", "rm", "2", "a")
	n.expect(bulks("b", "c", "a", "b", "a"), "lrange", "rm", "0", "-1")
	n.expect(":1", "lrem", "rm", "-1", "a")
	n.expect(bulks("b", "c", "a", "b"), "lrange", "rm", "0", "-1")
	n.expect(":2", "lrem", "rm", "0", "b")
	n.expect(":0", "lrem", "rm", "0", "zz")
	checkCollection(t, n, "rm")
	n.expect(":1", "lrem", "rm", "0", "a")
	n.expect(":1", "lrem", "rm", "0", "c")
	n.expect(":0", "exists", "rm")
	n.expect(":0", "lrem", "nokey", "0", "a")
	n.expect("-ERR value is not an integer or out of range", "lrem", "rm", "x", "a")

	// Removals near either end move the shorter side; check both.
	var items []string
	for i := 0; i < 40; i++ {
		items = append(items, fmt.Sprint(i%10))
	}
	n.expect(":40", append([]string{"rpush", "big"}, items...)...)
	n.expect(":2", "lrem", "big", "2", "1")  // near the head
	n.expect(":2", "lrem", "big", "-2", "8") // near the tail
	var want []string
	ones, eights := 0, 0
	for i := 0; i < 40; i++ {
		v := fmt.Sprint(i % 10)
		if v == "1" && ones < 2 {
			ones++
			continue
		}
		if v == "8" && i >= 28 && eights < 2 {
			eights++
			continue
		}
		want = append(want, v)
	}
	n.expect(bulks(want...), "lrange", "big", "0", "-1")
	checkCollection(t, n, "big")
	n.expect("$0", "lindex", "big", "0")
	n.expect("$9", "lindex", "big", "-1")
	n.expect(":4", "lrem", "big", "0", "5")
	checkCollection(t, n, "big")
	n.expect(":32", "llen", "big")
}

func TestListTrim(t *testing.T) {
	n := newTestNode(t)
	n.expect(":10", "rpush", "t", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	n.expect("+OK", "ltrim", "t", "1", "-2")
	n.expect(bulks("1", "2", "3", "4", "5", "6", "7", "8"), "lrange", "t", "0", "-1")
	checkCollection(t, n, "t")
	n.expect("+OK", "ltrim", "t", "0", "100")
	n.expect(":8", "llen", "t")
	n.expect("+OK", "ltrim", "t", "-3", "-1")
	n.expect(bulks("6", "7", "8"), "lrange", "t", "0", "-1")
	checkCollection(t, n, "t")
	n.expect("+OK", "ltrim", "t", "1", "0")
	n.expect(":0", "exists", "t")
	n.expect("+OK", "ltrim", "nokey", "0", "1")
	n.expect("-ERR value is not an integer or out of range", "ltrim", "t", "a", "1")
	n.expect(":3", "rpush", "t2", "a", "b", "c")
	n.expect("+OK", "ltrim", "t2", "5", "10")
	n.expect(":0", "exists", "t2")
}

func TestListInsert(t *testing.T) {
	n := newTestNode(t)
	n.expect(":3", "rpush", "ins", "a", "b", "c")
	n.expect(":4", "linsert", "ins", "BEFORE", "b", "x")
	n.expect(":5", "linsert", "ins", "AFTER", "c", "y")
	n.expect(":6", "linsert", "ins", "after", "a", "z")
	n.expect(":7", "linsert", "ins", "before", "a", "h")
	n.expect(bulks("h", "a", "z", "x", "b", "c", "y"), "lrange", "ins", "0", "-1")
	checkCollection(t, n, "ins")
	n.expect(":-1", "linsert", "ins", "BEFORE", "nopivot", "x")
	n.expect(":0", "linsert", "nokey", "BEFORE", "a", "x")
	n.expect(":0", "exists", "nokey")
	n.expect("-ERR syntax error", "linsert", "ins", "MIDDLE", "a", "x")
	n.expect("$x", "lindex", "ins", "3")
	n.expect("$h", "lpop", "ins")
	n.expect("$y", "rpop", "ins")
	checkCollection(t, n, "ins")
}

func TestListPos(t *testing.T) {
	n := newTestNode(t)
	n.expect(":8", "rpush", "pos", "a", "b", "c", "1", "2", "3", "c", "c")
	n.expect(":2", "lpos", "pos", "c")
	n.expect("$-1", "lpos", "pos", "zz")
	n.expect("$-1", "lpos", "nokey", "a")
	n.expect("*0", "lpos", "nokey", "a", "COUNT", "5")
	n.expect(":6", "lpos", "pos", "c", "RANK", "2")
	n.expect(":7", "lpos", "pos", "c", "RANK", "-1")
	n.expect(":6", "lpos", "pos", "c", "RANK", "-2")
	n.expect("$-1", "lpos", "pos", "c", "RANK", "10")
	n.expect("*2 :2 :6", "lpos", "pos", "c", "COUNT", "2")
	n.expect("*3 :2 :6 :7", "lpos", "pos", "c", "COUNT", "0")
	n.expect("*3 :7 :6 :2", "lpos", "pos", "c", "COUNT", "0", "RANK", "-1")
	n.expect("*0", "lpos", "pos", "zz", "COUNT", "2")
	n.expect(":2", "lpos", "pos", "c", "MAXLEN", "3")
	n.expect("$-1", "lpos", "pos", "c", "MAXLEN", "2")
	n.expect("*3 :7 :6 :2", "lpos", "pos", "c", "RANK", "-9223372036854775808", "COUNT", "2")
	n.expect("-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list", "lpos", "pos", "c", "RANK", "0")
	n.expect("-ERR COUNT can't be negative", "lpos", "pos", "c", "COUNT", "-1")
	n.expect("-ERR MAXLEN can't be negative", "lpos", "pos", "c", "MAXLEN", "-1")
	n.expect("-ERR value is not an integer or out of range", "lpos", "pos", "c", "RANK", "abc")
	n.expect("-ERR syntax error", "lpos", "pos", "c", "COUNT")
	n.expect("-ERR syntax error", "lpos", "pos", "c", "BOGUS", "1")
}

func TestListMove(t *testing.T) {
	n := newTestNode(t)
	n.expect(":3", "rpush", "{m}src", "1", "2", "3")
	n.expect("$3", "rpoplpush", "{m}src", "{m}dst")
	n.expect(bulks("1", "2"), "lrange", "{m}src", "0", "-1")
	n.expect(bulks("3"), "lrange", "{m}dst", "0", "-1")
	n.expect("$2", "rpoplpush", "{m}src", "{m}src")
	n.expect(bulks("2", "1"), "lrange", "{m}src", "0", "-1")
	n.expect("$2", "lmove", "{m}src", "{m}dst", "LEFT", "RIGHT")
	n.expect(bulks("3", "2"), "lrange", "{m}dst", "0", "-1")
	n.expect("$3", "lmove", "{m}dst", "{m}dst", "left", "right")
	n.expect(bulks("2", "3"), "lrange", "{m}dst", "0", "-1")
	n.expect("$3", "lmove", "{m}dst", "{m}dst", "right", "left")
	n.expect(bulks("3", "2"), "lrange", "{m}dst", "0", "-1")
	checkCollection(t, n, "{m}dst")
	n.expect("$1", "lmove", "{m}src", "{m}dst", "LEFT", "LEFT")
	n.expect(":0", "exists", "{m}src")
	n.expect("$-1", "lmove", "{m}src", "{m}dst", "LEFT", "LEFT")
	n.expect("-ERR syntax error", "lmove", "{m}dst", "{m}src", "UP", "DOWN")
	// A one-item list rotated onto itself stays.
	n.expect(":1", "rpush", "one", "x")
	n.expect("$x", "lmove", "one", "one", "LEFT", "RIGHT")
	n.expect(bulks("x"), "lrange", "one", "0", "-1")
	checkCollection(t, n, "one")
	// Keys in different slots.
	n.expect("$x", "lmove", "one", "other", "RIGHT", "LEFT")
	n.expect(":0", "exists", "one")
	n.expect(bulks("x"), "lrange", "other", "0", "-1")
	n.expect("+OK", "set", "{m}str", "v")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "rpoplpush", "{m}dst", "{m}str")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "rpoplpush", "{m}str", "{m}dst")
	n.expect(bulks("1", "3", "2"), "lrange", "{m}dst", "0", "-1")
}
