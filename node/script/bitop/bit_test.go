package bitop

import (
	"reflect"
	"testing"

	"github.com/pika-node/pika-node/internal/testproc"
)

// awkwardNumbers are numbers that LuaBitOp's conversion treats in
// interesting ways: halves (rounded to even), values past 2^32, 2^51,
// 2^52 and 2^53 (where the 2^52+2^51 trick stops being exact),
// infinities, NaNs and denormals.
func awkwardNumbers() []string {
	return []string{
		"0", "-0", "1", "-1", "2.5", "-2.5", "3.5", "-3.5", "0.5", "-0.5", "1.5", "0.49999999999999994",
		"2^31", "-2^31", "2^31-1", "2^32", "2^32-1", "2^32+1", "-(2^32+1)", "2^32+0.5",
		"2^51", "2^51-0.5", "2^51+1", "-2^51", "-2^51-1", "2^52", "2^52+1", "2^52+2^51", "-2^52",
		"2^53", "2^53+2", "2^53+6", "-2^53-2", "2^54+4", "2^63", "-2^63", "2^64", "2^64+2^40",
		"1e300", "-1e300", "1e-320", "-1e-320", "1/0", "-1/0", "0/0", "-(0/0)",
		"6755399441055744.5", "4503599627370495.5", "123456789.123",
	}
}

