package hll

import (
	"encoding/binary"
	"math/bits"
)

// Hashing (Redis's MurmurHash64A and hllPatLen).

const hashSeed = 0xadc83b19

// murmur64A is MurmurHash2's 64-bit variant as Redis has it: 8-byte
// blocks read little-endian on every architecture.
func murmur64A(key []byte, seed uint64) uint64 {
	const m = 0xc6a4a7935bd1e995
	const r = 47
	h := seed ^ (uint64(len(key)) * m)
	n := len(key) &^ 7
	for i := 0; i < n; i += 8 {
		k := binary.LittleEndian.Uint64(key[i:])
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	if rest := key[n:]; len(rest) > 0 {
		for i := len(rest) - 1; i >= 0; i-- {
			h ^= uint64(rest[i]) << (8 * uint(i))
		}
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// patLen is the register an element goes to and the value it offers: one
// more than the number of trailing zeros of the hash's upper Q bits (at
// most Q+1).
func patLen(element []byte) (index int, count uint8) {
	h := murmur64A(element, hashSeed)
	index = int(h & (Registers - 1))
	h >>= P
	h |= 1 << Q
	return index, uint8(bits.TrailingZeros64(h) + 1)
}

// Dense registers: 6 bits each, from the least significant bit of each
// byte up, a register straddling two bytes when it must.

func denseGet(regs []byte, i int) uint8 {
	byteIdx, fb := i*regBits/8, uint(i*regBits&7)
	v := uint(regs[byteIdx]) >> fb
	if fb > 8-regBits { // the register goes on in the next byte
		v |= uint(regs[byteIdx+1]) << (8 - fb)
	}
	return uint8(v & regMax)
}

func denseSetRaw(regs []byte, i int, val uint8) {
	byteIdx, fb := i*regBits/8, uint(i*regBits&7)
	regs[byteIdx] &^= byte(regMax << fb)
	regs[byteIdx] |= val << fb
	if fb > 8-regBits {
		regs[byteIdx+1] &^= byte(regMax >> (8 - fb))
		regs[byteIdx+1] |= val >> (8 - fb)
	}
}

// denseSet raises register i to count: 1 if it changed, else 0.
func denseSet(regs []byte, i int, count uint8) int {
	if count > denseGet(regs, i) {
		denseSetRaw(regs, i, count)
		return 1
	}
	return 0
}

// Sparse opcodes: ZERO 00xxxxxx (1-64 zero registers), XZERO 01xxxxxx
// yyyyyyyy (1-16384 zero registers), VAL 1vvvvvxx (1-4 registers of value
// 1-32).

const (
	xzeroBit       = 0x40
	valBit         = 0x80
	sparseValMax   = 32
	sparseValLen   = 4
	sparseZeroMax  = 64
	sparseXZeroMax = 16384
)

func isZero(op byte) bool   { return op&0xc0 == 0 }
func isXZero(op byte) bool  { return op&0xc0 == xzeroBit }
func isVal(op byte) bool    { return op&valBit != 0 }
func zeroLen(op byte) int   { return int(op&0x3f) + 1 }
func valLen(op byte) int    { return int(op&3) + 1 }
func valValue(op byte) byte { return (op>>2)&0x1f + 1 }

func xzeroLen(op, next byte) int { return (int(op&0x3f)<<8 | int(next)) + 1 }

func valOp(v byte, n int) byte { return (v-1)<<2 | byte(n-1) | valBit }

func setXZero(b []byte, n int) {
	b[0] = byte((n-1)>>8) | xzeroBit
	b[1] = byte(n - 1)
}

// appendZeros appends the shortest opcode for n zero registers, as Redis's
// split does (ZERO up to 64, else XZERO).
func appendZeros(b []byte, n int) []byte {
	if n > sparseZeroMax {
		return append(b, byte((n-1)>>8)|xzeroBit, byte(n-1))
	}
	return append(b, byte(n-1))
}

// histogram counts registers by value. Redis sizes it 64, the values 6
// bits can hold.
type histogram [64]int64

func denseHisto(regs []byte, h *histogram) {
	for i := range Registers {
		h[denseGet(regs, i)]++
	}
}

// sparseHisto fills h from sparse registers; false when they do not
// cover exactly Registers registers.
func sparseHisto(regs []byte, h *histogram) bool {
	idx := 0
	for p := 0; p < len(regs); {
		op := regs[p]
		switch {
		case isZero(op):
			n := zeroLen(op)
			idx += n
			h[0] += int64(n)
			p++
		case isXZero(op):
			n := xzeroLen(op, at(regs, p+1))
			idx += n
			h[0] += int64(n)
			p += 2
		default:
			n := valLen(op)
			idx += n
			h[valValue(op)] += int64(n)
			p++
		}
	}
	return idx == Registers
}
