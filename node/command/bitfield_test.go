package command

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// bitfieldRef is BITFIELD's overflow rule computed exactly with math/big:
// value+incr checked against the field's range, wrapped modulo 2^bits or
// saturated. up says which way a value out of range is taken for SAT
// (the caller knows Redis's exceptions).
func bitfieldRef(value, incr *big.Int, signed bool, bits uint, ow overflowKind) (res *big.Int, overflow bool) {
	one := big.NewInt(1)
	lo, hi := new(big.Int), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)
	if signed {
		hi = new(big.Int).Sub(new(big.Int).Lsh(one, bits-1), one)
		lo = new(big.Int).Neg(new(big.Int).Add(hi, one))
	}
	sum := new(big.Int).Add(value, incr)
	switch {
	case sum.Cmp(hi) > 0:
		overflow = true
		if ow == overflowSat {
			return hi, true
		}
	case sum.Cmp(lo) < 0:
		overflow = true
		if ow == overflowSat {
			return lo, true
		}
	default:
		return sum, false
	}
	mod := new(big.Int).Lsh(one, bits)
	r := new(big.Int).Mod(sum, mod)
	if signed && r.Cmp(hi) > 0 {
		r.Sub(r, mod)
	}
	return r, overflow
}

// interesting are increments and values around the edges of every width.
func interesting(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return r.Int64N(41) - 20
	case 1:
		sh := uint(r.IntN(64))
		v := int64(uint64(1) << sh)
		return v + r.Int64N(5) - 2
	case 2:
		return -int64(uint64(1)<<uint(r.IntN(64))) + r.Int64N(5) - 2
	}
	return int64(r.Uint64())
}

// TestBitfieldOverflow checks INCRBY and SET of every width (i1..i64,
// u1..u63) under WRAP, SAT and FAIL against the exact reference, at
// random values and around the edges.
func TestBitfieldOverflow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, signed := range []bool{true, false} {
		top := uint(63)
		if signed {
			top = 64
		}
		for bits := uint(1); bits <= top; bits++ {
			for _, ow := range []overflowKind{overflowWrap, overflowSat, overflowFail} {
				for n := 0; n < 3000; n++ {
					incr := interesting(r)
					// INCRBY: the field's current value is in range.
					raw := r.Uint64() & (math.MaxUint64 >> (64 - bits))
					var value *big.Int
					var got *big.Int
					var gotOver bool
					if signed {
						v := signExtend(raw, bits)
						value = big.NewInt(v)
						res, over := signedField(v, incr, bits, ow)
						got, gotOver = big.NewInt(res), over
					} else {
						value = new(big.Int).SetUint64(raw)
						res, over := unsignedField(raw, incr, bits, ow)
						got, gotOver = new(big.Int).SetUint64(res), over
					}
					want, wantOver := bitfieldRef(value, big.NewInt(incr), signed, bits, ow)
					if gotOver != wantOver || (!gotOver || ow != overflowFail) && got.Cmp(want) != 0 {
						t.Fatalf("signed=%v bits=%d ow=%d INCRBY %v by %d: got %v (overflow %v), want %v (%v)",
							signed, bits, ow, value, incr, got, gotOver, want, wantOver)
					}
					// SET: any 64-bit value.
					set := interesting(r)
					if signed {
						res, over := signedField(set, 0, bits, ow)
						got, gotOver = big.NewInt(res), over
						want, wantOver = bitfieldRef(big.NewInt(set), new(big.Int), true, bits, ow)
						// Redis's exception: far enough below a narrow field's
						// minimum that the room above wraps, SAT takes it as
						// above the maximum.
						hi := int64(uint64(1)<<(bits-1) - 1)
						if bits < 64 && new(big.Int).Sub(big.NewInt(hi), big.NewInt(set)).Cmp(big.NewInt(math.MaxInt64)) > 0 && ow == overflowSat {
							want = big.NewInt(hi)
						}
					} else {
						// A negative value is read as its two's complement.
						u := uint64(set)
						res, over := unsignedField(u, 0, bits, ow)
						got, gotOver = new(big.Int).SetUint64(res), over
						want, wantOver = bitfieldRef(new(big.Int).SetUint64(u), new(big.Int), false, bits, ow)
					}
					if gotOver != wantOver || (!gotOver || ow != overflowFail) && got.Cmp(want) != 0 {
						t.Fatalf("signed=%v bits=%d ow=%d SET %d: got %v (overflow %v), want %v (%v)",
							signed, bits, ow, set, got, gotOver, want, wantOver)
					}
				}
			}
		}
	}
}

// TestBitfieldQuirk pins the redis-server 7.0 answers the reference
// does not give.
func TestBitfieldQuirk(t *testing.T) {
	if v, over := signedField(math.MinInt64, 0, 8, overflowSat); v != 127 || !over {
		t.Fatalf("SAT SET i8 -2^63: %d %v, redis-server stores 127", v, over)
	}
	if v, over := signedField(math.MinInt64+128, 0, 8, overflowSat); v != -128 || !over {
		t.Fatalf("SAT SET i8 -2^63+128: %d %v, redis-server stores -128", v, over)
	}
	if v, over := unsignedField(math.MaxUint64, 0, 8, overflowSat); v != 255 || !over {
		t.Fatalf("SAT SET u8 -1: %d %v, redis-server stores 255", v, over)
	}
}

// TestFieldBits checks reading and writing fields at every offset within
// a few bytes against bit by bit access.
func TestFieldBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20000; n++ {
		buf := make([]byte, 12)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		bits := uint(1 + r.IntN(64))
		off := uint64(r.IntN(96 - int(bits) + 1))
		var want uint64
		for i := uint64(0); i < uint64(bits); i++ {
			want = want<<1 | uint64(bitAt(buf, int64(off+i)))
		}
		if got := fieldBits(buf, off, bits); got != want {
			t.Fatalf("fieldBits(%x, %d, %d) = %x, want %x", buf, off, bits, got, want)
		}
		x := r.Uint64() & (math.MaxUint64 >> (64 - bits))
		before := append([]byte(nil), buf...)
		putFieldBits(buf, off, bits, x)
		if got := fieldBits(buf, off, bits); got != x {
			t.Fatalf("put then get %x at %d/%d: %x", x, off, bits, got)
		}
		for i := int64(0); i < 96; i++ {
			if (uint64(i) < off || uint64(i) >= off+uint64(bits)) && bitAt(buf, i) != bitAt(before, i) {
				t.Fatalf("put %d bits at %d changed bit %d", bits, off, i)
			}
		}
		// Past the end reads zeros.
		if got := fieldBits(buf[:0], off, bits); got != 0 {
			t.Fatalf("fieldBits of nothing: %x", got)
		}
	}
}
