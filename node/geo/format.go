package geo

import (
	"math"
	"strconv"
	"strings"
)

// FormatDistance renders a distance as Redis 7.0's addReplyDoubleDistance
// (fixedpoint_d2string with 4 decimals): the distance times 10000 rounded
// to an integer by llrint (to even, in the double the product is), then
// that integer with a dot before its last 4 digits. Zero is "0.0000"; a
// NaN or a product out of long long's range gives llrint's LLONG_MIN.
func FormatDistance(d float64) string {
	if d == 0 {
		return "0.0000"
	}
	const digits = 4
	p := d * 10000.0
	var v int64
	if r := math.RoundToEven(p); math.IsNaN(r) || r >= 9223372036854775808.0 || r < -9223372036854775808.0 {
		v = math.MinInt64
	} else {
		v = int64(r)
	}
	neg := v < 0
	var mag uint64
	if neg {
		mag = uint64(-v) // LLONG_MIN: 1<<63, as Redis takes it
	} else {
		mag = uint64(v)
	}
	s := strconv.FormatUint(mag, 10)
	if len(s) <= digits {
		s = strings.Repeat("0", digits+1-len(s)) + s
	}
	s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	if neg {
		s = "-" + s
	}
	return s
}

// FormatCoord renders a coordinate as Redis's addReplyHumanLongDouble of
// the double (made a long double, exactly): "%.17Lf", the exact decimal
// value rounded to 17 decimals (ties to even), without trailing zeros or
// a trailing dot, "-0" as "0", infinities as "inf" and "-inf".
func FormatCoord(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'f', 17, 64)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
