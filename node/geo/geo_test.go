package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// degToRad is the double C computes for M_PI / 180.0.
func TestConstants(t *testing.T) {
	if got := math.Float64bits(degToRad); got != 0x3F91DF46A2529D39 {
		t.Fatalf("degToRad bits %#x, want C's 0x3f91df46a2529d39", got)
	}
	pi := math.Pi // the double M_PI, divided at run time as C folds it
	if degToRad != pi/180 {
		t.Fatalf("degToRad %v, C's M_PI/180.0 %v", degToRad, pi/180)
	}
}

func TestInterleave(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		lat, lon := r.Uint32(), r.Uint32()
		h := interleave(lat, lon)
		if gl, go_ := deinterleave(h); gl != lat || go_ != lon {
			t.Fatalf("deinterleave(interleave(%#x, %#x)) = %#x, %#x", lat, lon, gl, go_)
		}
		for b := range 32 {
			if (h>>(2*b))&1 != uint64(lat>>b)&1 || (h>>(2*b+1))&1 != uint64(lon>>b)&1 {
				t.Fatalf("interleave(%#x, %#x) = %#x: bit %d misplaced", lat, lon, h, b)
			}
		}
	}
}

// Known answers from redis-server 7.0.15.
func TestKnownAnswers(t *testing.T) {
	// GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
	if got := Score(13.361389, 38.115556); got != 3479099956230698 {
		t.Errorf("Score(Palermo) = %d, want 3479099956230698", got)
	}
	if got := Score(15.087269, 37.502669); got != 3479447370796909 {
		t.Errorf("Score(Catania) = %d, want 3479447370796909", got)
	}
	lon, lat := Decode(3479099956230698)
	if a, b := FormatCoord(lon), FormatCoord(lat); a != "13.36138933897018433" || b != "38.11555639549629859" {
		t.Errorf("GEOPOS Palermo = %s %s, want 13.36138933897018433 38.11555639549629859", a, b)
	}
	if got := Hash(3479099956230698); got != "sqc8b49rny0" {
		t.Errorf("GEOHASH Palermo = %s, want sqc8b49rny0", got)
	}
	lon2, lat2 := Decode(3479447370796909)
	if got := FormatDistance(Distance(lon, lat, lon2, lat2)); got != "166274.1516" {
		t.Errorf("GEODIST Palermo Catania = %s, want 166274.1516", got)
	}
	if got := FormatDistance(Distance(lon, lat, lon2, lat2) / 1000); got != "166.2742" {
		t.Errorf("GEODIST Palermo Catania km = %s, want 166.2742", got)
	}
	// Scores ZADD can give that GEOADD never does (redis-server's GEOPOS
	// and GEOHASH of them).
	for _, tc := range []struct {
		score    float64
		lon, lat string
		hash     string
	}{
		{-1, "180", "85.0511287799999991", "bp05b5048p0"},
		{math.Inf(1), "-179.99999731779098511", "-85.05112751263942528", "00bh0hbj200"},
		{math.Inf(-1), "180", "-85.05112751263942528", ""},
		{1e20, "-179.99999731779098511", "-85.05112751263942528", "00bh0hbj200"},
		{0.5, "-179.99999731779098511", "-85.05112751263942528", "00bh0hbj200"},
		{9007199254740993, "180", "-85.05112751263942528", ""},
		{-1e30, "180", "-85.05112751263942528", ""},
		{18014398509481984, "-179.99999731779098511", "85.0511287799999991", ""},
	} {
		lon, lat := Decode(tc.score)
		if a, b := FormatCoord(lon), FormatCoord(lat); a != tc.lon || b != tc.lat {
			t.Errorf("GEOPOS of score %v = %s %s, want %s %s", tc.score, a, b, tc.lon, tc.lat)
		}
		if tc.hash != "" && Hash(tc.score) != tc.hash {
			t.Errorf("GEOHASH of score %v = %s, want %s", tc.score, Hash(tc.score), tc.hash)
		}
	}
}

