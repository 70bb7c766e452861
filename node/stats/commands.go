package stats

import (
	"bytes"
	"sort"
	"sync"
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
	errors  errorCounts
}

// maxErrorCodes bounds the error codes INFO errorstats tracks, as Redis's
// ERROR_STATS_NUMBER: a client inventing codes (DEBUG ERROR, scripts'
// error replies) cannot grow the map without end.
const maxErrorCodes = 128

// errorCounts counts error replies by code (INFO errorstats).
type errorCounts struct {
	total  atomic.Int64
	mu     sync.Mutex
	byCode map[string]int64
}

// errorCode is an error reply's code as Redis takes it: its first word.
func errorCode(msg []byte) string {
	if i := bytes.IndexAny(msg, " \r\n"); i >= 0 {
		msg = msg[:i]
	}
	return string(msg)
}

// CountError counts an error reply (its text, without the leading '-').
func (s *Commands) CountError(msg string) { s.countError([]byte(msg)) }

func (s *Commands) countError(msg []byte) {
	s.errors.total.Add(1)
	code := errorCode(msg)
	s.errors.mu.Lock()
	defer s.errors.mu.Unlock()
	if s.errors.byCode == nil {
		s.errors.byCode = map[string]int64{}
	}
	if _, ok := s.errors.byCode[code]; ok || len(s.errors.byCode) < maxErrorCodes {
		s.errors.byCode[code]++
	}
}

// ErrorReplies is the count of error replies (INFO stats'
// total_error_replies).
func (s *Commands) ErrorReplies() int64 { return s.errors.total.Load() }

// ErrorCodes returns the error replies counted per code, sorted by code
// (INFO errorstats).
func (s *Commands) ErrorCodes() (codes []string, counts []int64) {
	s.errors.mu.Lock()
	defer s.errors.mu.Unlock()
	for code := range s.errors.byCode {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		counts = append(counts, s.errors.byCode[code])
	}
	return codes, counts
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

// Reset zeroes every command's calls, time, failures, refusals and
// LATENCY HISTOGRAM, and the error replies (CONFIG RESETSTAT, as Redis);
// the Prometheus histogram and Unknown keep theirs.
func (s *Commands) Reset() {
	for _, st := range s.byName {
		st.Calls.Store(0)
		st.Usec.Store(0)
		st.Failed.Store(0)
		st.Rejected.Store(0)
		st.Histogram.Reset()
	}
	s.errors.mu.Lock()
	s.errors.byCode = nil
	s.errors.total.Store(0)
	s.errors.mu.Unlock()
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
		s.countError(c.R.B[mark+1:])
	}
	return took
}
