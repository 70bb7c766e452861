package command

// globMatch reports whether s matches the Redis glob pattern p, with the
// rules of Redis 7.0's stringmatchlen (util.c): * ? [abc] [^abc] [a-z]
// (a reversed range is swapped) and \x escapes, inside classes too. An
// unterminated class runs to the end of the pattern; a trailing
// backslash is a literal one. Bytes compare unsigned (C's char is signed
// on some platforms, which only matters for ranges over bytes >= 0x80).
// As in Redis the empty string only matches the empty pattern, not even
// "*": KEYS and SCAN MATCH treat a bare "*" as match-all themselves.
//
// Redis tries the rest of the pattern after a '*' at each later position
// of the string, recursively, and stops early through skipLongerMatches:
// once a star's tail has failed at every position up to the end of the
// string, letting an earlier star swallow more cannot help, since the
// later star would then have to start further on, where everything was
// already tried. So only the most recent star ever backtracks, and it
// suffices to remember one position: each star's tail is tried at most
// once per string position, and a try ends at the next star. Work is
// O(len(p)·len(s)), without recursion; the plain backtracking this
// replaces took exponential time on "a*a*...*b" against "aaa...a".
func globMatch(p, s []byte) bool {
	if len(s) == 0 {
		return len(p) == 0
	}
	pi, si := 0, 0
	// tail is where the pattern resumes after the last star seen (-1: no
	// star yet) and retry the next string position to try it at.
	tail, retry := -1, 0
	for {
		// Here si < len(s); match one pattern element against s[si].
		ok := pi < len(p)
		if ok {
			switch p[pi] {
			case '*':
				for pi+1 < len(p) && p[pi+1] == '*' {
					pi++
				}
				if pi+1 == len(p) {
					return true // a trailing star takes the rest
				}
				pi++
				tail, retry = pi, si+1
				continue
			case '?':
				pi++
			case '[':
				pi, ok = matchClass(p, pi+1, s[si])
			case '\\':
				if pi+1 < len(p) {
					pi++
				}
				fallthrough
			default:
				ok = p[pi] == s[si]
				pi++
			}
			si++
		}
		if ok && si == len(s) {
			// The string is used up: only stars may remain.
			for pi < len(p) && p[pi] == '*' {
				pi++
			}
			if pi == len(p) {
				return true
			}
			ok = false
		}
		if !ok {
			if tail < 0 || retry == len(s) {
				return false
			}
			pi, si = tail, retry
			retry++
		}
	}
}

// matchClass matches c against the class whose body starts at p[i], just
// after its '[', and returns the index past the class.
func matchClass(p []byte, i int, c byte) (next int, ok bool) {
	not := i < len(p) && p[i] == '^'
	if not {
		i++
	}
	match := false
	for ; i < len(p) && p[i] != ']'; i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			match = match || p[i] == c
		case i+2 < len(p) && p[i+1] == '-':
			lo, hi := min(p[i], p[i+2]), max(p[i], p[i+2])
			match = match || lo <= c && c <= hi
			i += 2
		default:
			match = match || p[i] == c
		}
	}
	if i < len(p) {
		i++ // the ']'
	}
	return i, match != not
}

// GlobMatch is globMatch for other packages (CONFIG GET patterns).
func GlobMatch(pattern, s []byte) bool { return globMatch(pattern, s) }
