package redisconf

import (
	"math"
	"strconv"
	"strings"
)

// The parsers of the Special parameters, each written from what redis-server 7.0 answers
// (probed, see internal/gentable): what it accepts, how it shows it, and its error strings.

// adjustHz keeps hz within 1..500, as Redis does when it applies it.
func adjustHz(x int64) int64 { return min(max(x, 1), 500) }

// adjustBacklog raises repl-backlog-size to Redis's minimum backlog, 16 KiB.
func adjustBacklog(x int64) int64 { return max(x, 16<<10) }

// parseSave reads save: pairs of <seconds> <changes>, seconds at least 1, changes at least 0,
// each read by C's strtoll (leading white space and '+' allowed, clamped); "" is no saving.
// Redis keeps changes in a C int: a number past 2^31 shows wrapped.
func parseSave(_, v string) (string, error) {
	const bad reason = "Invalid save parameters"
	args := fields(v)
	if len(args)%2 != 0 {
		return "", bad
	}
	out := make([]string, len(args))
	for i, a := range args {
		x, ok := cInt(a)
		if !ok || (i%2 == 0 && x < 1) || (i%2 == 1 && x < 0) {
			return "", bad
		}
		if i%2 == 1 {
			x = int64(int32(x))
		}
		out[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(out, " "), nil
}

// parseClientOutputBufferLimit reads client-output-buffer-limit: groups of <class> <hard>
// <soft> <soft-seconds>, class normal, slave (or replica) or pubsub, hard and soft memory
// values, soft-seconds read by strtoll into a C int that must not be negative. Classes not
// given keep their limits.
func parseClientOutputBufferLimit(cur, v string) (string, error) {
	classes := [3]string{"normal", "slave", "pubsub"} // as shown, in this order
	args := fields(v)
	if len(args)%4 != 0 {
		return "", reason("Wrong number of arguments in buffer limit configuration.")
	}
	limits := strings.Split(cur, " ")
	if len(limits) != 12 {
		limits = strings.Split("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", " ")
	}
	for i := 0; i < len(args); i += 4 {
		class := -1
		switch strings.ToLower(args[i]) {
		case "normal":
			class = 0
		case "slave", "replica":
			class = 1
		case "pubsub":
			class = 2
		}
		if class < 0 {
			return "", reason("Invalid client class specified in buffer limit configuration.")
		}
		hard, ok1 := memtoull(args[i+1])
		soft, ok2 := memtoull(args[i+2])
		secs, ok3 := cInt(args[i+3])
		if !ok1 || !ok2 || !ok3 || int32(secs) < 0 {
			return "", reason("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		limits[4*class] = classes[class]
		limits[4*class+1] = strconv.FormatUint(hard, 10)
		limits[4*class+2] = strconv.FormatUint(soft, 10)
		limits[4*class+3] = strconv.FormatInt(int64(int32(secs)), 10)
	}
	return strings.Join(limits, " "), nil
}

// The keyspace event classes of notify-keyspace-events, in the order CONFIG GET shows them;
// A is all of allEvents.
const (
	allEvents   = "g$lshzxetd"
	eventsShown = allEvents + "n" // shown one by one unless all of allEvents are set
)

// parseNotifyKeyspaceEvents reads notify-keyspace-events: a set of class characters. Shown:
// A if all of g$lshzxetd are set (n then disappears from view, as in Redis), else each class
// set in the order g$lshzxetdn; then K, E and m.
func parseNotifyKeyspaceEvents(_, v string) (string, error) {
	set := map[byte]bool{}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == 'A':
			for j := 0; j < len(allEvents); j++ {
				set[allEvents[j]] = true
			}
		case strings.IndexByte(eventsShown+"KEm", c) >= 0:
			set[c] = true
		default:
			return "", reason("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
		}
	}
	var b strings.Builder
	all := true
	for j := 0; j < len(allEvents); j++ {
		all = all && set[allEvents[j]]
	}
	if all {
		b.WriteByte('A')
	} else {
		for j := 0; j < len(eventsShown); j++ {
			if set[eventsShown[j]] {
				b.WriteByte(eventsShown[j])
			}
		}
	}
	for _, c := range []byte("KEm") {
		if set[c] {
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// parseOOMScoreAdjValues reads oom-score-adj-values: three numbers (strtol) in -2000..2000.
func parseOOMScoreAdjValues(_, v string) (string, error) {
	args := fields(v)
	if len(args) != 3 {
		return "", reason("wrong number of arguments")
	}
	out := make([]string, 3)
	for i, a := range args {
		x, ok := cInt(a)
		if !ok || x < -2000 || x > 2000 {
			return "", reason("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
		}
		out[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(out, " "), nil
}

// parsePercentiles reads latency-tracking-info-percentiles: numbers (C's strtod, as Redis's
// string2d takes them) in 0..100, shown as C's %f without trailing zeros.
func parsePercentiles(_, v string) (string, error) {
	args := fields(v)
	out := make([]string, len(args))
	for i, a := range args {
		f, ok := string2d(a)
		if !ok {
			return "", reason("Invalid latency-tracking-info-percentiles parameters")
		}
		if f < 0 || f > 100 {
			return "", reason("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		s := strconv.FormatFloat(f, 'f', 6, 64)
		s = strings.TrimRight(s, "0")
		out[i] = strings.TrimSuffix(s, ".")
	}
	return strings.Join(out, " "), nil
}

// string2d reads s as Redis's string2d: all of s must be a number C's strtod reads (decimal,
// hexadecimal with or without a p exponent, inf, infinity), not NaN, not overflowing and not
// underflowing to zero, without leading white space.
func string2d(s string) (float64, bool) {
	if s == "" || isSpace(s[0]) || strings.ContainsRune(s, '_') {
		return 0, false
	}
	t := s
	body := strings.TrimLeft(s, "+-")
	hex := len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')
	mant := body
	if hex {
		mant = body[2:]
		if i := strings.IndexAny(mant, "pP"); i >= 0 {
			mant = mant[:i]
		} else {
			t += "p0" // strtod takes 0x10; Go wants an exponent
		}
	} else if i := strings.IndexAny(mant, "eE"); i >= 0 {
		mant = mant[:i]
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	nonzero := "123456789"
	if hex {
		nonzero += "abcdefABCDEF"
	}
	if f == 0 && strings.ContainsAny(mant, nonzero) {
		return 0, false // underflow, which strtod reports as ERANGE
	}
	return f, true
}

// parseProcTitleTemplate reads proc-title-template: {name} variables among Redis's, {{ a
// literal brace; refused if a brace is not closed, a variable unknown, or the title would be
// empty (spaces trimmed) with an empty {title}, as Redis checks it.
func parseProcTitleTemplate(_, v string) (string, error) {
	const bad reason = "template format is invalid or contains unknown variables"
	// What each variable expands to when Redis checks a template: only whether it is empty
	// matters (no cluster or sentinel mode, no unix socket, no config file: "-").
	vars := map[string]bool{"title": false, "listen-addr": true, "server-mode": false,
		"config-file": true, "port": true, "tls-port": true, "unixsocket": false}
	var out strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '{' && i+1 < len(v) && v[i+1] == '{':
			out.WriteByte('{')
			i++
		case c == '{':
			end := strings.IndexByte(v[i+1:], '}')
			if end < 0 {
				return "", bad
			}
			nonEmpty, ok := vars[v[i+1:i+1+end]]
			if !ok {
				return "", bad
			}
			if nonEmpty {
				out.WriteByte('x')
			}
			i += 1 + end
		default:
			out.WriteByte(c)
		}
	}
	if strings.Trim(out.String(), " ") == "" {
		return "", bad
	}
	return v, nil
}

// parseHostname reads cluster-announce-hostname: fewer than 256 characters, letters, digits,
// '-' and '.'.
func parseHostname(_, v string) (string, error) {
	if len(v) >= 256 {
		return "", reason("Hostnames must be less than 256 characters")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "", reason("Hostnames may only contain alphanumeric characters, hyphens or dots")
		}
	}
	return v, nil
}

// parseShutdownOn reads shutdown-on-sigint/sigterm: one or more of default, save, nosave, now,
// force (not both save and nosave); shown as the flags set, in that order, or default.
func parseShutdownOn(_, v string) (string, error) {
	shutdownFlags := []string{"default", "save", "nosave", "now", "force"} // Redis's order
	args := fields(v)
	if len(args) == 0 {
		return "", reason("argument(s) must be one of the following: " + strings.Join(shutdownFlags, ", "))
	}
	set := make([]bool, len(shutdownFlags))
	for _, a := range args {
		found := false
		for i, f := range shutdownFlags {
			if strings.EqualFold(a, f) {
				set[i], found = true, true
			}
		}
		if !found {
			return "", reason("argument(s) must be one of the following: " + strings.Join(shutdownFlags, ", "))
		}
	}
	if set[1] && set[2] {
		return "", reason("shutdown options SAVE and NOSAVE can't be used simultaneously")
	}
	var shown []string
	for i := 1; i < len(shutdownFlags); i++ {
		if set[i] {
			shown = append(shown, shutdownFlags[i])
		}
	}
	if len(shown) == 0 {
		return "default", nil
	}
	return strings.Join(shown, " "), nil
}
