//go:build !cgo

package geo

import "math"

// Without cgo the trigonometry is Go's, which differs from glibc's in the
// last bit now and then (see libm_cgo.go).

func sin(x float64) float64  { return math.Sin(x) }
func cos(x float64) float64  { return math.Cos(x) }
func asin(x float64) float64 { return math.Asin(x) }
