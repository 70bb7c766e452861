package latency

import (
	"fmt"
	"strings"
	"time"
)

// Graph's shape, as Redis draws it: 80 columns, 4 rows of 3 steps each.
const (
	graphCols = 80
	graphRows = 4
)

// ErrNoSamples is LATENCY GRAPH's refusal for an event it has no samples of.
type ErrNoSamples string

func (e ErrNoSamples) Error() string {
	return "ERR No samples available for event '" + string(e) + "'"
}

// Graph draws event's samples as LATENCY GRAPH does: a header, then a
// sparkline of 80 samples a block, each column labelled vertically with
// how long ago its sample was taken.
func (m *Monitor) Graph(event string) (string, error) {
	m.mu.Lock()
	s := m.events[event]
	var hist []Sample
	var allTime int64
	if s != nil {
		hist, allTime = s.history(), s.max
	}
	m.mu.Unlock()
	if s == nil {
		return "", ErrNoSamples(event)
	}
	now := m.now().Unix()
	var lo, hi int64
	labels := make([]string, len(hist))
	for i, x := range hist {
		if i == 0 {
			lo, hi = x.MS, x.MS
		}
		lo, hi = min(lo, x.MS), max(hi, x.MS)
		labels[i] = ago(now - x.Time)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - high %d ms, low %d ms (all time high %d ms)\n", event, hi, lo, allTime)
	b.WriteString(strings.Repeat("-", graphCols))
	b.WriteByte('\n')
	for from := 0; from < len(hist); from += graphCols {
		if from != 0 {
			b.WriteByte('\n')
		}
		to := min(from+graphCols, len(hist))
		sparkline(&b, hist[from:to], labels[from:to], lo, hi)
	}
	return b.String(), nil
}

// ago says how long ago secs was, as a graph's label: 5s, 3m, 2h, 1d.
func ago(secs int64) string {
	switch d := time.Duration(secs) * time.Second; {
	case d < time.Minute:
		return fmt.Sprintf("%ds", secs)
	case d < time.Hour:
		return fmt.Sprintf("%dm", secs/60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", secs/3600)
	default:
		return fmt.Sprintf("%dd", secs/86400)
	}
}

// sparkline draws samples scaled between lo and hi (of the whole event,
// not of this block) over graphRows rows of "_o#" steps, filled below
// with '|', then a blank row and the labels written downwards.
func sparkline(b *strings.Builder, samples []Sample, labels []string, lo, hi int64) {
	const chars = "_o#"
	steps := len(chars) * graphRows
	span := float64(hi - lo)
	if span == 0 {
		span = 1
	}
	line := make([]byte, len(samples))
	for row := 0; row < graphRows; row++ {
		for j, s := range samples {
			step := int(float64(int(float64(s.MS-lo)*float64(steps))) / span)
			step = min(max(step, 0), steps-1)
			line[j] = ' '
			if c := step - (graphRows-row-1)*len(chars); c >= 0 && c < len(chars) {
				line[j] = chars[c]
			} else if c >= len(chars) {
				line[j] = '|'
			}
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	// One blank row, then the labels, one character per row.
	b.WriteString(strings.Repeat(" ", len(samples)))
	b.WriteByte('\n')
	for row := 0; ; row++ {
		any := false
		for j := range samples {
			line[j] = ' '
			if row < len(labels[j]) {
				line[j], any = labels[j][row], true
			}
		}
		if !any {
			return
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}
