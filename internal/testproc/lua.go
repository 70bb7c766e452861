package testproc

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// This file compares Lua scripts run by EVAL on a redis-server (Redis)
// with the same scripts run by github.com/yuin/gopher-lua with a library
// opened: the harness of the tests of the Lua libraries node/script
// gives scripts (cjson, cmsgpack, bit, struct). What a library's tests
// compare (their scripts and preludes) stays with them.

// LuaCase is a Lua script whose reply must be the same from redis-server
// and from gopher-lua with the library under test.
type LuaCase struct {
	Name   string
	Script string
}

// CompareLua runs every case on a redis-server started for t, each in a
// fresh Lua VM (Redis.Eval), and in a new gopher-lua state (RunLua with
// open), and requires the same replies (LuaReply's conversion of
// gopher-lua's result). wrap, when not nil, makes the script both sides
// run from a case's Script (a prelude of the package's, say). A case that
// redis-server answers with an error is a broken case: scripts catch the
// errors they test with pcall. Case names must be unique.
func CompareLua(t *testing.T, open func(*lua.LState), wrap func(script string) string, cases []LuaCase) {
	t.Helper()
	rs := StartRedis(t)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			t.Fatalf("two cases are named %q", c.Name)
		}
		seen[c.Name] = true
		script := c.Script
		if wrap != nil {
			script = wrap(script)
		}
		t.Run(c.Name, func(t *testing.T) {
			want, err := rs.Eval(script)
			if err != nil {
				t.Fatalf("redis-server: %v", err)
			}
			if e, ok := want.(ErrorReply); ok {
				t.Fatalf("redis-server failed the script: %s\nscript:\n%s", e, c.Script)
			}
			v, err := RunLua(open, script)
			if err != nil {
				t.Fatalf("gopher-lua failed the script: %v\nscript:\n%s", err, c.Script)
			}
			if got := LuaReply(v); !reflect.DeepEqual(got, want) {
				t.Errorf("script:\n%s\n%s", c.Script, describeDiff(got, want))
			}
		})
	}
}

// describeDiff tells how got differs from want: element by element when
// both are arrays of one length, each clipped to 2000 bytes.
func describeDiff(got, want any) string {
	g, gok := got.([]any)
	w, wok := want.([]any)
	if !gok || !wok || len(g) != len(w) {
		return fmt.Sprintf("gopher-lua: %s\nredis:      %s", clip(got), clip(want))
	}
	var b strings.Builder
	for i := range g {
		if !reflect.DeepEqual(g[i], w[i]) {
			fmt.Fprintf(&b, "element %d:\n  gopher-lua: %s\n  redis:      %s\n", i+1, clip(g[i]), clip(w[i]))
		}
	}
	return b.String()
}

// clip is v in Go syntax, cut after 2000 bytes.
func clip(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// NewLuaState is a gopher-lua state sized as node/script sizes the states
// it runs scripts in.
func NewLuaState() *lua.LState {
	return lua.NewState(lua.Options{CallStackSize: 1024, RegistrySize: 1024, RegistryMaxSize: 1 << 20})
}

// RunLua runs script in a new state (NewLuaState) that open has opened a
// library in, loaded under the chunk name Redis gives scripts
// ("user_script", so errors say "user_script:<line>: "), and returns its
// first result, or the error the script raised.
func RunLua(open func(*lua.LState), script string) (lua.LValue, error) {
	L := NewLuaState()
	defer L.Close()
	open(L)
	fn, err := L.Load(strings.NewReader(script), "user_script")
	if err != nil {
		return nil, err
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return nil, err
	}
	return L.Get(-1), nil
}

// LuaReply converts a Lua value as Redis 7.0 converts a script's result to
// RESP2, to the values Redis.Do returns: numbers truncated to integers,
// true as 1, false and nil as nil, {err=...} and {ok=...} as error and
// status replies, other tables as arrays up to their first nil.
func LuaReply(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || f >= 1<<63 || f < -(1<<63) {
			return int64(math.MinInt64)
		}
		return int64(f)
	case lua.LBool:
		if v {
			return int64(1)
		}
		return nil
	case *lua.LTable:
		if e, ok := v.RawGetString("err").(lua.LString); ok {
			return ErrorReply(e)
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			return StatusReply(s)
		}
		elems := []any{}
		for i := 1; ; i++ {
			e := v.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			elems = append(elems, LuaReply(e))
		}
		return elems
	}
	return nil
}

