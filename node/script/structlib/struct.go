package structlib

import (
	"encoding/binary"
	"math"
	"strings"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// Open creates the global table "struct" in L with the functions pack,
// unpack and size, as redis-server 7.0 has it in its script VM. It sets no
// other global.
func Open(L *lua.LState) {
	t := L.CreateTable(0, 3)
	t.RawSetString("pack", L.NewFunction(structPack))
	t.RawSetString("unpack", L.NewFunction(structUnpack))
	t.RawSetString("size", L.NewFunction(structSize))
	L.SetGlobal("struct", t)
}

// The sizes of the C types of an x86-64 redis-server, which the format
// characters stand for.
const (
	sizeofShort  = 2
	sizeofInt    = 4
	sizeofLong   = 8
	sizeofSizeT  = 8
	sizeofFloat  = 4
	sizeofDouble = 8

	// maxIntSize is the largest size an 'i' or 'I' may be given.
	maxIntSize = 32
	// maxAlign is the alignment a bare '!' sets: that of a double.
	maxAlign = 8
	// intMax is C's INT_MAX, which bounds the numbers in a format.
	intMax = math.MaxInt32
)

// header holds the endianness and the maximum alignment a format has set
// so far.
type header struct {
	little bool
	align  uint64
}

// defaultHeader is the native order of x86-64 with no alignment.
func defaultHeader() header { return header{little: true, align: 1} }

// format walks a format string. The C library reads it as a C string, so
// it ends at its first NUL byte.
type format struct {
	s string
	i int
}

func newFormat(s string) *format {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return &format{s: s}
}

func (f *format) more() bool { return f.i < len(f.s) }

func (f *format) next() byte {
	c := f.s[f.i]
	f.i++
	return c
}

// num reads the decimal number that follows an option, or returns def
// when no digit follows. A number above INT_MAX is an error.
func (f *format) num(L *lua.LState, def int) int {
	if !f.more() || !luaarg.IsDigit(f.s[f.i]) {
		return def
	}
	a := 0
	for f.more() && luaarg.IsDigit(f.s[f.i]) {
		d := int(f.s[f.i] - '0')
		if a > intMax/10 || a*10 > intMax-d {
			luaarg.Raise(L, "integral size overflow")
		}
		a = a*10 + d
		f.i++
	}
	return a
}

// optSize is the size of option opt, reading the number that follows it
// where it takes one; 0 for options that are not values.
func optSize(L *lua.LState, opt byte, f *format) uint64 {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return sizeofShort
	case 'L', 'l':
		return sizeofLong
	case 'T':
		return sizeofSizeT
	case 'f':
		return sizeofFloat
	case 'd':
		return sizeofDouble
	case 'x':
		return 1
	case 'c':
		return uint64(f.num(L, 1))
	case 'i', 'I':
		sz := f.num(L, sizeofInt)
		if sz > maxIntSize {
			luaarg.Raise(L, "integral size %d is larger than limit of %d", sz, maxIntSize)
		}
		return uint64(sz)
	}
	return 0
}

// toAlign is how many padding bytes put an option of the given size at
// offset n, under the header's maximum alignment. Sizes that are not
// powers of two give what the C's bit masks give them.
func toAlign(n uint64, h *header, opt byte, size uint64) uint64 {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > h.align {
		size = h.align
	}
	return (size - (n & (size - 1))) & (size - 1)
}

// controlOption applies an option that is not a value: white space, an
// endianness or an alignment. Anything else is an invalid option.
func controlOption(L *lua.LState, opt byte, f *format, h *header) {
	switch opt {
	case ' ':
	case '>':
		h.little = false
	case '<':
		h.little = true
	case '!':
		a := f.num(L, maxAlign)
		if a <= 0 || a&(a-1) != 0 {
			luaarg.Raise(L, "alignment %d is not a power of 2", a)
		}
		h.align = uint64(a)
	default:
		luaarg.ArgError(L, 1, "invalid format option '"+string([]byte{opt})+"'")
	}
}

// isIntOption reports whether opt packs an integer.
func isIntOption(opt byte) bool {
	switch opt {
	case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
		return true
	}
	return false
}

// putInteger appends the low size bytes of n as an integer in the given
// order. n becomes 64 bits as the C does: negative numbers through a
// signed conversion, the others through an unsigned one; bytes past the
// eighth are zero.
func putInteger(buf []byte, n float64, little bool, size uint64) []byte {
	var value uint64
	if n < 0 {
		value = uint64(luaarg.CastInt64(n))
	} else {
		value = luaarg.CastUint64(n)
	}
	start := len(buf)
	buf = append(buf, make([]byte, size)...)
	out := buf[start:]
	for i := uint64(0); i < size; i++ {
		j := size - 1 - i
		if little {
			j = i
		}
		out[j] = byte(value)
		value >>= 8
	}
	return buf
}

// getInteger reads a size-byte integer in the given order. Only the low
// 64 bits are kept; a signed one is sign-extended from the bit the C's
// shift reaches, whose count x86-64 takes modulo 64.
func getInteger(b []byte, little, signed bool) float64 {
	var l uint64
	for i := range b {
		c := b[i]
		if little {
			c = b[len(b)-1-i]
		}
		l = l<<8 | uint64(c)
	}
	if !signed {
		return float64(l)
	}
	mask := ^uint64(0) << (uint(len(b)*8-1) & 63)
	if l&mask != 0 {
		l |= mask
	}
	return float64(int64(l))
}

