package rdb

import (
	"strings"
	"testing"
)

// TestListpackEntrySize: the sizes node/stream counts are the bytes
// appendEntry writes, for integers of every encoding and strings of every
// header size.
func TestListpackEntrySize(t *testing.T) {
	for _, s := range []string{"", "0", "-0", "7", "127", "128", "-4096", "4095", "32767", "-8388608", "2147483647",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "01", "+1", "x",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 4095), strings.Repeat("a", 4096), strings.Repeat("a", 20000)} {
		lp := newListpack()
		lp.appendEntry([]byte(s))
		if got, want := ListpackEntrySize([]byte(s)), len(lp.b)-lpHeaderLen; got != want {
			t.Errorf("%.10q (%d bytes): size %d, appendEntry wrote %d", s, len(s), got, want)
		}
	}
}
