package geo

import "math"

const (
	// EarthRadius is the sphere Redis measures on: the Earth's quadratic
	// mean radius (WGS-84), in meters.
	EarthRadius = 6372797.560856
	// degToRad is C's M_PI / 180.0, a double (the same double as the
	// exact quotient rounded once; TestConstants checks it).
	degToRad = math.Pi / 180.0
	// mercatorMax bounds the steps of a search (geohashEstimateStepsByRadius).
	mercatorMax = 20037726.37
)

func degRad(deg float64) float64 { return deg * degToRad }
func radDeg(rad float64) float64 { return rad / degToRad }

// latDistance is the distance between two latitudes along a meridian
// (geohashGetLatDistance).
func latDistance(lat1, lat2 float64) float64 {
	return EarthRadius * math.Abs(degRad(lat2)-degRad(lat1))
}

// Distance is geohashGetDistance: the haversine distance in meters between
// two points given in degrees, with Redis 7's shortcut for points whose
// longitudes' half difference has a zero sine (the distance along the
// meridian). It is NaN where Redis's is (asin of a rounding past 1, for
// nearly antipodal points).
func Distance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := sin((lon2r - lon1r) / 2)
	if v == 0 {
		return latDistance(lat1, lat2)
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := sin((lat2r - lat1r) / 2)
	// Evaluated as C does, left to right, each product rounded on its
	// own (float64() keeps the compiler from fusing a multiply-add).
	a := float64(u*u) + float64(float64(float64(cos(lat1r)*cos(lat2r))*v)*v)
	return 2.0 * EarthRadius * asin(math.Sqrt(a))
}
