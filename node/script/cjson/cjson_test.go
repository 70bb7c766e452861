package cjson

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// decodeAll is a snippet helper: it decodes each input under pcall and
// dumps each outcome on a line of its own.
const decodeAll = `local function each(f, inputs)
  local out = {}
  for i = 1, #inputs do out[i] = __try(f, inputs[i]) end
  return table.concat(out, "\n")
end
`

var cjsonCases = []testproc.LuaCase{
	// The module table.
	{Name: "fields", Script: `local t = {} for k in pairs(cjson) do t[#t+1] = k end table.sort(t) return table.concat(t, ",")`},
	{Name: "metadata", Script: `return cjson._NAME, cjson._VERSION, type(cjson.null), tostring(cjson.null), type(cjson.encode)`},

	// Encoding: arrays, objects, scalars.
	{Name: "encode empty table", Script: `return cjson.encode({})`},
	{Name: "encode array", Script: `return cjson.encode({1, 2, 3, "x", true, false})`},
	{Name: "encode nested", Script: `return cjson.encode({1, {2, {3, {}}}, {{}}, "a"})`},
	{Name: "encode one-key object", Script: `return cjson.encode({a = {b = {c = "d"}}})`},
	{Name: "encode object round trip", Script: `local s = cjson.encode({a = 1, b = {c = 2, d = {3, 4}}, e = "x", f = false})
return #s, cjson.decode(s)`},
	{Name: "encode scalars", Script: `return cjson.encode(nil), cjson.encode(cjson.null), cjson.encode(true), cjson.encode("s"), cjson.encode(12)`},
	{Name: "encode null in array", Script: `return cjson.encode({1, cjson.null, 3}), cjson.encode({n = cjson.null})`},
	{Name: "encode escapes", Script: `return cjson.encode("a/b\\c\"d\n\r\t\b\f\0\1\31 \127\128\255é")`},
	{Name: "encode all bytes", Script: `local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end return cjson.encode(table.concat(t))`},
	{Name: "encode string key escaping", Script: `return cjson.encode({["a/\"\n"] = 1})`},

	// Numbers.
	{Name: "encode numbers", Script: `return cjson.encode({0.1, 1/3, 2/3, 100, 1e14, 1e15, 123456789012345678, -0.5, 1e-4, 1e-5,
  2^53, 3.14159265358979, -1e300, 5e-324, 1.7976931348623157e308, 123456.789, 0.000123456789012345})`},
	{Name: "encode negative zero", Script: `return cjson.encode(-0), cjson.encode({0/-1})`},
	{Name: "encode number keys", Script: `return cjson.encode({[0] = 1}), cjson.encode({[-1] = "a"}), cjson.encode({[1.5] = true}),
  cjson.encode({[1/3] = 1}), cjson.encode({[1e20] = 1}), cjson.encode({[2^31] = 1})`},
	{Name: "encode number precision", Script: `local a = cjson.encode_number_precision(3)
local s = cjson.encode({1/3, 12345, 0.0001234, 1e-5, 999.5, [10] = 2/3})
return a, s, cjson.encode_number_precision(), cjson.encode_number_precision(1), cjson.encode(123.456)`},
	{Name: "encode number precision range", Script: `return __try(cjson.encode_number_precision, 0), __try(cjson.encode_number_precision, 15),
  cjson.encode_number_precision("7"), cjson.encode_number_precision(14.9)`},
	{Name: "encode inf and nan refused", Script: `return __try(cjson.encode, __inf), __try(cjson.encode, -__inf), __try(cjson.encode, {0/0}),
  __try(cjson.encode, {[__inf] = 1})`},
	{Name: "encode invalid numbers on", Script: `local r = cjson.encode_invalid_numbers(true)
return r, cjson.encode({__inf, -__inf, 0/0, -(0/0)}), cjson.encode({[__inf] = 1}), cjson.encode_invalid_numbers("on")`},
	{Name: "encode invalid numbers null", Script: `local r = cjson.encode_invalid_numbers("null")
return r, cjson.encode({__inf, -__inf, 0/0, 1}), cjson.encode({[-__inf] = 1}), cjson.encode_invalid_numbers(false), cjson.encode_invalid_numbers()`},
	{Name: "encode invalid numbers bad option", Script: `return __try(cjson.encode_invalid_numbers, "maybe"), __try(cjson.encode_invalid_numbers, {}),
  __try(cjson.encode_invalid_numbers, 1), __try(cjson.encode_invalid_numbers, "on", 2), __try(cjson.encode_invalid_numbers, "on\0x")`},

	// Arrays, sparse arrays, objects.
	{Name: "encode sparse arrays", Script: `return cjson.encode({[1] = 1, [2] = 2, [4] = 4}), cjson.encode({[10] = 1}), cjson.encode({[3] = "c", [1] = "a"})`},
	{Name: "encode excessively sparse", Script: `return __try(cjson.encode, {[11] = 1}), __try(cjson.encode, {[1000] = 1, [1] = 1}),
  __try(cjson.encode, {1, 2, 3, 4, 5, [13] = 1}), cjson.encode({1, 2, 3, 4, 5, [12] = 1})`},
	{Name: "encode sparse convert", Script: `local a, b, c = cjson.encode_sparse_array(true)
return a, b, c, cjson.encode({[1000] = "x"}), cjson.encode({[11] = 1})`},
	{Name: "encode sparse ratio and safe", Script: `local r = {cjson.encode_sparse_array(false, 0)}
local s1 = cjson.encode({[20] = 1})
local r2 = {cjson.encode_sparse_array(nil, 3, 2)}
return r[1], r[2], r[3], s1, r2[1], r2[2], r2[3], cjson.encode({[3] = 1}), __try(cjson.encode, {[4] = 1, [1] = 1}),
  cjson.encode({[6] = 1, [1] = 1})`},
	{Name: "encode sparse array bad args", Script: `return __try(cjson.encode_sparse_array, true, -1), __try(cjson.encode_sparse_array, 1),
  __try(cjson.encode_sparse_array, true, 2, "x"), __try(cjson.encode_sparse_array, true, 2, 3, 4), cjson.encode_sparse_array()`},
	{Name: "encode mixed keys as object", Script: `local s = cjson.encode({1, 2, x = 3}) return #s, cjson.decode(s)`},
	{Name: "encode non-integer key", Script: `return cjson.encode({[0.5] = 1}), cjson.encode({["1"] = 1})`},

	// Encoding errors.
	{Name: "encode bad key type", Script: `return __try(cjson.encode, {[true] = 1}), __try(cjson.encode, {[{}] = 1})`},
	{Name: "encode unsupported types", Script: `return __try(cjson.encode, tostring), __try(cjson.encode, {1, function() end}),
  __try(cjson.encode, coroutine.create(function() end)), __try(cjson.encode, {a = tostring})`},
	{Name: "encode error prefix", Script: `local ok, err = pcall(function() return cjson.encode(tostring) end) return err`},
	{Name: "encode argument count", Script: `return __try(cjson.encode), __try(cjson.encode, 1, 2), __try(function() return cjson.encode() end),
  __try(function() local enc = cjson.encode return enc(1, 2) end)`},
	{Name: "encode depth limit", Script: `local function nest(n) local t = {} local c = t for i = 2, n do c[1] = {} c = c[1] end return t end
return #cjson.encode(nest(1000)), __try(cjson.encode, nest(1001))`},
	{Name: "encode depth limit objects", Script: `local function nest(n) local t = {} local c = t for i = 2, n do c.k = {} c = c.k end return t end
return #cjson.encode(nest(1000)), __try(cjson.encode, nest(1001))`},
	{Name: "encode circular", Script: `local t = {} t[1] = t local u = {} u.u = u return __try(cjson.encode, t), __try(cjson.encode, u)`},
	{Name: "encode max depth", Script: `local r = cjson.encode_max_depth(3)
return r, cjson.encode({{{1}}}), __try(cjson.encode, {{{{1}}}}), cjson.encode_max_depth(), __try(cjson.encode_max_depth, 0)`},
	{Name: "encode max depth vs lua stack", Script: `cjson.encode_max_depth(100000)
local function nest(n, key) local t = {} local c = t for i = 2, n do c[key] = {} c = c[key] end return t end
return #cjson.encode(nest(7997, 1)), __try(cjson.encode, nest(7998, 1)), #cjson.encode(nest(3999, "k")), __try(cjson.encode, nest(4000, "k"))`},
	{Name: "integer option conversions", Script: `return cjson.encode_max_depth("5"), cjson.encode_max_depth(" 0x10 "), cjson.encode_max_depth(2.9),
  cjson.encode_max_depth(2^32 + 3), __try(cjson.encode_max_depth, 1e20), __try(cjson.encode_max_depth, "x"), __try(cjson.encode_max_depth, {}),
  __try(cjson.encode_max_depth, 1, 2), __try(cjson.encode_max_depth, -1), __try(cjson.encode_max_depth, 2^31)`},
	{Name: "encode keep buffer", Script: `return cjson.encode_keep_buffer(), cjson.encode_keep_buffer(false), cjson.encode({1}), cjson.encode_keep_buffer("on"),
  __try(cjson.encode_keep_buffer, "yes"), cjson.encode_keep_buffer(nil)`},

	// Decoding.
	{Name: "decode object", Script: `return cjson.decode('{"a":[1,2,{"b":null}],"c":"x","d":true,"e":false,"f":{}}')`},
	{Name: "decode whitespace and empties", Script: `return cjson.decode(' \t\r\n[ {} , [ ] ,"" ]\n ')`},
	{Name: "decode scalars", Script: `return cjson.decode('"s"'), cjson.decode("12"), cjson.decode("true"), cjson.decode("false"), cjson.decode(" null ") == cjson.null`},
	{Name: "decode null", Script: `local t = cjson.decode('[null,{"a":null}]') return t[1] == cjson.null, t[2].a == cjson.null, #t`},
	{Name: "decode numbers", Script: `return cjson.decode('[0, -0, 1.5e3, -2.5E-3, 1e400, -1e400, 1e-400, 12345678901234567890, 0.1, 1E+2, 2e-0, 4.9e-324]')`},
	{Name: "decode long numbers", Script: `return cjson.decode("1" .. string.rep("0", 400)), cjson.decode("0." .. string.rep("0", 400) .. "1"),
  cjson.decode("9007199254740993"), cjson.decode("0.1000000000000000055511151231257827")`},
	{Name: "decode invalid numbers accepted", Script: `return cjson.decode('[inf, -Infinity, NaN, -nan, 0x1F, +5, 007, -0x10, 1., -.5, 0x1.8p1, 0X.8, INF, nan(123)]')`},
	{Name: "decode invalid numbers refused", Script: decodeAll + `local r = cjson.decode_invalid_numbers(false)
return r, each(cjson.decode, {"+5", "007", "inf", "-inf", "0x10", "-0x10", "NaN", "-.5", "1.", "0", "-0", "1e5", "00"}), cjson.decode_invalid_numbers("on")`},
	{Name: "decode number edge syntax", Script: decodeAll + `return each(cjson.decode, {"-", "- 1", "1e", "1e+", "0x", "0xg", "1.5.5", "--1", "+", "+-1", "1x", "infinit", "infinityx", "nanx", "nan(", "nan(1", "nan()", "nan(a_b)", "i", "n"})`},
	{Name: "decode strings", Script: `return cjson.decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"'), cjson.decode('"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000x"'),
  cjson.decode('"raw \1\31 \255 é"')`},
	{Name: "decode string errors", Script: decodeAll + `return each(cjson.decode, {'"abc', '"\\x"', '"\\u12"', '"\\u12g4"', '"\\ud800"', '"\\udc00\\ud800"',
  '"\\ud800\\u0041"', '"\\ud800\\x"', '"a\\', '"\\'})`},
	{Name: "decode syntax errors", Script: decodeAll + `return each(cjson.decode, {"", "   ", "x", "[1,]", "[1 2]", "{1:2}", '{"a" 1}', '{"a":1,}',
  '{"a":1 "b"}', "[", "{", "tru", "nul", "fals", "1 2", "[1]]", "]", ":", ",", "{}x", '{"a":}', "[,1]", ".5", "\0", "é"})`},
	{Name: "decode error prefix", Script: `local ok, err = pcall(function() return cjson.decode("[1,") end) return err`},
	{Name: "decode NUL handling", Script: decodeAll + `return each(cjson.decode, {"[1,2]\0 junk", "\0x", "a\0", '"a\0b"', "[\0"})`},
	{Name: "decode duplicate keys", Script: `return cjson.decode('{"a":1,"a":2,"1":3}')`},
	{Name: "decode arguments", Script: `return __try(cjson.decode), __try(cjson.decode, "1", 2), __try(cjson.decode, nil), __try(cjson.decode, {}),
  cjson.decode(123), cjson.decode(1e300), __try(cjson.decode, 0/0), __try(cjson.decode, 1/0)`},
	{Name: "decode depth limit", Script: `local function nest(n) return string.rep("[", n) .. string.rep("]", n) end
local function obj(n) return string.rep('{"a":', n) .. "1" .. string.rep("}", n) end
local t = cjson.decode(nest(1000)) local d = 0 while t do d = d + 1 t = t[1] end
return d, __try(cjson.decode, nest(1001)), type(cjson.decode(obj(1000))), __try(cjson.decode, obj(1001)), __try(cjson.decode, nest(1001):sub(1, 1001))`},
	{Name: "decode max depth", Script: `local r = cjson.decode_max_depth(2)
return r, cjson.decode("[[1]]"), __try(cjson.decode, "[[[1]]]"), __try(cjson.decode, '{"a":{"b":{}}}'), cjson.decode_max_depth(), __try(cjson.decode_max_depth, 0)`},
	{Name: "decode max depth vs lua stack", Script: `cjson.decode_max_depth(100000)
local function nest(n) return string.rep("[", n) .. string.rep("]", n) end
local function obj(n) return string.rep('{"a":', n) .. "1" .. string.rep("}", n) end
return type(cjson.decode(nest(7998))), __try(cjson.decode, nest(7999)), type(cjson.decode(obj(3999))), __try(cjson.decode, obj(4000))`},

	// Round trips and instances.
	{Name: "round trip arrays", Script: `local s = '[1,2.5,"x\\/y",[true,false,null],[],{},-0.001,1e+100,[[["deep"]]]]'
local e = cjson.encode(cjson.decode(s)) return e, e == s`},
	{Name: "round trip strings", Script: `local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end local s = table.concat(t)
return cjson.decode(cjson.encode(s)) == s, cjson.decode(cjson.encode({s}))[1] == s`},
	{Name: "new instances", Script: `local c2 = cjson.new()
c2.encode_max_depth(2) c2.encode_invalid_numbers("null")
return __try(c2.encode, {{{1}}}), cjson.encode({{{1}}}), c2.encode(0/0), __try(cjson.encode, 0/0), c2.null == cjson.null,
  c2.decode("null") == cjson.null, c2._NAME, c2.encode_max_depth(), cjson.encode_max_depth(), type(c2.new)`},
	{Name: "large values", Script: `local s = string.rep("ab/", 30000) local t = {} for i = 1, 5000 do t[i] = i * 1.5 end
local e = cjson.encode({s, t}) local d = cjson.decode(e) return #e, #d[1], #d[2], d[2][5000], d[1] == s`},
}