// byteOrder reads and appends integers in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// order is the byte order the header sets.
func order(h *header) byteOrder {
	if h.little {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// structPack is struct.pack(fmt, ...): the values packed into a string.
func structPack(L *lua.LState) int {
	f := newFormat(luaarg.CheckString(L, 1))
	// The C pushes a nil above its arguments, so a missing argument
	// reads as nil rather than as no value.
	L.Push(lua.LNil)
	h := defaultHeader()
	arg := 2
	var buf []byte
	var total uint64
	for f.more() {
		opt := f.next()
		size := optSize(L, opt, f)
		pad := toAlign(total, &h, opt, size)
		total += pad
		buf = append(buf, make([]byte, pad)...)
		switch {
		case isIntOption(opt):
			buf = putInteger(buf, luaarg.CheckNumber(L, arg), h.little, size)
			arg++
		case opt == 'x':
			buf = append(buf, 0)
		case opt == 'f':
			buf = order(&h).AppendUint32(buf, math.Float32bits(float32(luaarg.CheckNumber(L, arg))))
			arg++
		case opt == 'd':
			buf = order(&h).AppendUint64(buf, math.Float64bits(luaarg.CheckNumber(L, arg)))
			arg++
		case opt == 'c' || opt == 's':
			s := luaarg.CheckString(L, arg)
			arg++
			if size == 0 {
				size = uint64(len(s))
			}
			if uint64(len(s)) < size {
				// The C checks after moving past the argument, so it
				// names the next one.
				luaarg.ArgError(L, arg, "string too short")
			}
			buf = append(buf, s[:size]...)
			if opt == 's' {
				buf = append(buf, 0)
				size++
			}
		default:
			controlOption(L, opt, f, &h)
		}
		total += size
	}
	L.Push(lua.LString(buf))
	return 1
}

// structUnpack is struct.unpack(fmt, data [, init]): the values read from
// data from position init (1 by default), then the position after them.
func structUnpack(L *lua.LState) int {
	f := newFormat(luaarg.CheckString(L, 1))
	data := luaarg.CheckString(L, 2)
	pos := uint64(luaarg.OptInteger(L, 3, 1))
	if pos == 0 {
		luaarg.ArgError(L, 3, "offset must be 1 or greater")
	}
	pos--
	ld := uint64(len(data))
	h := defaultHeader()
	var res []lua.LValue
	for f.more() {
		opt := f.next()
		size := optSize(L, opt, f)
		pos += toAlign(pos, &h, opt, size)
		if size > ld || pos > ld-size {
			luaarg.ArgError(L, 2, "data string too short")
		}
		// The C keeps the two arguments and its results on the Lua stack
		// and asks room for two more values before each option.
		if 2+len(res)+2 > luaarg.MaxCStack {
			luaarg.Raise(L, "stack overflow (too many results)")
		}
		switch {
		case isIntOption(opt):
			signed := opt >= 'a' && opt <= 'z'
			res = append(res, lua.LNumber(getInteger([]byte(data[pos:pos+size]), h.little, signed)))
		case opt == 'x':
		case opt == 'f':
			v := math.Float32frombits(order(&h).Uint32([]byte(data[pos : pos+size])))
			res = append(res, lua.LNumber(float64(v)))
		case opt == 'd':
			v := math.Float64frombits(order(&h).Uint64([]byte(data[pos : pos+size])))
			res = append(res, lua.LNumber(v))
		case opt == 'c':
			if size == 0 {
				// c0 takes its length from the value read last.
				n, ok := 0.0, false
				if len(res) > 0 {
					n, ok = luaarg.ToNumber(res[len(res)-1])
				}
				if !ok {
					luaarg.Raise(L, "format 'c0' needs a previous size")
				}
				size = luaarg.CastUint64(n)
				res = res[:len(res)-1]
				if size > ld || pos > ld-size {
					luaarg.ArgError(L, 2, "data string too short")
				}
			}
			res = append(res, lua.LString(data[pos:pos+size]))
		case opt == 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				luaarg.Raise(L, "unfinished string in data")
			}
			size = uint64(e) + 1
			res = append(res, lua.LString(data[pos:pos+uint64(e)]))
		default:
			controlOption(L, opt, f, &h)
		}
		pos += size
	}
	for _, v := range res {
		L.Push(v)
	}
	L.Push(lua.LNumber(float64(int64(pos + 1))))
	return len(res) + 1
}

// structSize is struct.size(fmt): the length of the string pack makes
// for fmt, which must have no 's' and no 'c0'.
func structSize(L *lua.LState) int {
	f := newFormat(luaarg.CheckString(L, 1))
	h := defaultHeader()
	var pos uint64
	for f.more() {
		opt := f.next()
		size := optSize(L, opt, f)
		pos += toAlign(pos, &h, opt, size)
		if opt == 's' {
			luaarg.ArgError(L, 1, "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			luaarg.ArgError(L, 1, "option 'c0' has no fixed size")
		}
		if !luaarg.IsAlnum(opt) {
			controlOption(L, opt, f, &h)
		}
		pos += size
	}
	L.Push(lua.LNumber(float64(int64(pos))))
	return 1
}
