package command

// Redis compares command names, rule words and keywords as C does
// (strcasecmp, ASCII letters only): strings.EqualFold would also fold "ſ"
// into "s" and "K" (Kelvin) into "k".

// EqualFoldASCII is C's strcasecmp(a, b) == 0.
func EqualFoldASCII[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// LowerASCII is s with its ASCII capitals in lower case.
func LowerASCII[S ~string | ~[]byte](s S) string {
	out := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = lowerASCII(s[i])
	}
	return string(out)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
