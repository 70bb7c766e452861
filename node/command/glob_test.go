package command

import (
	"strings"
	"testing"
	"time"
)

// matchWithin runs globMatch(p, s) and fails the test if it takes longer
// than d (a matcher that backtracks exponentially would never return).
func matchWithin(t testing.TB, p, s []byte, d time.Duration) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() { done <- globMatch(p, s) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case ok := <-done:
		return ok
	case <-timer.C:
		t.Fatalf("globMatch(%.60q, %.60q) still running after %v", p, s, d)
		return false
	}
}

// The cases follow Redis 7.0's stringmatchlen (util.c) byte for byte.
func TestGlobMatchRedisSemantics(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		// The empty string only matches the empty pattern: Redis's loop never
		// runs on it, so not even "*" matches "" (KEYS and SCAN MATCH treat a
		// bare "*" as match-all before asking the matcher).
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"*", "", false},
		{"**", "", false},
		{"?", "", false},
		{"[^", "", false},

		// Stars.
		{"*", "abc", true},
		{"**", "abc", true},
		{"a*", "a", true},
		{"a**", "a", true},
		{"*a", "a", true},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"*a*", "a", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"a*b*c", "abbbc", true},
		{"*abc*", "xxabcxx", true},
		{"*abc*", "xxabxcx", false},
		{"a*?", "a", false},
		{"a*?", "ab", true},
		{"user:*:name", "user:42:name", true},
		{"user:*:name", "user:42:nam", false},

		// Question mark.
		{"?", "a", true},
		{"?", "ab", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"??*", "a", false},

		// Classes and ranges.
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[^abc]", "d", true},
		{"[^abc]", "a", false},
		{"[a-c]", "b", true},
		{"[a-c]", "d", false},
		{"[c-a]", "b", true}, // a reversed range is swapped
		{"[^a-c]", "b", false},
		{"[a-c-e]", "-", true}, // a range, then '-' and 'e' as literals
		{"[a-c-e]", "e", true},
		{"[a-c-e]", "d", false},
		{"[a-]", "-", false}, // "a-]" is the range ']'..'a', so the class is unterminated
		{"[a-]", "_", true},  // '_' lies between ']' and 'a'
		{"[a-]x", "x", true}, // ... and "x" is inside it
		{"[a-]x", "_x", false},
		{"[a-", "-", true}, // too short for a range: 'a' and '-'
		{"[a-", "b", false},
		{"[]", "a", false}, // an empty class matches nothing
		{"[]]", "]", false},
		{"[^]", "x", true},
		{"[^]", "]", true},
		{"[^]", "xy", false},
		{"x[yz]*", "xz123", true},

		// Escapes, inside and outside classes.
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`\?`, "?", true},
		{`\?`, "a", false},
		{`\[`, "[", true},
		{`\\`, `\`, true},
		{`\a`, "a", true},
		{`a\`, `a\`, true}, // a trailing backslash is a literal backslash
		{`a\`, "a", false},
		{`[\]]`, "]", true},
		{`[\-]`, "-", true},
		{`[\-]`, "a", false},
		{`[a\-z]`, "-", true},
		{`[a\-z]`, "b", false},
		{`[\a-z]`, "-", true}, // the escape ends "\a", so "-z" is no range
		{`[\a-z]`, "b", false},
		{`[\]`, "]", true}, // unterminated: the escaped ']' is a member
		{`[\]`, `\`, false},
		{`[\`, `\`, true}, // a trailing backslash in a class is a member
		{`[^\`, "x", true},

		// Unterminated classes run to the end of the pattern.
		{"[", "[", false},
		{"[", "a", false},
		{"x[", "x", false},
		{"[a", "a", true},
		{"[a", "b", false},
		{"[ab", "b", true},
		{"[^", "x", true},
		{"[^a", "a", false},
		{"[^a", "b", true},
		{"a[b*", "ab", true}, // '*' is a member of the unterminated class
		{"a[b*", "a*", true},
		{"a[b*", "abc", false},

		// Bytes are bytes.
		{"a\x00*", "a\x00b", true},
		{"?", "\xff", true},
		{"[\x80-\xff]", "\xfe", true},
		{"[\x80-\xff]", "a", false},
	}
	for _, c := range cases {
		if got := matchWithin(t, []byte(c.p), []byte(c.s), 2*time.Second); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
		if got := refMatch([]byte(c.p), []byte(c.s)); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v (the reference is wrong)", c.p, c.s, got, c.want)
		}
	}
}

// The bug: one key of 60 'a's and KEYS a*a*...*b with ~50 stars kept a
// node at 100% of a core for good. Each must answer well inside 2 s.
func TestGlobMatchHostilePatterns(t *testing.T) {
	a60 := strings.Repeat("a", 60)
	cases := []struct {
		p, s string
		want bool
	}{
		{strings.Repeat("a*", 50) + "b", a60, false},
		{"*" + strings.Repeat("a*", 50) + "b", a60, false},
		{strings.Repeat("*a", 50) + "*b", a60, false},
		{strings.Repeat("?*", 50) + "b", a60, false},
		{strings.Repeat("[a]*", 50) + "b", a60, false},
		{strings.Repeat("[^b]*", 50) + "[b]", a60, false},
		{strings.Repeat("*aa", 25) + "*b", a60, false},
		{strings.Repeat("a*", 50) + "a", a60, true},
		{strings.Repeat("a*", 50) + "a", a60 + "b", false},
		{strings.Repeat("a*", 500) + "b", strings.Repeat("a", 5000), false},
		{"*" + strings.Repeat("a", 200) + "b", strings.Repeat("a", 5000), false},
		// Many stars: no deep recursion, no stack growth.
		{strings.Repeat("*a", 100000) + "*", strings.Repeat("a", 1000), false},
		{strings.Repeat("*a", 1000) + "*", strings.Repeat("a", 1000), true},
	}
	for _, c := range cases {
		if got := matchWithin(t, []byte(c.p), []byte(c.s), 2*time.Second); got != c.want {
			t.Errorf("globMatch(%.40q..., %.40q...) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// FuzzGlob compares globMatch with refMatch, an independent dynamic
// programme over pattern elements × string positions, on arbitrary pairs
// and on pairs mapped onto a small alphabet rich in glob syntax. Every
// case must also answer within a second.
func FuzzGlob(f *testing.F) {
	seeds := []struct{ p, s string }{
		{"", ""},
		{"*", ""},
		{"a*b", "aab"},
		{"*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"[a-c-e]x", "dx"},
		{"[a-]x", "_x"},
		{"[^]", "]"},
		{`[\]`, "]"},
		{`[\`, `\`},
		{`a\`, `a\`},
		{`\*\?\[`, "*?["},
		{"[^", "x"},
		{"[c-a]*?", "bzz"},
		{"?*?*[^a]", "aaab"},
		{"**a**", "a"},
	}
	for _, c := range seeds {
		f.Add([]byte(c.p), []byte(c.s))
	}
	f.Fuzz(func(t *testing.T, p, s []byte) {
		if len(p) > 512 || len(s) > 512 {
			return
		}
		check := func(p, s []byte) {
			want := refMatch(p, s)
			if got := matchWithin(t, p, s, time.Second); got != want {
				t.Fatalf("globMatch(%q, %q) = %v, reference says %v", p, s, got, want)
			}
		}
		check(p, s)
		check(onto(p, `ab*?[]^-\`), onto(s, `ab]-\^`))
	})
}

// onto maps each byte of b onto alphabet.
func onto(b []byte, alphabet string) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	return out
}

// refElem is one element of a parsed pattern: a star, or the set of
// bytes a single-byte element (literal, '?', class) accepts.
type refElem struct {
	star bool
	set  [256]bool
}

// refParse splits a pattern into elements by Redis's rules.
func refParse(p []byte) []refElem {
	var elems []refElem
	for i := 0; i < len(p); {
		var e refElem
		switch {
		case p[i] == '*':
			e.star = true
			i++
		case p[i] == '?':
			for b := range e.set {
				e.set[b] = true
			}
			i++
		case p[i] == '[':
			i = refClass(p, i+1, &e.set)
		case p[i] == '\\' && i+1 < len(p):
			e.set[p[i+1]] = true
			i += 2
		default:
			e.set[p[i]] = true
			i++
		}
		elems = append(elems, e)
	}
	return elems
}

// refClass fills set from the class that starts at p[i] (just after its
// '[') and returns where the class ends. An unterminated class runs to
// the end of the pattern.
func refClass(p []byte, i int, set *[256]bool) int {
	neg := i < len(p) && p[i] == '^'
	if neg {
		i++
	}
	for i < len(p) && p[i] != ']' {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			set[p[i+1]] = true
			i += 2
		case i+2 < len(p) && p[i+1] == '-':
			lo, hi := min(p[i], p[i+2]), max(p[i], p[i+2])
			for b := int(lo); b <= int(hi); b++ {
				set[b] = true
			}
			i += 3
		default:
			set[p[i]] = true
			i++
		}
	}
	if i < len(p) {
		i++ // the ']'
	}
	if neg {
		for b := range set {
			set[b] = !set[b]
		}
	}
	return i
}

// refMatch is the reference matcher: after parsing, ok[j] for element i
// says whether elements i.. match s[j:], computed from the last element
// back, in O(len(p)·len(s)).
func refMatch(p, s []byte) bool {
	if len(s) == 0 {
		return len(p) == 0 // Redis's quirk: see TestGlobMatchRedisSemantics
	}
	elems := refParse(p)
	ok := make([]bool, len(s)+1)
	ok[len(s)] = true // no elements match only the empty rest
	for i := len(elems) - 1; i >= 0; i-- {
		cur := make([]bool, len(s)+1)
		for j := len(s); j >= 0; j-- {
			if elems[i].star {
				cur[j] = ok[j] || (j < len(s) && cur[j+1])
			} else {
				cur[j] = j < len(s) && elems[i].set[s[j]] && ok[j+1]
			}
		}
		ok = cur
	}
	return ok[0]
}
