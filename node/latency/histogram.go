package latency

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Redis records a command's latency in an HDR histogram of nanoseconds
// between 1 ns and 1 s with 2 significant digits, and LATENCY HISTOGRAM
// walks it in powers of two from 1024 ns, reporting each step as the
// highest value the histogram cannot tell from it, in µs: 1, 2, 4, 8, 16,
// 33, 66, 132, ... Histogram counts in those steps directly.
const (
	histMaxNS   = int64(time.Second)
	histFirstNS = 1024
	// histBuckets steps reach past histMaxNS: 1024 << 20 > 10^9.
	histBuckets = 21
	// subBucketHalfMagnitude is log2 of half the sub-buckets an HDR
	// histogram of 2 significant digits has (256).
	subBucketHalfMagnitude = 7
)

// stepTop is, per step, the highest nanosecond value it counts: the top
// of the HDR sub-bucket holding 1024 << k.
var stepTop = func() (t [histBuckets]int64) {
	for k := range t {
		v := int64(histFirstNS) << k
		// The HDR bucket of v is its magnitude above the sub-buckets'.
		b := bits.Len64(uint64(v)|255) - subBucketHalfMagnitude - 1
		t[k] = v + int64(1)<<b - 1
	}
	return t
}()

// Histogram counts one command's latencies in LATENCY HISTOGRAM's steps.
// The zero value is empty and ready.
type Histogram struct {
	counts [histBuckets]atomic.Int64
}

// Observe counts one latency.
func (h *Histogram) Observe(d time.Duration) {
	ns := min(max(int64(d), 1), histMaxNS)
	k := 0
	if ns > histFirstNS {
		k = bits.Len64(uint64(ns-1)) - 10 // 1024<<(k-1) < ns <= 1024<<k
		if k > 0 && ns <= stepTop[k-1] {
			k--
		}
	}
	h.counts[k].Add(1)
}

// Reset empties h.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
}

// Step is one line of LATENCY HISTOGRAM: Count latencies were at most
// Micros µs.
type Step struct {
	Micros int64
	Count  int64
}

// Cumulative returns the total count and the steps at which the
// cumulative count grows, as LATENCY HISTOGRAM lists them.
func (h *Histogram) Cumulative() (total int64, steps []Step) {
	for k := range h.counts {
		n := h.counts[k].Load()
		if n == 0 {
			continue
		}
		total += n
		steps = append(steps, Step{Micros: stepTop[k] / 1000, Count: total})
	}
	return total, steps
}

// Percentile returns the latency, in µs, under which p percent of the
// latencies counted fall: the top of the step holding the one at rank
// ceil(p% of the count) (at least the first); 0 when nothing was counted.
func (h *Histogram) Percentile(p float64) float64 {
	var counts [histBuckets]int64
	var total int64
	for k := range h.counts {
		counts[k] = h.counts[k].Load()
		total += counts[k]
	}
	if total == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(p/100*float64(total))), 1)
	var seen int64
	for k, n := range counts {
		if seen += n; seen >= rank {
			return float64(stepTop[k]) / 1000
		}
	}
	return float64(stepTop[histBuckets-1]) / 1000
}
