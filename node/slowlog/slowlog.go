package slowlog

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Redis's bounds on what an entry keeps of a command.
const (
	// MaxArgs is how many arguments an entry keeps; a longer command's
	// last kept argument says how many more there were.
	MaxArgs = 32
	// MaxArgBytes is how many bytes of an argument an entry keeps; a
	// longer argument ends with how many more bytes it had.
	MaxArgBytes = 128
)

// Entry is one logged command.
type Entry struct {
	ID     int64
	Time   int64 // unix seconds when it was logged
	Micros int64 // how long it took
	Args   [][]byte
	Peer   string // the client's ip:port
	Name   string // the client's name, "" when it has none
}

// Log is a node's slow log. Its zero value is not usable: see New.
type Log struct {
	// threshold is slowlog-log-slower-than in µs (negative: off), maxLen
	// slowlog-max-len; read without the lock on every command.
	threshold atomic.Int64
	maxLen    atomic.Int64

	mu      sync.Mutex
	nextID  int64
	entries []Entry // oldest first: a ring would save little at 128 entries
}

// New returns an empty log with Redis's defaults: commands of 10 ms and
// more, the last 128 of them.
func New() *Log {
	l := &Log{}
	l.threshold.Store(10000)
	l.maxLen.Store(128)
	return l
}

// SetThreshold sets slowlog-log-slower-than (µs; negative turns logging off).
func (l *Log) SetThreshold(us int64) { l.threshold.Store(us) }

// Threshold is slowlog-log-slower-than.
func (l *Log) Threshold() int64 { return l.threshold.Load() }

// SetMaxLen sets slowlog-max-len and drops the oldest entries beyond it.
func (l *Log) SetMaxLen(n int64) {
	l.maxLen.Store(n)
	l.mu.Lock()
	l.trim()
	l.mu.Unlock()
}

// MaxLen is slowlog-max-len.
func (l *Log) MaxLen() int64 { return l.maxLen.Load() }

// Slow reports whether a command that took took is logged.
func (l *Log) Slow(took time.Duration) bool {
	th := l.threshold.Load()
	return th >= 0 && took.Microseconds() >= th
}

// Add logs a command that took took (the caller checked Slow), keeping
// what Redis keeps of args: redacted (Redact), trimmed, copied.
func (l *Log) Add(now time.Time, took time.Duration, args [][]byte, peer, name string) {
	kept := keep(Redact(args))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, Entry{
		ID: l.nextID, Time: now.Unix(), Micros: took.Microseconds(),
		Args: kept, Peer: peer, Name: name,
	})
	l.nextID++
	l.trim()
}

func (l *Log) trim() {
	if over := int64(len(l.entries)) - l.maxLen.Load(); over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

// Newest returns up to n entries, newest first (n < 0: all of them).
func (l *Log) Newest(n int) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	out := make([]Entry, 0, n)
	for i := len(l.entries) - 1; len(out) < n; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

// Len is how many entries the log holds.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Reset empties the log; ids keep counting, as in Redis.
func (l *Log) Reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// keep copies what an entry keeps of args: at most MaxArgs arguments of at
// most MaxArgBytes bytes each, saying what it left out.
func keep(args [][]byte) [][]byte {
	n := min(len(args), MaxArgs)
	out := make([][]byte, n)
	for i := range n {
		if i == MaxArgs-1 && len(args) > MaxArgs {
			out[i] = []byte("... (" + strconv.Itoa(len(args)-MaxArgs+1) + " more arguments)")
			break
		}
		a := args[i]
		if len(a) > MaxArgBytes {
			out[i] = append(bytes.Clone(a[:MaxArgBytes]), "... ("+strconv.Itoa(len(a)-MaxArgBytes)+" more bytes)"...)
			continue
		}
		out[i] = bytes.Clone(a)
	}
	return out
}
