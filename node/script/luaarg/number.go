package luaarg

import (
	"math"
	"strconv"
	"strings"
)

// NumberToString is lua_tostring of a number in Lua 5.1: C's "%.14g".
func NumberToString(f float64) string { return FormatG(f, 14) }

// FormatG formats f as C's printf("%.<prec>g") does with glibc: "nan",
// "-nan", "inf" and "-inf" for the values that are not finite.
func FormatG(f float64, prec int) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if prec < 1 {
		prec = 1
	}
	e := strconv.FormatFloat(f, 'e', prec-1, 64)
	i := strings.LastIndexByte(e, 'e')
	x, _ := strconv.Atoi(e[i+1:])
	if x < -4 || x >= prec {
		return trimFraction(e[:i]) + e[i:]
	}
	return trimFraction(strconv.FormatFloat(f, 'f', prec-1-x, 64))
}

// trimFraction drops the trailing zeros of a fraction, and its point when
// nothing is left after it.
func trimFraction(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// CastInt64 converts f as an x86-64 C cast from double to a 64-bit
// integer (cvttsd2si): towards zero, and INT64_MIN for NaN and values out
// of range.
func CastInt64(f float64) int64 {
	if f != f || f >= 0x1p63 || f < -0x1p63 {
		return math.MinInt64
	}
	return int64(f)
}

// CastInt32 converts f as an x86-64 C cast from double to int: towards
// zero, and INT_MIN for NaN and values out of range.
func CastInt32(f float64) int32 {
	if f != f || f >= 0x1p31 || f <= -0x1p31-1 {
		return math.MinInt32
	}
	return int32(f)
}

// CastUint64 converts f to an unsigned 64-bit integer as the code GCC
// emits for x86-64 does: through CastInt64 below 2^63 (or when f is a
// NaN), through CastInt64 of f-2^63 with the top bit flipped above.
func CastUint64(f float64) uint64 {
	if f >= 0x1p63 {
		return uint64(CastInt64(f-0x1p63)) ^ 1<<63
	}
	return uint64(CastInt64(f))
}
