package hll

import "math"

// The estimator Redis 7 uses (hllCount): Otmar Ertl, "New cardinality
// estimation algorithms for HyperLogLog sketches", arXiv:1702.01284.
// Every product that feeds a sum is converted to float64 explicitly, so
// that no platform fuses them (Redis's C rounds each operation).

// alphaInf is 0.5/ln(2), Redis's HLL_ALPHA_INF.
var alphaInf = 0.721347520444481703680

// minInt64AsCard is what Redis's llroundl gives for an estimate out of the
// int64 range (x86-64's "integer indefinite", LLONG_MIN) once stored in a
// uint64: possible only for hand-made registers.
const minInt64AsCard = 1 << 63

func (h *histogram) estimate() uint64 {
	m := float64(Registers)
	z := float64(m * tau((m-float64(h[Q+1]))/m))
	for j := Q; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += float64(m * sigma(float64(h[0])/m))
	e := float64(float64(alphaInf*m)*m) / z
	r := math.Round(e) // llroundl: half away from zero
	if !(r < math.MaxInt64) {
		return minInt64AsCard
	}
	return uint64(int64(r))
}

func sigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += float64(x * y)
		y += y
		if prev == z {
			return z
		}
	}
}

func tau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if prev == z {
			return z / 3
		}
	}
}
