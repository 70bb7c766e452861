package cmsgpack

import (
	"bytes"
	"reflect"
	"sync"
	"testing"

	"github.com/pika-node/pika-node/internal/testproc"
)

// hexAll is a snippet helper: the hex of pack(v) for each v of a list.
const hexAll = `local function each(list)
  local out = {}
  for i = 1, #list do out[i] = __hex(cmsgpack.pack(list[i])) end
  return table.concat(out, " ")
end
`

// unpackAll is a snippet helper: the outcome of unpack for each input,
// given in hex.
const unpackAll = `local function each(f, list, ...)
  local out = {}
  for i = 1, #list do out[i] = __try(f, __bytes(list[i]), ...) end
  return table.concat(out, "\n")
end
`

// nestArrays is a snippet helper: n arrays nested in each other around v.
const nestArrays = `local function nest(n, v) local t = {v} for i = 2, n do t = {t} end return t end
`

var cmsgpackCases = []testproc.LuaCase{
	// The module table.
	{Name: "fields", Script: `local t = {} for k in pairs(cmsgpack) do t[#t+1] = k end table.sort(t) return table.concat(t, ",")`},
	{Name: "metadata", Script: `return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION`},

	// Packing numbers.
	{Name: "pack unsigned", Script: hexAll + `return each({0, 1, 127, 128, 255, 256, 65535, 65536, 2^32 - 1, 2^32, 2^53, 2^63 - 1024})`},
	{Name: "pack negative", Script: hexAll + `return each({-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53, -2^63})`},
	{Name: "pack floats", Script: hexAll + `return each({0.5, -1.5, 0.1, -0.1, 1/3, 1e300, 2^63, 2^64, 1e19, -2^63 - 4096, 3.4028234663852886e38,
  3.5e38, 2^-149, 2^-150, 1/0, -1/0, 123.25, 16777217.5})`},
	{Name: "pack nan and negative zero", Script: `return __hex(cmsgpack.pack(0/0)), __hex(cmsgpack.pack(-(0/0))), __hex(cmsgpack.pack(-0)), __hex(cmsgpack.pack(0/-1))`},

	// Packing other values.
	{Name: "pack strings", Script: `local out = {}
for _, n in ipairs({0, 1, 31, 32, 255, 256, 65535, 65536}) do
  local p = cmsgpack.pack(string.rep("x", n)) out[#out+1] = #p .. ":" .. __hex(p:sub(1, 6))
end
return table.concat(out, " "), __hex(cmsgpack.pack("a\0b\255"))`},
	{Name: "pack scalars", Script: `return __hex(cmsgpack.pack(nil)), __hex(cmsgpack.pack(true)), __hex(cmsgpack.pack(false)),
  __hex(cmsgpack.pack(tostring)), __hex(cmsgpack.pack(coroutine.create(function() end))), __hex(cmsgpack.pack(nil, nil))`},
	{Name: "pack arrays", Script: `local t15, t16 = {}, {} for i = 1, 15 do t15[i] = i end for i = 1, 16 do t16[i] = i end
local big = {} for i = 1, 65536 do big[i] = true end
return __hex(cmsgpack.pack({})), __hex(cmsgpack.pack({1, 2, 3})), __hex(cmsgpack.pack(t15)), __hex(cmsgpack.pack(t16)),
  __hex(cmsgpack.pack(big):sub(1, 6)), #cmsgpack.pack(big), __hex(cmsgpack.pack({{}, {{}}, {"a", false}}))`},
	{Name: "pack one-key maps", Script: `return __hex(cmsgpack.pack({a = 1})), __hex(cmsgpack.pack({[0] = 1})), __hex(cmsgpack.pack({[-1] = 1})),
  __hex(cmsgpack.pack({[1.5] = 1})), __hex(cmsgpack.pack({[2^31] = 1})), __hex(cmsgpack.pack({[2^31 - 1] = 1})),
  __hex(cmsgpack.pack({[2] = "x"})), __hex(cmsgpack.pack({[1/0] = 1})), __hex(cmsgpack.pack({[true] = {}})), __hex(cmsgpack.pack({x = {y = {}}}))`},
	{Name: "pack maps", Script: `local t16 = {} for i = 1, 16 do t16["k" .. i] = i end
local big = {} for i = 1, 65536 do big["k" .. i] = i end
local p16, pbig, psparse, pmixed = cmsgpack.pack(t16), cmsgpack.pack(big), cmsgpack.pack({[1] = 1, [3] = 3}), cmsgpack.pack({1, 2, x = 3})
return __hex(p16:sub(1, 3)), #p16, cmsgpack.unpack(p16), __hex(pbig:sub(1, 5)), #pbig, __hex(psparse:sub(1, 1)), cmsgpack.unpack(psparse),
  __hex(pmixed:sub(1, 1)), cmsgpack.unpack(pmixed)`},
	{Name: "pack nesting limit", Script: nestArrays + `return __hex(cmsgpack.pack(nest(15, 1))), __hex(cmsgpack.pack(nest(16, 1))), __hex(cmsgpack.pack(nest(17, 1))),
  __hex(cmsgpack.pack({a = nest(15, 1)}))`},
	{Name: "pack cycles", Script: `local t = {} t[1] = t local m = {} m.m = m return __hex(cmsgpack.pack(t)), __hex(cmsgpack.pack(m))`},
	{Name: "pack variadic", Script: `return __hex(cmsgpack.pack(1, "a", {1}, nil, true, 0.5))`},
	{Name: "pack errors", Script: `return __try(cmsgpack.pack), select(2, pcall(function() return cmsgpack.pack() end))`},
	{Name: "pack argument limit", Script: `local t = {} for i = 1, 4001 do t[i] = i end
local u = {} for i = 1, 4000 do u[i] = i end
return __try(cmsgpack.pack, unpack(t)), #cmsgpack.pack(unpack(u))`},
	{Name: "pack lua stack limit", Script: `local t = {} for i = 1, 3999 do t[i] = i end t[4000] = {}
local u = {} for i = 1, 3998 do u[i] = i end u[3999] = {{a = {}}}
local v = {} for i = 1, 3997 do v[i] = i end v[3998] = {{a = {}}}
local w = {} for i = 1, 3996 do w[i] = i end w[3997] = {{a = {}}}
return __try(cmsgpack.pack, unpack(t)), __try(cmsgpack.pack, unpack(u)), __try(cmsgpack.pack, unpack(v)), #cmsgpack.pack(unpack(w))`},

	// Unpacking.
	{Name: "unpack multiple values", Script: `return cmsgpack.unpack(cmsgpack.pack(1, "two", {3}, nil, false, 0.25))`},
	{Name: "unpack round trip", Script: `local v = {1, -1, 0.5, 1e300, "s", {a = {1, 2, {b = true}}, [5] = "five", [-2] = false}, {}, 2^40, -2^40, 1/3}
return cmsgpack.unpack(cmsgpack.pack(v))`},
	{Name: "unpack integers", Script: unpackAll + `return each(cmsgpack.unpack, {"00", "7f", "e0", "ff", "cc ff", "d0 80", "d0 7f", "cd ffff", "d1 8000", "d1 ff80",
  "ce ffffffff", "d2 80000000", "d2 ffffff80", "cf ffffffffffffffff", "cf 8000000000000000", "cf 7fffffffffffffff", "cf 0000000100000001",
  "d3 8000000000000000", "d3 ffffffffffffffff", "d3 0020000000000001"})`},
	{Name: "unpack floats and constants", Script: unpackAll + `return each(cmsgpack.unpack, {"ca 3f000000", "ca 7f800000", "ca ff800000", "ca 7fc00001", "ca 00000001",
  "cb 3fb999999999999a", "cb 7ff0000000000000", "cb fff8000000000000", "cb 8000000000000000", "c0", "c2", "c3"})`},
	{Name: "unpack strings", Script: `local s = string.rep("y", 70000)
local p = __bytes("db 00011170") .. s
return cmsgpack.unpack(__bytes("a3616263")), cmsgpack.unpack(__bytes("a0")), cmsgpack.unpack(__bytes("d903616263")),
  cmsgpack.unpack(__bytes("da0003616263")), cmsgpack.unpack(__bytes("db00000003616263")), #cmsgpack.unpack(p), cmsgpack.unpack(p) == s`},
	{Name: "unpack containers", Script: unpackAll + `return each(cmsgpack.unpack, {"93 01 c0 03", "dc 0002 01 02", "dd 00000001 a161", "82 a161 01 a162 92 c3 c2",
  "de 0001 01 02", "df 00000001 c3 c2", "81 a161 c0", "81 91 01 02", "90", "80", "81 cb 3ff0000000000000 a1 78", "82 01 a1 61 01 a1 62"})`},
	{Name: "unpack bad map keys", Script: unpackAll + `return each(cmsgpack.unpack, {"81 c0 01", "81 cb fff8000000000000 01", "81 ca 7fc00000 01"}),
  select(2, pcall(function() return cmsgpack.unpack(__bytes("81 c0 01")) end))`},
	{Name: "unpack bad format", Script: unpackAll + `return each(cmsgpack.unpack, {"c1", "c4 01 00", "c5 0001 00", "c6 00000001 00", "c7 01 01 00", "c8 0001 01 00",
  "c9 00000001 01 00", "d4 01 00", "d5 01 0000", "d6 01 00000000", "d7 01 0000000000000000", "d8 01 00000000000000000000000000000000",
  "01 c1", "91 c1", "81 c1 01", "81 01 c1"})`},
	{Name: "unpack missing bytes", Script: unpackAll + `return each(cmsgpack.unpack, {"cc", "cd 01", "ce 010203", "cf 01", "d3 01", "ca 0000", "cb 00", "a2 61",
  "d9", "d9 02 61", "da 00", "da 0002 61", "db 000000", "db 00000002 61", "92 01", "dc 00", "dc 0001", "dd 000000", "81 01", "de 0001 01",
  "df 0000", "82 01 02 03", "01 92", "dd ffffffff 01"})`},
	{Name: "unpack empty and numbers", Script: `return select("#", cmsgpack.unpack("")), cmsgpack.unpack(123), cmsgpack.unpack(1.5)`},
	{Name: "unpack arguments", Script: `return __try(cmsgpack.unpack), __try(cmsgpack.unpack, {}), __try(cmsgpack.unpack, nil), __try(cmsgpack.unpack, true),
  __try(cmsgpack.unpack, __bytes("0102"), "ignored", 3), select(2, pcall(function() return cmsgpack.unpack() end))`},
	{Name: "unpack error prefix", Script: `return select(2, pcall(function() return cmsgpack.unpack(__bytes("92 01")) end)),
  select(2, pcall(function() return cmsgpack.unpack(__bytes("c1")) end)), select(2, pcall(function() return cmsgpack.unpack_one("x", -1) end))`},

	// unpack_one and unpack_limit.
	{Name: "unpack_one walk", Script: `local s = cmsgpack.pack(1, "two", {3, 4}, {k = "v"}, nil, true)
local out, off = {}, 0
while off ~= -1 do local v off, v = cmsgpack.unpack_one(s, off) out[#out+1] = off .. "=" .. __dump(v) end
return table.concat(out, " ")`},
	{Name: "unpack_one results", Script: `local s = cmsgpack.pack(1, 2)
return __try(cmsgpack.unpack_one, s), __try(cmsgpack.unpack_one, s, 1), __try(cmsgpack.unpack_one, s, 2), __try(cmsgpack.unpack_one, s, nil),
  __try(cmsgpack.unpack_one, s, "1"), __try(cmsgpack.unpack_one, s, 1.9), __try(cmsgpack.unpack_one, ""), __try(cmsgpack.unpack_one, s, 0, "x")`},
	{Name: "unpack_one errors", Script: `local s = cmsgpack.pack(1, 2)
return __try(cmsgpack.unpack_one, s, 3), __try(cmsgpack.unpack_one, s, -1), __try(cmsgpack.unpack_one, s, "x"), __try(cmsgpack.unpack_one),
  __try(cmsgpack.unpack_one, nil, 1), __try(cmsgpack.unpack_one, s, 2^32 + 5), __try(cmsgpack.unpack_one, __bytes("92 01")),
  __try(cmsgpack.unpack_one, s, -2^32 - 7)`},
	{Name: "unpack_limit results", Script: `local s = cmsgpack.pack(1, 2, 3, 4)
return __try(cmsgpack.unpack_limit, s, 2), __try(cmsgpack.unpack_limit, s, 2, 3), __try(cmsgpack.unpack_limit, s, 10),
  __try(cmsgpack.unpack_limit, s, 0), __try(cmsgpack.unpack_limit, s, 0, 1), __try(cmsgpack.unpack_limit, s, 0, 4),
  __try(cmsgpack.unpack_limit, s, 1, 4), __try(cmsgpack.unpack_limit, s, "2"), __try(cmsgpack.unpack_limit, s, 1.5, 0.5)`},
	{Name: "unpack_limit errors", Script: `local s = cmsgpack.pack(1, 2)
return __try(cmsgpack.unpack_limit, s), __try(cmsgpack.unpack_limit, s, -1), __try(cmsgpack.unpack_limit, s, 1, 5),
  __try(cmsgpack.unpack_limit, s, "x"), __try(cmsgpack.unpack_limit, s, 1, "y"), __try(cmsgpack.unpack_limit),
  __try(cmsgpack.unpack_limit, {}, 1), __try(cmsgpack.unpack_limit, s, 1e300), select(2, pcall(function() return cmsgpack.unpack_limit(s) end))`},

	// The limits of Redis' Lua stack.
	{Name: "unpack many values", Script: `local s = string.rep("\1", 7999)
return select("#", cmsgpack.unpack(s)), __try(function() return select("#", cmsgpack.unpack(s .. "\1")) end),
  select("#", cmsgpack.unpack(string.rep("\1", 7997), 0, 0)), __try(function() return select("#", cmsgpack.unpack(string.rep("\1", 7998), 0, 0)) end)`},
	{Name: "unpack_limit many values", Script: `return select("#", cmsgpack.unpack_limit(string.rep("\1", 7998), 9000)),
  __try(function() return select("#", cmsgpack.unpack_limit(string.rep("\1", 7999), 9000)) end),
  __try(function() return select("#", cmsgpack.unpack_limit(string.rep("\1", 8000), 9000)) end),
  select("#", cmsgpack.unpack_limit(string.rep("\1", 9000), 7998))`},
	{Name: "unpack deep nesting", Script: `local function arrays(n) return string.rep("\145", n) .. "\1" end
local function maps(n) return string.rep("\129\1", n) .. "\1" end
local function depth(t) local d = 0 while type(t) == "table" do d = d + 1 local _, v = next(t) t = v end return d end
return depth(cmsgpack.unpack(arrays(3998))), __try(function() return depth(cmsgpack.unpack(arrays(3999))) end),
  __try(function() return depth(cmsgpack.unpack(arrays(4000))) end), depth(cmsgpack.unpack(maps(3999))),
  __try(function() return depth(cmsgpack.unpack(maps(4000))) end), __try(function() return depth(cmsgpack.unpack(maps(4001))) end)`},
}

