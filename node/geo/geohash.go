package geo

import "math"

// The limits Redis indexes points within (EPSG:900913): no point is stored
// closer to the poles than LatMax.
const (
	// StepMax is the precision of a stored point: 26 bits per coordinate,
	// 52 in all.
	StepMax = 26
	LatMin  = -85.05112878
	LatMax  = 85.05112878
	LonMin  = -180.0
	LonMax  = 180.0
)

// Range is an interval of one coordinate.
type Range struct{ Min, Max float64 }

// The coordinate ranges of stored points, and the standard latitude range
// GEOHASH re-encodes them in (functions: the package has no variables).
func lonRange() Range    { return Range{LonMin, LonMax} }
func latRange() Range    { return Range{LatMin, LatMax} }
func stdLatRange() Range { return Range{-90, 90} }

// Bits is a geohash of Step bits per coordinate: the cell numbers of the
// latitude in the even bits and of the longitude in the odd bits. The zero
// Bits (step 0) stands for no cell.
type Bits struct {
	Bits uint64
	Step uint8
}

// zero reports the "no cell" hash (Redis's HASHISZERO).
func (h Bits) zero() bool { return h.Bits == 0 && h.Step == 0 }

// Area is the cell a geohash names.
type Area struct {
	Hash     Bits
	Lon, Lat Range
}

// spread moves the low 32 bits of v to the even bit positions.
func spread(v uint64) uint64 {
	v &= 0xFFFFFFFF
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF
	v = (v | v<<4) & 0x0F0F0F0F0F0F0F0F
	v = (v | v<<2) & 0x3333333333333333
	v = (v | v<<1) & 0x5555555555555555
	return v
}

// squeeze is the inverse of spread: the even bits of v, packed low.
func squeeze(v uint64) uint64 {
	v &= 0x5555555555555555
	v = (v | v>>1) & 0x3333333333333333
	v = (v | v>>2) & 0x0F0F0F0F0F0F0F0F
	v = (v | v>>4) & 0x00FF00FF00FF00FF
	v = (v | v>>8) & 0x0000FFFF0000FFFF
	v = (v | v>>16) & 0x00000000FFFFFFFF
	return v
}

// interleave puts lat's bits in the even positions and lon's in the odd.
func interleave(lat, lon uint32) uint64 { return spread(uint64(lat)) | spread(uint64(lon))<<1 }

// deinterleave splits a hash into its latitude and longitude cell numbers.
func deinterleave(h uint64) (lat, lon uint32) {
	return uint32(squeeze(h)), uint32(squeeze(h >> 1))
}

// toUint32 is C's conversion of a double in [0, 2^32) to uint32_t:
// truncation.
func toUint32(f float64) uint32 { return uint32(int64(f)) }

// encode is geohashEncode: the cell of (lon, lat) at step bits per
// coordinate within the ranges. ok is false for a point outside Redis's
// limits or the ranges.
func encode(lonR, latR Range, lon, lat float64, step uint8) (Bits, bool) {
	if step > 32 || step == 0 || (latR.Max == 0 && latR.Min == 0) || (lonR.Max == 0 && lonR.Min == 0) {
		return Bits{}, false
	}
	if lon > LonMax || lon < LonMin || lat > LatMax || lat < LatMin {
		return Bits{}, false
	}
	h := Bits{Step: step}
	if lat < latR.Min || lat > latR.Max || lon < lonR.Min || lon > lonR.Max {
		return h, false
	}
	latOff := (lat - latR.Min) / (latR.Max - latR.Min)
	lonOff := (lon - lonR.Min) / (lonR.Max - lonR.Min)
	scale := float64(uint64(1) << step)
	latOff *= scale
	lonOff *= scale
	h.Bits = interleave(toUint32(latOff), toUint32(lonOff))
	return h, true
}

// decode is geohashDecode: the cell a hash names within the ranges.
func decode(lonR, latR Range, h Bits) (Area, bool) {
	if h.zero() || (latR.Max == 0 && latR.Min == 0) || (lonR.Max == 0 && lonR.Min == 0) {
		return Area{}, false
	}
	ilat, ilon := deinterleave(h.Bits)
	latScale := latR.Max - latR.Min
	lonScale := lonR.Max - lonR.Min
	cells := float64(uint64(1) << h.Step)
	a := Area{Hash: h}
	// The cell's far edge is cell+1 in 32 bits, as in C (it wraps for
	// the all-ones cell of a score such as -1). float64() after each
	// product keeps the compiler from fusing it with the sum (C does not
	// fuse them on x86-64).
	a.Lat.Min = latR.Min + float64(float64(float64(ilat)/cells)*latScale)
	a.Lat.Max = latR.Min + float64(float64(float64(ilat+1)/cells)*latScale)
	a.Lon.Min = lonR.Min + float64(float64(float64(ilon)/cells)*lonScale)
	a.Lon.Max = lonR.Min + float64(float64(float64(ilon+1)/cells)*lonScale)
	return a, true
}

