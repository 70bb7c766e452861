package command

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// makeSet stores a plain set directly, so these tests do not depend on the
// set commands.
func makeSet(t *testing.T, n *testNode, key string, members ...string) {
	t.Helper()
	slot := router.SlotOf([]byte(key), storage.DefaultSlots)
	err := n.eng.Update(storage.DefaultTable, []storage.SlotID{slot}, func(u *storage.Update) error {
		txn := u.Txn(slot)
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		for _, m := range members {
			if err := txn.PutMember([]byte(key), v, []byte(m), nil); err != nil {
				return err
			}
		}
		return txn.PutMeta([]byte(key), &storage.Meta{Type: storage.TypeSet, Version: v, Count: uint64(len(members))})
	})
	if err != nil {
		t.Fatal(err)
	}
}

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value"

func TestZAddOptions(t *testing.T) {
	n := newTestNode(t)
	n.expect(":3", "zadd", "z", "1", "a", "2", "b", "3", "c")
	n.expect(":0", "zadd", "z", "10", "a")
	n.expect("$10", "zscore", "z", "a")
	n.expect(":1", "zadd", "z", "1.5", "a", "2.5", "d")
	n.expect(bulks("a", "1.5", "b", "2", "d", "2.5", "c", "3"), "zrange", "z", "0", "-1", "WITHSCORES")
	n.expect(":1", "zadd", "z", "NX", "100", "a", "4", "e")
	n.expect("$1.5", "zscore", "z", "a")
	n.expect(":0", "zadd", "z", "XX", "100", "a", "5", "f")
	n.expect("$100", "zscore", "z", "a")
	n.expect("$-1", "zscore", "z", "f")
	n.expect(":2", "zadd", "z", "CH", "100", "a", "200", "b", "6", "g")
	n.expect(":0", "zadd", "z", "GT", "CH", "50", "a")
	n.expect(":1", "zadd", "z", "GT", "CH", "150", "a")
	n.expect(":0", "zadd", "z", "LT", "CH", "160", "a")
	n.expect(":1", "zadd", "z", "LT", "CH", "50", "a")
	n.expect(":1", "zadd", "z", "XX", "GT", "CH", "80", "a", "9", "b")
	n.expect("$80", "zscore", "z", "a")
	n.expect("$200", "zscore", "z", "b")
	n.expect("-ERR XX and NX options at the same time are not compatible", "zadd", "z", "NX", "XX", "1", "a")
	n.expect("-ERR GT, LT, and/or NX options at the same time are not compatible", "zadd", "z", "NX", "GT", "1", "a")
	n.expect("-ERR GT, LT, and/or NX options at the same time are not compatible", "zadd", "z", "GT", "LT", "1", "a")
	n.expect("-ERR INCR option supports a single increment-element pair", "zadd", "z", "INCR", "5", "a", "6", "b")
	n.expect("$85", "zadd", "z", "INCR", "5", "a")
	n.expect("$-1", "zadd", "z", "INCR", "NX", "5", "a")
	n.expect("$-1", "zadd", "z", "INCR", "XX", "5", "newmember")
	n.expect("$-1", "zadd", "z", "INCR", "GT", "-1", "a")
	n.expect("$84", "zadd", "z", "INCR", "LT", "-1", "a")
	n.expect("-ERR syntax error", "zadd", "z", "1", "a", "2")
	n.expect("-ERR syntax error", "zadd", "z", "NX", "1")
	n.expect("-ERR value is not a valid float", "zadd", "z", "abc", "a")
	n.expect("-ERR value is not a valid float", "zadd", "z", "nan", "a")
	n.expect("-ERR value is not a valid float", "zadd", "z", "1e400", "a")
	n.expect("-ERR value is not a valid float", "zadd", "z", "1e-400", "a")
	n.expect("-ERR value is not a valid float", "zadd", "z", " 1", "a")
	n.expect("-ERR value is not a valid float", "zadd", "z", "1_0", "a")
	n.expect(":0", "zadd", "nokey", "XX", "1", "a")
	n.expect(":0", "exists", "nokey")
	checkCollection(t, n, "z")

	n.expect(":3", "zadd", "f", "0x10", "hex", "inf", "pinf", "-inf", "ninf")
	n.expect(bulks("ninf", "-inf", "hex", "16", "pinf", "inf"), "zrange", "f", "0", "-1", "WITHSCORES")
	n.expect("-ERR resulting score is not a number (NaN)", "zadd", "f", "INCR", "-inf", "pinf")
	n.expect("-ERR resulting score is not a number (NaN)", "zincrby", "f", "-inf", "pinf")
	n.expect(":2", "zadd", "g", "0.1", "a", "123456789012345678", "b")
	n.expect(bulks("a", "0.10000000000000001", "b", "1.2345678901234568e+17"), "zrange", "g", "0", "-1", "WITHSCORES")
	n.expect("$5", "zincrby", "zi", "5", "m")
	n.expect("$2.5", "zincrby", "zi", "-2.5", "m")
	n.expect("-ERR value is not a valid float", "zincrby", "zi", "abc", "m")
	checkCollection(t, n, "zi")

	n.expect("+OK", "set", "s", "v")
	n.expect(wrongType, "zadd", "s", "1", "a")
	n.expect(wrongType, "zincrby", "s", "1", "a")
}

