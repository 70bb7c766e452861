package storage

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
)

// A full disk. RocksDB 7.8.3 as Debian builds it (its assertions on)
// aborts the process when a write to its WAL fails for want of space: the
// log writer that saw the error is asserted never to be used again, and
// the same write uses it again. Its own recovery (Resume, the
// SstFileManager's wait for space) never gets to run. So the engine does
// not let RocksDB reach a full disk: it watches the free space of the
// filesystem under Options.Dir and refuses writes while too little is left,
// and takes them again by itself once space is back, as redis-server does
// with an AOF it cannot write (the reply is the same MISCONF error).
//
// Two levels below the reserve (Options.MinFreeDisk):
//   - DiskLow (free < reserve): the writes clients start here are refused:
//     commands on the slots this node leads, whose replies would say they
//     happened. What completes work already under way is written: a
//     leader's entries applied here as its follower, the records of units
//     already decided, raft rounds, slot loads.
//   - DiskCritical (free < reserve/2): every write is refused; RocksDB
//     keeps the rest for its flushes and compactions.
//
// The free space is measured every diskPollInterval; the bytes the engine
// writes in between count twice against it (the WAL, then the memtable's
// flush), so a burst of writes cannot run past the reserve between two
// measurements.

// DefaultMinFreeDisk is the reserve when Options.MinFreeDisk is 0.
const DefaultMinFreeDisk = 256 << 20

// diskPollInterval is how often the free space is measured.
const diskPollInterval = 100 * time.Millisecond

// DiskLevel says which writes the engine takes.
type DiskLevel int32

const (
	// DiskOK: enough space; every write is taken.
	DiskOK DiskLevel = iota
	// DiskLow: below the reserve; writes clients start here are refused.
	DiskLow
	// DiskCritical: below half the reserve; every write is refused.
	DiskCritical
)

func (l DiskLevel) String() string {
	switch l {
	case DiskOK:
		return "ok"
	case DiskLow:
		return "low"
	case DiskCritical:
		return "critical"
	}
	return fmt.Sprintf("DiskLevel(%d)", int32(l))
}

// DiskState is what the engine last measured of its filesystem.
type DiskState struct {
	Level DiskLevel
	// Free is the space left to the engine's process, in bytes, less
	// what it wrote since it was measured (counted twice).
	Free int64
	// Reserve is Options.MinFreeDisk (0 when the guard is off).
	Reserve int64
	// Since is when Level last changed.
	Since time.Time
}

// DiskFullError is a write refused because the disk is (nearly) full.
type DiskFullError struct {
	Dir           string
	Free, Reserve int64
	Level         DiskLevel
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("storage: %d bytes free on the filesystem of %s, under the reserve of %d bytes "+
		"(--min-free-disk): writes are refused until space is freed", e.Free, e.Dir, e.Reserve)
}

// RedisError is the reply a client gets: redis-server's while it cannot
// write its AOF for want of space.
func (e *DiskFullError) RedisError() string {
	return "MISCONF Errors writing to the AOF file: No space left on device"
}

// diskGuard measures the free space under dir and says which writes to
// refuse. Its poll goroutine is the engine's, stopped by Close.
type diskGuard struct {
	dir     string
	reserve int64 // <= 0: off
	measure func(dir string) (int64, error)
	onLevel func(DiskState)

	free    atomic.Int64 // at the last measurement
	written atomic.Int64 // bytes written since (counted once)
	level   atomic.Int32 // the last level reported to onLevel
	since   atomic.Int64 // unix nanoseconds of the last change of level

	stop, done chan struct{}
}

func (g *diskGuard) init(dir string, reserve int64, measure func(string) (int64, error), onLevel func(DiskState)) {
	g.dir, g.reserve, g.measure, g.onLevel = dir, reserve, measure, onLevel
	if g.measure == nil {
		g.measure = freeBytes
	}
	g.since.Store(time.Now().UnixNano())
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	if g.reserve <= 0 {
		close(g.done)
		return
	}
	g.poll()
	go g.loop()
}

// close stops the poll goroutine and waits for it.
func (g *diskGuard) close() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
}

func (g *diskGuard) loop() {
	defer close(g.done)
	t := time.NewTicker(diskPollInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.poll()
		}
	}
}

// poll measures the free space and reports a change of level. A failed
// measurement keeps the last one (and the bytes written since count on).
func (g *diskGuard) poll() {
	w := g.written.Swap(0) // before measuring: what lands after is counted again at worst
	free, err := g.measure(g.dir)
	if err != nil {
		g.written.Add(w)
		return
	}
	g.free.Store(free)
	st := g.state()
	if DiskLevel(g.level.Swap(int32(st.Level))) != st.Level {
		g.since.Store(time.Now().UnixNano())
		st.Since = time.Unix(0, g.since.Load())
		if g.onLevel != nil {
			g.onLevel(st)
		}
	}
}

// state is the level the writes are held to now.
func (g *diskGuard) state() DiskState {
	if g.reserve <= 0 {
		return DiskState{Level: DiskOK, Since: time.Unix(0, g.since.Load())}
	}
	free := g.free.Load() - 2*g.written.Load()
	lvl := DiskOK
	switch {
	case free < g.reserve/2:
		lvl = DiskCritical
	case free < g.reserve:
		lvl = DiskLow
	}
	return DiskState{Level: lvl, Free: free, Reserve: g.reserve, Since: time.Unix(0, g.since.Load())}
}

// refuse returns the error for a write of the given kind (started by a
// client here or not) at the current level, or nil.
func (g *diskGuard) refuse(clients bool) error {
	if g.reserve <= 0 {
		return nil
	}
	return g.refuseAt(g.state(), clients)
}

// refuseAt is refuse at a state already read (the committer reads it once
// per group, not once per request).
func (g *diskGuard) refuseAt(st DiskState, clients bool) error {
	if st.Level == DiskCritical || (st.Level == DiskLow && clients) {
		return &DiskFullError{Dir: g.dir, Free: max(st.Free, 0), Reserve: g.reserve, Level: st.Level}
	}
	return nil
}

// wrote counts n bytes written since the last measurement.
func (g *diskGuard) wrote(n int) {
	if g.reserve > 0 && n > 0 {
		g.written.Add(int64(n))
	}
}

// freeBytes is the space left to an unprivileged process on dir's
// filesystem.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// DiskState reports the free space the engine last measured and which
// writes it refuses.
func (e *Engine) DiskState() DiskState { return e.disk.state() }

// ClientWritesRefused returns the error a write a client starts here gets
// while the disk runs low (a *DiskFullError), or nil. The committer checks
// it itself; a raft leader asks before it proposes (its rounds are not
// refused: a failed round stops the node's groups).
func (e *Engine) ClientWritesRefused() error { return e.disk.refuse(true) }