// script is the script a case runs on both sides: its body in a pcall
// after testproc.LuaDumpPrelude.
func script(body string) string { return testproc.LuaDumpScript("", body) }

func TestCompareWithRedis(t *testing.T) {
	testproc.CompareLua(t, Open, script, cmsgpackCases)
}

// TestOpenGlobals checks Open sets the global cmsgpack and nothing else.
func TestOpenGlobals(t *testing.T) {
	if got := testproc.LuaGlobalsAdded(Open); !reflect.DeepEqual(got, []string{"cmsgpack"}) {
		t.Fatalf("Open added globals %q, want only \"cmsgpack\"", got)
	}
}

// TestConcurrentStates packs and unpacks in states of their own at once.
func TestConcurrentStates(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := testproc.RunLua(Open, `local t = {1, "a", {b = 2.5}} local u = cmsgpack.unpack(cmsgpack.pack(t))
return cmsgpack.pack(u[1], u[2], u[3].b)`)
			if err != nil {
				errs <- err
				return
			}
			if got, want := []byte(v.String()), []byte{0x01, 0xa1, 'a', 0xca, 0x40, 0x20, 0, 0}; !bytes.Equal(got, want) {
				t.Errorf("got % x, want % x", got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCaseCount keeps the comparison broad.
func TestCaseCount(t *testing.T) {
	if len(cmsgpackCases) < 30 {
		t.Fatalf("%d cases", len(cmsgpackCases))
	}
}
