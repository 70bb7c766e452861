package command

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// hsStep is one command of a table-driven test and its shortened reply.
type hsStep struct {
	want string
	args []string
}

func hsRun(n *testNode, steps []hsStep) {
	n.t.Helper()
	for _, s := range steps {
		n.expect(s.want, s.args...)
	}
}

func hsArgs(args ...string) []string { return args }

// hsElems returns the elements of a flat array reply (bulks without '$').
func hsElems(t testing.TB, raw string) []string {
	t.Helper()
	parts := strings.Split(shorten(raw), " ")
	if !strings.HasPrefix(parts[0], "*") {
		t.Fatalf("not an array: %q", raw)
	}
	var out []string
	for _, p := range parts[1:] {
		if !strings.HasPrefix(p, "$") {
			t.Fatalf("not a bulk element %q in %q", p, raw)
		}
		out = append(out, p[1:])
	}
	if fmt.Sprintf("*%d", len(out)) != parts[0] {
		t.Fatalf("array length mismatch in %q", raw)
	}
	return out
}

// hsExpectSorted compares an array reply's elements ignoring order.
func hsExpectSorted(n *testNode, want []string, args ...string) {
	n.t.Helper()
	got := hsElems(n.t, n.do(args...))
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		n.t.Errorf("%s: got %q, want %q", strings.Join(args, " "), got, want)
	}
}

// hsPairs turns a flat field/value reply into a map, failing on duplicates.
func hsPairs(t testing.TB, elems []string) map[string]string {
	t.Helper()
	if len(elems)%2 != 0 {
		t.Fatalf("odd pair list %q", elems)
	}
	m := map[string]string{}
	for i := 0; i < len(elems); i += 2 {
		if _, dup := m[elems[i]]; dup {
			t.Fatalf("duplicate field %q in %q", elems[i], elems)
		}
		m[elems[i]] = elems[i+1]
	}
	return m
}

func TestHashBasics(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":1", hsArgs("hset", "h", "f1", "v1")},
		{":0", hsArgs("hset", "h", "f1", "v1")},
		{":2", hsArgs("hset", "h", "f1", "v2", "f2", "v2", "f3", "v3")},
		{":1", hsArgs("hset", "h", "dup", "a", "dup", "b")},
		{"$b", hsArgs("hget", "h", "dup")},
		{"$v2", hsArgs("hget", "h", "f1")},
		{"$-1", hsArgs("hget", "h", "nofield")},
		{"$-1", hsArgs("hget", "nokey", "f")},
		{":4", hsArgs("hlen", "h")},
		{":0", hsArgs("hlen", "nokey")},
		{"+hash", hsArgs("type", "h")},
		{":0", hsArgs("hsetnx", "h", "f1", "x")},
		{":1", hsArgs("hsetnx", "h", "f9", "v9")},
		{"$v9", hsArgs("hget", "h", "f9")},
		{":1", hsArgs("hsetnx", "nh", "f", "v")},
		{"+OK", hsArgs("hmset", "hm", "a", "1", "b", "2")},
		{"*3 $1 $2 $-1", hsArgs("hmget", "hm", "a", "b", "c")},
		{"*2 $-1 $-1", hsArgs("hmget", "nokey", "a", "b")},
		{":1", hsArgs("hexists", "hm", "a")},
		{":0", hsArgs("hexists", "hm", "zz")},
		{":0", hsArgs("hexists", "nokey", "a")},
		{":1", hsArgs("hstrlen", "hm", "a")},
		{":0", hsArgs("hstrlen", "hm", "zz")},
		{":0", hsArgs("hstrlen", "nokey", "zz")},
		{":1", hsArgs("hset", "e", "", "")},
		{"$", hsArgs("hget", "e", "")},
		{":1", hsArgs("hexists", "e", "")},
		{"*0", hsArgs("hgetall", "nokey")},
		{"*0", hsArgs("hkeys", "nokey")},
		{"*0", hsArgs("hvals", "nokey")},
		{"*4 $a $1 $b $2", hsArgs("hgetall", "hm")},
		{"*2 $a $b", hsArgs("hkeys", "hm")},
		{"*2 $1 $2", hsArgs("hvals", "hm")},
		{"-ERR wrong number of arguments for 'hset' command", hsArgs("hset", "h", "f1", "v1", "f2")},
		{"-ERR wrong number of arguments for 'hmset' command", hsArgs("hmset", "h", "f1", "v1", "f2")},
	})
}

