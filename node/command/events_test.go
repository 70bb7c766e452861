package command

import "testing"

func TestParseEventClasses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want EventClass
	}{
		{"", 0},
		{"KEA", EventKeyspace | EventKeyevent | eventAll},
		{"Kl", EventKeyspace | EventList},
		{"Egx", EventKeyevent | EventGeneric | EventExpired},
		{"AKEn", EventKeyspace | EventKeyevent | eventAll | EventNew},
	} {
		if got := ParseEventClasses(tc.in); got != tc.want {
			t.Errorf("%q: %b, want %b", tc.in, got, tc.want)
		}
	}
}

func TestEventsFailedCommandLeavesNone(t *testing.T) {
	n := newTestNode(t)
	n.do("SET", "s", "x")
	n.expectEvents("", "LPUSH", "s", "a") // WRONGTYPE
}
