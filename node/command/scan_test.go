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

// The cursor store is bounded by bytes as well as by count: huge keys
// cannot pin unbounded memory, and an evicted cursor restarts its slot.
func TestCursorsBoundedByBytes(t *testing.T) {
	cs := NewCursors(1000, 100)
	first := cs.save(3, make([]byte, 60))
	second := cs.save(4, make([]byte, 60)) // 120 bytes > 100: evicts first
	if p := cs.load(first); p.next != nil || p.slot != 3 {
		t.Fatalf("evicted cursor: %+v, want a restart at slot 3", p)
	}
	if p := cs.load(second); len(p.next) != 60 || p.slot != 4 {
		t.Fatalf("kept cursor: slot %d, %d bytes", p.slot, len(p.next))
	}
	if cs.bytes != 60 {
		t.Fatalf("accounted %d bytes, want 60", cs.bytes)
	}
}