// script is the script a case runs on both sides: its body in a pcall
// after testproc.LuaDumpPrelude, which dumps cjson.null as NULL.
func script(body string) string {
	return testproc.LuaDumpScript(`__names[cjson.null] = "NULL"`, body)
}

func TestCompareWithRedis(t *testing.T) {
	testproc.CompareLua(t, Open, script, cjsonCases)
}

// TestOpenGlobals checks Open sets the global cjson and nothing else.
func TestOpenGlobals(t *testing.T) {
	if got := testproc.LuaGlobalsAdded(Open); !reflect.DeepEqual(got, []string{"cjson"}) {
		t.Fatalf("Open added globals %q, want only \"cjson\"", got)
	}
	L := lua.NewState()
	defer L.Close()
	Open(L)
	if _, ok := L.GetGlobal("cjson").(*lua.LTable); !ok {
		t.Fatalf("cjson is %v", L.GetGlobal("cjson"))
	}
}

// TestStatesIndependent checks two states' configurations and nulls are
// their own, also when used concurrently.
func TestStatesIndependent(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]string, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := fmt.Sprintf(`cjson.encode_number_precision(%d)
local t = cjson.decode('[1.23456789, null, {"a": [true]}]')
return cjson.encode(t[1]) .. " " .. tostring(t[2] == cjson.null) .. " " .. cjson.encode(t[3])`, i+1)
			v, err := testproc.RunLua(Open, code)
			if err != nil {
				results[i] = err.Error()
				return
			}
			results[i] = v.String()
		}()
	}
	wg.Wait()
	for i, got := range results {
		want := fmt.Sprintf(`%s true {"a":[true]}`, luaarg.FormatG(1.23456789, i+1))
		if got != want {
			t.Errorf("state %d: got %q, want %q", i, got, want)
		}
	}
	L1, L2 := lua.NewState(), lua.NewState()
	defer L1.Close()
	defer L2.Close()
	Open(L1)
	Open(L2)
	n1 := L1.GetField(L1.GetGlobal("cjson"), "null")
	n2 := L2.GetField(L2.GetGlobal("cjson"), "null")
	if n1 == n2 {
		t.Error("two states share cjson.null")
	}
}

// TestCaseCount keeps the comparison broad.
func TestCaseCount(t *testing.T) {
	if len(cjsonCases) < 30 {
		t.Fatalf("%d cases", len(cjsonCases))
	}
}
