package geo

import (
	"math"
	"strconv"
	"strings"
)

// CoordError is a longitude or latitude outside Redis's limits. Its text
// is Redis's, the coordinates printed as C's "%f" prints them (every digit
// of the integer part, 6 decimals; inf as "inf").
type CoordError struct{ Lon, Lat float64 }

func (e *CoordError) Error() string {
	return "invalid longitude,latitude pair " + formatF(e.Lon) + "," + formatF(e.Lat)
}

// formatF is C's printf "%f" of a double.
func formatF(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// UnitError is a distance unit other than m, km, ft and mi.
type UnitError struct{ Unit string }

func (e *UnitError) Error() string { return "unsupported unit provided. please use M, KM, FT, MI" }

// ParseUnit returns the meters in one unit (m, km, ft or mi, in any ASCII
// case, as strcasecmp compares: up to a NUL byte), or a *UnitError.
func ParseUnit(u string) (float64, error) {
	switch {
	case asciiFold(u, "m"):
		return 1, nil
	case asciiFold(u, "km"):
		return 1000, nil
	case asciiFold(u, "ft"):
		return 0.3048, nil
	case asciiFold(u, "mi"):
		return 1609.34, nil
	}
	return 0, &UnitError{Unit: u}
}

// asciiFold reports whether s is lower (lower-case ASCII) as C's
// strcasecmp compares them: only ASCII letters fold (unlike
// strings.EqualFold, for which the Kelvin sign is a k), and s ends at its
// first NUL byte.
func asciiFold(s, lower string) bool {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
