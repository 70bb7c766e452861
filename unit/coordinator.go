package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// Coordinator runs units over slots of several nodes for the clients of
// this node.
type Coordinator struct {
	self  string
	start int64
	seq   atomic.Uint64
	log   *slog.Logger
	// Timeout bounds each request of a unit.
	Timeout time.Duration
	// StepPause, for tests, makes every unit wait this long before each
	// of its steps after the locks (prepare, decide, apply, forget),
	// having logged the step: a test kills a node while a unit is at the
	// step it chose (TestUnitFaults). 0 in production.
	StepPause time.Duration
	// HomeSlot, when set, returns the Site of the node that leads slot s
	// of table t now (nil when none is known): a unit's decision is its
	// home slot's, whoever leads it, so an abort the home node refused
	// (it lost the slot) is asked of the new leader.
	HomeSlot func(t storage.TableID, s storage.SlotID) Site

	forgets *forgetter
}

// The steps StepPause stops before, as logged ("step").
const (
	StepPrepare = "prepare" // the slots are locked and the unit evaluated; no part prepared
	StepDecide  = "decide"  // every part but the home's is prepared; no decision
	StepApply   = "apply"   // the home recorded the commit (its slot's part applied with it); no other part applied
	StepForget  = "forget"  // every part is applied; the home still has the decision
)