func TestHashDelete(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":3", hsArgs("hset", "h", "a", "1", "b", "2", "c", "3")},
		{":0", hsArgs("hdel", "nokey", "a")},
		{":1", hsArgs("hdel", "h", "a")},
		{":0", hsArgs("hdel", "h", "a")},
		{":1", hsArgs("hdel", "h", "zz", "b", "b")},
		{":1", hsArgs("hlen", "h")},
		{":1", hsArgs("hdel", "h", "c")},
		{":0", hsArgs("exists", "h")},
		{"+none", hsArgs("type", "h")},
		{":0", hsArgs("dbsize")},
		// A recreated hash does not resurrect old fields.
		{":1", hsArgs("hset", "h", "x", "1")},
		{"*2 $x $1", hsArgs("hgetall", "h")},
		{":1", hsArgs("dbsize")},
	})
}

func TestHashExpiry(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":2", hsArgs("hset", "h", "a", "1", "b", "2")},
		{":1", hsArgs("pexpire", "h", "100")},
		{":1", hsArgs("hset", "h", "c", "3")},
		{":1", hsArgs("hdel", "h", "a")},
		{":1", hsArgs("hincrby", "h", "n", "1")},
		{":100", hsArgs("pttl", "h")},
	})
	n.nowMS += 100
	hsRun(n, []hsStep{
		{"$-1", hsArgs("hget", "h", "b")},
		{":0", hsArgs("hlen", "h")},
		{":1", hsArgs("hset", "h", "z", "9")},
		{"*2 $z $9", hsArgs("hgetall", "h")},
		{":-1", hsArgs("pttl", "h")},
	})
}

func TestHashWrongType(t *testing.T) {
	n := newTestNode(t)
	n.expect("+OK", "set", "str", "v")
	n.expect(":1", "sadd", "set", "m")
	wt := "-" + string(ErrWrongType)
	for _, args := range [][]string{
		{"hset", "str", "f", "v"}, {"hsetnx", "str", "f", "v"}, {"hget", "str", "f"},
		{"hmset", "str", "f", "v"}, {"hmget", "str", "f"}, {"hdel", "str", "f"},
		{"hlen", "str"}, {"hstrlen", "str", "f"}, {"hexists", "str", "f"},
		{"hgetall", "str"}, {"hkeys", "str"}, {"hvals", "str"},
		{"hincrby", "str", "f", "1"}, {"hincrbyfloat", "str", "f", "1"},
		{"hrandfield", "str"}, {"hrandfield", "str", "1"}, {"hscan", "str", "0"},
		{"hget", "set", "f"}, {"hset", "set", "f", "v"},
	} {
		n.expect(wt, args...)
	}
	n.expect("$v", "get", "str")
}

