package script

// lrand48 is the 48-bit linear congruential generator of POSIX's
// lrand48, which Redis's math.random uses, seeded with 0 before every
// script so that a script sees the same sequence in every run.
type lrand48 struct{ x uint64 }

// lrandMax is the bound math.random divides by (INT32_MAX).
const lrandMax = 1<<31 - 1

const (
	lrandA    = 0x5DEECE66D
	lrandC    = 0xB
	lrandMask = 1<<48 - 1
)

func (r *lrand48) seed(s int32) { r.x = (uint64(uint32(s))<<16 | 0x330E) & lrandMask }

func (r *lrand48) next() uint64 {
	r.x = (lrandA*r.x + lrandC) & lrandMask
	return r.x >> 17
}
