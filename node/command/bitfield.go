package command

// The arithmetic of BITFIELD: fields of 1 to 64 bits at any bit offset of
// a string, most significant bit first (bit 0 is the high bit of byte 0,
// as SETBIT and GETBIT number them), and Redis 7.0's overflow rules.

// overflowKind is BITFIELD's OVERFLOW setting.
type overflowKind uint8

const (
	overflowWrap overflowKind = iota
	overflowSat
	overflowFail
)

// fieldBits reads the bits bits at bit offset off of v as an unsigned
// number; bits past the end of v read as zeros.
func fieldBits(v []byte, off uint64, bits uint) uint64 {
	var x uint64
	for i := uint64(0); i < uint64(bits); i++ {
		p := off + i
		var b uint64
		if p>>3 < uint64(len(v)) {
			b = uint64(v[p>>3]>>(7-p&7)) & 1
		}
		x = x<<1 | b
	}
	return x
}

// putFieldBits writes the low bits bits of x at bit offset off of v, which
// is long enough to hold them.
func putFieldBits(v []byte, off uint64, bits uint, x uint64) {
	for i := uint64(0); i < uint64(bits); i++ {
		p := off + i
		mask := byte(1) << (7 - p&7)
		if x>>(uint64(bits)-1-i)&1 != 0 {
			v[p>>3] |= mask
		} else {
			v[p>>3] &^= mask
		}
	}
}

// signExtend reads the low bits bits of x as a two's complement number.
func signExtend(x uint64, bits uint) int64 {
	if bits == 64 {
		return int64(x)
	}
	shift := 64 - bits
	return int64(x<<shift) >> shift
}

// unsignedField applies incr to value, a field of bits (1..63) bits, and
// reports the result and whether it overflowed; with FAIL the result is
// not to be stored. For SET, value is the new value (a negative one read
// as its 64-bit two's complement, as Redis does) and incr 0.
func unsignedField(value uint64, incr int64, bits uint, ow overflowKind) (uint64, bool) {
	limit := uint64(1)<<bits - 1
	room := int64(limit - value) // what may still be added (meaningless when value > limit)
	switch {
	case value > limit || incr > 0 && incr > room:
		if ow == overflowSat {
			return limit, true
		}
	case incr < 0 && incr < -int64(value):
		if ow == overflowSat {
			return 0, true
		}
	default:
		return value + uint64(incr), false
	}
	return (value + uint64(incr)) & limit, true // WRAP (FAIL: not stored)
}

// signedField is unsignedField for a signed field of bits (1..64) bits.
//
// Like Redis, it computes the room above and below value in wrapping
// 64-bit arithmetic: for a SET of a value far below a narrow field's
// minimum (near -2^63), the room above wraps negative, and the value is
// taken as an overflow upwards (SAT stores the maximum), as redis-server
// 7.0 does.
func signedField(value, incr int64, bits uint, ow overflowKind) (int64, bool) {
	hi := int64(uint64(1)<<(bits-1) - 1)
	lo := -hi - 1
	up := int64(uint64(hi) - uint64(value)) // wraps as Redis's does
	down := lo - value                      // only read where it cannot wrap, or wraps as Redis's does
	wide := bits == 64
	switch {
	case value > hi || !wide && incr > up || value >= 0 && incr > 0 && incr > up:
		if ow == overflowSat {
			return hi, true
		}
	case value < lo || !wide && incr < down || value < 0 && incr < 0 && incr < down:
		if ow == overflowSat {
			return lo, true
		}
	default:
		return value + incr, false
	}
	return signExtend(uint64(value)+uint64(incr), bits), true // WRAP (FAIL: not stored)
}
