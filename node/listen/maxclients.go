package listen

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
)

// Every client connection costs a file descriptor, and so does everything
// else the node holds open; past the process's open file limit (ulimit -n)
// an accept fails, and worse, so can RocksDB's next SST or WAL file, which
// stops writes. So maxclients is fitted to the limit as Redis 7 does it
// (adjustOpenFilesLimit): at start the node raises the limit to maxclients
// plus a reserve, and if it cannot, lowers maxclients to the limit minus
// the reserve, with Redis's warning; with no room for one client it does
// not start. CONFIG SET maxclients raises the limit the same way, and
// fails (keeping the old value) if it cannot, as Redis does.
//
// The Go runtime has already raised the soft limit to the hard one at
// start, so the limit can be raised further only by a process allowed to
// raise its hard limit (CAP_SYS_RESOURCE; up to fs.nr_open). Unlike Redis,
// the node never lowers the hard limit, so that CONFIG SET maxclients can
// raise it again later.

// fdReserve is the file descriptors kept for everything but client
// connections, on top of RocksDB's SST files, which the node counts at
// start (RocksDB keeps every SST open: storage.Engine.SSTFiles). Redis
// keeps 32 (CONFIG_MIN_RESERVED_FDS: its log, listeners, the AOF and RDB
// files). A node holds far more:
//   - those 32 (listeners, log, /proc reads, stdio);
//   - the embedded etcd: its bbolt file, WAL and snapshot files, its
//     listeners, and this node's etcd client connections to it, both ends
//     in this process: about 40 (measured: a fresh node with its embedded
//     etcd holds 33 descriptors in all);
//   - peer links: three pools (forwarding, raft, full sync) of two
//     connections to each other node, and as many from each: 12 per peer,
//     96 for a cluster of 9 nodes;
//   - RocksDB's WAL, MANIFEST, LOG and info files, and the SSTs that
//     flushes and compactions write after start (old ones are deleted only
//     once a compaction ends): 64;
//   - the HTTP port (pikactl, /metrics scrapes, /healthz probes): 24.
//
// A larger cluster, or a data set that grows by many SSTs after start, eats
// into this margin: give such a node an open file limit well above
// maxclients (the usual hard limit, 524288 or more, is).
const fdReserve = 256

// MaxClients is the node's maxclients, fitted to the open file limit.
type MaxClients struct {
	log *slog.Logger
	// reserve is the file descriptors kept for everything but client
	// connections: fdReserve and the SST files counted at start.
	reserve int64
	// mu serialises changes of maxclients and the open file limit.
	mu sync.Mutex
	v  atomic.Int64
}

// NewMaxClients returns the maxclients the open file limit allows for the
// maxclients configured, raising the limit if it must and can, and
// logging when it cannot, as Redis does at start. sstFiles are the SST
// files storage holds open (storage.Engine.SSTFiles).
func NewMaxClients(configured, sstFiles int, log *slog.Logger) (*MaxClients, error) {
	m := &MaxClients{log: log, reserve: fdReserve + int64(sstFiles)}
	v, err := m.fit(configured)
	if err != nil {
		return nil, err
	}
	m.v.Store(v)
	return m, nil
}

func (m *MaxClients) fit(configured int) (int64, error) {
	need := uint64(configured) + uint64(m.reserve)
	limit, was, err := raiseFDLimit(need)
	if limit >= need {
		if limit > was {
			m.log.Info(fmt.Sprintf("Increased maximum number of open files to %d (it was originally set to %d).", limit, was))
		}
		return int64(configured), nil
	}
	allowed := int64(limit) - m.reserve
	if allowed < 1 {
		return 0, fmt.Errorf("the open file limit (ulimit -n) of %d is not enough to start: %d file descriptors are reserved "+
			"for storage (%d SST files), etcd and the peer links, leaving none for clients, and it could not be raised (%v); "+
			"maxclients %d needs a limit of %d", limit, m.reserve, m.reserve-fdReserve, err, configured, need)
	}
	m.log.Warn(fmt.Sprintf("You requested maxclients of %d requiring at least %d max file descriptors. "+
		"Server can't set maximum open files to %d because of OS error: %v. "+
		"Current maximum open files is %d. maxclients has been reduced to %d to compensate for low ulimit. "+
		"If you need higher maxclients increase 'ulimit -n'.", configured, need, need, err, limit, allowed),
		"reserved_fds", m.reserve)
	return allowed, nil
}

// Load is maxclients now.
func (m *MaxClients) Load() int64 { return m.v.Load() }

// errOSClients is Redis's reply (its capital letter included) to a CONFIG
// SET maxclients the open file limit cannot take.
const errOSClients = "The operating system is not able to handle the specified number of clients"

// Set is CONFIG SET maxclients: more clients than now first raise the
// open file limit, and fail if it cannot be raised enough, as in Redis.
func (m *MaxClients) Set(v int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v > m.v.Load() {
		need := uint64(v) + uint64(m.reserve)
		if limit, _, _ := raiseFDLimit(need); limit < need {
			return fmt.Errorf("%s, try with %d", errOSClients, int64(limit)-m.reserve)
		}
	}
	m.v.Store(v)
	return nil
}

// raiseFDLimit raises the process's open file limit to want if it is
// lower and it can. It returns the limit it has now, the limit it had,
// and why it could not raise it if it could not. When Getrlimit fails it
// assumes 1024, as Redis does.
func raiseFDLimit(want uint64) (limit, was uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024, 1024, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, lim.Cur, nil
	}
	next := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err == nil {
		return want, lim.Cur, nil
	}
	// Raising the hard limit was refused: up to it, then.
	if lim.Cur < lim.Max {
		next = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) == nil {
			return lim.Max, lim.Cur, err
		}
	}
	return lim.Cur, lim.Cur, err
}
