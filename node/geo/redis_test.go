package geo

import (
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/internal/testproc"
)

// geoRedis is a redis-server for the comparisons and a sorted set kept in
// it, mirrored here.
type geoRedis struct {
	t       *testing.T
	r       *testproc.Redis
	key     string
	members []member // sorted as a sorted set: by score, then name
	byName  map[string]float64
}

type member struct {
	name  string
	score float64
}

func (g *geoRedis) do(args ...string) any {
	g.t.Helper()
	v, err := g.r.Do(args...)
	if err != nil {
		g.t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return v
}

// add GEOADDs points (name, lon, lat) to the set, checking each score.
func (g *geoRedis) add(names []string, lons, lats []float64) {
	g.t.Helper()
	for from := 0; from < len(names); from += 200 {
		to := min(from+200, len(names))
		args := []string{"GEOADD", g.key}
		for i := from; i < to; i++ {
			args = append(args, exact(lons[i]), exact(lats[i]), names[i])
		}
		if _, ok := g.do(args...).(int64); !ok {
			g.t.Fatalf("GEOADD failed: %v", g.do(args...))
		}
		for i := from; i < to; i++ {
			g.byName[names[i]] = float64(Score(lons[i], lats[i]))
		}
	}
	g.members = g.members[:0]
	reply := g.do("ZRANGE", g.key, "0", "-1", "WITHSCORES").([]any)
	for i := 0; i < len(reply); i += 2 {
		name := reply[i].(string)
		s, err := strconv.ParseFloat(reply[i+1].(string), 64)
		if err != nil {
			g.t.Fatal(err)
		}
		if want := g.byName[name]; s != want {
			g.t.Errorf("%s: redis-server scored it %v, Score %v", name, s, want)
		}
		g.members = append(g.members, member{name, s})
	}
	if len(g.members) != len(g.byName) {
		g.t.Fatalf("redis-server holds %d members, want %d", len(g.members), len(g.byName))
	}
}

// exact is the decimal expansion of f, digit for digit, so that strtod and
// strtold read f itself.
func exact(f float64) string {
	if f == 0 || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := new(big.Float).SetFloat64(f).Text('f', 1100)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// search is what GEOSEARCH ... WITHDIST WITHHASH WITHCOORD replies, as
// package command builds it from this package.
func (g *geoRedis) search(s *Shape, order Order, count int64, anyOpt bool) []any {
	limit := 0
	if anyOpt {
		limit = int(count)
	}
	var points []Point
	for _, r := range s.Ranges() {
		if limit > 0 && len(points) >= limit {
			break
		}
		i := sort.Search(len(g.members), func(i int) bool { return g.members[i].score >= r.Min })
		for ; i < len(g.members) && g.members[i].score < r.Max; i++ {
			m := g.members[i]
			if lon, lat, dist, ok := s.Within(m.score); ok {
				points = append(points, Point{Member: []byte(m.name), Score: m.score, Lon: lon, Lat: lat, Dist: dist})
			}
			if limit > 0 && len(points) >= limit {
				break
			}
		}
	}
	if count != 0 && order == Unsorted && !anyOpt {
		order = Asc
	}
	n := len(points)
	if count != 0 && int64(n) > count {
		n = int(count)
	}
	SortPoints(points, order, n)
	out := []any{}
	for _, p := range points[:n] {
		out = append(out, []any{string(p.Member), FormatDistance(p.Dist / s.Conversion), ScoreInt(p.Score),
			[]any{FormatCoord(p.Lon), FormatCoord(p.Lat)}})
	}
	return out
}

// Random points, GEOADDed to a real redis-server and read back: the
// scores, GEOPOS, GEOHASH and GEODIST must be redis-server's to the last
// digit, and GEOSEARCH (BYRADIUS and BYBOX, from coordinates and from
// members, every order, COUNT with and without ANY) must find the same
// members in the same order with the same distances, hashes and
// coordinates.
func TestAgainstRedis(t *testing.T) {
	g := &geoRedis{t: t, r: testproc.StartRedis(t), key: "pts", byName: map[string]float64{}}
	rnd := rand.New(rand.NewPCG(7, 8))
	var names []string
	var lons, lats []float64
	addPoint := func(lon, lat float64) {
		names = append(names, "p"+strconv.Itoa(len(names)))
		lons, lats = append(lons, lon), append(lats, lat)
	}
	randLon := func() float64 { return rnd.Float64()*360 - 180 }
	randLat := func() float64 { return rnd.Float64()*2*LatMax - LatMax }
	for range 1500 {
		addPoint(randLon(), randLat())
	}
	// Clusters, where searches find many points: around a city, the poles'
	// limits and the antimeridian.
	for _, c := range [][2]float64{{13.361389, 38.115556}, {179.9999, 0}, {-179.9999, 10}, {0, 84.9}, {100, -85}, {0, 0}} {
		for range 250 {
			lon := c[0] + rnd.NormFloat64()*0.5
			lat := c[1] + rnd.NormFloat64()*0.5
			if lon > 180 {
				lon -= 360
			}
			if lon < -180 {
				lon += 360
			}
			lat = min(max(lat, LatMin), LatMax)
			addPoint(lon, lat)
		}
	}
	// The limits themselves, and points at one position (equal distances).
	for _, p := range [][2]float64{{180, LatMax}, {-180, LatMin}, {180, LatMin}, {-180, LatMax}, {0, 0}, {180, 0}, {-180, 0}} {
		addPoint(p[0], p[1])
	}
	for range 100 {
		addPoint(13.5, 38.2)
	}
	g.add(names, lons, lats)

	// GEOPOS and GEOHASH of every member, 100 a command.
	for from := 0; from < len(names); from += 100 {
		batch := names[from:min(from+100, len(names))]
		pos := g.do(append([]string{"GEOPOS", g.key}, batch...)...).([]any)
		hashes := g.do(append([]string{"GEOHASH", g.key}, batch...)...).([]any)
		for i, name := range batch {
			lon, lat := Decode(g.byName[name])
			want := []any{FormatCoord(lon), FormatCoord(lat)}
			if !reflect.DeepEqual(pos[i], want) {
				t.Errorf("GEOPOS %s: redis-server %v, here %v", name, pos[i], want)
			}
			if h := Hash(g.byName[name]); hashes[i] != h {
				t.Errorf("GEOHASH %s: redis-server %v, here %v", name, hashes[i], h)
			}
		}
	}

	// GEODIST of random pairs in every unit.
	units := []string{"m", "km", "ft", "mi"}
	for range 3000 {
		a, b := names[rnd.IntN(len(names))], names[rnd.IntN(len(names))]
		if rnd.IntN(4) == 0 { // nearby points
			i := rnd.IntN(len(names) - 1)
			a, b = names[i], names[i+1]
		}
		unit := units[rnd.IntN(len(units))]
		conv, _ := ParseUnit(unit)
		lon1, lat1 := Decode(g.byName[a])
		lon2, lat2 := Decode(g.byName[b])
		want := FormatDistance(Distance(lon1, lat1, lon2, lat2) / conv)
		if got := g.do("GEODIST", g.key, a, b, unit); got != want {
			t.Errorf("GEODIST %s %s %s: redis-server %v, here %v", a, b, unit, got, want)
		}
	}

	// GEOSEARCH: random centers and sizes, from 1 m to the whole Earth.
	searches, found := 0, 0
	for trial := range 800 {
		s := Shape{Conversion: 1}
		unit := units[rnd.IntN(len(units))]
		s.Conversion, _ = ParseUnit(unit)
		args := []string{"GEOSEARCH", g.key}
		if trial%3 == 0 {
			name := names[rnd.IntN(len(names))]
			s.Lon, s.Lat = Decode(g.byName[name])
			args = append(args, "FROMMEMBER", name)
		} else {
			if trial%2 == 0 { // near a cluster
				i := rnd.IntN(len(names))
				s.Lon, s.Lat = lons[i], lats[i]
			} else {
				s.Lon, s.Lat = randLon(), randLat()
			}
			args = append(args, "FROMLONLAT", exact(s.Lon), exact(s.Lat))
		}
		meters := math.Pow(10, rnd.Float64()*7.5) // 1 m to 30000 km
		if trial%2 == 0 {
			s.Kind, s.Radius = Circle, meters/s.Conversion
			args = append(args, "BYRADIUS", exact(s.Radius), unit)
		} else {
			s.Kind = Box
			s.Width, s.Height = meters/s.Conversion, meters*rnd.Float64()*2/s.Conversion
			args = append(args, "BYBOX", exact(s.Width), exact(s.Height), unit)
		}
		args = append(args, "WITHDIST", "WITHHASH", "WITHCOORD")
		order := Order(rnd.IntN(3))
		switch order {
		case Asc:
			args = append(args, "ASC")
		case Desc:
			args = append(args, "DESC")
		}
		var count int64
		anyOpt := false
		if rnd.IntN(2) == 0 {
			count = 1 + rnd.Int64N(60)
			args = append(args, "COUNT", strconv.FormatInt(count, 10))
			if rnd.IntN(3) == 0 {
				anyOpt = true
				args = append(args, "ANY")
			}
		}
		got := g.do(args...)
		want := g.search(&s, order, count, anyOpt)
		searches++
		found += len(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nredis-server %v\nhere         %v", strings.Join(args, " "), got, want)
		}
	}
	t.Logf("%d members; %d searches found %d points", len(names), searches, found)
}

// FormatCoord prints what redis-server prints for the long double of a
// double: INCRBYFLOAT from 0 by the double's exact value gives it back in
// the same human form.
func TestFormatCoordAgainstRedis(t *testing.T) {
	r := testproc.StartRedis(t)
	rnd := rand.New(rand.NewPCG(9, 10))
	var values []float64
	for range 1500 {
		values = append(values, rnd.Float64()*360-180)
	}
	for range 500 { // ties at the 18th decimal, and small values
		values = append(values, float64(rnd.IntN(1<<20)-1<<19)*math.Ldexp(1, -18), rnd.NormFloat64()*1e-15, rnd.NormFloat64()*1e-18)
	}
	for range 500 { // cell centers
		lon, lat := Decode(float64(rnd.Int64N(1 << 52)))
		values = append(values, lon, lat)
	}
	values = append(values, 0, 180, -180, LatMax, LatMin, 1e-17, 5e-18, -5e-18, 1.5e-17, 2.5e-17)
	for _, v := range values {
		if _, err := r.Do("SET", "f", "0"); err != nil {
			t.Fatal(err)
		}
		got, err := r.Do("INCRBYFLOAT", "f", exact(v))
		if err != nil {
			t.Fatal(err)
		}
		if want := FormatCoord(v); got != want {
			t.Errorf("%s: redis-server %v, FormatCoord %v", exact(v), got, want)
		}
	}
}

// GEOADD's error for coordinates out of range prints them as redis-server
// does.
func TestCoordErrorAgainstRedis(t *testing.T) {
	r := testproc.StartRedis(t)
	rnd := rand.New(rand.NewPCG(11, 12))
	pairs := [][2]float64{{200, 10}, {-180.0000001, 0}, {0, 85.05112879}, {0, -90}, {1e300, 1}, {-1e-300, 1e20},
		{math.Inf(1), 0}, {0, math.Inf(-1)}, {123.4567895, 86}, {181, 0.0000005}, {181, 0.0000015}, {181, -0.0000005}}
	for range 300 {
		pairs = append(pairs, [2]float64{rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(30))), 86 + rnd.ExpFloat64()*10})
	}
	for _, p := range pairs {
		got, err := r.Do("GEOADD", "k", exact(p[0]), exact(p[1]), "m")
		if err != nil {
			t.Fatal(err)
		}
		err = CheckLonLat(p[0], p[1])
		if err == nil {
			t.Fatalf("%v: no error", p)
		}
		if want := testproc.ErrorReply("ERR " + err.Error()); got != want {
			t.Errorf("GEOADD k %s %s m: redis-server %q, here %q", exact(p[0]), exact(p[1]), got, want)
		}
	}
}
