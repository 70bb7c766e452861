package command

import (
	"fmt"
	"strings"
	"testing"
)

func TestSetBasics(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":3", hsArgs("sadd", "s", "a", "b", "c")},
		{":1", hsArgs("sadd", "s", "a", "d")},
		{":0", hsArgs("sadd", "s", "a", "a", "a")},
		{":1", hsArgs("sadd", "s2", "x", "x")},
		{":4", hsArgs("scard", "s")},
		{":0", hsArgs("scard", "nokey")},
		{"+set", hsArgs("type", "s")},
		{"*4 $a $b $c $d", hsArgs("smembers", "s")},
		{"*0", hsArgs("smembers", "nokey")},
		{":1", hsArgs("sismember", "s", "a")},
		{":0", hsArgs("sismember", "s", "zz")},
		{":0", hsArgs("sismember", "nokey", "a")},
		{"*3 :1 :0 :1", hsArgs("smismember", "s", "a", "zz", "d")},
		{"*2 :0 :0", hsArgs("smismember", "nokey", "a", "b")},
		{":1", hsArgs("srem", "s", "a", "zz")},
		{":0", hsArgs("srem", "s", "a")},
		{":0", hsArgs("srem", "nokey", "a")},
		{":3", hsArgs("scard", "s")},
		{":3", hsArgs("srem", "s", "b", "c", "d", "d")},
		{":0", hsArgs("exists", "s")},
		{":0", hsArgs("scard", "s")},
		{":1", hsArgs("dbsize")},
		{":3", hsArgs("sadd", "bin", "", "a\x00b", "\xff")},
		{":1", hsArgs("sismember", "bin", "")},
		{":1", hsArgs("sismember", "bin", "a\x00b")},
		// A recreated set does not resurrect old members.
		{":1", hsArgs("sadd", "s", "new")},
		{"*1 $new", hsArgs("smembers", "s")},
	})
}

func TestSetWrongType(t *testing.T) {
	n := newTestNode(t)
	n.expect("+OK", "set", "str", "v")
	n.expect(":1", "sadd", "s", "a")
	n.expect(":1", "hset", "h", "f", "v")
	wt := "-" + string(ErrWrongType)
	for _, args := range [][]string{
		{"sadd", "str", "a"}, {"srem", "str", "a"}, {"scard", "str"},
		{"sismember", "str", "a"}, {"smismember", "str", "a"}, {"smembers", "str"},
		{"spop", "str"}, {"spop", "str", "0"}, {"srandmember", "str"}, {"srandmember", "str", "0"},
		{"sscan", "str", "0"}, {"smembers", "h"},
		{"smove", "str", "s", "a"}, {"smove", "s", "str", "zz"},
		{"sinter", "s", "str"}, {"sinter", "nokey", "str"}, {"sintercard", "2", "nokey", "str"},
		{"sinterstore", "d", "s", "str"}, {"sunion", "s", "str"}, {"sunionstore", "d", "nokey", "str"},
		{"sdiff", "nokey", "str"}, {"sdiff", "str", "s"}, {"sdiffstore", "d", "s", "str"},
	} {
		n.expect(wt, args...)
	}
	n.expect(":0", "exists", "d")
	n.expect(":0", "smove", "nokey", "str", "a")
	n.expect("$v", "get", "str")
}

