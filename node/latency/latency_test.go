package latency

import (
	"strings"
	"testing"
	"time"
)

func TestStepsAreRedis(t *testing.T) {
	// The keys redis-server 7.0 reported for SETs of 10-130 µs.
	want := map[int]int64{0: 1, 1: 2, 2: 4, 3: 8, 4: 16, 5: 33, 6: 66, 7: 132}
	for k, us := range want {
		if got := stepTop[k] / 1000; got != us {
			t.Errorf("step %d reports %d µs, Redis %d", k, got, us)
		}
	}
	var h Histogram
	for _, d := range []time.Duration{0, 900, 1024, 1031, 1032, 15 * time.Microsecond, 65 * time.Microsecond, 66 * time.Microsecond, 2 * time.Second} {
		h.Observe(d)
	}
	total, steps := h.Cumulative()
	if total != 9 {
		t.Fatalf("total %d", total)
	}
	got := map[int64]int64{}
	for _, s := range steps {
		got[s.Micros] = s.Count
	}
	// 0, 900, 1024 and 1031 ns are at most 1 µs's step; 1032 ns the next one.
	if got[1] != 4 || got[2] != 5 || got[16] != 6 || got[66] != 8 || steps[len(steps)-1].Count != 9 {
		t.Fatalf("steps %v", steps)
	}
}

func TestMonitorSamples(t *testing.T) {
	m := NewMonitor()
	clock := time.Unix(1000, 0)
	m.now = func() time.Time { return clock }
	m.Observe("command", time.Second)
	if len(m.Latest()) != 0 {
		t.Fatal("threshold 0 records nothing")
	}
	if !strings.HasPrefix(m.Doctor(DoctorConfig{}), "I'm sorry, Dave") {
		t.Fatal("doctor of a monitor never on")
	}
	m.SetThreshold(100)
	if m.Doctor(DoctorConfig{}) != doctorCalm {
		t.Fatal("doctor with no spikes")
	}
	m.Observe("command", 99*time.Millisecond)
	m.Observe("command", 120*time.Millisecond)
	m.Observe("command", 300*time.Millisecond) // same second: merged into the worst
	m.Observe("command", 150*time.Millisecond)
	clock = clock.Add(2 * time.Second)
	m.Observe("command", 100*time.Millisecond)
	h := m.History("command")
	if len(h) != 2 || h[0] != (Sample{1000, 300}) || h[1] != (Sample{1002, 100}) {
		t.Fatalf("history %v", h)
	}
	l := m.Latest()
	if len(l) != 1 || l[0].Last != (Sample{1002, 100}) || l[0].Max != 300 {
		t.Fatalf("latest %v", l)
	}
	d := m.Doctor(DoctorConfig{SlowlogSlowerThan: 10000})
	if !strings.Contains(d, "1. command: 2 latency spikes (average 200ms, mean deviation 100ms, period 1.00 sec). Worst all time event 300ms.\n") ||
		!strings.Contains(d, adviceSlowlogRead) || strings.Contains(d, "CONFIG SET") {
		t.Fatalf("doctor:\n%s", d)
	}
	g, err := m.Graph("command")
	if err != nil || !strings.HasPrefix(g, "command - high 300 ms, low 100 ms (all time high 300 ms)\n"+strings.Repeat("-", 80)+"\n") {
		t.Fatalf("graph %q %v", g, err)
	}
	// Two columns: the worst fills to the top, the lowest is a floor; labels 2s and 0s.
	if rows := strings.Split(strings.TrimSuffix(g, "\n"), "\n")[2:]; strings.Join(rows, "/") != "# /| /| /|_/  /20/ss" {
		t.Fatalf("graph rows %q", rows)
	}
	if _, err := m.Graph("fork"); err == nil || err.Error() != "ERR No samples available for event 'fork'" {
		t.Fatalf("graph of an unknown event: %v", err)
	}
	if n := m.Reset("COMMAND", "fork"); n != 1 || len(m.Latest()) != 0 {
		t.Fatalf("reset %d", n)
	}
}

func TestPercentile(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 {
		t.Fatal("empty histogram")
	}
	for range 98 {
		h.Observe(10 * time.Microsecond) // step of 16 µs
	}
	h.Observe(100 * time.Microsecond) // 132
	h.Observe(time.Millisecond)       // 1056
	for _, c := range []struct {
		p    float64
		want float64
	}{{0, 16.511}, {50, 16.511}, {98, 16.511}, {98.5, 132.095}, {99, 132.095}, {99.9, 1056.767}, {100, 1056.767}} {
		if got := h.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}
