package latency

import (
	"github.com/pika-node/pika-node/node/command"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// seriesLen is how many samples an event keeps (Redis's LATENCY_TS_LEN).
const seriesLen = 160

// Sample is one second's worst latency of an event.
type Sample struct {
	Time int64 // unix seconds
	MS   int64
}

// series is one event's samples, a ring in time order from idx.
type series struct {
	samples [seriesLen]Sample
	idx     int
	max     int64 // all time
}

// Monitor is a node's latency monitor. Its zero value is not usable: see
// NewMonitor.
type Monitor struct {
	threshold atomic.Int64 // ms; 0: off
	now       func() time.Time

	mu     sync.Mutex
	events map[string]*series
}

// NewMonitor returns a monitor that is off (latency-monitor-threshold 0,
// Redis's default) and has seen nothing.
func NewMonitor() *Monitor {
	return &Monitor{now: time.Now, events: map[string]*series{}}
}

// SetThreshold sets latency-monitor-threshold (ms; 0 turns the monitor off).
func (m *Monitor) SetThreshold(ms int64) { m.threshold.Store(ms) }

// Threshold is latency-monitor-threshold.
func (m *Monitor) Threshold() int64 { return m.threshold.Load() }

// Observe records that event took took, when the monitor is on and took
// reaches its threshold.
func (m *Monitor) Observe(event string, took time.Duration) {
	th := m.threshold.Load()
	if ms := took.Milliseconds(); th > 0 && ms >= th {
		m.add(event, ms)
	}
}

// add records a sample: a second's samples merge into its worst.
func (m *Monitor) add(event string, ms int64) {
	now := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.events[event]
	if s == nil {
		s = &series{}
		m.events[event] = s
	}
	s.max = max(s.max, ms)
	prev := &s.samples[(s.idx+seriesLen-1)%seriesLen]
	if prev.Time == now {
		prev.MS = max(prev.MS, ms)
		return
	}
	s.samples[s.idx] = Sample{Time: now, MS: ms}
	s.idx = (s.idx + 1) % seriesLen
}

// Latest is one event's line of LATENCY LATEST.
type Latest struct {
	Event string
	Last  Sample
	Max   int64
}

// Latest returns every event's latest sample and all-time worst, by event
// name (Redis lists them in its hash table's order).
func (m *Monitor) Latest() []Latest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Latest, 0, len(m.events))
	for name, s := range m.events {
		out = append(out, Latest{Event: name, Last: s.samples[(s.idx+seriesLen-1)%seriesLen], Max: s.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Event < out[j].Event })
	return out
}

// History returns event's samples, oldest first; none for an event never
// seen.
func (m *Monitor) History(event string) []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.events[event]
	if s == nil {
		return nil
	}
	return s.history()
}

func (s *series) history() []Sample {
	var out []Sample
	for j := range seriesLen {
		if x := s.samples[(s.idx+j)%seriesLen]; x.Time != 0 {
			out = append(out, x)
		}
	}
	return out
}

// Reset forgets the events named (every event when none is), matched
// regardless of case, and returns how many it forgot.
func (m *Monitor) Reset(events ...string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name := range m.events {
		if len(events) == 0 || anyEqualFold(events, name) {
			delete(m.events, name)
			n++
		}
	}
	return n
}

func anyEqualFold(names []string, name string) bool {
	for _, n := range names {
		if command.EqualFoldASCII(n, name) {
			return true
		}
	}
	return false
}