func TestSPop(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{"$-1", hsArgs("spop", "nokey")},
		{"*0", hsArgs("spop", "nokey", "3")},
		{"-ERR value is out of range, must be positive", hsArgs("spop", "nokey", "-1")},
		{"-ERR value is out of range, must be positive", hsArgs("spop", "nokey", "abc")},
		{"-ERR syntax error", hsArgs("spop", "nokey", "1", "2")},
		{":1", hsArgs("sadd", "one", "x")},
		{"*0", hsArgs("spop", "one", "0")},
		{"$x", hsArgs("spop", "one")},
		{":0", hsArgs("exists", "one")},
		{":3", hsArgs("sadd", "r2", "a", "b", "c")},
	})
	hsExpectSorted(n, []string{"a", "b", "c"}, "spop", "r2", "3")
	n.expect(":0", "exists", "r2")
	n.expect(":0", "dbsize")

	members := map[string]bool{}
	args := []string{"sadd", "r"}
	for i := 0; i < 40; i++ {
		m := fmt.Sprintf("m%d", i)
		members[m] = true
		args = append(args, m)
	}
	n.expect(":40", args...)
	popped := map[string]bool{}
	pop := func(got []string) {
		for _, m := range got {
			if !members[m] || popped[m] {
				t.Fatalf("spop returned %q twice or out of the set", m)
			}
			popped[m] = true
			n.expect(":0", "sismember", "r", m)
		}
	}
	pop([]string{strings.TrimPrefix(shorten(n.do("spop", "r")), "$")})
	n.expect(":39", "scard", "r")
	got := hsElems(t, n.do("spop", "r", "10"))
	if len(got) != 10 {
		t.Fatalf("spop r 10: %q", got)
	}
	pop(got)
	n.expect(":29", "scard", "r")
	pop(hsElems(t, n.do("spop", "r", "100")))
	if len(popped) != 40 {
		t.Fatalf("popped %d members", len(popped))
	}
	n.expect(":0", "exists", "r")
}

func TestSRandMember(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{"$-1", hsArgs("srandmember", "nokey")},
		{"*0", hsArgs("srandmember", "nokey", "3")},
		{"*0", hsArgs("srandmember", "nokey", "-3")},
		{":1", hsArgs("sadd", "one", "x")},
		{"$x", hsArgs("srandmember", "one")},
		{"*1 $x", hsArgs("srandmember", "one", "5")},
		{"*3 $x $x $x", hsArgs("srandmember", "one", "-3")},
		{"*0", hsArgs("srandmember", "one", "0")},
		{"-ERR value is not an integer or out of range", hsArgs("srandmember", "one", "abc")},
		{"-ERR syntax error", hsArgs("srandmember", "one", "abc", "2")},
		{"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807", hsArgs("srandmember", "one", "-9223372036854775808")},
		{":1", hsArgs("scard", "one")},
		{":5", hsArgs("sadd", "r", "a", "b", "c", "d", "e")},
	})
	all := []string{"a", "b", "c", "d", "e"}
	hsExpectSorted(n, all, "srandmember", "r", "5")
	hsExpectSorted(n, all, "srandmember", "r", "100")
	seen := map[string]int{}
	for range 50 {
		got := hsElems(t, n.do("srandmember", "r", "3"))
		if len(got) != 3 || got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
			t.Fatalf("srandmember r 3: %q", got)
		}
		got = hsElems(t, n.do("srandmember", "r", "-8"))
		if len(got) != 8 {
			t.Fatalf("srandmember r -8: %q", got)
		}
		for _, m := range got {
			seen[m]++
		}
	}
	if len(seen) != 5 {
		t.Errorf("srandmember picks %v", seen)
	}
	n.expect(":5", "scard", "r")
}

func TestSMove(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":3", hsArgs("sadd", "src", "a", "b", "c")},
		{":1", hsArgs("sadd", "dst", "x")},
		{":1", hsArgs("smove", "src", "dst", "a")},
		{":0", hsArgs("smove", "src", "dst", "a")},
		{":0", hsArgs("smove", "src", "dst", "zz")},
		{"*2 $b $c", hsArgs("smembers", "src")},
		{"*2 $a $x", hsArgs("smembers", "dst")},
		{":0", hsArgs("smove", "src", "dst", "x")},
		{":1", hsArgs("sadd", "dst", "b")},
		{":1", hsArgs("smove", "src", "dst", "b")}, // already in dst
		{":3", hsArgs("scard", "dst")},
		{":1", hsArgs("smove", "src", "src", "c")},
		{":0", hsArgs("smove", "src", "src", "zz")},
		{":1", hsArgs("smove", "src", "new", "c")},
		{":0", hsArgs("exists", "src")},
		{"*1 $c", hsArgs("smembers", "new")},
		{":1", hsArgs("scard", "new")},
		{":0", hsArgs("smove", "nokey", "dst", "a")},
		{":2", hsArgs("dbsize")},
	})
}