// pauseBefore waits StepPause before a step of a unit (see StepPause).
func (c *Coordinator) pauseBefore(ctx context.Context, unit, step string) {
	if c.StepPause <= 0 {
		return
	}
	c.log.Info("unit: pausing before a step", "unit", unit, "step", step)
	t := time.NewTimer(c.StepPause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// NewCoordinator returns the coordinator of node self; Close stops it.
func NewCoordinator(self string, logger *slog.Logger) *Coordinator {
	if logger == nil {
		logger = slog.Default()
	}
	const timeout = 3 * time.Second
	return &Coordinator{self: self, start: time.Now().UnixNano(), log: logger, Timeout: timeout,
		forgets: newForgetter(logger, timeout)}
}

// Close sends the UFORGETs still queued and stops: call it once no unit
// runs (a unit that ends later leaves its decision recorded at its
// home).
func (c *Coordinator) Close() { c.forgets.close() }

// Share is one participant of a unit: its node, the Site reaching it, and
// the unit's slots there with their keys.
type Share struct {
	Node  string
	Site  Site
	Slots []peer.UnitSlot
	// Watch is the token of the client's WATCH registered on the node
	// (UWATCH), "" when none is.
	Watch string
}

// ErrWatched is a unit a watched key of which changed since the WATCH:
// nothing ran (EXEC answers nil).
var ErrWatched = errors.New("unit: a watched key changed")

// Evaluate runs the unit over the images of its slots (every share's, by
// slot) and returns the effects it wrote, by slot (empty ones left out or
// nil). It runs once, between the locks and the commit.
type Evaluate func(images map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error)

// ErrBusy is a unit that found a slot locked: nothing ran; the caller
// tries again after a pause. Run returns it as a *BusyError.
var ErrBusy = errors.New("unit: a slot is busy")

// BusyError is ErrBusy with the node whose slot was busy (the next try
// waits there first: RunWaitingOn).
type BusyError struct{ Node string }

func (e *BusyError) Error() string { return "unit: a slot is busy on node " + e.Node }

// Is makes a BusyError ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// UnknownOutcomeError is a unit whose decision was sent but not answered:
// it may have committed (its parts resolve through the home).
type UnknownOutcomeError struct{ Err error }

func (e *UnknownOutcomeError) Error() string {
	return "the transaction's outcome is unknown (its decision was not answered): " + e.Err.Error()
}

// AbortedError is a unit that prepared its parts and was aborted: nothing
// of it applied.
type AbortedError struct{ Reason string }

func (e *AbortedError) Error() string { return "the transaction was aborted: " + e.Reason }

// Run runs one unit: ULOCK at every share (all at once), eval over the
// images, then, when it wrote, UPREPARE of every written share but the
// home (the share of the lowest written slot) and UCONFIRM of the shares
// that only read, UPREPARE ... DECIDE of the home's part (it records the
// commit), and UAPPLY; shares that only read are released after the
// decision. A unit that only read answers once every share confirmed at
// its URELEASE. It returns nil
// once the unit committed (or only read); a *peer.RefusedError or ErrBusy
// when nothing ran and the caller may route again and retry; eval's error
// (nothing applied); *AbortedError; *UnknownOutcomeError.
func (c *Coordinator) Run(ctx context.Context, table storage.TableID, shares []Share, eval Evaluate) error {
	return c.run(ctx, table, shares, eval, "")
}

// renewEvery is how often a unit whose evaluation runs long (a script)
// renews its parts' leases (the participants' LockLease, 5 s by
// default, would end them).
const renewEvery = time.Second

// renewWhile renews the leases of the unit's parts at every share every
// renewEvery until the returned stop is called; it awaits its goroutine.
// A unit evaluated in less than renewEvery sends nothing.
func (c *Coordinator) renewWhile(ctx context.Context, shares []Share, unit string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(renewEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.each(shares, func(_ int, sh Share) {
					c.send(ctx, sh, "URENEW", func(ctx context.Context) error { return sh.Site.Renew(ctx, unit) })
				})
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// RunWaitingOn is Run for a unit whose last try found a slot busy on node
// waitOn: that share is locked first, waiting for its slots (ULOCK ...
// WAIT) while the unit holds nothing else, and the others then as Run
// does, without waiting. A unit never waits while it holds a lock on
// another node, so units cannot wait for each other in a cycle; those
// that meet at a busy slot queue there instead of retrying after random
// pauses (docs/transactions.md, "Locking").
func (c *Coordinator) RunWaitingOn(ctx context.Context, table storage.TableID, shares []Share, eval Evaluate, waitOn string) error {
	return c.run(ctx, table, shares, eval, waitOn)
}

func (c *Coordinator) run(ctx context.Context, table storage.TableID, shares []Share, eval Evaluate, waitOn string) error {
	unit := c.self + "." + strconv.FormatInt(c.start, 36) + "." + strconv.FormatUint(c.seq.Add(1), 36)
	images := map[storage.SlotID]*storage.SlotImage{}
	var readers []*memberReader // of the images that left members out
	locked := make([]bool, len(shares))
	var mu sync.Mutex
	var firstErr error
	busyAt := "" // the first share that answered busy
	first := slices.IndexFunc(shares, func(sh Share) bool { return sh.Node == waitOn })
	lock := func(i int, sh Share) {
		lctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		ims, err := sh.Site.Lock(lctx, peer.UnitLock{Table: table, Unit: unit, Slots: sh.Slots, Watch: sh.Watch, Wait: i == first})
		if err == nil && len(ims) != len(sh.Slots) {
			err = fmt.Errorf("ULOCK from %s answered %d images for %d slots", sh.Node, len(ims), len(sh.Slots))
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			// A lock that timed out may hold: release it too.
			locked[i] = !isBusyOrRefused(err)
			if firstErr == nil || isBusyOrRefused(firstErr) && !isBusyOrRefused(err) {
				firstErr = err
			}
			var be *peer.BusyError
			if busyAt == "" && errors.As(err, &be) {
				busyAt = sh.Node
			}
			return
		}
		locked[i] = true
		for j, s := range sh.Slots {
			images[s.Slot] = ims[j]
			if ims[j].LeftOut() {
				src := &memberReader{ctx: ctx, timeout: c.Timeout, site: sh.Site, table: table, unit: unit, slot: s.Slot}
				ims[j].SetSource(src)
				readers = append(readers, src)
			}
		}
	}
	if first >= 0 && len(shares) > 1 {
		// Waiting while it holds nothing; the rest only once it holds
		// this share.
		if lock(first, shares[first]); firstErr == nil {
			c.each(shares, func(i int, sh Share) {
				if i != first {
					lock(i, sh)
				}
			})
		}
	} else {
		c.each(shares, lock)
	}
	release := func(which []bool) {
		c.each(shares, func(i int, sh Share) {
			if which[i] {
				c.send(ctx, sh, "URELEASE", func(ctx context.Context) error { return sh.Site.Release(ctx, unit) })
			}
		})
	}
	if firstErr != nil {
		release(locked)
		var be *peer.BusyError
		var we *peer.WatchedError
		switch {
		case errors.As(firstErr, &be):
			return &BusyError{Node: busyAt}
		case errors.As(firstErr, &we):
			return ErrWatched
		}
		return firstErr
	}
	stopRenewing := c.renewWhile(ctx, shares, unit)
	effects, err := eval(images)
	stopRenewing()
	if err != nil {
		release(locked)
		return err
	}
	for _, r := range readers {
		if r.err != nil {
			// A command read an error instead of members: what it
			// answered is not the unit's; it runs again.
			release(locked)
			return &peer.RefusedError{Reason: "reading the members of a collection of the unit: " + r.err.Error()}
		}
	}
	// The parts: each share's written slots.
	parts := make([][]peer.UnitPart, len(shares))
	home, homeSlot := -1, storage.SlotID(0)
	for _, se := range effects {
		if se.Effect == nil {
			continue
		}
		i := shareOf(shares, se.Slot)
		if i < 0 {
			release(locked)
			return fmt.Errorf("unit: the unit wrote slot %d, which it did not lock", se.Slot)
		}
		parts[i] = append(parts[i], peer.UnitPart{Slot: se.Slot, Effect: se.Effect})
		if home < 0 || se.Slot < homeSlot {
			home, homeSlot = i, se.Slot
		}
	}
	if home < 0 { // it only read: nothing to commit
		// Its reads are of one instant (when the last lock was taken)
		// if every share held its slots until then: each confirms it
		// as it releases them (a raft slot's leader still leads it in
		// the term it locked it in, a lease that did not run out).
		if err := c.releaseConfirmed(ctx, shares, unit); err != nil {
			return &peer.RefusedError{Reason: "a read of the unit could not be confirmed: " + err.Error()}
		}
		return nil
	}
	c.pauseBefore(ctx, unit, StepPrepare)
	// Every written part but the home's is prepared at once, and every
	// share that only read confirms that its hold lasted (its reads are
	// of the instant the last lock was taken, before this); then the
	// home prepares its part and records the commit in one write: the
	// commit point (one round trip less than a separate UDECIDE).
	prepared := make([]bool, len(shares))
	firstErr = nil
	c.each(shares, func(i int, sh Share) {
		if i == home {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		if parts[i] == nil {
			if err := sh.Site.Confirm(pctx, unit); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if firstErr == nil {
					firstErr = fmt.Errorf("the reads on %s: %w", sh.Node, err)
				}
			}
			return
		}
		_, err := sh.Site.Prepare(pctx, peer.UnitPrepare{Table: table, Unit: unit, Home: shares[home].Node, HomeSlot: homeSlot, Parts: parts[i]})
		mu.Lock()
		defer mu.Unlock()
		prepared[i] = true // on an error too: it may have been recorded
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("prepare on %s: %w", sh.Node, err)
		}
	})
	outcome := peer.OutcomeAbort
	if firstErr == nil {
		c.pauseBefore(ctx, unit, StepDecide)
		outcome, err = c.prepareHome(ctx, table, shares[home], homeSlot, unit, parts[home])
		prepared[home] = true
		if err != nil {
			// Not answered, or refused (a home that restarted meanwhile
			// holds nothing of the unit): the commit may be recorded or
			// not. Ask the home to record the abort: it answers the
			// outcome recorded first.
			o, derr := c.decideAbort(ctx, table, shares[home], homeSlot, unit)
			if derr != nil {
				// The parts resolve through the home; the read-only
				// shares are free.
				c.releaseReadOnly(ctx, shares, parts, unit)
				return &UnknownOutcomeError{Err: fmt.Errorf("%w (and the abort: %w)", err, derr)}
			}
			outcome, firstErr = o, fmt.Errorf("the home's prepare: %w", err)
		}
	} else {
		// Record the abort at the home first, so a part that prepared
		// and does not hear from us resolves to it.
		if o, err := c.decideAbort(ctx, table, shares[home], homeSlot, unit); err == nil && o == peer.OutcomeCommit {
			return errors.New("unit: a home recorded commit for a unit its coordinator aborted") // cannot happen
		}
	}
	if outcome != peer.OutcomeCommit {
		c.each(shares, func(i int, sh Share) {
			if prepared[i] {
				c.send(ctx, sh, "UABORT", func(ctx context.Context) error { return sh.Site.Abort(ctx, unit) })
				return
			}
			// Only read, or never asked to prepare (the home, when
			// another part's prepare failed): its hold ends now, not
			// at its lease (a retry of the unit would find it busy).
			c.send(ctx, sh, "URELEASE", func(ctx context.Context) error { return sh.Site.Release(ctx, unit) })
		})
		if firstErr == nil {
			firstErr = errors.New("a participant gave up waiting")
		}
		return &AbortedError{Reason: firstErr.Error()}
	}
	// Committed. The parts are applied before the client's reply: what
	// the client (or anyone it tells) reads next sees the whole unit,
	// also through reads that do not wait for a held slot (DBSIZE's
	// counts). (Applied after the reply, a DEL across nodes followed by
	// DBSIZE counted the deleted keys: the compat suite caught it.)
	c.pauseBefore(ctx, unit, StepApply)
	c.finish(ctx, table, shares, parts, home, homeSlot, unit)
	return nil
}

// finish sends a committed unit's UAPPLYs (URELEASE to the shares that
// only read; none to the home when its part was the home slot alone,
// applied with the commit), then queues UFORGET to the home once every
// part applied (sent after the reply, batched: forgetter): a part that
// missed its UAPPLY asks the home for the outcome later, and a home that
// knows nothing of a unit answers abort.
func (c *Coordinator) finish(ctx context.Context, table storage.TableID, shares []Share, parts [][]peer.UnitPart, home int, homeSlot storage.SlotID, unit string) {
	var unapplied atomic.Bool
	c.each(shares, func(i int, sh Share) {
		switch {
		case parts[i] == nil:
			c.send(ctx, sh, "URELEASE", func(ctx context.Context) error { return sh.Site.Release(ctx, unit) })
		case i == home && len(parts[i]) == 1:
			// The home slot's part, applied with the commit: the home
			// released its hold then.
		case !c.send(ctx, sh, "UAPPLY", func(ctx context.Context) error { return sh.Site.Apply(ctx, unit) }):
			unapplied.Store(true)
		}
	})
	if !unapplied.Load() {
		c.pauseBefore(ctx, unit, StepForget)
		c.forgets.add(shares[home], table, homeSlot, unit)
	}
}

// releaseConfirmed releases every share of a unit that only read, and
// returns the first error of a share that did not confirm its hold.
func (c *Coordinator) releaseConfirmed(ctx context.Context, shares []Share, unit string) error {
	errs := make([]error, len(shares))
	c.each(shares, func(i int, sh Share) {
		rctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		if errs[i] = sh.Site.Release(rctx, unit); errs[i] != nil {
			errs[i] = fmt.Errorf("%s: %w", sh.Node, errs[i])
		}
	})
	return errors.Join(errs...)
}

func (c *Coordinator) releaseReadOnly(ctx context.Context, shares []Share, parts [][]peer.UnitPart, unit string) {
	c.each(shares, func(i int, sh Share) {
		if parts[i] == nil {
			c.send(ctx, sh, "URELEASE", func(ctx context.Context) error { return sh.Site.Release(ctx, unit) })
		}
	})
}

// prepareHome prepares the home's part with the commit (UPREPARE ...
// DECIDE), trying again while it does not answer, within a few timeouts
// (the same unit: a prepared part answers the recorded outcome).
func (c *Coordinator) prepareHome(ctx context.Context, table storage.TableID, home Share, homeSlot storage.SlotID, unit string, part []peer.UnitPart) (peer.Outcome, error) {
	req := peer.UnitPrepare{Table: table, Unit: unit, Home: home.Node, HomeSlot: homeSlot, Parts: part, Decide: true}
	var err error
	for range 3 {
		dctx, cancel := context.WithTimeout(ctx, c.Timeout)
		var o peer.Outcome
		o, err = home.Site.Prepare(dctx, req)
		cancel()
		if err == nil {
			return o, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return "", err
}

func (c *Coordinator) decideAbort(ctx context.Context, table storage.TableID, home Share, homeSlot storage.SlotID, unit string) (peer.Outcome, error) {
	req := peer.UnitDecide{Unit: unit, Outcome: peer.OutcomeAbort, Table: table, HomeSlot: homeSlot}
	o, err := c.decideAt(ctx, home.Site, req)
	if err == nil || c.HomeSlot == nil {
		return o, err
	}
	// Ask whoever leads the home slot now, until one answers or a few
	// timeouts pass (a raft election takes a second or two; no event here
	// says when a remote group has elected).
	deadline := time.Now().Add(2 * c.Timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if site := c.HomeSlot(table, homeSlot); site != nil {
			if o, err = c.decideAt(ctx, site, req); err == nil {
				return o, nil
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", err
}

func (c *Coordinator) decideAt(ctx context.Context, site Site, req peer.UnitDecide) (peer.Outcome, error) {
	dctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	return site.Decide(dctx, req)
}

// send sends an ending request; a failure is logged (the participant
// ends the part itself: a lease, or its resolution through the home).
// It reports whether the participant took it.
func (c *Coordinator) send(ctx context.Context, sh Share, what string, do func(context.Context) error) bool {
	sctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := do(sctx); err != nil {
		c.log.Warn("unit: a participant did not take "+what, "node", sh.Node, "err", err)
		return false
	}
	return true
}

// each runs fn for every share at once and waits for them all.
func (c *Coordinator) each(shares []Share, fn func(i int, sh Share)) {
	if len(shares) == 1 {
		fn(0, shares[0])
		return
	}
	var wg sync.WaitGroup
	for i, sh := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, sh)
		}()
	}
	wg.Wait()
}

func shareOf(shares []Share, s storage.SlotID) int {
	for i, sh := range shares {
		if slices.ContainsFunc(sh.Slots, func(us peer.UnitSlot) bool { return us.Slot == s }) {
			return i
		}
	}
	return -1
}

// isBusyOrRefused reports whether a ULOCK's error says the peer holds
// nothing (busy, refused, a watched key changed).
func isBusyOrRefused(err error) bool {
	var be *peer.BusyError
	var re *peer.RefusedError
	var we *peer.WatchedError
	return errors.As(err, &be) || errors.As(err, &re) || errors.As(err, &we)
}

// memberReader is the storage.MemberSource of an image that left
// members out: UREAD (or a call) to the share that holds the slot. It
// keeps the first error, which fails the unit's evaluation.
type memberReader struct {
	ctx     context.Context
	timeout time.Duration
	site    Site
	table   storage.TableID
	unit    string
	slot    storage.SlotID
	err     error
}

func (r *memberReader) Members(cf storage.CF, lower, upper []byte, reverse bool, limit int) ([][]byte, [][]byte, bool, error) {
	if r.err != nil {
		return nil, nil, false, r.err
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	keys, vals, more, err := r.site.Read(ctx, peer.UnitRead{Table: r.table, Unit: r.unit, Slot: r.slot, CF: uint32(cf),
		Lower: lower, Upper: upper, Reverse: reverse, Limit: uint32(min(limit, 1<<20))})
	if err != nil {
		r.err = err
	}
	return keys, vals, more, err
}
