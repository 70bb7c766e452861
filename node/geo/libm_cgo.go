//go:build cgo

package geo

// #cgo LDFLAGS: -lm
// #include <math.h>
import "C"

// The trigonometry of distances is the C library's, as redis-server's is:
// glibc's sin, cos and asin (chosen at load time for the CPU) and Go's
// differ in the last bit for about a third of the distances, which is
// enough to move a printed distance's fourth decimal now and then, or a
// point on a search's edge in or out.

func sin(x float64) float64  { return float64(C.sin(C.double(x))) }
func cos(x float64) float64  { return float64(C.cos(C.double(x))) }
func asin(x float64) float64 { return float64(C.asin(C.double(x))) }
