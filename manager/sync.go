package manager

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// How a change becomes served by every node, from both ends:
//
//   - The manager answers a table create or drop only once every live node
//     has applied the write (waitApplied asks each node's PathApplied), or
//     after Config.ApplyWait with the nodes that had not (api.Table.Lagging,
//     api.Dropped.Lagging).
//   - A node asked for a table it does not know catches up with etcd before
//     it refuses (CatchUpTables): a node that lagged past the manager's
//     wait, or a client that did not wait for the answer, still finds a
//     table etcd has.

// defaultApplyWait is how long the manager waits for the live nodes to
// apply a table create or drop before answering without them.
const defaultApplyWait = 5 * time.Second

// maxAppliedWait bounds the wait a PathApplied request may ask for.
const maxAppliedWait = 30 * time.Second

// catchUpReadTimeout bounds one catch-up read of etcd.
const catchUpReadTimeout = 2 * time.Second

// tablesRead is one read of the table records' newest revision, shared by
// every caller that joined it before it started.
type tablesRead struct {
	done chan struct{}
	rev  int64 // the newest mod revision of a table record, 0 if none
	err  error
}

// catchUp coalesces the catch-up reads: at most one is in flight; callers
// that arrive meanwhile join the next one, which starts when it ends. A
// caller never takes the result of a read that started before it asked
// (that read may predate a create the caller was told about).
type catchUp struct {
	mu      sync.Mutex
	running bool
	next    *tablesRead // the read callers join now; starts once running is false
	reads   int64       // reads made (tests)
}

// CatchUpTables makes this member's metadata — and so its node's routing,
// which is published first — hold every table record etcd holds at the
// time of the call: it reads the newest mod revision under tables/ from
// etcd, then waits, until ctx is done, for the watch to reach it. A node
// calls it before refusing a table it does not know; on a table it knows
// it never needs to. Concurrent callers share one etcd read (and a client
// that hammers unknown names costs at most one read in flight).
func (m *Member) CatchUpTables(ctx context.Context) error {
	r := m.joinTablesRead()
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.err != nil {
		return r.err
	}
	if st := m.state.Load(); st != nil && st.Revision >= r.rev {
		return nil
	}
	_, err := m.WaitState(ctx, func(st *meta.State) bool { return st.Revision >= r.rev })
	return err
}

// joinTablesRead returns the read that serves a caller arriving now,
// starting it if none is in flight.
func (m *Member) joinTablesRead() *tablesRead {
	c := &m.catchUp
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.next
	if r == nil {
		r = &tablesRead{done: make(chan struct{})}
		c.next = r
	}
	if !c.running {
		m.startTablesRead()
	}
	return r
}

// startTablesRead runs the waiting read; catchUp.mu is held.
func (m *Member) startTablesRead() {
	c := &m.catchUp
	r := c.next
	c.next = nil
	c.running = true
	c.reads++
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), catchUpReadTimeout)
		resp, err := m.cli.Get(ctx, m.cfg.Layout.Tables(), append(clientv3.WithLastRev(), clientv3.WithPrefix(), clientv3.WithKeysOnly())...)
		cancel()
		if err != nil {
			r.err = fmt.Errorf("read the table records: %w", err)
		} else if len(resp.Kvs) > 0 {
			r.rev = resp.Kvs[0].ModRevision
		}
		close(r.done)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.running = false
		if c.next != nil {
			m.startTablesRead()
		}
	}()
}

// catchUpReads reports how many catch-up reads of etcd were made.
func (m *Member) catchUpReads() int64 {
	m.catchUp.mu.Lock()
	defer m.catchUp.mu.Unlock()
	return m.catchUp.reads
}

// applyWait is Config.ApplyWait or its default.
func (m *Member) applyWait() time.Duration {
	if m.cfg.ApplyWait > 0 {
		return m.cfg.ApplyWait
	}
	return defaultApplyWait
}

// waitApplied waits, at most ApplyWait, until every live node's routing
// has reached etcd revision rev, asking them all at once, and returns the
// nodes that had not (sorted), nil when all had.
func (m *Member) waitApplied(ctx context.Context, rev int64) []meta.NodeID {
	wait := m.applyWait()
	ctx, cancel := context.WithTimeout(ctx, wait+time.Second)
	defer cancel()
	st := m.State()
	if st == nil {
		return nil
	}
	var mu sync.Mutex
	var lagging []meta.NodeID
	var wg sync.WaitGroup
	for id, info := range st.Alive {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if id == m.cfg.Self.ID {
				wctx, cancel := context.WithTimeout(ctx, wait)
				_, err = m.WaitState(wctx, func(st *meta.State) bool { return st.Revision >= rev })
				cancel()
			} else {
				var a api.Applied
				a, err = m.apiClient(info.HTTP).Applied(ctx, rev, wait)
				if err == nil && !a.Applied {
					err = fmt.Errorf("at revision %d after %s", a.Revision, wait)
				}
			}
			if err != nil {
				m.log.Warn("a node did not apply a table change in time", "node", id, "revision", rev, "err", err)
				mu.Lock()
				lagging = append(lagging, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lagging)
	return lagging
}

// handleApplied serves PathApplied: wait until this node's metadata has
// reached the revision asked for.
func (m *Member) handleApplied(w http.ResponseWriter, r *http.Request) {
	rev, err := strconv.ParseInt(r.URL.Query().Get("rev"), 10, 64)
	if err != nil || rev < 0 {
		writeError(w, errf(http.StatusBadRequest, "rev %q: not a revision", r.URL.Query().Get("rev")))
		return
	}
	wait := time.Duration(0)
	if s := r.URL.Query().Get("wait"); s != "" {
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 {
			writeError(w, errf(http.StatusBadRequest, "wait %q: not a duration", s))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(wait, maxAppliedWait))
	defer cancel()
	st, err := m.WaitState(ctx, func(st *meta.State) bool { return st.Revision >= rev })
	if err != nil {
		st = m.State()
	}
	a := api.Applied{Node: m.cfg.Self.ID}
	if st != nil {
		a.Revision = st.Revision
		a.Applied = st.Revision >= rev
	}
	writeJSON(w, http.StatusOK, a)
}