func TestSetAlgebra(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":5", hsArgs("sadd", "a", "1", "2", "3", "4", "5")},
		{":5", hsArgs("sadd", "b", "3", "4", "5", "6", "7")},
		{":4", hsArgs("sadd", "c", "5", "6", "7", "8")},
		{"+OK", hsArgs("set", "str", "v")},
		{"*0", hsArgs("sinter", "a", "nokey")},
		{"*0", hsArgs("sinter", "nokey", "a")},
		{":2", hsArgs("sintercard", "2", "a", "b", "LIMIT", "2")},
		{":3", hsArgs("sintercard", "2", "a", "b", "limit", "0")},
		{":3", hsArgs("sintercard", "2", "a", "b", "limit", "10")},
		{":1", hsArgs("sintercard", "3", "a", "b", "c")},
		{":5", hsArgs("sintercard", "1", "a")},
		{":0", hsArgs("sintercard", "2", "a", "nokey")},
		{"-ERR numkeys should be greater than 0", hsArgs("sintercard", "0", "a")},
		{"-ERR numkeys should be greater than 0", hsArgs("sintercard", "-1", "a")},
		{"-ERR numkeys should be greater than 0", hsArgs("sintercard", "abc", "a")},
		{"-ERR Number of keys can't be greater than number of args", hsArgs("sintercard", "3", "a", "b")},
		{"-ERR syntax error", hsArgs("sintercard", "1", "a", "b")},
		{"-ERR LIMIT can't be negative", hsArgs("sintercard", "2", "a", "b", "limit", "-1")},
		{"-ERR LIMIT can't be negative", hsArgs("sintercard", "2", "a", "b", "limit", "abc")},
		{"-ERR syntax error", hsArgs("sintercard", "2", "a", "b", "limit")},
		{"-ERR syntax error", hsArgs("sintercard", "2", "a", "b", "bogus", "1")},
		{"*0", hsArgs("sunion", "nokey")},
		{"*0", hsArgs("sdiff", "nokey", "a")},
		{"*0", hsArgs("sdiff", "a", "a")},
	})
	hsExpectSorted(n, []string{"3", "4", "5"}, "sinter", "a", "b")
	hsExpectSorted(n, []string{"5"}, "sinter", "c", "a", "b")
	hsExpectSorted(n, []string{"1", "2", "3", "4", "5"}, "sinter", "a")
	hsExpectSorted(n, []string{"1", "2", "3", "4", "5", "6", "7"}, "sunion", "a", "b")
	hsExpectSorted(n, []string{"1", "2", "3", "4", "5", "6", "7", "8"}, "sunion", "a", "b", "c", "nokey")
	hsExpectSorted(n, []string{"1", "2"}, "sdiff", "a", "b")
	hsExpectSorted(n, []string{"1", "2"}, "sdiff", "a", "b", "c")
	hsExpectSorted(n, []string{"1", "2", "3", "4", "5"}, "sdiff", "a", "nokey")

	hsRun(n, []hsStep{
		// STORE forms replace the destination, whatever its type.
		{":3", hsArgs("sinterstore", "dest", "a", "b")},
		{"*3 $3 $4 $5", hsArgs("smembers", "dest")},
		{":0", hsArgs("sinterstore", "dest", "a", "nokey")},
		{":0", hsArgs("exists", "dest")},
		{":3", hsArgs("sinterstore", "str", "a", "b")},
		{"+set", hsArgs("type", "str")},
		{"*3 $3 $4 $5", hsArgs("smembers", "str")},
		{"+OK", hsArgs("set", "str", "v")},
		{":1", hsArgs("expire", "str", "100")},
		{":8", hsArgs("sunionstore", "str", "a", "b", "c")},
		{":-1", hsArgs("ttl", "str")},
		{":8", hsArgs("scard", "str")},
		{":0", hsArgs("sunionstore", "str", "nokey")},
		{":0", hsArgs("exists", "str")},
		{":2", hsArgs("sdiffstore", "d", "a", "b")},
		{"*2 $1 $2", hsArgs("smembers", "d")},
		{":0", hsArgs("sdiffstore", "d", "a", "a")},
		{":0", hsArgs("exists", "d")},
		// The destination may be a source.
		{":3", hsArgs("sinterstore", "a", "a", "b")},
		{"*3 $3 $4 $5", hsArgs("smembers", "a")},
		{":2", hsArgs("sdiffstore", "b", "b", "c")},
		{"*2 $3 $4", hsArgs("smembers", "b")},
		{":6", hsArgs("sunionstore", "c", "c", "a")},
		{":6", hsArgs("scard", "c")},
		{":3", hsArgs("dbsize")},
	})
}

