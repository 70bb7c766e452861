package unit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// forgetter sends the UFORGETs of committed units whose parts are all
// applied, after their clients' replies: nothing waits for a decision's
// deletion (a lost one leaves a few bytes at the home, never read
// again), so it is off the unit's path, and the units that ended while
// one batch was on its way go in the next, one request per home node and
// table, one write per home slot there.
type forgetter struct {
	log     *slog.Logger
	timeout time.Duration

	mu     sync.Mutex
	queued map[forgetKey]*forgetBatch
	n      int
	closed bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

type forgetKey struct {
	node  string
	table storage.TableID
}

type forgetBatch struct {
	site  Site
	units []peer.DecidedUnit
}

// The bounds of the queue and of one request: past maxForgetsQueued (a
// home node that does not answer while units of other homes commit) a
// unit's decision is left recorded rather than memory grow.
const (
	maxForgetsQueued  = 1 << 16
	maxForgetsRequest = 1024
)

func newForgetter(log *slog.Logger, timeout time.Duration) *forgetter {
	f := &forgetter{log: log, timeout: timeout, queued: map[forgetKey]*forgetBatch{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// add queues the deletion of unit's decision from home slot s of table
// t, whose leader home is.
func (f *forgetter) add(home Share, t storage.TableID, s storage.SlotID, unit string) {
	f.mu.Lock()
	if f.closed || f.n >= maxForgetsQueued {
		f.mu.Unlock()
		f.log.Warn("unit: a decision is left recorded at its home (the queue of UFORGETs is closed or full)", "unit", unit, "node", home.Node)
		return
	}
	k := forgetKey{home.Node, t}
	b := f.queued[k]
	if b == nil {
		b = &forgetBatch{site: home.Site}
		f.queued[k] = b
	}
	b.units = append(b.units, peer.DecidedUnit{Unit: unit, HomeSlot: s})
	f.n++
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *forgetter) run() {
	defer close(f.done)
	for {
		select {
		case <-f.wake:
			f.flush()
		case <-f.stop:
			f.flush()
			return
		}
	}
}

// flush sends what is queued, each home's batch at once.
func (f *forgetter) flush() {
	f.mu.Lock()
	queued := f.queued
	f.queued = map[forgetKey]*forgetBatch{}
	f.n = 0
	f.mu.Unlock()
	var wg sync.WaitGroup
	for k, b := range queued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for units := range chunks(b.units, maxForgetsRequest) {
				ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
				err := b.site.Forget(ctx, peer.UnitForget{Table: k.table, Units: units})
				cancel()
				if err != nil {
					f.log.Warn("unit: a home did not take UFORGET; the decisions stay recorded there", "node", k.node, "units", len(units), "err", err)
				}
			}
		}()
	}
	wg.Wait()
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// close sends what is queued and stops; later units' decisions stay
// recorded.
func (f *forgetter) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	close(f.stop)
	<-f.done
}
