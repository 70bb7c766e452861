package redisconf

import (
	"math"
	"strconv"
	"strings"
)

// Kind is how a parameter's value is read.
type Kind uint8

const (
	// String takes any value and shows it as given.
	String Kind = iota
	// Bool takes yes or no, in any case; shows yes or no.
	Bool
	// Int takes a decimal integer, strictly (no sign '+', no leading zeros, no spaces), within
	// [Min, Max].
	Int
	// Memory takes a memory value: digits and an optional unit b, k, kb, m, mb, g or gb (any
	// case; k is 1000, kb 1024), within [Min, Max]; shows it in bytes.
	Memory
	// Enum takes one of Options' names, in any case; shows its name lowercase (or its ShowAs).
	Enum
	// Special is read by Parse.
	Special
)

// Flag marks a parameter.
type Flag uint8

const (
	// Immutable: CONFIG SET refuses it ("can't set immutable config"); only a config file or
	// the command line sets it in Redis (SetInitial here).
	Immutable Flag = 1 << iota
	// Protected: CONFIG SET refuses it ("can't set protected config"), as Redis 7.0 does while
	// enable-protected-configs is no, its default.
	Protected
	// Hidden: CONFIG GET shows it only for its exact name, never for a pattern.
	Hidden
	// Unsigned: a Memory parameter read as an unsigned 64-bit number; Max is 2^64-1.
	Unsigned
	// Percent: a Memory parameter that also takes N% (0..100), shown as N% (0% as 0).
	Percent
)

// Option is one of an Enum's values.
type Option struct {
	Name string
	// ShowAs is what CONFIG GET shows once Name was set, if not Name: the first name of the
	// same value in Redis's list (oom-score-adj relative shows as yes).
	ShowAs string
}

// Param describes one parameter.
type Param struct {
	Name string
	// Alias is the parameter's other name ("" if none): both names show in CONFIG GET * and
	// setting either sets both; each is its own parameter for CONFIG SET's duplicate check and
	// error message.
	Alias   string
	Kind    Kind
	Flags   Flag
	Default string // as CONFIG GET shows it
	// Min and Max bound Int and Memory values.
	Min, Max int64
	// Options are an Enum's values, in Redis's order (its error lists them so).
	Options []Option
	// Parse reads a Special value: given the current value and the new one, it returns the
	// value to show or the reason it is refused.
	Parse func(cur, v string) (string, error)
	// Adjust, if set, changes an accepted Int or Memory value as Redis does when it applies
	// it (hz is kept within 1..500).
	Adjust func(int64) int64
}

// Is reports whether p has flag f.
func (p *Param) Is(f Flag) bool { return p.Flags&f != 0 }

// Reasons a value is refused, worded as Redis 7.0's.
const (
	errBool       reason = "argument must be 'yes' or 'no'"
	errInt        reason = "argument couldn't be parsed into an integer"
	errMemory     reason = "argument must be a memory value"
	errPercentVal reason = "argument must be a memory or percent value"
	errPercentMax reason = "percentage argument must be less or equal to 100"
)

// normalize checks v for p and returns the value CONFIG GET will show; cur is p's current
// value (a Special may keep part of it).
func (p *Param) normalize(cur, v string) (string, error) {
	switch p.Kind {
	case Bool:
		switch {
		case strings.EqualFold(v, "yes"):
			return "yes", nil
		case strings.EqualFold(v, "no"):
			return "no", nil
		}
		return "", errBool
	case Int:
		x, ok := string2ll(v)
		if !ok {
			return "", errInt
		}
		return p.bound(x)
	case Memory:
		return p.memory(v)
	case Enum:
		for _, o := range p.Options {
			if strings.EqualFold(v, o.Name) {
				if o.ShowAs != "" {
					return o.ShowAs, nil
				}
				return o.Name, nil
			}
		}
		return "", p.enumError()
	case Special:
		return p.Parse(cur, v)
	}
	return v, nil
}

func (p *Param) enumError() error {
	names := make([]string, len(p.Options))
	for i, o := range p.Options {
		names[i] = o.Name
	}
	return reason("argument(s) must be one of the following: " + strings.Join(names, ", "))
}

// bound checks x against [Min, Max] and formats it.
func (p *Param) bound(x int64) (string, error) {
	if x < p.Min || x > p.Max {
		return "", reason("argument must be between " + strconv.FormatInt(p.Min, 10) + " and " +
			strconv.FormatInt(p.Max, 10) + " inclusive")
	}
	if p.Adjust != nil {
		x = p.Adjust(x)
	}
	return strconv.FormatInt(x, 10), nil
}

func (p *Param) memory(v string) (string, error) {
	bad := errMemory
	if p.Is(Percent) {
		bad = errPercentVal
	}
	var x int64
	if pct, ok := strings.CutSuffix(v, "%"); ok && p.Is(Percent) {
		n, ok := string2ll(pct)
		if !ok || n < 0 {
			return "", bad
		}
		x = -n
	} else {
		u, ok := memtoull(v)
		if !ok {
			return "", bad
		}
		if p.Is(Unsigned) {
			if u < uint64(p.Min) {
				return "", reason("argument must be between " + strconv.FormatInt(p.Min, 10) + " and " +
					strconv.FormatUint(math.MaxUint64, 10) + " inclusive")
			}
			return strconv.FormatUint(u, 10), nil
		}
		// A signed parameter reads the bits as signed: 2^64-1 is -1 (and, for a percent
		// parameter, 1%), as in Redis.
		x = int64(u)
	}
	if p.Is(Percent) && x < 0 {
		if x < -100 {
			return "", errPercentMax
		}
		return strconv.FormatInt(-x, 10) + "%", nil
	}
	return p.bound(x)
}

// string2ll reads s as Redis's string2ll does: an optional '-', then "0" or digits not
// starting with 0, within the int64 range; nothing else ("-0" included).
func string2ll(s string) (int64, bool) {
	d := strings.TrimPrefix(s, "-")
	if d == "" || (d[0] == '0' && (len(d) > 1 || len(d) != len(s))) {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	x, err := strconv.ParseInt(s, 10, 64)
	return x, err == nil
}

// memtoull reads a memory value as Redis's memtoull does: no '-', digits (none is 0; fewer
// than 128; a number past 2^64-1 is 2^64-1), then a unit; the product wraps around 2^64.
func memtoull(s string) (uint64, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	var mul uint64
	switch strings.ToLower(s[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if i >= 128 {
		return 0, false
	}
	var n uint64
	for _, c := range s[:i] {
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			n = math.MaxUint64
			break
		}
		n = n*10 + d
	}
	return n * mul, true
}

// strtoll reads s as C's strtoll(s, &end, 10) does: leading white space, an optional sign,
// digits; a number out of the int64 range is clamped to it. end is where it stopped: 0 when
// there are no digits.
func strtoll(s string) (x int64, end int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var u uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if u > (math.MaxUint64-d)/10 {
			over = true
		} else {
			u = u*10 + d
		}
		i++
	}
	if i == start {
		return 0, 0
	}
	switch {
	case neg && (over || u > 1<<63):
		return math.MinInt64, i
	case neg:
		return -int64(u), i // u == 1<<63 wraps to MinInt64, which is right
	case over || u > math.MaxInt64:
		return math.MaxInt64, i
	}
	return int64(u), i
}

// cInt is strtoll's whole-string reading: false if anything follows the number.
func cInt(s string) (int64, bool) {
	x, end := strtoll(s)
	return x, end == len(s)
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// fields splits a multi-argument value as CONFIG SET does: on every single space, so two
// spaces make an empty argument; "" has none.
func fields(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, " ")
}
