package txn

import (
	"context"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/script"
	"github.com/pika-node/pika-node/node/stats"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The scripts this node runs now (docs/scripting.md, "Long scripts"):
// SCRIPT KILL and FUNCTION KILL stop them, commands on the slots of one
// that has run longer than busy-reply-threshold are answered -BUSY, and
// one whose run makes the heap grow past scriptMemoryLimit is stopped.

// defaultBusyThreshold is busy-reply-threshold's default, as Redis's.
const defaultBusyThreshold = 5 * time.Second

// scriptMemoryLimit is how much the node's Go heap may grow while a
// script runs before it is stopped ("not enough memory", as Lua answers
// an allocation it cannot make), unless Services.ScriptMemory says.
const scriptMemoryLimit = 512 << 20

// memoryCheckEvery is how often a script that runs that long samples the
// heap.
const memoryCheckEvery = 10 * time.Millisecond

// The replies of the KILL commands and of commands refused while a script
// is busy, as Redis words them.
const (
	errNotBusy      = "NOTBUSY No scripts in execution right now."
	errUnkillable   = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	errBusyEval     = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errBusyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)

// runningScripts is the registry.
type runningScripts struct {
	mu   sync.Mutex
	runs map[*runningScript]struct{}
	// busy counts the runs past the threshold: commands check their
	// slots only while it is not zero.
	busy atomic.Int32
	// threshold is busy-reply-threshold in milliseconds (CONFIG SET).
	threshold atomic.Int64
	// memory is the heap growth a run may cause.
	memory uint64
}

// runningScript is one run.
type runningScript struct {
	eval    bool // EVAL (else FCALL)
	started time.Time
	table   storage.TableID
	slots   []storage.SlotID // the slots it holds here
	wrote   *atomic.Bool     // it called a write command
	cancel  context.CancelCauseFunc
	busy    bool // past the threshold (counted in busy)
	timer   *time.Timer
	memory  *time.Timer
	heap0   uint64
}

// SetBusyThreshold sets busy-reply-threshold, in milliseconds as CONFIG
// SET gives it.
func (t *Txns) SetBusyThreshold(ms int64) { t.running.threshold.Store(ms) }

// BusyThreshold is busy-reply-threshold in milliseconds, as set.
func (t *Txns) BusyThreshold() int64 { return t.running.threshold.Load() }

// startRun registers a run holding slots of table here; the context it
// returns is cancelled by KILL and by the memory bound. end unregisters.
func (t *Txns) startRun(run *scriptRun, table storage.TableID, slots []storage.SlotID) (ctx context.Context, end func()) {
	r := &t.running
	ctx, cancel := context.WithCancelCause(context.Background())
	rs := &runningScript{eval: run.fn == nil, started: time.Now(), table: table, slots: slots, wrote: &run.wrote, cancel: cancel, heap0: heapBytes()}
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[*runningScript]struct{}{}
	}
	r.runs[rs] = struct{}{}
	r.mu.Unlock()
	if ms := r.threshold.Load(); ms > 0 && ms < math.MaxInt64/int64(time.Millisecond) {
		rs.timer = time.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if _, ok := r.runs[rs]; ok && !rs.busy {
				rs.busy = true
				r.busy.Add(1)
			}
		})
	}
	check := func() {
		if heapBytes() > rs.heap0+r.memory {
			t.counts.killed.Add(1)
			cancel(&script.Interrupt{Reason: "not enough memory"})
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.runs[rs]; ok {
			rs.memory.Reset(memoryCheckEvery)
		}
	}
	r.mu.Lock()
	rs.memory = time.AfterFunc(memoryCheckEvery, check)
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.runs, rs)
		if rs.busy {
			r.busy.Add(-1)
		}
		rs.memory.Stop()
		r.mu.Unlock()
		if rs.timer != nil {
			rs.timer.Stop()
		}
		cancel(nil)
	}
}