func TestHashIncr(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{":5", hsArgs("hincrby", "hi", "n", "5")},
		{":-5", hsArgs("hincrby", "hi", "n", "-10")},
		{":-5", hsArgs("hincrby", "hi", "n", "0")},
		{"$-5", hsArgs("hget", "hi", "n")},
		{"-ERR value is not an integer or out of range", hsArgs("hincrby", "hi", "n", "abc")},
		{"-ERR value is not an integer or out of range", hsArgs("hincrby", "hi", "n", "1.5")},
		{"-ERR value is not an integer or out of range", hsArgs("hincrby", "hi", "n", "9223372036854775808")},
		{":5", hsArgs("hset", "hi", "s", "hello", "sp", " 5", "plus", "+5", "big", "9223372036854775807", "small", "-9223372036854775808")},
		{"-ERR hash value is not an integer", hsArgs("hincrby", "hi", "s", "1")},
		{"-ERR hash value is not an integer", hsArgs("hincrby", "hi", "sp", "1")},
		{"-ERR hash value is not an integer", hsArgs("hincrby", "hi", "plus", "1")},
		{"-ERR increment or decrement would overflow", hsArgs("hincrby", "hi", "big", "1")},
		{"-ERR increment or decrement would overflow", hsArgs("hincrby", "hi", "small", "-1")},
		{":-1", hsArgs("hincrby", "hi", "small", "9223372036854775807")},
		{":6", hsArgs("hlen", "hi")},
		{"$1.5", hsArgs("hincrbyfloat", "hi", "f", "1.5")},
		{"$1.6", hsArgs("hincrbyfloat", "hi", "f", "0.1")},
		{"$0", hsArgs("hincrbyfloat", "hi", "f", "-1.6")},
		{"$5000", hsArgs("hincrbyfloat", "hi", "f", "5.0e3")},
		{"$-4.5", hsArgs("hincrbyfloat", "hi", "n", "0.5")},
		{"-ERR value is not a valid float", hsArgs("hincrbyfloat", "hi", "f", "abc")},
		{"-ERR value is not a valid float", hsArgs("hincrbyfloat", "hi", "f", "")},
		{"-ERR value is not a valid float", hsArgs("hincrbyfloat", "hi", "f", "nan")},
		{"-ERR value is not a valid float", hsArgs("hincrbyfloat", "hi", "f", "1e5000")},
		{"-ERR value is NaN or Infinity", hsArgs("hincrbyfloat", "hi", "f", "inf")},
		{"-ERR value is NaN or Infinity", hsArgs("hincrbyfloat", "hi", "f", "-Infinity")},
		{"-ERR hash value is not a float", hsArgs("hincrbyfloat", "hi", "s", "1")},
		{":1", hsArgs("hset", "hi", "g", "10.50")},
		{"$10.6", hsArgs("hincrbyfloat", "hi", "g", "0.1")},
		{":0", hsArgs("hset", "hi", "g", "1e5000")},
		{"-ERR hash value is not a float", hsArgs("hincrbyfloat", "hi", "g", "1")},
		{"$2.5", hsArgs("hincrbyfloat", "newhf", "f", "2.5")},
		{"*2 $f $2.5", hsArgs("hgetall", "newhf")},
		{":3", hsArgs("hincrby", "newhi", "f", "3")},
		{"*2 $f $3", hsArgs("hgetall", "newhi")},
		// A failed increment does not create the key.
		{"-ERR value is not a valid float", hsArgs("hincrbyfloat", "none", "f", "x")},
		{":0", hsArgs("exists", "none")},
	})
}

func TestHRandField(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{"$-1", hsArgs("hrandfield", "nokey")},
		{"*0", hsArgs("hrandfield", "nokey", "5")},
		{"*0", hsArgs("hrandfield", "nokey", "-5", "withvalues")},
		{":1", hsArgs("hset", "one", "only", "val")},
		{"$only", hsArgs("hrandfield", "one")},
		{"*1 $only", hsArgs("hrandfield", "one", "1")},
		{"*2 $only $val", hsArgs("hrandfield", "one", "1", "withvalues")},
		{"*3 $only $only $only", hsArgs("hrandfield", "one", "-3")},
		{"*4 $only $val $only $val", hsArgs("hrandfield", "one", "-2", "WITHVALUES")},
		{"*0", hsArgs("hrandfield", "one", "0")},
		{"-ERR value is not an integer or out of range", hsArgs("hrandfield", "one", "abc")},
		{"-ERR syntax error", hsArgs("hrandfield", "one", "1", "bogus")},
		{"-ERR syntax error", hsArgs("hrandfield", "one", "1", "withvalues", "x")},
		{"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807", hsArgs("hrandfield", "one", "-9223372036854775808")},
		{"-ERR value is out of range", hsArgs("hrandfield", "one", "-4611686018427387904", "withvalues")},
		{"-ERR value is out of range", hsArgs("hrandfield", "nokey", "-4611686018427387904", "withvalues")},
	})

	fields := map[string]string{}
	args := []string{"hset", "r"}
	for i := 0; i < 50; i++ {
		f, v := fmt.Sprintf("f%02d", i), fmt.Sprintf("v%d", i)
		fields[f] = v
		args = append(args, f, v)
	}
	n.expect(":50", args...)
	all := make([]string, 0, len(fields))
	for f := range fields {
		all = append(all, f)
	}
	hsExpectSorted(n, all, "hrandfield", "r", "50")
	hsExpectSorted(n, all, "hrandfield", "r", "100")
	for range 20 {
		// Positive count: distinct fields.
		got := hsElems(t, n.do("hrandfield", "r", "7"))
		if len(got) != 7 {
			t.Fatalf("hrandfield r 7: %d fields", len(got))
		}
		seen := map[string]bool{}
		for _, f := range got {
			if _, ok := fields[f]; !ok || seen[f] {
				t.Fatalf("hrandfield r 7: bad or repeated field %q in %q", f, got)
			}
			seen[f] = true
		}
		// WITHVALUES pairs each field with its value.
		pairs := hsPairs(t, hsElems(t, n.do("hrandfield", "r", "5", "withvalues")))
		if len(pairs) != 5 {
			t.Fatalf("withvalues: %v", pairs)
		}
		for f, v := range pairs {
			if fields[f] != v {
				t.Fatalf("field %q has value %q, want %q", f, v, fields[f])
			}
		}
		// Negative count: exactly -count picks, from the hash.
		for _, cnt := range []string{"-10", "-200"} {
			got := hsElems(t, n.do("hrandfield", "r", cnt, "withvalues"))
			if len(got) != 2*(-atoiT(t, cnt)) {
				t.Fatalf("hrandfield r %s: %d elements", cnt, len(got))
			}
			for i := 0; i < len(got); i += 2 {
				if fields[got[i]] != got[i+1] {
					t.Fatalf("bad pair %q %q", got[i], got[i+1])
				}
			}
		}
		if f := strings.TrimPrefix(shorten(n.do("hrandfield", "r")), "$"); fields[f] == "" {
			t.Fatalf("hrandfield r: %q", f)
		}
	}
	// Every field comes up eventually.
	seen := map[string]bool{}
	for range 40 {
		for _, f := range hsElems(t, n.do("hrandfield", "r", "-50")) {
			seen[f] = true
		}
	}
	if len(seen) != 50 {
		t.Errorf("negative count picked only %d of 50 fields", len(seen))
	}
}

