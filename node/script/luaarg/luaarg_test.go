package luaarg

import (
	"math"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The libraries' own tests compare these helpers with redis-server through
// the libraries; these tests pin down the helpers' own contracts.

// TestFormatG checks the %.<prec>g formatting against values whose C
// output is known.
func TestFormatG(t *testing.T) {
	for _, c := range []struct {
		f    float64
		prec int
		want string
	}{
		{0, 14, "0"}, {100, 14, "100"}, {0.1, 14, "0.1"}, {1.0 / 3, 14, "0.33333333333333"},
		{1e14, 14, "1e+14"}, {1e13, 14, "10000000000000"}, {1e-4, 14, "0.0001"}, {1e-5, 14, "1e-05"},
		{123456, 3, "1.23e+05"}, {999.5, 3, "1e+03"}, {2.5, 1, "2"}, {1e100, 14, "1e+100"},
		{math.Inf(1), 14, "inf"}, {math.Inf(-1), 14, "-inf"}, {math.NaN(), 14, "nan"},
		{math.Copysign(math.NaN(), -1), 14, "-nan"}, {math.Copysign(0, -1), 14, "-0"},
	} {
		if got := FormatG(c.f, c.prec); got != c.want {
			t.Errorf("FormatG(%v, %d) = %q, want %q", c.f, c.prec, got, c.want)
		}
	}
	if got := NumberToString(1.0 / 3); got != "0.33333333333333" {
		t.Errorf("NumberToString(1/3) = %q", got)
	}
}

// TestStr2d checks which strings luaO_str2d reads as numbers, and as what.
func TestStr2d(t *testing.T) {
	nanBits := func(b uint64) float64 { return math.Float64frombits(b) }
	for _, c := range []struct {
		s    string
		want float64
		ok   bool
	}{
		{"12", 12, true}, {" 12 ", 12, true}, {"\t\n3\r\v\f", 3, true}, {"-2.5e0", -2.5, true},
		{".5", 0.5, true}, {"5.", 5, true}, {"+7", 7, true}, {"1E+1", 10, true},
		{"0x10", 16, true}, {"-0x10", -16, true}, {"0X1.8P1", 3, true}, {"0x.8p1", 1, true},
		{"1e400", math.Inf(1), true}, {"-Infinity", math.Inf(-1), true}, {"inf", math.Inf(1), true},
		{"nan", nanBits(quietNaN), true}, {"-nan", nanBits(quietNaN | 1<<63), true},
		{"nan(0x1f)", nanBits(quietNaN | 0x1f), true}, {"nan(017)", nanBits(quietNaN | 0o17), true},
		{"nan(09)", nanBits(quietNaN), true}, {"1\x00x", 1, true},
		{"", 0, false}, {" ", 0, false}, {"0x", 0, false}, {"1e", 0, false}, {"1 2", 0, false},
		{"abc", 0, false}, {"infinit", 0, false}, {"nan(", 0, false}, {"1_000", 0, false}, {".", 0, false},
	} {
		got, ok := Str2d(c.s)
		if ok != c.ok || (ok && math.Float64bits(got) != math.Float64bits(c.want)) {
			t.Errorf("Str2d(%q) = %v (%#x), %v; want %v (%#x), %v",
				c.s, got, math.Float64bits(got), ok, c.want, math.Float64bits(c.want), c.ok)
		}
	}
}

// TestStrtod checks that Strtod reads from start and says where it
// stopped.
func TestStrtod(t *testing.T) {
	for _, c := range []struct {
		s          string
		start, end int
		want       float64
	}{
		{"[12.5e1,", 1, 7, 125}, {"[1e+,", 1, 2, 1}, {"x0x", 1, 2, 0}, {"x]", 1, 1, 0}, {"a-inf", 1, 5, math.Inf(-1)},
	} {
		got, end := Strtod(c.s, c.start)
		if got != c.want || end != c.end {
			t.Errorf("Strtod(%q, %d) = %v, %d; want %v, %d", c.s, c.start, got, end, c.want, c.end)
		}
	}
}

// TestCasts checks the x86-64 conversions of doubles to C integers.
func TestCasts(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		f    float64
		want int64
	}{{-2.9, -2}, {2.9, 2}, {0x1p63, math.MinInt64}, {-0x1p63, math.MinInt64}, {nan, math.MinInt64}, {1e300, math.MinInt64}} {
		if got := CastInt64(c.f); got != c.want {
			t.Errorf("CastInt64(%v) = %d, want %d", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		f    float64
		want int32
	}{{-2.9, -2}, {0x1p31 - 1, math.MaxInt32}, {0x1p31, math.MinInt32}, {-0x1p31 - 0.5, math.MinInt32}, {-0x1p31 - 1, math.MinInt32}, {nan, math.MinInt32}} {
		if got := CastInt32(c.f); got != c.want {
			t.Errorf("CastInt32(%v) = %d, want %d", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		f    float64
		want uint64
	}{{-1, math.MaxUint64}, {0x1p63 + 0x1p11, 1<<63 | 1<<11}, {0x1p64, 0}, {nan, 1 << 63}} {
		if got := CastUint64(c.f); got != c.want {
			t.Errorf("CastUint64(%v) = %#x, want %#x", c.f, got, c.want)
		}
	}
}

// TestArguments checks the argument checks and the errors they raise, as
// Lua 5.1's lauxlib words them in a script.
func TestArguments(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("num", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(CheckNumber(L, 1)))
		return 1
	}))
	L.SetGlobal("str", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(CheckString(L, 1)))
		return 1
	}))
	L.SetGlobal("opt", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(OptInteger(L, 2, 7)))
		return 1
	}))
	L.SetGlobal("fail", L.NewFunction(func(L *lua.LState) int {
		Raise(L, "failed %d", 42)
		return 0
	}))
	for _, c := range []struct{ script, want string }{
		{`return num(' 0x10 ')`, "16"},
		{`return str(0.1)`, "0.1"},
		{`return str(1/3)`, "0.33333333333333"},
		{`return opt(1)`, "7"},
		{`return opt(1, nil)`, "7"},
		{`return opt(1, '-2.9')`, "-2"},
		{`return select(2, pcall(function() return num('x') end))`, "user_script:1: bad argument #1 to 'num' (number expected, got string)"},
		{`return select(2, pcall(function() return str({}) end))`, "user_script:1: bad argument #1 to 'str' (string expected, got table)"},
		{`return select(2, pcall(function() return opt(1, true) end))`, "user_script:1: bad argument #2 to 'opt' (number expected, got boolean)"},
		{`return select(2, pcall(function() return num() end))`, "user_script:1: bad argument #1 to 'num' (number expected, got no value)"},
		{`return select(2, pcall(num, 'x'))`, "bad argument #1 to '?' (number expected, got string)"},
		{"local f = function()\n  return fail()\nend\nreturn select(2, pcall(f))", "user_script:2: failed 42"},
	} {
		fn, err := L.Load(strings.NewReader(c.script), "user_script")
		if err != nil {
			t.Fatal(err)
		}
		L.Push(fn)
		if err := L.PCall(0, 1, nil); err != nil {
			t.Errorf("%s: %v", c.script, err)
			continue
		}
		if got := L.Get(-1).String(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.script, got, c.want)
		}
		L.Pop(1)
	}
}
