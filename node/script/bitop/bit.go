package bitop

import (
	"math"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// Open creates the global table "bit" in L with LuaBitOp's functions, as
// redis-server 7.0 has it in its script VM. It sets no other global.
func Open(L *lua.LState) {
	funcs := []struct {
		name string
		fn   lua.LGFunction
	}{
		{"tobit", bitToBit},
		{"bnot", bitNot},
		{"band", bitAnd},
		{"bor", bitOr},
		{"bxor", bitXor},
		{"lshift", bitLShift},
		{"rshift", bitRShift},
		{"arshift", bitARShift},
		{"rol", bitRol},
		{"ror", bitRor},
		{"bswap", bitBswap},
		{"tohex", bitToHex},
	}
	t := L.CreateTable(0, len(funcs))
	for _, f := range funcs {
		t.RawSetString(f.name, L.NewFunction(f.fn))
	}
	L.SetGlobal("bit", t)
}

// magic is 2^52+2^51: added to a double below 2^51 in magnitude, it leaves
// the number, rounded to an integer, in the low bits of the mantissa.
const magic = 6755399441055744.0

// toBits is LuaBitOp's normalisation of a number to 32 bits. The sum of
// a NaN and magic is that NaN, so a NaN gives the low bits of its payload
// (0 for the NaNs arithmetic makes).
func toBits(n float64) uint32 {
	return uint32(math.Float64bits(n + magic))
}

// arg returns argument idx as 32 bits, raising the type error LuaBitOp
// raises when it is neither a number nor a string convertible to one.
func arg(L *lua.LState, idx int) uint32 {
	n, ok := luaarg.ToNumber(L.Get(idx))
	if !ok {
		luaarg.TypeError(L, idx, "number")
	}
	return toBits(n)
}

// ret pushes b as LuaBitOp returns it: a signed 32-bit number.
func ret(L *lua.LState, b uint32) int {
	L.Push(lua.LNumber(int32(b)))
	return 1
}

func bitToBit(L *lua.LState) int { return ret(L, arg(L, 1)) }

func bitNot(L *lua.LState) int { return ret(L, ^arg(L, 1)) }

// fold applies op to argument 1 and then, as LuaBitOp does, to the other
// arguments from the last one down to the second.
func fold(L *lua.LState, op func(a, b uint32) uint32) int {
	b := arg(L, 1)
	for i := L.GetTop(); i > 1; i-- {
		b = op(b, arg(L, i))
	}
	return ret(L, b)
}

func bitAnd(L *lua.LState) int { return fold(L, func(a, b uint32) uint32 { return a & b }) }

func bitOr(L *lua.LState) int { return fold(L, func(a, b uint32) uint32 { return a | b }) }

func bitXor(L *lua.LState) int { return fold(L, func(a, b uint32) uint32 { return a ^ b }) }

// shift applies op to argument 1 and argument 2 modulo 32.
func shift(L *lua.LState, op func(b uint32, n uint) uint32) int {
	b := arg(L, 1)
	n := uint(arg(L, 2) & 31)
	return ret(L, op(b, n))
}

func bitLShift(L *lua.LState) int {
	return shift(L, func(b uint32, n uint) uint32 { return b << n })
}

func bitRShift(L *lua.LState) int {
	return shift(L, func(b uint32, n uint) uint32 { return b >> n })
}

func bitARShift(L *lua.LState) int {
	return shift(L, func(b uint32, n uint) uint32 { return uint32(int32(b) >> n) })
}

func bitRol(L *lua.LState) int {
	return shift(L, func(b uint32, n uint) uint32 { return b<<n | b>>(32-n) })
}

func bitRor(L *lua.LState) int {
	return shift(L, func(b uint32, n uint) uint32 { return b>>n | b<<(32-n) })
}

func bitBswap(L *lua.LState) int {
	b := arg(L, 1)
	return ret(L, b>>24|(b>>8)&0xff00|(b&0xff00)<<8|b<<24)
}

// bitToHex is bit.tohex(x [, n]): the low |n| hex digits of x (n defaults
// to 8 and is capped at 8), in upper case when n is negative.
func bitToHex(L *lua.LState) int {
	b := arg(L, 1)
	n := int32(8)
	if L.GetTop() >= 2 {
		n = int32(arg(L, 2))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		// -2^31 has no positive counterpart in 32 bits; LuaBitOp's C
		// then reads outside its buffer. Here it counts as large.
		n = -n
		if n < 0 {
			n = 8
		}
		digits = "0123456789ABCDEF"
	}
	if n > 8 {
		n = 8
	}
	buf := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[b&15]
		b >>= 4
	}
	L.Push(lua.LString(buf))
	return 1
}