func atoiT(t testing.TB, s string) int {
	t.Helper()
	var v int
	if _, err := fmt.Sscan(s, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHScan(t *testing.T) {
	n := newTestNode(t)
	hsRun(n, []hsStep{
		{"*2 $0 *0", hsArgs("hscan", "nokey", "0")},
		{"*2 $0 *0", hsArgs("hscan", "nokey", "0", "count", "0")},
		{":4", hsArgs("hset", "hs", "f1", "v1", "f2", "v2", "f3", "v3", "g1", "w1")},
		{"*2 $0 *8 $f1 $v1 $f2 $v2 $f3 $v3 $g1 $w1", hsArgs("hscan", "hs", "0")},
		{"*2 $0 *6 $f1 $v1 $f2 $v2 $f3 $v3", hsArgs("hscan", "hs", "0", "match", "f*")},
		{"*2 $0 *0", hsArgs("hscan", "hs", "0", "match", "nomatch*")},
		{"-ERR invalid cursor", hsArgs("hscan", "hs", "abc")},
		{"-ERR syntax error", hsArgs("hscan", "hs", "0", "count", "0")},
		{"-ERR value is not an integer or out of range", hsArgs("hscan", "hs", "0", "count", "abc")},
		{"-ERR syntax error", hsArgs("hscan", "hs", "0", "match")},
		{"-ERR syntax error", hsArgs("hscan", "hs", "0", "bogus", "1")},
		{"-ERR syntax error", hsArgs("hscan", "hs", "0", "type", "string")},
	})

	want := map[string]string{}
	args := []string{"hset", "big"}
	for i := 0; i < 250; i++ {
		f := fmt.Sprintf("field:%d", i)
		want[f] = fmt.Sprint(i)
		args = append(args, f, want[f])
	}
	n.expect(":250", args...)
	for _, match := range []string{"", "field:1*"} {
		got := map[string]string{}
		cursor, calls := "0", 0
		for {
			a := []string{"hscan", "big", cursor, "count", "7"}
			if match != "" {
				a = append(a, "match", match)
			}
			var elems []string
			parseScanReply(t, n.do(a...), &cursor, &elems)
			calls++
			for f, v := range hsPairs(t, elems) {
				if _, dup := got[f]; dup {
					t.Fatalf("field %s returned twice", f)
				}
				got[f] = v
			}
			if cursor == "0" {
				break
			}
			if calls > 100 {
				t.Fatal("hscan does not terminate")
			}
		}
		if calls < 250/7 {
			t.Errorf("match %q: only %d calls with count 7", match, calls)
		}
		for f, v := range want {
			if match != "" && !strings.HasPrefix(f, "field:1") {
				continue
			}
			if got[f] != v {
				t.Errorf("match %q: field %s = %q, want %q", match, f, got[f], v)
			}
			delete(got, f)
		}
		if len(got) != 0 {
			t.Errorf("match %q: unexpected fields %v", match, got)
		}
	}
}