// bitCases are the scripts compared with redis-server.
func bitCases() []testproc.LuaCase {
	return []testproc.LuaCase{
		{Name: "tohex band", Script: `return bit.tohex(bit.band(0xff, 0x0f))`},
		{Name: "library table", Script: `local k = {} for name, f in pairs(bit) do k[#k+1] = name .. ':' .. type(f) end table.sort(k) return k`},
		{Name: "result type", Script: `return {type(bit.tobit(1)), type(bit.band(3, 5)), type(bit.tohex(1))}`},
		{Name: "tobit awkward numbers", Script: testproc.EachValue("bit.tobit(x)", awkwardNumbers()...)},
		{Name: "bnot awkward numbers", Script: testproc.EachValue("bit.bnot(x)", awkwardNumbers()...)},
		{Name: "bswap awkward numbers", Script: testproc.EachValue("bit.bswap(x)", awkwardNumbers()...)},
		{Name: "tohex awkward numbers", Script: testproc.EachValue("bit.tohex(x)", awkwardNumbers()...)},
		{Name: "tobit numeric strings", Script: testproc.EachValue("bit.tobit(x)",
			`'0x10'`, `' 12 '`, `'1e2'`, `'0x1p4'`, `'0X1.8P1'`, `'0x.8p1'`, `'inf'`, `'-Infinity'`, `'nan'`, `'-nan'`,
			`'nan(123)'`, `'nan(0x1f)'`, `'nan(0X1F)'`, `'nan(017)'`, `'nan(09)'`, `'nan(abc)'`, `'nan(1_2)'`, `'nan()'`, `'nan(0x)'`,
			`'-nan(5)'`, `'NaN(7)'`, `'nan(18446744073709551615)'`, `'nan(99999999999999999999999)'`, `'nan(2251799813685247)'`,
			`'nan(2251799813685248)'`, `'nan(4294967297)'`, `'nan(5'`, `'nan(5) '`, `'nan(5)x'`, `'1\0x'`, `'.5'`, `'5.'`, `'  0x1F  '`, `'-0x10'`, `'+7'`, `'1E+1'`, "'\\t\\n3\\r\\v\\f'",
			`'4294967297'`, `'2.5'`, `'-2.5e0'`, `'0x7fffffff'`, `'0xffffffff'`, `'0x100000001'`, `'1e400'`, `'-1e-400'`,
			`'00012'`, `'0x0000000000000000000000000012'`, `'12345678901234567890123'`)},
		{Name: "tobit non-numeric strings", Script: testproc.EachValue("bit.tobit(x)",
			`'0x'`, `'1e'`, `'1e+'`, `'abc'`, `''`, `' '`, `'1 2'`, `'--1'`, `'0x1p'`, `'infinit'`, `'1e5x'`,
			`'0xg'`, `'1x5'`, `'.'`, `'+'`, `'- 1'`, `'nan('`, `'0x1.'`, `'1..2'`, `'1_000'`)},
		{Name: "tobit non-numbers", Script: testproc.EachValue("bit.tobit(x)", `true`, `false`, `{}`, `function() end`,
			`coroutine.create(function() end)`)},
		{Name: "tobit nil and no value", Script: `return {pcall(function() return bit.tobit(nil) end), pcall(function() return bit.tobit() end)}`},
		{Name: "error called from pcall", Script: `local r = {} for _, f in ipairs({bit.tobit, bit.band, bit.lshift, bit.tohex}) do r[#r+1] = select(2, pcall(f, 'x')) end return r`},
		{Name: "error called from pcall, arg 2", Script: `return {select(2, pcall(bit.lshift, 1)), select(2, pcall(bit.tohex, 1, nil))}`},
		{Name: "error via a local name", Script: `return {pcall(function() local f = bit.band; return f({}) end)}`},
		{Name: "error via an upvalue name", Script: `local shl = bit.lshift return {pcall(function() return shl(1, {}) end)}`},
		{Name: "error via a table index", Script: `local fs = {bit.bor} return {pcall(function() return fs[1](1, 'y') end)}`},
		{Name: "error line numbers", Script: "local function f(x)\n  return bit.bxor(1, x)\nend\n\nlocal ok, err = pcall(f, 'z')\nreturn err"},
		{Name: "error in a non-tail call", Script: "local ok, err = pcall(function()\n  local v = bit.rol(nil, 1)\n  return v\nend)\nreturn err"},
		{Name: "error in a call spanning lines", Script: "local ok, err = pcall(function()\n  return bit.band(\n    1,\n    'x'\n  )\nend)\nreturn err"},
		{Name: "error in a call spanning lines, not a tail call", Script: "local ok, err = pcall(function()\n  local v = bit.bor(1,\n    2, {\n    })\n  return v\nend)\nreturn err"},
		{Name: "error from a metamethod", Script: `return {pcall(function() return setmetatable({}, {__add = bit.band}) + 1 end)}`},
		{Name: "error from a Go caller", Script: `return {pcall(function() return string.gsub('a', 'a', bit.tobit) end)}`},
		{Name: "called by table.sort", Script: `local t = {5, 3, 9, 1} table.sort(t, function(a, b) return bit.band(a, 0xff) < bit.band(b, 0xff) end) return t`},
		{Name: "variadic error order", Script: `return {select(2, pcall(function() return bit.band('a', {}) end)), select(2, pcall(function() return bit.band(1, 'a', {}) end)), select(2, pcall(function() return bit.bor(1, 2, 3, 4, false) end))}`},
		{Name: "band bor bxor", Script: `return {tostring(bit.band(0x12345678, 0xff00ff00)), tostring(bit.bor(0x12345678, 0x80000000)), tostring(bit.bxor(-1, 0x0f0f0f0f)), tostring(bit.band(-1, -2, -4, -8)), tostring(bit.bor(1, 2, 4, 8, 16)), tostring(bit.bxor(1, 3, 7, 15))}`},
		{Name: "single argument folds", Script: `return {tostring(bit.band(2^32+5)), tostring(bit.bor(-1.5)), tostring(bit.bxor('0x80000000'))}`},
		{Name: "many arguments", Script: `local t = {} for i = 0, 31 do t[#t+1] = 2^i end return {tostring(bit.bor(unpack(t))), tostring(bit.bxor(unpack(t))), tostring(bit.band(unpack(t)))}`},
		{Name: "shifts", Script: testproc.EachValue("table.concat({bit.lshift(0x87654321, x), bit.rshift(0x87654321, x), bit.arshift(0x87654321, x), bit.rol(0x87654321, x), bit.ror(0x87654321, x)}, ',')",
			"0", "1", "4", "31", "32", "33", "-1", "-31", "1.5", "2.5", "2^32+3", "1/0", "0/0", "'8'")},
		{Name: "shift results", Script: `local r = {} for _, n in ipairs({0, 1, 4, 31, 32, 33, -1, 2.5}) do for _, f in ipairs({bit.lshift, bit.rshift, bit.arshift, bit.rol, bit.ror}) do r[#r+1] = tostring(f(0x87654321, n)) .. ',' .. tostring(f(-1, n)) .. ',' .. tostring(f(1, n)) end end return r`},
		{Name: "shift string arguments", Script: `return {tostring(bit.lshift('1', '4')), tostring(bit.arshift('-256', ' 4 ')), tostring(bit.rol('0x80000001', 1))}`},
		{Name: "shift bad count", Script: `return {pcall(function() return bit.rshift(1, 'x') end)}`},
		{Name: "bswap", Script: `return {tostring(bit.bswap(0x12345678)), tostring(bit.bswap(0x000000ff)), tostring(bit.bswap(-1)), tostring(bit.bswap(bit.bswap(0x1234abcd)))}`},
		{Name: "bnot", Script: `return {tostring(bit.bnot(0)), tostring(bit.bnot(-1)), tostring(bit.bnot(0x7fffffff)), tostring(bit.bnot(2^31))}`},
		{Name: "tohex digit counts", Script: testproc.EachValue("bit.tohex(0x1234abcd, x)",
			"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "100", "-1", "-2", "-3", "-7", "-8", "-9", "-100",
			"2^32-2", "2^32+4", "-2^31", "2^31", "-2^31+1", "2^31-1", "1.5", "-1.5", "'4'", "'-4'", "1/0", "0/0")},
		{Name: "tohex values", Script: `return {bit.tohex(-1), bit.tohex(0), bit.tohex(255, 2), bit.tohex(255, -2), bit.tohex(2^32+0xabc), bit.tohex(-1, -3), bit.tohex(0x1234abcd, 2^32-2)}`},
		{Name: "tohex bad count", Script: `return {select(2, pcall(function() return bit.tohex(1, nil) end)), select(2, pcall(function() return bit.tohex(1, {}) end)), select(2, pcall(function() return bit.tohex() end))}`},
		{Name: "extra arguments ignored", Script: `return {tostring(bit.tobit(5, 'x', {})), tostring(bit.bnot(0, {})), tostring(bit.lshift(1, 2, {})), bit.tohex(1, 2, {})}`},
		{Name: "hash-like mixing", Script: `local h = 0x811c9dc5 for i = 1, 64 do h = bit.bxor(h, i) h = bit.band(h * 16777619, 0xffffffff) h = bit.tobit(h) end return tostring(h)`},
		{Name: "rotate round trip", Script: `local r = {} for n = 0, 40 do r[#r+1] = tostring(bit.ror(bit.rol(0x9e3779b9, n), n)) .. ' ' .. bit.tohex(bit.rol(0x9e3779b9, n)) end return r`},
	}
}

// TestAgainstRedis runs every case on redis-server and in gopher-lua and
// compares the replies.
func TestAgainstRedis(t *testing.T) {
	testproc.CompareLua(t, Open, nil, bitCases())
}

// TestOpenSetsOnlyBit checks that Open adds the global "bit" and nothing
// else.
func TestOpenSetsOnlyBit(t *testing.T) {
	if got := testproc.LuaGlobalsAdded(Open); !reflect.DeepEqual(got, []string{"bit"}) {
		t.Fatalf("Open added globals %q, want only \"bit\"", got)
	}
}