func TestZRemCardScore(t *testing.T) {
	n := newTestNode(t)
	n.expect(":3", "zadd", "r", "1", "a", "2", "b", "3", "c")
	n.expect(":1", "zrem", "r", "a", "zz", "a")
	n.expect(":0", "zrem", "r", "a")
	n.expect(":0", "zrem", "nokey", "a")
	n.expect(":2", "zcard", "r")
	n.expect(":0", "zcard", "nokey")
	checkCollection(t, n, "r")
	n.expect("*3 $2 $-1 $3", "zmscore", "r", "b", "zz", "c")
	n.expect("*2 $-1 $-1", "zmscore", "nokey", "a", "b")
	n.expect("$-1", "zscore", "nokey", "a")
	n.expect(":2", "zrem", "r", "b", "c")
	n.expect(":0", "exists", "r")
	n.expect(":0", "dbsize")
}

func TestZRankCount(t *testing.T) {
	n := newTestNode(t)
	n.expect(":5", "zadd", "rk", "1", "a", "2", "b", "3", "c", "3", "d", "10", "e")
	n.expect(":0", "zrank", "rk", "a")
	n.expect(":3", "zrank", "rk", "d")
	n.expect(":4", "zrank", "rk", "e")
	n.expect("$-1", "zrank", "rk", "zz")
	n.expect("$-1", "zrank", "nokey", "a")
	n.expect(":4", "zrevrank", "rk", "a")
	n.expect(":0", "zrevrank", "rk", "e")
	n.expect(":1", "zrevrank", "rk", "d")
	n.expect(":5", "zcount", "rk", "-inf", "+inf")
	n.expect(":3", "zcount", "rk", "2", "3")
	n.expect(":2", "zcount", "rk", "(2", "3")
	n.expect(":0", "zcount", "rk", "(2", "(3")
	n.expect(":0", "zcount", "rk", "3", "2")
	n.expect(":2", "zcount", "rk", "-inf", "(3")
	n.expect(":0", "zcount", "rk", "(inf", "+inf")
	n.expect(":1", "zcount", "rk", "", "1")
	n.expect(":0", "zcount", "nokey", "0", "1")
	n.expect("-ERR min or max is not a float", "zcount", "rk", "a", "1")
	n.expect("-ERR min or max is not a float", "zcount", "rk", "nan", "1")
	n.expect("-ERR min or max is not a float", "zcount", "nokey", "1 ", "1")

	n.expect(":6", "zadd", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f")
	n.expect(":6", "zlexcount", "lex", "-", "+")
	n.expect(":3", "zlexcount", "lex", "[b", "[d")
	n.expect(":2", "zlexcount", "lex", "(b", "[d")
	n.expect(":1", "zlexcount", "lex", "(b", "(d")
	n.expect(":0", "zlexcount", "lex", "[d", "[b")
	n.expect(":0", "zlexcount", "lex", "+", "-")
	n.expect(":0", "zlexcount", "lex", "-", "-")
	n.expect(":0", "zlexcount", "nokey", "-", "+")
	n.expect("-ERR min or max not valid string range item", "zlexcount", "lex", "a", "b")
	n.expect("-ERR min or max not valid string range item", "zlexcount", "lex", "", "+")
	n.expect("-ERR min or max not valid string range item", "zlexcount", "lex", "-x", "+")
	// With differing scores, Redis (listpack) finds nothing unless the
	// last member is above min and the first below max.
	n.expect(":5", "zadd", "u", "3", "a", "1", "b", "2", "c", "1", "d", "2", "e")
	n.expect(":0", "zlexcount", "u", "[b", "[e")
	n.expect(":5", "zlexcount", "u", "-", "+")
}

func TestZRange(t *testing.T) {
	n := newTestNode(t)
	n.expect(":5", "zadd", "rk", "1", "a", "2", "b", "3", "c", "3", "d", "10", "e")
	n.expect(bulks("a", "b", "c", "d", "e"), "zrange", "rk", "0", "-1")
	n.expect(bulks("d", "3", "e", "10"), "zrange", "rk", "-2", "-1", "WITHSCORES")
	n.expect("*0", "zrange", "rk", "3", "1")
	n.expect(bulks("e", "d", "c", "b", "a"), "zrange", "rk", "0", "-1", "REV")
	n.expect(bulks("e", "10", "d", "3"), "zrange", "rk", "0", "1", "REV", "WITHSCORES")
	n.expect("*0", "zrange", "nokey", "0", "-1")
	n.expect("-ERR value is not an integer or out of range", "zrange", "rk", "a", "1")
	n.expect("-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX", "zrange", "rk", "0", "-1", "LIMIT", "0", "1")
	n.expect(bulks("b", "c", "d"), "zrange", "rk", "2", "5", "BYSCORE")
	n.expect(bulks("c", "3", "d", "3"), "zrange", "rk", "(2", "5", "BYSCORE", "WITHSCORES")
	n.expect(bulks("b", "c"), "zrange", "rk", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2")
	n.expect(bulks("b", "c", "d", "e"), "zrange", "rk", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1")
	n.expect("*0", "zrange", "rk", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2")
	n.expect("*0", "zrange", "rk", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "2")
	n.expect(bulks("d", "3", "c", "3", "b", "2"), "zrange", "rk", "5", "2", "BYSCORE", "REV", "WITHSCORES")
	n.expect("*0", "zrange", "rk", "2", "5", "BYSCORE", "REV")
	n.expect("-ERR min or max is not a float", "zrange", "rk", "a", "5", "BYSCORE")
	n.expect("-ERR syntax error", "zrange", "rk", "0", "1", "BYSCORE", "LIMIT", "0")
	n.expect("-ERR syntax error", "zrange", "rk", "0", "-1", "BYSCORE", "BYLEX")
	n.expect("-ERR syntax error", "zrange", "rk", "0", "-1", "BOGUS")
	n.expect(":6", "zadd", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f")
	n.expect(bulks("b", "c", "d"), "zrange", "lex", "[b", "(e", "BYLEX")
	n.expect(bulks("c", "d"), "zrange", "lex", "-", "+", "BYLEX", "LIMIT", "2", "2")
	n.expect(bulks("f", "e", "d", "c", "b", "a"), "zrange", "lex", "+", "-", "BYLEX", "REV")
	n.expect(bulks("d", "c"), "zrange", "lex", "(e", "[b", "BYLEX", "REV", "LIMIT", "0", "2")
	n.expect("-ERR syntax error, WITHSCORES not supported in combination with BYLEX", "zrange", "lex", "-", "+", "BYLEX", "WITHSCORES")
	n.expect("-ERR min or max not valid string range item", "zrange", "lex", "a", "b", "BYLEX")

	n.expect(bulks("b", "2", "c", "3", "d", "3"), "zrangebyscore", "rk", "2", "3", "WITHSCORES")
	n.expect(bulks("b", "c", "d"), "zrangebyscore", "rk", "(1", "(10")
	n.expect("*0", "zrangebyscore", "rk", "-inf", "+inf", "LIMIT", "0", "0")
	n.expect("-ERR syntax error", "zrangebyscore", "rk", "0", "1", "REV")
	n.expect(bulks("c", "3", "b", "2"), "zrevrangebyscore", "rk", "(10", "(1", "WITHSCORES", "LIMIT", "1", "2")
	n.expect("*0", "zrevrangebyscore", "rk", "1", "5")
	n.expect(bulks("e", "d", "c", "b", "a"), "zrevrange", "rk", "0", "-1")
	n.expect(bulks("e", "10", "d", "3"), "zrevrange", "rk", "0", "1", "WITHSCORES")
	n.expect(bulks("c", "d", "e", "f"), "zrangebylex", "lex", "[c", "+")
	n.expect(bulks("a", "b"), "zrangebylex", "lex", "-", "(c")
	n.expect(bulks("b", "c", "d", "e", "f"), "zrangebylex", "lex", "-", "+", "LIMIT", "1", "-1")
	n.expect("-ERR syntax error, WITHSCORES not supported in combination with BYLEX", "zrangebylex", "lex", "-", "+", "WITHSCORES")
	n.expect(bulks("d", "c", "b"), "zrevrangebylex", "lex", "[d", "(a")
	n.expect("*0", "zrevrangebylex", "lex", "-", "+")
	n.expect("*0", "zrangebylex", "nokey", "-", "+")
	n.expect("+OK", "set", "s", "v")
	n.expect(wrongType, "zrange", "s", "0", "-1")
	n.expect(wrongType, "zrangebylex", "s", "-", "+")
}

func TestZRemRangeAndPop(t *testing.T) {
	n := newTestNode(t)
	n.expect(":6", "zadd", "rr", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f")
	n.expect(":2", "zremrangebyrank", "rr", "0", "1")
	n.expect(":1", "zremrangebyrank", "rr", "-1", "-1")
	n.expect(":0", "zremrangebyrank", "rr", "5", "10")
	n.expect(bulks("c", "d", "e"), "zrange", "rr", "0", "-1")
	checkCollection(t, n, "rr")
	n.expect(":1", "zremrangebyscore", "rr", "(3", "4")
	n.expect(":0", "zremrangebyscore", "rr", "100", "200")
	n.expect("-ERR min or max is not a float", "zremrangebyscore", "rr", "a", "1")
	n.expect("-ERR value is not an integer or out of range", "zremrangebyrank", "rr", "a", "1")
	checkCollection(t, n, "rr")
	n.expect(":2", "zremrangebyscore", "rr", "-inf", "+inf")
	n.expect(":0", "exists", "rr")
	n.expect(":0", "zremrangebyrank", "nokey", "0", "-1")

	n.expect(":5", "zadd", "rl", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
	n.expect(":2", "zremrangebylex", "rl", "[b", "(d")
	n.expect(bulks("a", "d", "e"), "zrange", "rl", "0", "-1")
	n.expect("-ERR min or max not valid string range item", "zremrangebylex", "rl", "a", "b")
	checkCollection(t, n, "rl")
	n.expect(":3", "zremrangebylex", "rl", "-", "+")
	n.expect(":0", "exists", "rl")

	n.expect(":5", "zadd", "p", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
	n.expect(bulks("a", "1"), "zpopmin", "p")
	n.expect(bulks("e", "5"), "zpopmax", "p")
	n.expect(bulks("b", "2", "c", "3"), "zpopmin", "p", "2")
	n.expect("*0", "zpopmax", "p", "0")
	checkCollection(t, n, "p")
	n.expect(bulks("d", "4"), "zpopmax", "p", "5")
	n.expect(":0", "exists", "p")
	n.expect("*0", "zpopmin", "p")
	n.expect("-ERR value is out of range, must be positive", "zpopmin", "p", "-1")
	n.expect("-ERR value is out of range, must be positive", "zpopmin", "p", "abc")
	n.expect("-ERR syntax error", "zpopmin", "p", "1", "2")
	n.expect("+OK", "set", "s", "v")
	n.expect(wrongType, "zpopmin", "s", "0")
	n.expect(wrongType, "zremrangebylex", "s", "-", "+")
}

func TestZStore(t *testing.T) {
	n := newTestNode(t)
	n.expect(":3", "zadd", "{s}a", "1", "x", "2", "y", "3", "z")
	n.expect(":3", "zadd", "{s}b", "10", "y", "20", "z", "30", "w")
	makeSet(t, n, "{s}set", "x", "w")
	n.expect(":4", "zunionstore", "{s}out", "2", "{s}a", "{s}b")
	n.expect(bulks("x", "1", "y", "12", "z", "23", "w", "30"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	checkCollection(t, n, "{s}out")
	n.expect(":4", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "WEIGHTS", "2", "0.5")
	n.expect(bulks("x", "2", "y", "9", "w", "15", "z", "16"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":4", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "AGGREGATE", "max", "WEIGHTS", "1", "-1")
	n.expect(bulks("w", "-30", "x", "1", "y", "2", "z", "3"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":4", "zunionstore", "{s}out", "3", "{s}a", "{s}b", "{s}set")
	n.expect(bulks("x", "2", "y", "12", "z", "23", "w", "31"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":0", "zunionstore", "{s}out", "1", "{s}nokey")
	n.expect(":0", "exists", "{s}out")
	n.expect(":2", "zinterstore", "{s}out", "2", "{s}a", "{s}b")
	n.expect(bulks("y", "12", "z", "23"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":2", "zinterstore", "{s}out", "2", "{s}a", "{s}b", "WEIGHTS", "1", "2", "AGGREGATE", "MIN")
	n.expect(bulks("y", "2", "z", "3"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":1", "zinterstore", "{s}out", "2", "{s}a", "{s}set")
	n.expect(bulks("x", "2"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":3", "zinterstore", "{s}out", "2", "{s}a", "{s}a", "WEIGHTS", "1", "10")
	n.expect(bulks("x", "11", "y", "22", "z", "33"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":0", "zinterstore", "{s}out", "2", "{s}a", "{s}nokey")
	n.expect(":0", "exists", "{s}out")
	n.expect(":1", "zdiffstore", "{s}out", "2", "{s}a", "{s}b")
	n.expect(bulks("x", "1"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":2", "zdiffstore", "{s}out", "2", "{s}b", "{s}set")
	n.expect(bulks("y", "10", "z", "20"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":0", "zdiffstore", "{s}out", "2", "{s}a", "{s}a")
	n.expect(":0", "exists", "{s}out")
	// The destination may be an input.
	n.expect(":4", "zunionstore", "{s}a", "2", "{s}a", "{s}b")
	n.expect(bulks("x", "1", "y", "12", "z", "23", "w", "30"), "zrange", "{s}a", "0", "-1", "WITHSCORES")
	checkCollection(t, n, "{s}a")
	// inf + -inf is 0, and so is inf * 0.
	n.expect(":1", "zadd", "{s}i1", "inf", "x")
	n.expect(":1", "zadd", "{s}i2", "-inf", "x")
	n.expect(":1", "zunionstore", "{s}out", "2", "{s}i1", "{s}i2")
	n.expect(bulks("x", "0"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	n.expect(":1", "zunionstore", "{s}out", "1", "{s}i1", "WEIGHTS", "0")
	n.expect(bulks("x", "0"), "zrange", "{s}out", "0", "-1", "WITHSCORES")
	// Overwrites a key of another type, dropping its TTL.
	n.expect("+OK", "set", "{s}str", "v", "EX", "100")
	n.expect(":3", "zunionstore", "{s}str", "1", "{s}b")
	n.expect(":-1", "ttl", "{s}str")

	n.expect("+OK", "set", "{s}str2", "v")
	n.expect(wrongType, "zunionstore", "{s}out", "2", "{s}a", "{s}str2")
	n.expect(wrongType, "zinterstore", "{s}out", "2", "{s}a", "{s}str2", "WEIGHTS", "x")
	n.expect("-ERR at least 1 input key is needed for 'zunionstore' command", "zunionstore", "{s}out", "0", "{s}a")
	n.expect("-ERR at least 1 input key is needed for 'zdiffstore' command", "zdiffstore", "{s}out", "-1", "{s}a")
	n.expect("-ERR value is not an integer or out of range", "zunionstore", "{s}out", "abc", "{s}a")
	n.expect("-ERR syntax error", "zunionstore", "{s}out", "3", "{s}a", "{s}b")
	n.expect("-ERR syntax error", "zunionstore", "{s}out", "1", "{s}a", "{s}b")
	n.expect("-ERR syntax error", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "WEIGHTS", "1")
	n.expect("-ERR weight value is not a float", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "WEIGHTS", "1", "nan")
	n.expect("-ERR syntax error", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "AGGREGATE", "AVG")
	n.expect("-ERR syntax error", "zunionstore", "{s}out", "2", "{s}a", "{s}b", "WITHSCORES")
	n.expect("-ERR syntax error", "zdiffstore", "{s}out", "2", "{s}a", "{s}b", "WEIGHTS", "1", "1")
}

func TestZRandMember(t *testing.T) {
	n := newTestNode(t)
	n.expect("$-1", "zrandmember", "nokey")
	n.expect("*0", "zrandmember", "nokey", "3")
	n.expect(":3", "zadd", "rnd", "1", "a", "2", "b", "3", "c")
	n.expect("*0", "zrandmember", "rnd", "0")
	n.expect(bulks("c", "3", "b", "2", "a", "1"), "zrandmember", "rnd", "10", "WITHSCORES")
	for i := 0; i < 20; i++ {
		one := shorten(n.do("zrandmember", "rnd"))
		if one != "$a" && one != "$b" && one != "$c" {
			t.Fatalf("zrandmember: %q", one)
		}
		parts := strings.Split(shorten(n.do("zrandmember", "rnd", "2")), " ")
		if len(parts) != 3 || parts[0] != "*2" || parts[1] == parts[2] {
			t.Fatalf("zrandmember 2: %q", parts)
		}
		parts = strings.Split(shorten(n.do("zrandmember", "rnd", "-5", "WITHSCORES")), " ")
		if len(parts) != 11 || parts[0] != "*10" {
			t.Fatalf("zrandmember -5: %q", parts)
		}
		for j := 1; j < len(parts); j += 2 {
			m, s := parts[j], parts[j+1]
			if want := map[string]string{"$a": "$1", "$b": "$2", "$c": "$3"}[m]; want != s {
				t.Fatalf("zrandmember -5 withscores: %q", parts)
			}
		}
	}
	// Distinct picks from a larger set.
	args := []string{"zadd", "big"}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprint(i), fmt.Sprintf("m%d", i))
	}
	n.expect(":300", args...)
	parts := strings.Split(shorten(n.do("zrandmember", "big", "50")), " ")
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		seen[p] = true
	}
	if parts[0] != "*50" || len(seen) != 50 {
		t.Fatalf("zrandmember big 50: %d distinct of %q", len(seen), parts[0])
	}
	// Repeats allowed, fewer picks than members.
	parts = strings.Split(shorten(n.do("zrandmember", "big", "-20", "WITHSCORES")), " ")
	if parts[0] != "*40" {
		t.Fatalf("zrandmember big -20: %q", parts[0])
	}
	for j := 1; j < len(parts); j += 2 {
		if "$m"+strings.TrimPrefix(parts[j+1], "$") != parts[j] {
			t.Fatalf("zrandmember big -20: pair %q %q", parts[j], parts[j+1])
		}
	}
	n.expect("-ERR value is not an integer or out of range", "zrandmember", "rnd", "abc")
	n.expect("-ERR syntax error", "zrandmember", "rnd", "1", "BOGUS")
	n.expect("-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807", "zrandmember", "rnd", "-9223372036854775808")
	n.expect("-ERR value is out of range", "zrandmember", "rnd", "4611686018427387904", "WITHSCORES")
}

func TestZScanFullIteration(t *testing.T) {
	n := newTestNode(t)
	// A small set comes back whole, as Redis returns a listpack.
	n.expect(":3", "zadd", "small", "1", "a", "2", "b", "1.5", "c")
	n.expect("*2 $0 *6 $a $1 $c $1.5 $b $2", "zscan", "small", "0", "COUNT", "1")
	n.expect("*2 $0 *0", "zscan", "nokey", "0")
	n.expect("-ERR invalid cursor", "zscan", "small", "abc")
	n.expect("-ERR syntax error", "zscan", "small", "0", "COUNT", "0")
	n.expect("-ERR syntax error", "zscan", "small", "0", "MATCH")
	n.expect("+OK", "set", "s", "v")
	n.expect(wrongType, "zscan", "s", "0")

	want := map[string]string{}
	args := []string{"zadd", "big"}
	for i := 0; i < 500; i++ {
		m := fmt.Sprintf("m%d", i)
		want[m] = fmt.Sprint(i)
		args = append(args, fmt.Sprint(i), m)
	}
	n.expect(":500", args...)
	for _, match := range []string{"", "m1*"} {
		got := map[string]string{}
		cursor, pages := "0", 0
		for {
			cmd := []string{"zscan", "big", cursor, "COUNT", "7"}
			if match != "" {
				cmd = append(cmd, "MATCH", match)
			}
			var elems []string
			parseScanReply(t, n.do(cmd...), &cursor, &elems)
			pages++
			if len(elems)%2 != 0 {
				t.Fatalf("odd scan page %q", elems)
			}
			for i := 0; i < len(elems); i += 2 {
				if _, dup := got[elems[i]]; dup {
					t.Errorf("member %s returned twice", elems[i])
				}
				got[elems[i]] = elems[i+1]
			}
			if cursor == "0" {
				break
			}
		}
		var missing []string
		for m, s := range want {
			if match != "" && !strings.HasPrefix(m, "m1") {
				continue
			}
			if got[m] != s {
				missing = append(missing, m)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 || pages < 500/7 {
			t.Errorf("match %q: %d pages, missing or wrong %v", match, pages, missing)
		}
		for m := range got {
			if match != "" && !strings.HasPrefix(m, "m1") {
				t.Errorf("match %q returned %s", match, m)
			}
		}
	}
}
