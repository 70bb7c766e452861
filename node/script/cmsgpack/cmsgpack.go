package cmsgpack

import (
	"encoding/binary"
	"math"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// Module metadata, as lua-cmsgpack sets it.
const (
	moduleName        = "cmsgpack"
	moduleVersion     = "lua-cmsgpack 0.4.0"
	moduleCopyright   = "Copyright (C) 2012, Salvatore Sanfilippo"
	moduleDescription = "MessagePack C implementation for Lua"
)

// maxNesting is the table nesting pack encodes; deeper tables (and so
// reference cycles) are written as nil.
const maxNesting = 16

// Open sets the global "cmsgpack" of L to a new cmsgpack module table, as
// Redis does when it creates its scripting VM.
func Open(L *lua.LState) {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(pack))
	t.RawSetString("unpack", L.NewFunction(unpack))
	t.RawSetString("unpack_one", L.NewFunction(unpackOne))
	t.RawSetString("unpack_limit", L.NewFunction(unpackLimit))
	t.RawSetString("_NAME", lua.LString(moduleName))
	t.RawSetString("_VERSION", lua.LString(moduleVersion))
	t.RawSetString("_COPYRIGHT", lua.LString(moduleCopyright))
	t.RawSetString("_DESCRIPTION", lua.LString(moduleDescription))
	L.SetGlobal(moduleName, t)
}

// pack is cmsgpack.pack(v1, ...).
func pack(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		luaarg.ArgError(L, 0, "MessagePack pack needs input.")
	}
	if n+n > luaarg.MaxCStack {
		luaarg.ArgError(L, 0, "Too many arguments for MessagePack pack.")
	}
	p := packer{L: L}
	for i := 1; i <= n; i++ {
		// lua-cmsgpack pushes a copy of the argument above the arguments
		// and the encodings of the ones before it.
		p.value(L.Get(i), 0, n+i)
	}
	L.Push(lua.LString(p.buf))
	return 1
}

// packer writes one pack result.
type packer struct {
	L   *lua.LState
	buf []byte
}

// checkStack raises luaL_checkstack's error when need more Lua stack slots
// than are left above the top slots lua-cmsgpack would be using.
func checkStack(L *lua.LState, top, need int, what string) {
	if top+need > luaarg.MaxCStack {
		luaarg.Raise(L, "stack overflow (%s)", what)
	}
}

// value appends v, nested in level tables; top is the number of Lua stack
// slots lua-cmsgpack would be using with v on top of its stack.
func (p *packer) value(v lua.LValue, level, top int) {
	switch v := v.(type) {
	case lua.LString:
		p.string(string(v))
	case lua.LBool:
		if v {
			p.buf = append(p.buf, 0xc3)
		} else {
			p.buf = append(p.buf, 0xc2)
		}
	case lua.LNumber:
		p.number(float64(v))
	case *lua.LTable:
		if level == maxNesting {
			p.buf = append(p.buf, 0xc0)
			return
		}
		p.table(v, level, top)
	default:
		p.buf = append(p.buf, 0xc0)
	}
}

func (p *packer) string(s string) {
	n := len(s)
	switch {
	case n < 32:
		p.buf = append(p.buf, 0xa0|byte(n))
	case n <= 0xff:
		p.buf = append(p.buf, 0xd9, byte(n))
	case n <= 0xffff:
		p.buf = binary.BigEndian.AppendUint16(append(p.buf, 0xda), uint16(n))
	default:
		p.buf = binary.BigEndian.AppendUint32(append(p.buf, 0xdb), uint32(n))
	}
	p.buf = append(p.buf, s...)
}

// number writes f as an integer when it is a whole number a 64-bit integer
// holds, else as a float 32 when that is exact, else as a float 64.
func (p *packer) number(f float64) {
	if !math.IsInf(f, 0) {
		if i := luaarg.CastInt64(f); float64(i) == f {
			p.integer(i)
			return
		}
	}
	if f32 := float32(f); float64(f32) == f {
		p.buf = binary.BigEndian.AppendUint32(append(p.buf, 0xca), math.Float32bits(f32))
		return
	}
	p.buf = binary.BigEndian.AppendUint64(append(p.buf, 0xcb), math.Float64bits(f))
}

// integer writes n in the smallest MessagePack integer format, unsigned
// ones for non-negative values.
func (p *packer) integer(n int64) {
	b := p.buf
	switch {
	case n >= 0 && n <= 127:
		b = append(b, byte(n))
	case n >= 0 && n <= 0xff:
		b = append(b, 0xcc, byte(n))
	case n >= 0 && n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n >= 0 && n <= 0xffffffff:
		b = binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	case n >= 0:
		b = binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	case n >= -32:
		b = append(b, byte(n))
	case n >= -128:
		b = append(b, 0xd0, byte(n))
	case n >= -32768:
		b = binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(n))
	case n >= -2147483648:
		b = binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
	}
	p.buf = b
}

// table writes t as an array when its keys are exactly 1..n (n may be 0),
// else as a map.
func (p *packer) table(t *lua.LTable, level, top int) {
	checkStack(p.L, top, 2, "in function table_is_an_array")
	if n, ok := arrayLength(t); ok {
		checkStack(p.L, top, 1, "in function mp_encode_lua_table_as_array")
		p.header(n, 0x90, 0xdc, 0xdd)
		for i := 1; i <= n; i++ {
			p.value(t.RawGetInt(i), level+1, top+1)
		}
		return
	}
	checkStack(p.L, top, 3, "in function mp_encode_lua_table_as_map")
	n := 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n++
	}
	p.header(n, 0x80, 0xde, 0xdf)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		p.value(k, level+1, top+3)
		p.value(v, level+1, top+2)
	}
}

// arrayLength returns the number of keys of t when they are exactly the
// integers 1..n, as lua-cmsgpack's check finds it with C ints.
func arrayLength(t *lua.LTable) (int, bool) {
	var max, count int32
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n, ok := k.(lua.LNumber)
		f := float64(n)
		if !ok || f <= 0 || math.IsInf(f, 0) || float64(luaarg.CastInt32(f)) != f {
			return 0, false
		}
		if f > float64(max) {
			max = luaarg.CastInt32(f)
		}
		count++
	}
	return int(count), max == count
}

// header writes an array or map header for n elements: the fix form, the
// 16-bit or the 32-bit one.
func (p *packer) header(n int, fix, b16, b32 byte) {
	switch {
	case n <= 15:
		p.buf = append(p.buf, fix|byte(n))
	case n <= 0xffff:
		p.buf = binary.BigEndian.AppendUint16(append(p.buf, b16), uint16(n))
	default:
		p.buf = binary.BigEndian.AppendUint32(append(p.buf, b32), uint32(n))
	}
}
