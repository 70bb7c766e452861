package cmsgpack

import (
	"encoding/binary"
	"math"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// unpack is cmsgpack.unpack(s): all the values in s.
func unpack(L *lua.LState) int {
	return unpackFull(L, 0, 0)
}

// unpackOne is cmsgpack.unpack_one(s [, offset]): the offset to go on from
// and the value at offset.
func unpackOne(L *lua.LState) int {
	offset := luaarg.OptInteger(L, 2, 0)
	dropExtra(L)
	return unpackFull(L, 1, offset)
}

// unpackLimit is cmsgpack.unpack_limit(s, limit [, offset]): the offset to
// go on from and at most limit values from offset.
func unpackLimit(L *lua.LState) int {
	limit := luaarg.CheckInteger(L, 2)
	offset := luaarg.OptInteger(L, 3, 0)
	dropExtra(L)
	return unpackFull(L, limit, offset)
}

// dropExtra drops the arguments after the first, which lua-cmsgpack pops
// before decoding.
func dropExtra(L *lua.LState) {
	if L.GetTop() > 1 {
		L.SetTop(1)
	}
}

// Decoding errors, as lua-cmsgpack's cursor records them.
const (
	errNone   = iota
	errEOF    // not enough data
	errBadFmt // a type byte lua-cmsgpack does not know
)

// unpackFull decodes up to limit values at offset of argument 1; limit and
// offset both 0 mean all the values, without the offset result.
func unpackFull(L *lua.LState, limit, offset int64) int {
	s := luaarg.CheckString(L, 1)
	if offset < 0 || limit < 0 {
		luaarg.Raise(L, "Invalid request to unpack with offset of %d and limit of %d.", int32(offset), int32(len(s)))
	} else if offset > int64(len(s)) {
		luaarg.Raise(L, "Start offset %d greater than input length %d.", int32(offset), int32(len(s)))
	}
	all := limit == 0 && offset == 0
	if all {
		limit = math.MaxInt32
	}
	// The arguments stay below the results on the Lua stack.
	base := L.GetTop()
	u := unpacker{L: L, s: s, pos: int(offset)}
	var out []lua.LValue
	for n := int64(0); u.pos < len(s) && n < limit; n++ {
		v := u.value(base + len(out))
		switch u.err {
		case errEOF:
			luaarg.Raise(L, "Missing bytes in input.")
		case errBadFmt:
			luaarg.Raise(L, "Bad data format in input.")
		}
		out = append(out, v)
	}
	if !all {
		checkStack(L, base+len(out), 1, "in function mp_unpack_full")
		next := lua.LNumber(u.pos)
		if u.pos == len(s) {
			next = -1
		}
		L.Push(next)
	}
	for _, v := range out {
		L.Push(v)
	}
	if all {
		return len(out)
	}
	return len(out) + 1
}

// unpacker reads MessagePack values from s at pos.
type unpacker struct {
	L   *lua.LState
	s   string
	pos int
	err int
}

// need reports whether n more bytes are there, recording errEOF if not.
func (u *unpacker) need(n int) bool {
	if len(u.s)-u.pos < n {
		u.err = errEOF
		return false
	}
	return true
}

func (u *unpacker) u8(i int) uint64 { return uint64(u.s[u.pos+i]) }

func (u *unpacker) u16(i int) uint64 {
	return uint64(binary.BigEndian.Uint16([]byte(u.s[u.pos+i : u.pos+i+2])))
}

func (u *unpacker) u32(i int) uint64 {
	return uint64(binary.BigEndian.Uint32([]byte(u.s[u.pos+i : u.pos+i+4])))
}

func (u *unpacker) u64(i int) uint64 {
	return binary.BigEndian.Uint64([]byte(u.s[u.pos+i : u.pos+i+8]))
}

// fixed reads a value of n bytes, the type byte included.
func (u *unpacker) fixed(n int, read func() lua.LValue) lua.LValue {
	if !u.need(n) {
		return lua.LNil
	}
	v := read()
	u.pos += n
	return v
}

// sized reads the type byte and the big-endian length of 1<<k bytes
// after it, then what read reads of that length; nil (u.err set) when the
// length is not all there.
func (u *unpacker) sized(k byte, read func(n uint64) lua.LValue) lua.LValue {
	size := 1 << k
	if !u.need(1 + size) {
		return lua.LNil
	}
	var n uint64
	switch size {
	case 1:
		n = u.u8(1)
	case 2:
		n = u.u16(1)
	default:
		n = u.u32(1)
	}
	u.pos += 1 + size
	return read(n)
}

// str reads a string of l bytes after a header of h bytes.
func (u *unpacker) str(h int, l uint64) lua.LValue {
	if uint64(len(u.s)-u.pos-h) < l {
		u.err = errEOF
		return lua.LNil
	}
	start := u.pos + h
	u.pos = start + int(l)
	return lua.LString(u.s[start:u.pos])
}

// value decodes one value; top is the number of Lua stack slots
// lua-cmsgpack would be using before pushing it. On error u.err is set
// and the value is meaningless.
func (u *unpacker) value(top int) lua.LValue {
	if !u.need(1) {
		return lua.LNil
	}
	checkStack(u.L, top, 1, "too many return values at once; use unpack_one or unpack_limit instead.")
	c := u.s[u.pos]
	switch c {
	case 0xcc:
		return u.fixed(2, func() lua.LValue { return lua.LNumber(u.u8(1)) })
	case 0xd0:
		return u.fixed(2, func() lua.LValue { return lua.LNumber(int8(u.u8(1))) })
	case 0xcd:
		return u.fixed(3, func() lua.LValue { return lua.LNumber(u.u16(1)) })
	case 0xd1:
		return u.fixed(3, func() lua.LValue { return lua.LNumber(int16(u.u16(1))) })
	case 0xce:
		return u.fixed(5, func() lua.LValue { return lua.LNumber(u.u32(1)) })
	case 0xd2:
		return u.fixed(5, func() lua.LValue { return lua.LNumber(int32(u.u32(1))) })
	case 0xcf: // pushed as a 64-bit lua_Integer: wraps past 2^63-1
		return u.fixed(9, func() lua.LValue { return lua.LNumber(int64(u.u64(1))) })
	case 0xd3:
		return u.fixed(9, func() lua.LValue { return lua.LNumber(int64(u.u64(1))) })
	case 0xc0:
		u.pos++
		return lua.LNil
	case 0xc3:
		u.pos++
		return lua.LTrue
	case 0xc2:
		u.pos++
		return lua.LFalse
	case 0xca:
		return u.fixed(5, func() lua.LValue {
			return lua.LNumber(math.Float32frombits(uint32(u.u32(1))))
		})
	case 0xcb:
		return u.fixed(9, func() lua.LValue { return lua.LNumber(math.Float64frombits(u.u64(1))) })
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		return u.sized(c-0xd9, func(n uint64) lua.LValue { return u.str(0, n) })
	case 0xdc, 0xdd: // array 16, 32
		return u.sized(c-0xdb, func(n uint64) lua.LValue { return u.array(n, top) })
	case 0xde, 0xdf: // map 16, 32
		return u.sized(c-0xdd, func(n uint64) lua.LValue { return u.hash(n, top) })
	}
	switch {
	case c&0x80 == 0: // positive fixint
		u.pos++
		return lua.LNumber(c)
	case c&0xe0 == 0xe0: // negative fixint
		u.pos++
		return lua.LNumber(int8(c))
	case c&0xe0 == 0xa0: // fixstr
		return u.str(1, uint64(c&0x1f))
	case c&0xf0 == 0x90: // fixarray
		u.pos++
		return u.array(uint64(c&0xf), top)
	case c&0xf0 == 0x80: // fixmap
		u.pos++
		return u.hash(uint64(c&0xf), top)
	}
	u.err = errBadFmt
	return lua.LNil
}

// array decodes n values into a table at keys 1..n.
func (u *unpacker) array(n uint64, top int) lua.LValue {
	t := u.L.NewTable()
	checkStack(u.L, top+1, 1, "in function mp_decode_to_lua_array")
	for i := uint64(1); i <= n; i++ {
		v := u.value(top + 2)
		if u.err != errNone {
			return lua.LNil
		}
		t.RawSetInt(int(i), v)
	}
	return t
}

// hash decodes n key/value pairs into a table.
func (u *unpacker) hash(n uint64, top int) lua.LValue {
	t := u.L.NewTable()
	for ; n > 0; n-- {
		k := u.value(top + 1)
		if u.err != errNone {
			return lua.LNil
		}
		v := u.value(top + 2)
		if u.err != errNone {
			return lua.LNil
		}
		switch k := k.(type) {
		case *lua.LNilType:
			// lua_settable's error, raised by Lua's core: no position.
			u.L.Error(lua.LString("table index is nil"), 0)
		case lua.LNumber:
			if k != k {
				u.L.Error(lua.LString("table index is NaN"), 0)
			}
		}
		t.RawSet(k, v)
	}
	return t
}