// heapBytes is the Go heap in use.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Busy returns the BUSY reply for a command over keys of table (which
// has slotCount slots) when a script has held one of their slots here
// for longer than busy-reply-threshold, else "".
func (t *Txns) Busy(table storage.TableID, slotCount uint32, keys [][]byte) string {
	r := &t.running
	if r.busy.Load() == 0 {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for rs := range r.runs {
		if !rs.busy || rs.table != table {
			continue
		}
		for _, k := range keys {
			if slices.Contains(rs.slots, router.SlotOf(k, slotCount)) {
				if rs.eval {
					return errBusyEval
				}
				return errBusyFunction
			}
		}
	}
	return ""
}

// kill stops this node's running script of the kind asked (eval: SCRIPT
// KILL, else FUNCTION KILL), answering as Redis: "" (killed), NOTBUSY,
// UNKILLABLE, or BUSY when the one running is of the other kind.
func (t *Txns) kill(eval bool) string {
	r := &t.running
	r.mu.Lock()
	defer r.mu.Unlock()
	reply := errNotBusy
	for rs := range r.runs {
		switch {
		case rs.wrote.Load():
			reply = errUnkillable
		case rs.eval != eval && eval:
			reply = errBusyFunction
		case rs.eval != eval:
			reply = errBusyEval
		default:
			t.counts.killed.Add(1)
			rs.cancel(&script.Interrupt{Reason: "Script killed by user with SCRIPT KILL..."})
			return ""
		}
	}
	return reply
}

// StopScripts stops every script running here, whether it wrote or not,
// as if it raised an error where it was ("the node is shutting down"):
// SHUTDOWN, and a stop of the node, do not wait for a script that would
// never end (what a stopped script wrote before is committed with its
// error, as for any script error).
func (t *Txns) StopScripts() {
	r := &t.running
	r.mu.Lock()
	defer r.mu.Unlock()
	for rs := range r.runs {
		rs.cancel(&script.Interrupt{Reason: "the node is shutting down"})
	}
}

// killEverywhere is SCRIPT KILL and FUNCTION KILL: the script may run on
// any node (its client's), so every node is asked. One killed answers
// OK; else the first refusal other than NOTBUSY, else NOTBUSY.
func (t *Txns) killEverywhere(c *command.Ctx, eval bool) error {
	replies := []string{t.kill(eval)}
	for _, raw := range t.broadcast(peer.ScriptKill{Eval: eval}) {
		if peer.IsError(raw) {
			replies = append(replies, strings.TrimSuffix(string(raw[1:]), "\r\n"))
		} else if raw != nil {
			replies = append(replies, "")
		}
	}
	if slices.Contains(replies, "") {
		c.R.OK()
		return nil
	}
	for _, rep := range replies {
		if rep != errNotBusy {
			return command.Error(rep)
		}
	}
	return command.Error(errNotBusy)
}

// serveScriptKill answers USCRIPTKILL: this node's kill.
func (t *Txns) serveScriptKill(c *command.Ctx, req peer.ScriptKill) {
	if reply := t.kill(req.Eval); reply != "" {
		c.R.Error(reply)
		return
	}
	c.R.OK()
}

// scriptCounters are the counts ScriptCounts reports.
type scriptCounters struct {
	runs, reruns, killed, fetched atomic.Int64
}

// ScriptCounts reads the scripting counts (INFO, /metrics).
func (t *Txns) ScriptCounts() stats.Scripts {
	s := stats.Scripts{
		CachedScripts: t.scripts.Len(),
		CacheBytes:    t.scripts.Bytes(),
		Runs:          t.counts.runs.Load(),
		Reruns:        t.counts.reruns.Load(),
		Killed:        t.counts.killed.Load(),
		Fetched:       t.counts.fetched.Load(),
	}
	for _, l := range t.libraries() {
		s.Libraries++
		s.Functions += len(l.Functions)
		s.LibraryBytes += len(l.Code)
	}
	t.running.mu.Lock()
	s.Running = len(t.running.runs)
	t.running.mu.Unlock()
	return s
}
