package cjson

import (
	"math"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// encoder writes one cjson.encode result.
type encoder struct {
	L    *lua.LState
	cfg  *config
	null *lua.LUserData
	buf  []byte
}

// fail raises lua_cjson's encoding error for a value of type typ.
func (e *encoder) fail(typ, reason string) {
	luaarg.Raise(e.L, "Cannot serialise %s: %s", typ, reason)
}

// value appends v. depth is the number of tables v is nested in; slots is
// the number of Lua stack slots lua_cjson would be using with v on top of
// its stack, which lua_checkstack bounds.
func (e *encoder) value(v lua.LValue, depth int, slots int) {
	switch v := v.(type) {
	case lua.LString:
		e.string(string(v))
	case lua.LNumber:
		e.number(float64(v))
	case lua.LBool:
		if v {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *lua.LTable:
		depth++
		if depth > int(e.cfg.encodeMaxDepth) || slots+3 > luaarg.MaxCStack {
			luaarg.Raise(e.L, "Cannot serialise, excessive nesting (%d)", depth)
		}
		if n := e.arrayLength(v); n > 0 {
			e.array(v, int(n), depth, slots)
		} else {
			e.object(v, depth, slots)
		}
	case *lua.LUserData:
		if v == e.null {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.fail(v.Type().String(), "type not supported")
	default:
		e.fail(v.Type().String(), "type not supported")
	}
}

// arrayLength returns the length of t as a JSON array, or a value <= 0 when
// t is to be written as an object. As lua_cjson does it in C ints: any key
// but a positive integer makes an object; so does an excessively sparse
// array when sparse conversion is on (an error when it is off).
func (e *encoder) arrayLength(t *lua.LTable) int32 {
	var max, items int32
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n, ok := k.(lua.LNumber)
		f := float64(n)
		if !ok || f == 0 || math.Floor(f) != f || f < 1 {
			return -1
		}
		if f > float64(max) {
			max = luaarg.CastInt32(f)
		}
		items++
	}
	if e.cfg.sparseRatio > 0 && max > items*e.cfg.sparseRatio && max > e.cfg.sparseSafe {
		if !e.cfg.sparseConvert {
			e.fail("table", "excessively sparse array")
		}
		return -1
	}
	return max
}

func (e *encoder) array(t *lua.LTable, n int, depth, slots int) {
	e.buf = append(e.buf, '[')
	for i := 1; i <= n; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		e.value(t.RawGetInt(i), depth, slots+1)
	}
	e.buf = append(e.buf, ']')
}

func (e *encoder) object(t *lua.LTable, depth, slots int) {
	e.buf = append(e.buf, '{')
	first := true
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		switch k := k.(type) {
		case lua.LNumber:
			e.buf = append(e.buf, '"')
			e.number(float64(k))
			e.buf = append(e.buf, '"', ':')
		case lua.LString:
			e.string(string(k))
			e.buf = append(e.buf, ':')
		default:
			e.fail(k.Type().String(), "table key must be a number or string")
		}
		e.value(v, depth, slots+2)
	}
	e.buf = append(e.buf, '}')
}

func (e *encoder) number(f float64) {
	invalid := math.IsInf(f, 0) || math.IsNaN(f)
	switch e.cfg.encodeInvalid {
	case invalidOff:
		if invalid {
			e.fail("number", "must not be NaN or Inf")
		}
	case invalidOn:
		if math.IsNaN(f) {
			e.buf = append(e.buf, "nan"...)
			return
		}
	default:
		if invalid {
			e.buf = append(e.buf, "null"...)
			return
		}
	}
	e.buf = append(e.buf, luaarg.FormatG(f, int(e.cfg.precision))...)
}

const hexDigits = "0123456789abcdef"

// string appends s quoted, escaping '"', '\\', '/', the control characters
// and DEL; other bytes, UTF-8 or not, go through unchanged.
func (e *encoder) string(s string) {
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\', '/':
			e.buf = append(e.buf, '\\', c)
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		default:
			if c < 0x20 || c == 0x7f {
				e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				e.buf = append(e.buf, c)
			}
		}
	}
	e.buf = append(e.buf, '"')
}
