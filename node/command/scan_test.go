package command

import (
	"strings"
	"testing"
)

// parseScanReply splits a raw SCAN-family reply into cursor and elements.
func parseScanReply(t *testing.T, raw string, cursor *string, elems *[]string) {
	t.Helper()
	parts := strings.Split(shorten(raw), " ")
	if len(parts) < 3 || parts[0] != "*2" {
		t.Fatalf("bad scan reply %q", raw)
	}
	*cursor = strings.TrimPrefix(parts[1], "$")
	*elems = nil
	for _, p := range parts[3:] {
		*elems = append(*elems, strings.TrimPrefix(p, "$"))
	}
}
