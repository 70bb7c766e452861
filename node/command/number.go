package command

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/node/resp"
)

// parseInt parses a Redis integer argument (string2ll rules).
func parseInt(b []byte) (int64, error) {
	n, ok := resp.ParseInt(b)
	if !ok {
		return 0, ErrNotInt
	}
	return n, nil
}

// formatDouble renders a double as Redis 7.0's addReplyDouble (RESP2): inf,
// -inf, else %.17g.
func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// longDoublePrec is the mantissa of x87 long double, which Redis uses for
// INCRBYFLOAT and HINCRBYFLOAT; emulating it keeps results digit-exact.
const longDoublePrec = 64

// parseLongDouble parses b as Redis's string2ld does.
func parseLongDouble(b []byte) (*big.Float, error) {
	s := string(b)
	if s == "" || len(s) > 5000 || strings.ContainsAny(s[:1], " \t\n\r\v\f") || strings.ContainsAny(s[len(s)-1:], " \t\n\r\v\f") {
		return nil, ErrNotFloat
	}
	// strtold takes hex mantissas without a binary exponent ("0x10");
	// Go's parsers want one.
	if body := strings.TrimLeft(s, "+-"); len(body) > 2 && (body[:2] == "0x" || body[:2] == "0X") && !strings.ContainsAny(body, "pP") {
		s += "p0"
	}
	f64, err := strconv.ParseFloat(s, 64)
	if (err != nil && !isRangeErr(err)) || math.IsNaN(f64) || strings.Contains(s, "_") {
		return nil, ErrNotFloat
	}
	if math.IsInf(f64, 0) && !isRangeErr(err) {
		// "inf": accepted here; the sum is then refused as Redis does.
		return new(big.Float).SetPrec(longDoublePrec).SetInf(f64 < 0), nil
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return nil, ErrNotFloat
	}
	// Beyond long double's range strtold reports ERANGE.
	if exp := f.MantExp(nil); exp > 16384 || (f.Sign() != 0 && exp < -16381) {
		return nil, ErrNotFloat
	}
	return f, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// addLongDouble returns a+b in long double precision, or an error if the
// result is not finite (as Redis's INCRBYFLOAT checks).
func addLongDouble(a, b *big.Float) (*big.Float, error) {
	if a.IsInf() || b.IsInf() {
		return nil, Error("ERR increment would produce NaN or Infinity")
	}
	r := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven)
	r.Add(a, b)
	if exp := r.MantExp(nil); r.IsInf() || exp > 16384 {
		return nil, Error("ERR increment would produce NaN or Infinity")
	}
	return r, nil
}

// formatLongDouble renders as Redis's ld2string in human mode: %.17Lf with
// trailing zeros (and a trailing dot) removed.
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