func TestSScan(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{"*2 $0 *0", hsArgs("sscan", "nokey", "0")},
		{":5", hsArgs("sadd", "sc", "m1", "m2", "m3", "x1", "x2")},
		{"*2 $0 *5 $m1 $m2 $m3 $x1 $x2", hsArgs("sscan", "sc", "0")},
		{"*2 $0 *3 $m1 $m2 $m3", hsArgs("sscan", "sc", "0", "MATCH", "m*")},
		{"-ERR invalid cursor", hsArgs("sscan", "sc", "abc")},
		{"-ERR syntax error", hsArgs("sscan", "sc", "0", "count", "0")},
		{"-ERR syntax error", hsArgs("sscan", "sc", "0", "bogus", "1")},
	})

	want := map[string]bool{}
	args := []string{"sadd", "big"}
	for i := 0; i < 300; i++ {
		m := fmt.Sprint(i)
		want[m] = true
		args = append(args, m)
	}
	n.expect(":300", args...)
	got := map[string]bool{}
	cursor, calls := "0", 0
	for {
		var elems []string
		parseScanReply(t, n.do("sscan", "big", cursor, "count", "11"), &cursor, &elems)
		calls++
		for _, m := range elems {
			if got[m] {
				t.Fatalf("member %s returned twice", m)
			}
			got[m] = true
		}
		if cursor == "0" {
			break
		}
		if calls > 100 {
			t.Fatal("sscan does not terminate")
		}
	}
	if calls < 300/11 {
		t.Errorf("only %d calls with count 11", calls)
	}
	if len(got) != len(want) {
		t.Errorf("saw %d members, want %d", len(got), len(want))
	}
	for m := range want {
		if !got[m] {
			t.Errorf("member %s missing", m)
		}
	}
}

func TestSInterCardKeys(t *testing.T) {
	spec := NewTable().Lookup([]byte("sintercard"))
	args := func(a ...string) [][]byte {
		out := make([][]byte, len(a))
		for i, s := range a {
			out[i] = []byte(s)
		}
		return out
	}
	keys, err := spec.KeysOf(args("sintercard", "2", "a", "b", "limit", "1"))
	if err != nil || len(keys) != 2 || string(keys[0]) != "a" || string(keys[1]) != "b" {
		t.Fatalf("keys %q, err %v", keys, err)
	}
	for _, bad := range [][]string{{"sintercard", "0", "a"}, {"sintercard", "x", "a"}, {"sintercard", "3", "a", "b"}} {
		if _, err := spec.KeysOf(args(bad...)); err == nil {
			t.Errorf("%q: no error", bad)
		} else if _, ok := err.(Error); !ok {
			t.Errorf("%q: %v is not a Redis error", bad, err)
		}
	}
}