// EachValue is a script that applies expr, a Lua expression of x, to
// every value in vals (Lua expressions), each in its own pcall, and
// returns for each "true <result>" or "false <error message>".
func EachValue(expr string, vals ...string) string {
	return "local r = {}\n" +
		"for _, x in ipairs({" + strings.Join(vals, ", ") + "}) do\n" +
		"  local ok, v = pcall(function() return " + expr + " end)\n" +
		"  r[#r+1] = tostring(ok) .. ' ' .. tostring(v)\n" +
		"end\n" +
		"return r\n"
}

// LuaGlobalsAdded returns the globals open adds to a fresh state: a
// library must add its own table and nothing else.
func LuaGlobalsAdded(open func(*lua.LState)) []string {
	L := lua.NewState()
	defer L.Close()
	before := map[string]bool{}
	L.G.Global.ForEach(func(k, _ lua.LValue) { before[k.String()] = true })
	open(L)
	var added []string
	L.G.Global.ForEach(func(k, _ lua.LValue) {
		if !before[k.String()] {
			added = append(added, k.String())
		}
	})
	return added
}

// LuaDumpPrelude is Lua code for a script to start with, so that its
// results compare as one string: it defines the local functions
//   - __dump(v), v as a string alike on both sides: numbers exactly
//     (mantissa and exponent), strings with non-printable bytes escaped,
//     tables with sorted entries, userdata the table __names names by its
//     name there (a script sets, say, __names[cjson.null] = "NULL");
//   - __pack(...), the __dump of each value, joined by " | ";
//   - __try(f, ...), __pack(pcall(f, ...)) in parentheses;
//   - __hex(s), s in hex, and __bytes(h), the bytes of hex h (white space
//     ignored).
//
// It defines no global (Redis refuses new globals). LuaDumpScript wraps a
// body in it.
const LuaDumpPrelude = `local __dump
local __names = {}
local __inf = 1/0
local function __num(v)
  if v ~= v then return "nan" end
  if v == __inf then return "inf" end
  if v == -__inf then return "-inf" end
  if v == 0 then if 1/v < 0 then return "-0" end return "0" end
  if v == math.floor(v) and v > -2^53 and v < 2^53 then return string.format("%.0f", v) end
  local m, e = math.frexp(v)
  return string.format("%.0f", m * 2^53) .. "p" .. (e - 53)
end
local function __str(s)
  local out = {}
  for i = 1, #s do
    local b = string.byte(s, i)
    if b >= 32 and b < 127 and b ~= 92 then out[#out+1] = string.char(b) else out[#out+1] = "\\" .. b end
  end
  return '"' .. table.concat(out) .. '"'
end
local function __tab(t, d)
  if d > 40 then return "{...}" end
  local items = {}
  for k, v in pairs(t) do items[#items+1] = __dump(k, d+1) .. "=" .. __dump(v, d+1) end
  table.sort(items)
  return "{" .. table.concat(items, ",") .. "}"
end
__dump = function(v, d)
  d = d or 0
  local ty = type(v)
  if ty == "number" then return __num(v) end
  if ty == "string" then return __str(v) end
  if ty == "table" then return __tab(v, d) end
  if ty == "boolean" then return tostring(v) end
  if ty == "nil" then return "nil" end
  if ty == "userdata" and __names[v] then return __names[v] end
  return ty
end
local function __pack(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = __dump((select(i, ...)), 0) end
  return table.concat(out, " | ")
end
local function __try(...) return "(" .. __pack(pcall(...)) .. ")" end
local function __hex(s) return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end)) end
local function __bytes(h) h = string.gsub(h, "%s", "") return (string.gsub(h, "%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
`

// LuaDumpScript is a script that runs setup (Lua statements, "" for none)
// after LuaDumpPrelude, then body as a function in a pcall, and returns
// __pack of the pcall's results: "true | <results>" or "false | <error>".
func LuaDumpScript(setup, body string) string {
	return LuaDumpPrelude + setup + "\nreturn __pack(pcall(function()\n" + body + "\nend))\n"
}
