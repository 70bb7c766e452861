package script

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/pika-node/pika-node/node/resp"
)

// The conversions between RESP and Lua, both ways, as redis-server 7.0
// makes them (docs/scripting.md, "Conversions").

// errBadReply is a command reply that does not parse (a bug, never a
// client's doing: replies come from this node's own commands or peers).
var errBadReply = errors.New("malformed command reply")

// maxDepth bounds the nesting of the values converted either way.
const maxDepth = 1000

// parseReply converts the first RESP reply in b to a Lua value and
// returns the bytes after it. An error reply becomes {err=...}.
func parseReply(L *lua.LState, b []byte) (lua.LValue, []byte, error) {
	return parseValue(L, b, 0)
}

func parseValue(L *lua.LState, b []byte, depth int) (lua.LValue, []byte, error) {
	if depth > maxDepth || len(b) < 3 {
		return lua.LNil, nil, errBadReply
	}
	kind := b[0]
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return lua.LNil, nil, errBadReply
	}
	line, rest := b[1:i], b[i+2:]
	switch kind {
	case '+':
		t := L.CreateTable(0, 1)
		t.RawSetString("ok", lua.LString(line))
		return t, rest, nil
	case '-':
		t := L.CreateTable(0, 1)
		t.RawSetString("err", lua.LString(errorText("-"+string(line))))
		return t, rest, nil
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return lua.LNil, nil, errBadReply
		}
		return lua.LNumber(n), rest, nil
	case '$', '=':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return lua.LNil, nil, errBadReply
		}
		if n < 0 {
			return lua.LFalse, rest, nil
		}
		if len(rest) < n+2 {
			return lua.LNil, nil, errBadReply
		}
		s := rest[:n]
		rest = rest[n+2:]
		if kind == '$' {
			return lua.LString(s), rest, nil
		}
		// A verbatim string: "fmt:text".
		v := L.CreateTable(0, 2)
		if len(s) >= 4 && s[3] == ':' {
			v.RawSetString("format", lua.LString(s[:3]))
			s = s[4:]
		}
		v.RawSetString("string", lua.LString(s))
		t := L.CreateTable(0, 1)
		t.RawSetString("verbatim_string", v)
		return t, rest, nil
	case '_':
		return lua.LNil, rest, nil
	case '#':
		return lua.LBool(len(line) == 1 && line[0] == 't'), rest, nil
	case ',':
		f, err := strconv.ParseFloat(string(line), 64)
		if err != nil {
			return lua.LNil, nil, errBadReply
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("double", lua.LNumber(f))
		return t, rest, nil
	case '(':
		t := L.CreateTable(0, 1)
		t.RawSetString("big_number", lua.LString(line))
		return t, rest, nil
	case '*', '~', '%', '>', '|':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return lua.LNil, nil, errBadReply
		}
		if n < 0 {
			return lua.LFalse, rest, nil
		}
		switch kind {
		case '%', '|':
			m := L.CreateTable(0, n)
			for range n {
				var k, v lua.LValue
				if k, rest, err = parseValue(L, rest, depth+1); err != nil {
					return lua.LNil, nil, err
				}
				if v, rest, err = parseValue(L, rest, depth+1); err != nil {
					return lua.LNil, nil, err
				}
				if k != lua.LNil {
					m.RawSet(k, v)
				}
			}
			if kind == '|' {
				// An attribute annotates the reply after it, which is
				// what the script gets.
				return parseValue(L, rest, depth)
			}
			t := L.CreateTable(0, 1)
			t.RawSetString("map", m)
			return t, rest, nil
		case '~':
			set := L.CreateTable(0, n)
			for range n {
				var v lua.LValue
				if v, rest, err = parseValue(L, rest, depth+1); err != nil {
					return lua.LNil, nil, err
				}
				if v != lua.LNil {
					set.RawSet(v, lua.LTrue)
				}
			}
			t := L.CreateTable(0, 1)
			t.RawSetString("set", set)
			return t, rest, nil
		}
		arr := L.CreateTable(n, 0)
		for j := 1; j <= n; j++ {
			var v lua.LValue
			if v, rest, err = parseValue(L, rest, depth+1); err != nil {
				return lua.LNil, nil, err
			}
			arr.RawSetInt(j, v)
		}
		return arr, rest, nil
	}
	return lua.LNil, nil, errBadReply
}

// writeValue appends the reply a script's return value v makes, in out's
// protocol; resp3 is the script's redis.setresp (booleans follow it).
func writeValue(out *resp.Reply, L *lua.LState, v lua.LValue, resp3 bool, depth int) {
	if depth > maxDepth {
		out.Error("ERR reached lua stack limit")
		return
	}
	switch v := v.(type) {
	case lua.LString:
		out.BulkString(string(v))
	case lua.LBool:
		switch {
		case resp3:
			out.Bool(bool(v))
		case bool(v):
			out.Int(1)
		default:
			out.Null()
		}
	case lua.LNumber:
		out.Int(toInt(float64(v)))
	case *lua.LTable:
		writeTable(out, L, v, resp3, depth)
	default:
		out.Null()
	}
}

// toInt is C's (long long) cast of a Lua number, as Redis replies one.
func toInt(f float64) int64 {
	if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int64(f)
}

func writeTable(out *resp.Reply, L *lua.LState, t *lua.LTable, resp3 bool, depth int) {
	if e, ok := t.RawGetString("err").(lua.LString); ok {
		out.Error(trimNewlines(string(e)))
		return
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		out.Simple(mapNewlines(trimNewlines(string(s))))
		return
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		out.Double(formatDouble(float64(d)))
		return
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		text := mapNewlines(string(s))
		if out.Resp3 {
			out.Raw([]byte("(" + text + "\r\n"))
		} else {
			out.BulkString(text)
		}
		return
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		var pairs []lua.LValue
		m.ForEach(func(k, v lua.LValue) { pairs = append(pairs, k, v) })
		out.Map(len(pairs) / 2)
		for _, x := range pairs {
			writeValue(out, L, x, resp3, depth+1)
		}
		return
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		var elems []lua.LValue
		s.ForEach(func(k, _ lua.LValue) { elems = append(elems, k) })
		out.Set(len(elems))
		for _, x := range elems {
			writeValue(out, L, x, resp3, depth+1)
		}
		return
	}
	if vs, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		format, _ := vs.RawGetString("format").(lua.LString)
		text, _ := vs.RawGetString("string").(lua.LString)
		if format != "" || text != "" {
			if out.Resp3 && len(format) == 3 {
				out.Raw([]byte("=" + strconv.Itoa(len(text)+4) + "\r\n" + string(format) + ":" + string(text) + "\r\n"))
			} else {
				out.BulkString(string(text))
			}
			return
		}
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	out.Array(n)
	for j := 1; j <= n; j++ {
		writeValue(out, L, t.RawGetInt(j), resp3, depth+1)
	}
}

// formatDouble renders a double as Redis's addReplyDouble does (%.17g,
// inf and -inf).
func formatDouble(f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	case math.IsNaN(f):
		return []byte("nan")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

func trimNewlines(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\r' || s[len(s)-1] == '\n') {
		s = s[:len(s)-1]
	}
	for len(s) > 0 && (s[0] == '\r' || s[0] == '\n') {
		s = s[1:]
	}
	return s
}

func mapNewlines(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
