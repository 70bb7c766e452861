package command

import (
	"slices"
	"sync/atomic"
	"testing"
)

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

// checkEvents runs setup on a new node, moves its clock by advanceMS, then
// checks the events of cmd (a subtest named name): the event tests'
// runner.
func checkEvents(t *testing.T, name string, setup [][]string, advanceMS int64, cmd []string, want string) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		n := newTestNode(t)
		for _, s := range setup {
			n.do(s...)
		}
		n.nowMS += advanceMS
		n.expectEvents(want, cmd...)
	})
}

// A batch whose commit failed for some commands keeps the others'
// events (Pipeline.answerFailed); Truncate and Take keep Len in step.
func TestEventsKeepAndTruncate(t *testing.T) {
	var on atomic.Uint32
	on.Store(uint32(ParseEventClasses("KEA")))
	e := NewEvents(&on)
	c := &Ctx{Events: e}
	for _, k := range []string{"before", "a1", "a2", "b1", "c1"} {
		c.Notify(EventGeneric, "del", []byte(k))
	}
	e.keep(1, [][2]int{{0, 2}, {3, 4}}) // commands a (2 events) and c (1) committed, b did not
	var got []string
	for _, ev := range e.list {
		got = append(got, string(ev.Key))
	}
	if want := []string{"before", "a1", "a2", "c1"}; !slices.Equal(got, want) || e.Len() != 4 {
		t.Fatalf("kept %q (Len %d), want %q", got, e.Len(), want)
	}
	e.Truncate(2)
	if e.Len() != 2 {
		t.Fatalf("Len after Truncate(2) = %d", e.Len())
	}
	if l := e.Take(); len(l) != 2 || e.Len() != 0 || e.Take() != nil {
		t.Fatalf("Take: %d events, then Len %d", len(l), e.Len())
	}
	on.Store(uint32(ParseEventClasses("Kl"))) // a generic event is not kept now
	c.Notify(EventGeneric, "del", []byte("x"))
	c.Notify(EventList, "lpush", []byte("x"))
	if l := e.Take(); len(l) != 1 || l[0].Name != "lpush" {
		t.Fatalf("with Kl: %v, want the lpush only", l)
	}
}
