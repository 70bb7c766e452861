package node

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pika-node/pika-node/node/command"
)

// cmdStat counts one command's calls for INFO commandstats.
type cmdStat struct {
	calls    atomic.Int64
	usec     atomic.Int64
	failed   atomic.Int64
	rejected atomic.Int64
	latency  prometheus.Observer // pika_command_duration_seconds{cmd}
}

// commandStats holds one cmdStat per command. The map is built once and
// only read afterwards, so lookups need no lock.
type commandStats struct {
	byName  map[string]*cmdStat
	unknown atomic.Int64
}

func newCommandStats(t *command.Table) *commandStats {
	s := &commandStats{byName: map[string]*cmdStat{}}
	for _, spec := range t.All() {
		s.byName[spec.Name] = &cmdStat{}
	}
	return s
}

func (s *commandStats) of(spec *command.Spec) *cmdStat { return s.byName[spec.Name] }

func (s *commandStats) reset() {
	for _, st := range s.byName {
		st.calls.Store(0)
		st.usec.Store(0)
		st.failed.Store(0)
		st.rejected.Store(0)
	}
}

func (s *commandStats) total() int64 {
	var n int64
	for _, st := range s.byName {
		n += st.calls.Load()
	}
	return n
}

// account counts one command's call, time and failure in its stats.
func (n *Node) account(spec *command.Spec, began time.Time, c *command.Ctx, mark int) {
	st := n.stats.of(spec)
	took := time.Since(began)
	st.calls.Add(1)
	st.usec.Add(took.Microseconds())
	st.latency.Observe(took.Seconds())
	if c.R.Len() > mark && c.R.B[mark] == '-' {
		st.failed.Add(1)
	}
}
