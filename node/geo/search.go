package geo

import "math"

// Kind is the form of a searched area.
type Kind int

const (
	// Circle is BYRADIUS (and GEORADIUS*): Radius around the center.
	Circle Kind = iota + 1
	// Box is BYBOX: Width by Height centered on the center, its north and
	// south edges along parallels, its east and west edges Width/2 from
	// the center along each point's parallel.
	Box
)

// Shape is a searched area, as Redis's GeoShape: sizes in the unit whose
// meters Conversion holds (ParseUnit).
type Shape struct {
	Kind          Kind
	Lon, Lat      float64 // the center
	Conversion    float64 // meters per unit
	Radius        float64 // Circle
	Width, Height float64 // Box
}

// bounds is geohashBoundingBox: the longitudes and latitudes that hold the
// area (min lon, min lat, max lon, max lat). A box is wider at the edge
// nearer the equator, so that edge's longitude span is taken.
func (s *Shape) bounds() [4]float64 {
	height := s.Conversion * s.Radius
	width := height
	if s.Kind != Circle {
		height = s.Conversion * (s.Height / 2)
		width = s.Conversion * (s.Width / 2)
	}
	latDelta := radDeg(height / EarthRadius)
	lonDeltaTop := radDeg(width / EarthRadius / cos(degRad(s.Lat+latDelta)))
	lonDeltaBottom := radDeg(width / EarthRadius / cos(degRad(s.Lat-latDelta)))
	lonDelta := lonDeltaTop
	if s.Lat < 0 {
		lonDelta = lonDeltaBottom
	}
	return [4]float64{s.Lon - lonDelta, s.Lat - latDelta, s.Lon + lonDelta, s.Lat + latDelta}
}

// estimateSteps is geohashEstimateStepsByRadius: the precision whose cells
// are about as large as the radius (in meters), coarser near the poles.
func estimateSteps(meters, lat float64) uint8 {
	if meters == 0 {
		return 26
	}
	step := 1
	for meters < mercatorMax {
		meters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

// areas is geohashCalculateAreasByShapeWGS84: the cell of the center at
// the estimated step (one coarser when a neighbour does not reach the
// bounding box's edge) and its 8 neighbours, those the bounding box does
// not reach zeroed; in Redis's search order.
func (s *Shape) areas() [9]Bits {
	b := s.bounds()
	minLon, minLat, maxLon, maxLat := b[0], b[1], b[2], b[3]
	meters := s.Radius
	if s.Kind != Circle {
		meters = math.Sqrt(float64((s.Width/2)*(s.Width/2)) + float64((s.Height/2)*(s.Height/2)))
	}
	meters *= s.Conversion
	steps := estimateSteps(meters, s.Lat)
	hash, _ := encode(lonRange(), latRange(), s.Lon, s.Lat, steps)
	nb := neighboursOf(hash)
	area, _ := decode(lonRange(), latRange(), hash)

	decrease := false
	north, _ := decode(lonRange(), latRange(), nb.north)
	south, _ := decode(lonRange(), latRange(), nb.south)
	east, _ := decode(lonRange(), latRange(), nb.east)
	west, _ := decode(lonRange(), latRange(), nb.west)
	if north.Lat.Max < maxLat || south.Lat.Min > minLat || east.Lon.Max < maxLon || west.Lon.Min > minLon {
		decrease = true
	}
	if steps > 1 && decrease {
		steps--
		hash, _ = encode(lonRange(), latRange(), s.Lon, s.Lat, steps)
		nb = neighboursOf(hash)
		area, _ = decode(lonRange(), latRange(), hash)
	}
	if steps >= 2 {
		if area.Lat.Min < minLat {
			nb.south, nb.southWest, nb.southEast = Bits{}, Bits{}, Bits{}
		}
		if area.Lat.Max > maxLat {
			nb.north, nb.northEast, nb.northWest = Bits{}, Bits{}, Bits{}
		}
		if area.Lon.Min < minLon {
			nb.west, nb.southWest, nb.northWest = Bits{}, Bits{}, Bits{}
		}
		if area.Lon.Max > maxLon {
			nb.east, nb.southEast, nb.northEast = Bits{}, Bits{}, Bits{}
		}
	}
	return [9]Bits{hash, nb.north, nb.south, nb.east, nb.west, nb.northEast, nb.northWest, nb.southEast, nb.southWest}
}

// ScoreRange is the scores of the members of one cell: Min included, Max
// excluded.
type ScoreRange struct{ Min, Max float64 }

// Ranges are the score ranges a search reads, in Redis's order: the
// center's cell, then its neighbours north, south, east, west, north-east,
// north-west, south-east and south-west; a neighbour dropped, or equal to
// the last cell read (neighbours repeat when the cells are huge), is
// skipped. Reading stops early with COUNT ... ANY (the caller's business).
func (s *Shape) Ranges() []ScoreRange {
	cells := s.areas()
	out := make([]ScoreRange, 0, len(cells))
	last := 0 // Redis's last_processed: 0 also before any
	for i, h := range cells {
		if h.zero() {
			continue
		}
		if last != 0 && h == cells[last] {
			continue
		}
		next := h
		next.Bits++
		// The 52-bit bounds become doubles, as Redis passes them.
		out = append(out, ScoreRange{Min: float64(align52(h)), Max: float64(align52(next))})
		last = i
	}
	return out
}

// Within is geoWithinShape for a member of score: its position (its
// cell's center) and its distance from the center in meters, and whether
// it lies in the area: within the radius, or within the box, whose
// latitude test is along the meridian and longitude test along the
// point's parallel.
func (s *Shape) Within(score float64) (lon, lat, dist float64, ok bool) {
	lon, lat = Decode(score)
	if s.Kind == Circle {
		dist = Distance(s.Lon, s.Lat, lon, lat)
		return lon, lat, dist, !(dist > s.Radius*s.Conversion)
	}
	width, height := s.Width*s.Conversion, s.Height*s.Conversion
	if latDistance(lat, s.Lat) > height/2 {
		return lon, lat, 0, false
	}
	if Distance(lon, lat, s.Lon, lat) > width/2 {
		return lon, lat, 0, false
	}
	return lon, lat, Distance(s.Lon, s.Lat, lon, lat), true
}