// center is geohashDecodeAreaToLongLat: the middle of the cell, held
// within Redis's limits.
func (a Area) center() (lon, lat float64) {
	lon = (a.Lon.Min + a.Lon.Max) / 2
	lon = min(max(lon, LonMin), LonMax)
	lat = (a.Lat.Min + a.Lat.Max) / 2
	lat = min(max(lat, LatMin), LatMax)
	return lon, lat
}

// align52 is geohashAlign52Bits: the hash shifted to 52 bits.
func align52(h Bits) uint64 { return h.Bits << (52 - 2*uint(h.Step)) }

// CheckLonLat returns a *CoordError unless (lon, lat) is within Redis's
// limits, as GEOADD, GEORADIUS and GEOSEARCH ... FROMLONLAT check it.
func CheckLonLat(lon, lat float64) error {
	if lon < LonMin || lon > LonMax || lat < LatMin || lat > LatMax || math.IsNaN(lon) || math.IsNaN(lat) {
		return &CoordError{Lon: lon, Lat: lat}
	}
	return nil
}

// Score is the geohash GEOADD stores (lon, lat) under, as the integer it
// hands ZADD (which keeps the nearest double: the score). The point must
// have passed CheckLonLat. A point on the east or north limit gets a bit
// past the 52 (Redis's cell number 2^26), as in Redis.
func Score(lon, lat float64) uint64 {
	h, _ := encode(lonRange(), latRange(), lon, lat, StepMax)
	return align52(h)
}

// ScoreBits is the geohash a sorted set score stands for: C's conversion
// of the double to uint64_t as x86-64 does it, which truncates, takes a
// negative score through int64 (-1 is all ones), and gives 0 for +inf or
// anything from 2^64 on and 1<<63 below -2^63.
func ScoreBits(score float64) uint64 {
	const two63 = 9223372036854775808.0
	if score < two63 {
		if score < -two63 || math.IsNaN(score) {
			return 1 << 63
		}
		return uint64(int64(score))
	}
	d := score - two63
	if d >= two63 {
		return 0 // cvttsd2si's 1<<63, then the top bit flipped
	}
	return uint64(int64(d)) ^ 1<<63
}

// ScoreInt is the score as C converts a double to long long (WITHHASH's
// integer): truncation, 1<<63 (the most negative) when out of range.
func ScoreInt(score float64) int64 {
	if score >= 9223372036854775808.0 || score < -9223372036854775808.0 || math.IsNaN(score) {
		return math.MinInt64
	}
	return int64(score)
}

// Decode is the position GEOPOS reports for a member of score: the center
// of its cell. Every score decodes (Redis's decodeGeohash never fails for
// a member that exists).
func Decode(score float64) (lon, lat float64) {
	a, _ := decode(lonRange(), latRange(), Bits{Bits: ScoreBits(score), Step: StepMax})
	return a.center()
}

// geoAlphabet is the base32 of geohash strings.
const geoAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// Hash is GEOHASH's 11-character string for a member of score: its
// position re-encoded with latitudes in [-90, 90], 10 characters of 5 bits
// from the 52, then '0'.
func Hash(score float64) string {
	lon, lat := Decode(score)
	h, _ := encode(lonRange(), stdLatRange(), lon, lat, StepMax)
	var buf [11]byte
	for i := range 10 {
		buf[i] = geoAlphabet[(h.Bits>>(52-(uint(i)+1)*5))&0x1f]
	}
	buf[10] = geoAlphabet[0]
	return string(buf[:])
}

// moveX moves a hash d cells east (d > 0) or west (d < 0), wrapping
// around.
func moveX(h *Bits, d int) { move(h, d, 0xaaaaaaaaaaaaaaaa) }

// moveY moves a hash d cells north (d > 0) or south (d < 0), wrapping
// around.
func moveY(h *Bits, d int) { move(h, d, 0x5555555555555555) }

// move moves a hash d cells along the axis whose bits mask selects
// (longitude: the odd bits, latitude: the even ones), wrapping around:
// Redis's geohash_move_x and geohash_move_y.
func move(h *Bits, d int, mask uint64) {
	if d == 0 {
		return
	}
	shift := 64 - 2*uint(h.Step)
	axis, other := h.Bits&mask, h.Bits&^mask
	zz := ^mask >> shift
	if d > 0 {
		axis += zz + 1
	} else {
		axis |= zz
		axis -= zz + 1
	}
	axis &= mask >> shift
	h.Bits = axis | other
}

// neighbours are the 8 cells around one, in the order Redis searches them
// after the cell itself.
type neighbours struct {
	north, south, east, west                   Bits
	northEast, northWest, southEast, southWest Bits
}

func neighboursOf(h Bits) neighbours {
	at := func(dx, dy int) Bits {
		n := h
		moveX(&n, dx)
		moveY(&n, dy)
		return n
	}
	return neighbours{
		north: at(0, 1), south: at(0, -1), east: at(1, 0), west: at(-1, 0),
		northEast: at(1, 1), northWest: at(-1, 1), southEast: at(1, -1), southWest: at(-1, -1),
	}
}
