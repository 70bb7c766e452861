package luaarg

import (
	"math"
	"strconv"
	"strings"
)

// Str2d is Lua 5.1's luaO_str2d with glibc's strtod (Strtod): the string
// ends at its first NUL byte, a number (decimal or hexadecimal, with
// fraction and exponent, or inf, infinity or nan) must start it after
// optional white space, and only white space may follow.
func Str2d(s string) (float64, bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	f, end := Strtod(s, 0)
	if end == 0 {
		return 0, false
	}
	// luaO_str2d retries with strtoul when strtod stops at an 'x'; with a
	// strtod that reads hexadecimal itself, that never makes a number.
	for end < len(s) && IsSpace(s[end]) {
		end++
	}
	return f, end == len(s)
}

// IsSpace is C's isspace in the "C" locale.
func IsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// IsDigit is C's isdigit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsHexDigit is C's isxdigit.
func IsHexDigit(c byte) bool {
	return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// IsAlnum is C's isalnum in the "C" locale.
func IsAlnum(c byte) bool {
	return IsDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// HasPrefixFold reports whether s[i:] starts with the lower-case ASCII
// word w, ignoring case (C's strncasecmp(s+i, w, len(w)) == 0).
func HasPrefixFold(s string, i int, w string) bool {
	if len(s)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		if s[i+j]|0x20 != w[j] {
			return false
		}
	}
	return true
}

// quietNaN is the NaN glibc's strtod returns for "nan".
const quietNaN = 0x7ff8000000000000

// Strtod reads a number at s[start:] as glibc's strtod does in the "C"
// locale: leading white space, a sign, then inf/infinity, nan/nan(chars),
// a hexadecimal or a decimal floating constant. The string ends at its end
// or at a NUL byte. It returns the value, correctly rounded (±Inf or 0
// out of range, as strtod with ERANGE), and the index after the number, or
// start when there is no number (strtod's endptr == nptr).
func Strtod(s string, start int) (float64, int) {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	i := start
	for IsSpace(at(i)) {
		i++
	}
	neg := false
	if c := at(i); c == '+' || c == '-' {
		neg = c == '-'
		i++
	}
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	switch {
	case HasPrefixFold(s, i, "inf"):
		i += 3
		if HasPrefixFold(s, i, "inity") {
			i += 5
		}
		return sign(math.Inf(1)), i
	case HasPrefixFold(s, i, "nan"):
		i += 3
		bits := uint64(quietNaN)
		if at(i) == '(' {
			j := i + 1
			for IsAlnum(at(j)) || at(j) == '_' {
				j++
			}
			if at(j) == ')' {
				if payload, ok := parseNaNPayload(s[i+1 : j]); ok {
					bits |= payload & (1<<51 - 1)
				}
				i = j + 1
			}
		}
		if neg {
			bits |= 1 << 63
		}
		return math.Float64frombits(bits), i
	}
	hex := at(i) == '0' && at(i+1)|0x20 == 'x'
	digit, expChar, j := IsDigit, byte('e'), i
	if hex {
		digit, expChar, j = IsHexDigit, 'p', i+2
	}
	digits := 0
	for digit(at(j)) {
		j++
		digits++
	}
	if at(j) == '.' {
		j++
		for digit(at(j)) {
			j++
			digits++
		}
	}
	switch {
	case digits > 0:
	case hex:
		return sign(0), i + 1 // only the "0" is a number
	default:
		return 0, start
	}
	end := j
	if at(j)|0x20 == expChar {
		k := j + 1
		if c := at(k); c == '+' || c == '-' {
			k++
		}
		if IsDigit(at(k)) {
			for IsDigit(at(k)) {
				k++
			}
			end = k
		}
	}
	text := s[i:end]
	if hex && end == j {
		text += "p0" // Go wants the binary exponent C takes as 0
	}
	f, _ := strconv.ParseFloat(text, 64) // ±Inf or 0 on range errors, as strtod
	return sign(f), end
}

// parseNaNPayload reads the n-char-sequence of "nan(...)" as glibc does,
// with strtoull in base 0 (decimal, 0x hexadecimal or 0 octal), saturated;
// ok is false unless the whole sequence is read.
func parseNaNPayload(seq string) (uint64, bool) {
	base := uint64(10)
	digits := seq
	switch {
	case len(seq) > 2 && seq[0] == '0' && seq[1]|0x20 == 'x' && IsHexDigit(seq[2]):
		base, digits = 16, seq[2:]
	case len(seq) > 0 && seq[0] == '0':
		base = 8
	}
	if digits == "" {
		return 0, seq == ""
	}
	var v uint64
	overflow := false
	for k := 0; k < len(digits); k++ {
		c := digits[k] | 0x20
		var d uint64
		switch {
		case IsDigit(digits[k]):
			d = uint64(digits[k] - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if v > (math.MaxUint64-d)/base {
			overflow = true
		}
		v = v*base + d
	}
	if overflow {
		v = math.MaxUint64
	}
	return v, true
}