func TestScoreBits(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want uint64
	}{
		{0, 0}, {0.9, 0}, {-0.9, 0}, {1, 1}, {-1, math.MaxUint64}, {-2.5, math.MaxUint64 - 1},
		{math.Inf(1), 0}, {math.Inf(-1), 1 << 63}, {-1e30, 1 << 63}, {1e20, 0},
		{9223372036854775808.0, 1 << 63}, {1.8446744073709550e19, 18446744073709549568},
		{18446744073709551616.0, 0}, {-9223372036854775808.0, 1 << 63},
	} {
		if got := ScoreBits(tc.f); got != tc.want {
			t.Errorf("ScoreBits(%v) = %#x, want %#x", tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		f    float64
		want int64
	}{
		{3479099956230698, 3479099956230698}, {-1.5, -1}, {math.Inf(1), math.MinInt64}, {1e19, math.MinInt64},
	} {
		if got := ScoreInt(tc.f); got != tc.want {
			t.Errorf("ScoreInt(%v) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestFormatDistance(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		want string
	}{
		{0, "0.0000"}, {math.Copysign(0, -1), "0.0000"}, {1e-9, "0.0000"}, {-1e-9, "0.0000"},
		{0.00005, "0.0000"}, {0.00015, "0.0001"}, {0.0005, "0.0005"}, {0.7750, "0.7750"},
		{1, "1.0000"}, {12.34565, "12.3456"}, {166274.15156960033, "166274.1516"},
		{-3.25, "-3.2500"}, {-0.0004, "-0.0004"}, {math.NaN(), "-922337203685477.5808"},
		{1e300, "-922337203685477.5808"}, {922337203685477.5, "922337203685477.4784"},
	} {
		if got := FormatDistance(tc.d); got != tc.want {
			t.Errorf("FormatDistance(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatCoord(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1e-20, "0"}, {-1e-20, "0"}, {-1e-17, "-0.00000000000000001"},
		{180, "180"}, {-180, "-180"}, {0.5, "0.5"}, {0.1, "0.10000000000000001"},
		{math.Ldexp(1, -18), "0.00000381469726562"}, {math.Ldexp(3, -18), "0.00001144409179688"},
		{85.05112878, "85.0511287799999991"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
		{1e20, "100000000000000000000"},
	} {
		if got := FormatCoord(tc.f); got != tc.want {
			t.Errorf("FormatCoord(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	var ce *CoordError
	if err := CheckLonLat(200, 10); !errors.As(err, &ce) || err.Error() != "invalid longitude,latitude pair 200.000000,10.000000" {
		t.Errorf("CheckLonLat(200, 10) = %v", err)
	}
	if err := CheckLonLat(math.Inf(1), -85.06); err == nil || err.Error() != "invalid longitude,latitude pair inf,-85.060000" {
		t.Errorf("CheckLonLat(inf, -85.06) = %v", err)
	}
	for _, ok := range [][2]float64{{180, 85.05112878}, {-180, -85.05112878}, {0, 0}} {
		if err := CheckLonLat(ok[0], ok[1]); err != nil {
			t.Errorf("CheckLonLat(%v) = %v", ok, err)
		}
	}
	for u, m := range map[string]float64{"m": 1, "M": 1, "km": 1000, "KM": 1000, "kM": 1000, "ft": 0.3048, "Ft": 0.3048, "mi": 1609.34, "MI": 1609.34, "km\x00junk": 1000} {
		if got, err := ParseUnit(u); err != nil || got != m {
			t.Errorf("ParseUnit(%q) = %v, %v; want %v", u, got, err, m)
		}
	}
	var ue *UnitError
	for _, u := range []string{"", "meters", "k", "\u212am", "kmm", "m "} {
		if _, err := ParseUnit(u); !errors.As(err, &ue) || err.Error() != "unsupported unit provided. please use M, KM, FT, MI" {
			t.Errorf("ParseUnit(%q) = %v, want a UnitError", u, err)
		}
	}
}

// A full sort is stable, and a partial one puts the first n where the full
// one does (for distinct distances) whatever the input order.
func TestSortPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 2000 {
		n := 1 + r.IntN(120)
		pts := make([]Point, n)
		for i := range pts {
			pts[i] = Point{Score: float64(i), Dist: float64(r.IntN(n * 2))}
			if trial%3 == 0 {
				pts[i].Dist = float64(r.IntN(4)) // many ties
			}
		}
		for _, order := range []Order{Asc, Desc} {
			full := slices.Clone(pts)
			SortPoints(full, order, n)
			want := slices.Clone(pts)
			slices.SortStableFunc(want, func(a, b Point) int { return compare(&a, &b, order) })
			if !slices.EqualFunc(full, want, samePoint) {
				t.Fatalf("full sort (%d) is not the stable sort", order)
			}
			k := 1 + r.IntN(n)
			part := slices.Clone(pts)
			SortPoints(part, order, k)
			for i := range k {
				if part[i].Dist != want[i].Dist {
					t.Fatalf("partial sort of %d, first %d (order %d): position %d has distance %v, want %v", n, k, order, i, part[i].Dist, want[i].Dist)
				}
			}
			slices.SortFunc(part, func(a, b Point) int { return int(a.Score - b.Score) })
			if !slices.EqualFunc(part, pts, samePoint) {
				t.Fatal("partial sort lost or duplicated points")
			}
		}
	}
}

func samePoint(a, b Point) bool { return a.Score == b.Score && a.Dist == b.Dist }

// The cells of a search hold every point it finds: a brute force over
// random points finds no point in the shape outside the ranges.
func TestRangesCover(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var scores []float64
	for range 20000 {
		lon := r.Float64()*360 - 180
		lat := r.Float64()*2*LatMax - LatMax
		scores = append(scores, float64(Score(lon, lat)))
	}
	for trial := range 300 {
		s := Shape{Kind: Circle, Lon: r.Float64()*360 - 180, Lat: r.Float64()*2*LatMax - LatMax, Conversion: 1000}
		if trial%2 == 0 {
			s.Kind, s.Width, s.Height = Box, r.ExpFloat64()*500, r.ExpFloat64()*500
		} else {
			s.Radius = r.ExpFloat64() * 300
		}
		ranges := s.Ranges()
		for _, sc := range scores {
			if _, _, _, ok := s.Within(sc); !ok {
				continue
			}
			if !slices.ContainsFunc(ranges, func(rg ScoreRange) bool { return sc >= rg.Min && sc < rg.Max }) {
				lon, lat := Decode(sc)
				t.Errorf("%+v: point %v,%v within the shape but in no range", s, lon, lat)
			}
		}
	}
}
