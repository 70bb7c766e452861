package stats

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/latency"
)

// Command counts one command's calls, for INFO commandstats and
// /metrics.
type Command struct {
	// Calls counts the calls that ran, Usec their time in µs.
	Calls atomic.Int64
	Usec  atomic.Int64
	// Failed counts the calls that answered an error (a wrong number of
	// arguments included), Rejected those refused before running
	// (NOAUTH, a dropped table).
	Failed   atomic.Int64
	Rejected atomic.Int64
	latency  prometheus.Observer // pika_command_duration_seconds{cmd}
	// Histogram is what LATENCY HISTOGRAM reports of the command.
	Histogram latency.Histogram
}

// Commands holds one Command per command of the node's table. The map is
// built once and only read afterwards, so lookups need no lock.
type Commands struct {
	specs  []*command.Spec // the table's, sorted by name
	byName map[string]*Command
	// Unknown counts the commands received that the table does not have.
	Unknown atomic.Int64
	// latency is the only metric observed on the command path (metrics.go).
	latency *prometheus.HistogramVec
}

// NewCommands returns the counts of t's commands, all zero; t has all its
// commands registered.
func NewCommands(t *command.Table) *Commands {
	s := &Commands{
		specs:  t.All(),
		byName: map[string]*Command{},
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pika_command_duration_seconds",
			Help: "Time to execute a command on this node (without network and queueing).",
			// 10µs .. ~5s
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10),
		}, []string{"cmd"}),
	}
	for _, spec := range s.specs {
		s.byName[spec.Name] = &Command{latency: s.latency.WithLabelValues(spec.Name)}
	}
	return s
}

// Of is the counts of spec, a command of the table.
func (s *Commands) Of(spec *command.Spec) *Command { return s.byName[spec.Name] }

// Reset zeroes every command's calls, time, failures and refusals
// (CONFIG RESETSTAT); the latency histogram and Unknown keep theirs.
func (s *Commands) Reset() {
	for _, st := range s.byName {
		st.Calls.Store(0)
		st.Usec.Store(0)
		st.Failed.Store(0)
		st.Rejected.Store(0)
		st.Histogram.Reset()
	}
}

// Total is the calls of every command.
func (s *Commands) Total() int64 {
	var n int64
	for _, st := range s.byName {
		n += st.Calls.Load()
	}
	return n
}

// Account counts one command's call, time and failure (its reply, from
// mark on in c.R, is an error) in its stats, and returns the time.
func (s *Commands) Account(spec *command.Spec, began time.Time, c *command.Ctx, mark int) time.Duration {
	st := s.Of(spec)
	took := time.Since(began)
	st.Calls.Add(1)
	st.Usec.Add(took.Microseconds())
	st.latency.Observe(took.Seconds())
	st.Histogram.Observe(took)
	if c.R.Len() > mark && c.R.B[mark] == '-' {
		st.Failed.Add(1)
	}
	return took
}
