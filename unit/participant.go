package unit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
	"github.com/pika-node/pika-node/storage/keyspace"
)

// Site is one participant of a unit as the coordinator sees it: this
// node's Participant, or a peer reached by requests (Remote).
type Site interface {
	Lock(ctx context.Context, req peer.UnitLock) ([]*storage.SlotImage, error)
	// Read reads members Lock's images left out, from a slot the unit
	// holds (storage.MemberSource).
	Read(ctx context.Context, req peer.UnitRead) (keys, vals [][]byte, more bool, err error)
	// Prepare answers the recorded outcome when req.Decide, "" otherwise.
	Prepare(ctx context.Context, req peer.UnitPrepare) (peer.Outcome, error)
	Decide(ctx context.Context, req peer.UnitDecide) (peer.Outcome, error)
	Apply(ctx context.Context, unit string) error
	Abort(ctx context.Context, unit string) error
	Release(ctx context.Context, unit string) error
	// Confirm checks, before the unit's decision, that a part that only
	// read still holds its slots as it locked them.
	Confirm(ctx context.Context, unit string) error
	// Renew starts the lease of a part not yet prepared again.
	Renew(ctx context.Context, unit string) error
	Forget(ctx context.Context, req peer.UnitForget) error
	Watch(ctx context.Context, req peer.UnitWatch) error
	Unwatch(ctx context.Context, token string) error
}

// ParticipantConfig is what a Participant needs of its node.
type ParticipantConfig struct {
	Engine *storage.Engine
	// Admit checks, under the unit's hold of the slots, that this node
	// leads every slot named at the asker's epoch and may write it: nil,
	// or a *peer.RefusedError to answer.
	Admit func(req peer.UnitLock) error
	// Slots writes the units' records in the slots of this node's
	// tables, each as its table's mode makes them durable (records.go).
	Slots Slots
	// HomeSlot returns the Site of the node that leads slot s of table t
	// now, where a part's unit has its decision (nil when none is
	// known).
	HomeSlot func(t storage.TableID, s storage.SlotID) Site
	// AdmitWatch checks a UWATCH: this node leads every slot named at
	// the asker's epoch (nil), else a *peer.RefusedError.
	AdmitWatch func(req peer.UnitWatch) error
	// WatchLease is how long a WATCH registered here lives with no new
	// UWATCH of its token (a coordinator that died leaves it); an EXEC
	// after that finds it gone and answers nil, as after a change.
	WatchLease time.Duration
	// Ready returns once the node has the cluster's routing (Leads and
	// Home answer): resolvers wait for it.
	Ready func(ctx context.Context) error
	// LockWait bounds how long a ULOCK with WAIT (a unit's try after one
	// that found a slot busy here) waits for its slots before it answers
	// busy: a coordinator that died while holding them frees them only
	// at its lease. Default 1s.
	LockWait time.Duration
	// LockLease is how long a unit's slots stay locked with no UPREPARE;
	// ResolveAfter how long a prepared part waits for UAPPLY or UABORT
	// before it asks the home for the outcome.
	LockLease    time.Duration
	ResolveAfter time.Duration
	Logger       *slog.Logger
}

// Participant is this node's side of the units it takes part in.
type Participant struct {
	cfg ParticipantConfig

	mu      sync.Mutex
	parts   map[string]*part
	watches map[string]*watchReg
	closed  bool
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup // resolvers
}

// part is a unit's hold here: locked, then maybe prepared. Its fields
// change under Participant.mu; busy marks an operation on it in progress
// outside the lock (a record written, the part applied or dropped), so
// that writes of different units' parts run in parallel.
type part struct {
	unit     string
	hold     *storage.SlotHold
	prepared *preparedPart
	timer    *time.Timer // the lease, then the wait before resolving
	busy     bool
	// terms are the terms in which this node led each slot when it
	// locked it (raft slots; 0 for an async table's), homeSlot is where
	// the unit's decision is recorded once prepared.
	terms    map[storage.SlotID]uint64
	homeSlot storage.SlotID
}

// preparedPart is what a part prepared here wrote: its slots' records.
type preparedPart struct {
	table storage.TableID
	slots []storage.SlotID
}

// errPartBusy answers a request for a part another operation is ending
// (its resolver, say): the asker may send it again.
var errPartBusy = errors.New("unit: the part is being ended by another request")

// ErrUnknownUnit answers UPREPARE for a unit that holds nothing here (its
// lease ran out, or it never locked).
var ErrUnknownUnit = errors.New("unit: the unit holds no slot here")

// NewParticipant returns a Participant; Close ends it.
func NewParticipant(cfg ParticipantConfig) *Participant {
	if cfg.LockLease == 0 {
		cfg.LockLease = 5 * time.Second
	}
	if cfg.LockWait == 0 {
		cfg.LockWait = time.Second
	}
	if cfg.ResolveAfter == 0 {
		cfg.ResolveAfter = 3 * time.Second
	}
	if cfg.WatchLease == 0 {
		cfg.WatchLease = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Participant{cfg: cfg, parts: map[string]*part{}, watches: map[string]*watchReg{}, ctx: ctx, stop: stop}
}

// watchReg is a client's WATCH of keys this node leads, registered by the
// node the client is connected to.
type watchReg struct {
	token  string
	table  storage.TableID
	epochs map[storage.SlotID]keyspace.Epoch
	w      storage.Watch
	// stale: a slot was registered again at another epoch (its leader
	// changed in between): a change may have been missed.
	stale bool
	timer *time.Timer
}

// Watch registers (or extends) a client's WATCH of keys this node leads.
func (p *Participant) Watch(_ context.Context, req peer.UnitWatch) error {
	if err := p.cfg.AdmitWatch(req); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return storage.ErrClosed
	}
	reg := p.watches[req.Token]
	if reg == nil {
		reg = &watchReg{token: req.Token, table: req.Table, epochs: map[storage.SlotID]keyspace.Epoch{}}
		p.watches[req.Token] = reg
		reg.timer = time.AfterFunc(p.cfg.WatchLease, func() { p.unwatch(reg) })
	} else {
		reg.timer.Reset(p.cfg.WatchLease)
	}
	if reg.table != req.Table {
		reg.stale = true
	}
	for _, s := range req.Slots {
		if e, ok := reg.epochs[s.Slot]; ok && e != s.Epoch {
			reg.stale = true
		}
		reg.epochs[s.Slot] = s.Epoch
		for _, k := range s.Keys {
			if err := p.cfg.Engine.Watch(&reg.w, req.Table, s.Slot, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unwatch forgets a WATCH registration (EXEC, DISCARD, UNWATCH or the
// client gone).
func (p *Participant) Unwatch(_ context.Context, token string) error {
	p.mu.Lock()
	reg := p.watches[token]
	p.mu.Unlock()
	if reg != nil {
		p.unwatch(reg)
	}
	return nil
}

func (p *Participant) unwatch(reg *watchReg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches[reg.token] != reg {
		return
	}
	delete(p.watches, reg.token)
	reg.timer.Stop()
	p.cfg.Engine.Unwatch(&reg.w)
}

// watchChanged reports whether the WATCH token of a ULOCK saw a change of
// its keys in the slots locked (or is not held here); the unit's slots
// are held. p.mu is held.
func (p *Participant) watchChanged(req peer.UnitLock) bool {
	reg := p.watches[req.Watch]
	if reg == nil || reg.stale || reg.table != req.Table || reg.w.Changed(p.cfg.Engine.NowMS()) {
		return true
	}
	for _, s := range req.Slots {
		if e, ok := reg.epochs[s.Slot]; ok && e != s.Epoch {
			return true // its leader changed since the WATCH
		}
	}
	return false
}

// Lock takes a unit's slots here, if free (with req.Wait: once free,
// within LockWait), and copies its keys.
func (p *Participant) Lock(ctx context.Context, req peer.UnitLock) ([]*storage.SlotImage, error) {
	slots := make([]storage.SlotID, len(req.Slots))
	keys := make([][][]byte, len(req.Slots))
	for i, s := range req.Slots {
		slots[i], keys[i] = s.Slot, s.Keys
	}
	p.mu.Lock()
	_, dup := p.parts[req.Unit]
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, storage.ErrClosed
	}
	if dup {
		return nil, fmt.Errorf("unit %s already holds slots here", req.Unit)
	}
	var h *storage.SlotHold
	var err error
	if req.Wait {
		h, err = p.cfg.Engine.HoldWithin(req.Table, slots, p.cfg.LockWait)
	} else {
		h, err = p.cfg.Engine.TryHold(req.Table, slots)
	}
	if errors.Is(err, storage.ErrBusy) {
		return nil, &peer.BusyError{Reason: "a slot of the unit is locked"}
	} else if err != nil {
		return nil, err
	}
	if err := p.cfg.Admit(req); err != nil {
		h.Release()
		return nil, err
	}
	pt := &part{unit: req.Unit, hold: h}
	if err := p.lockSlots(ctx, pt, slots); err != nil {
		h.Release()
		return nil, err
	}
	images, err := h.Export(slots, keys)
	if err != nil {
		h.Release()
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		h.Release()
		return nil, storage.ErrClosed
	}
	if req.Watch != "" && p.watchChanged(req) {
		h.Release()
		return nil, &peer.WatchedError{Reason: "a watched key changed"}
	}
	p.parts[req.Unit] = pt
	pt.timer = time.AfterFunc(p.cfg.LockLease, func() { p.leaseOut(pt) })
	return images, nil
}

// Read answers a read of members the unit's images left out, from its
// hold of the slot: an error when the unit holds nothing here (its lease
// ran out: a *peer.RefusedError, the unit runs again) or is prepared.
func (p *Participant) Read(_ context.Context, req peer.UnitRead) ([][]byte, [][]byte, bool, error) {
	p.mu.Lock()
	pt := p.parts[req.Unit]
	var h *storage.SlotHold
	if pt != nil && pt.prepared == nil && pt.hold.Table() == req.Table {
		h = pt.hold
	}
	p.mu.Unlock()
	if h == nil {
		return nil, nil, false, &peer.RefusedError{Reason: "the unit holds no slot here to read"}
	}
	return h.ReadMembers(req.Slot, storage.CF(req.CF), req.Lower, req.Upper, req.Reverse, int(req.Limit))
}

// leaseOut releases a part never prepared whose coordinator went silent.
func (p *Participant) leaseOut(pt *part) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parts[pt.unit] != pt || pt.prepared != nil || pt.busy {
		return
	}
	delete(p.parts, pt.unit)
	pt.hold.Release()
	p.cfg.Logger.Warn("unit: lock lease ran out, slots released", "unit", pt.unit)
}

// Prepare records the unit's part here (durably; reads of its slots wait
// from now until it is applied or dropped). With req.Decide the home
// slot's part is applied with the commit instead (prepareRecords); a part
// that was the home slot alone is then over, its hold released.
func (p *Participant) Prepare(ctx context.Context, req peer.UnitPrepare) (peer.Outcome, error) {
	p.mu.Lock()
	pt := p.parts[req.Unit]
	switch {
	case pt == nil:
		p.mu.Unlock()
		return "", ErrUnknownUnit
	case pt.busy:
		p.mu.Unlock()
		return "", errPartBusy
	case pt.prepared != nil:
		p.mu.Unlock()
		if req.Decide { // sent again: the outcome recorded then
			return p.Decide(ctx, peer.UnitDecide{Unit: req.Unit, Table: req.Table, HomeSlot: req.HomeSlot})
		}
		return "", nil
	}
	rec := preparedPart{table: pt.hold.Table()}
	for _, part := range req.Parts {
		if !holds(pt.hold, part.Slot) {
			p.mu.Unlock()
			return "", fmt.Errorf("unit %s: slot %d is not locked by the unit", req.Unit, part.Slot)
		}
		rec.slots = append(rec.slots, part.Slot)
	}
	pt.busy = true // its lease does not end it meanwhile
	pt.homeSlot = req.HomeSlot
	p.mu.Unlock()
	outcome, applied, err := p.prepareRecords(ctx, pt, req)
	if applied {
		// The home's part was applied with the commit: nothing of it is
		// left to end.
		rec.slots = slices.DeleteFunc(rec.slots, func(s storage.SlotID) bool { return s == req.HomeSlot })
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pt.busy = false
	if applied && len(rec.slots) == 0 {
		// The part was the home slot alone: it ended here, and the
		// coordinator sends it no UAPPLY (Coordinator.finish).
		delete(p.parts, pt.unit)
		pt.timer.Stop()
		pt.hold.Release()
		return outcome, err
	}
	// Even after an error some of its slots' records may be written: it
	// is prepared (partly), and UABORT or its resolution ends what is.
	pt.prepared = &rec
	pt.timer.Stop()
	pt.timer = time.AfterFunc(p.cfg.ResolveAfter, func() { p.startResolve(pt) })
	return outcome, err
}

func outcomeOf(d storage.Decision) peer.Outcome {
	if d == storage.Committed {
		return peer.OutcomeCommit
	}
	return peer.OutcomeAbort
}

func holds(h *storage.SlotHold, s storage.SlotID) bool { return slices.Contains(h.Slots(), s) }

// Decide records a unit's outcome here, its home, unless one is recorded:
// the recorded one is the answer.
// An empty o records nothing: the answer is what is recorded (abort when
// nothing is).
func (p *Participant) Decide(ctx context.Context, req peer.UnitDecide) (peer.Outcome, error) {
	d := storage.Undecided
	switch req.Outcome {
	case peer.OutcomeCommit:
		d = storage.Committed
	case peer.OutcomeAbort:
		d = storage.Aborted
	}
	return p.decide(ctx, req.Table, req.HomeSlot, req.Unit, d)
}

// Forget drops units' decisions once every part of each is resolved: one
// entry per home slot.
func (p *Participant) Forget(ctx context.Context, req peer.UnitForget) error {
	bySlot := map[storage.SlotID][]string{}
	var order []storage.SlotID
	for _, u := range req.Units {
		if bySlot[u.HomeSlot] == nil {
			order = append(order, u.HomeSlot)
		}
		bySlot[u.HomeSlot] = append(bySlot[u.HomeSlot], u.Unit)
	}
	recs := make([]Record, 0, len(order))
	for _, s := range order {
		// A home slot led elsewhere now keeps its decisions there (as
		// after a lost UFORGET: a few bytes each, never read again).
		if p.cfg.Slots.Leads(req.Table, s) {
			recs = append(recs, Record{Slot: s, Entry: storage.ForgetEffect(req.Table, s, bySlot[s]...)})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return p.cfg.Slots.End(ctx, req.Table, recs)
}

// Apply applies the unit's prepared part (or releases a part that only
// read). A unit unknown here has ended already.
func (p *Participant) Apply(_ context.Context, unit string) error {
	return p.end(unit, true)
}

// Abort drops the unit's part.
func (p *Participant) Abort(_ context.Context, unit string) error {
	return p.end(unit, false)
}

// Release ends a part that was never prepared; a prepared part is not
// touched (only its outcome ends it). The error says whether the part's
// reads held until now: ErrUnknownUnit when its hold had already ended
// (its lease ran out), and for raft slots a *peer.RefusedError when this
// node no longer leads one in the term it locked it in (another leader
// may have written it meanwhile, confirmReads). A unit that only
// read answers its client once every share confirmed.
func (p *Participant) Release(ctx context.Context, unit string) error {
	p.mu.Lock()
	pt := p.parts[unit]
	switch {
	case pt == nil:
		p.mu.Unlock()
		return ErrUnknownUnit
	case pt.prepared != nil || pt.busy:
		p.mu.Unlock()
		return nil
	}
	p.claim(pt)
	p.mu.Unlock()
	defer pt.hold.Release()
	return p.confirmReads(ctx, pt)
}

// Confirm answers whether a part that only read, in a unit that writes
// elsewhere, still holds its slots as it locked them: ErrUnknownUnit
// when its hold ended (its lease ran out), a *peer.RefusedError when this
// node no longer leads one of its raft slots in the lock's term. Its hold
// stays until URELEASE.
func (p *Participant) Confirm(ctx context.Context, unit string) error {
	p.mu.Lock()
	pt := p.parts[unit]
	switch {
	case pt == nil:
		p.mu.Unlock()
		return ErrUnknownUnit
	case pt.prepared != nil || pt.busy:
		p.mu.Unlock()
		return fmt.Errorf("unit %s: the part here is not one that only read", unit)
	}
	// Its lease must not end it while the quorum confirms: the
	// coordinator is alive, so the lease starts again.
	pt.timer.Reset(p.cfg.LockLease)
	p.mu.Unlock()
	return p.confirmReads(ctx, pt)
}

// Renew starts the lease of the unit's part here again (URENEW): its
// coordinator is alive and still evaluating. ErrUnknownUnit when the
// part is gone; a part already prepared has no lease to renew.
func (p *Participant) Renew(_ context.Context, unit string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pt := p.parts[unit]
	if pt == nil {
		return ErrUnknownUnit
	}
	if pt.prepared == nil && !pt.busy {
		pt.timer.Reset(p.cfg.LockLease)
	}
	return nil
}

func (p *Participant) end(unit string, commit bool) error {
	p.mu.Lock()
	pt := p.parts[unit]
	if pt == nil {
		p.mu.Unlock()
		// A part this node did not prepare (it leads the slot since)
		// is ended from its record.
		return p.endRecords(unit, commit)
	}
	if pt.busy {
		p.mu.Unlock()
		return errPartBusy
	}
	p.claim(pt)
	p.mu.Unlock()
	return p.finishClaimed(pt, commit)
}

// claim takes pt out of the table for one operation that ends it; p.mu
// is held.
func (p *Participant) claim(pt *part) {
	delete(p.parts, pt.unit)
	pt.timer.Stop()
	pt.busy = true
}

// finishClaimed ends a claimed part: applies or drops it (finish). After
// an error the part is back in the table, prepared parts with their
// resolution scheduled again.
func (p *Participant) finishClaimed(pt *part, commit bool) error {
	err := p.finish(pt, commit)
	if err == nil {
		return nil
	}
	var elsewhere *ledElsewhereError
	if errors.As(err, &elsewhere) || !p.leadsAny(pt) {
		// Its slots are led elsewhere now: their leaders end what is
		// recorded (resolveParts); this node's hold ends.
		pt.hold.Release()
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pt.busy = false
	if p.closed {
		return err
	}
	p.parts[pt.unit] = pt
	if pt.prepared != nil {
		pt.timer = time.AfterFunc(p.cfg.ResolveAfter, func() { p.startResolve(pt) })
	} else {
		pt.timer = time.AfterFunc(p.cfg.LockLease, func() { p.leaseOut(pt) })
	}
	return err
}

// finish applies or drops pt's part and ends its hold.
func (p *Participant) finish(pt *part, commit bool) error {
	if pt.prepared == nil {
		pt.hold.Release()
		return nil
	}
	return p.finishRecords(pt, commit)
}

// startResolve asks the home of a prepared part whose coordinator went
// silent for the outcome, until it answers, and ends the part with it.
func (p *Participant) startResolve(pt *part) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.parts[pt.unit] != pt || pt.busy {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.resolve(pt)
	}()
}

func (p *Participant) resolve(pt *part) {
	if p.cfg.Ready != nil && p.cfg.Ready(p.ctx) != nil {
		return // closing
	}
	backoff := 100 * time.Millisecond
	for {
		o, err := p.askHomeSlot(pt.prepared.table, pt.homeSlot, pt.unit)
		if err == nil {
			p.mu.Lock()
			if p.parts[pt.unit] != pt || pt.busy {
				p.mu.Unlock()
				return // another request ends it
			}
			p.claim(pt)
			p.mu.Unlock()
			if err = p.finishClaimed(pt, o == peer.OutcomeCommit); err != nil {
				// Back in the table with its resolution scheduled again.
				p.cfg.Logger.Warn("unit: a resolved part could not be ended", "unit", pt.unit, "outcome", o, "err", err)
				return
			}
			p.cfg.Logger.Info("unit: resolved a part through its home", "unit", pt.unit, "outcome", o)
			return
		}
		p.cfg.Logger.Warn("unit: cannot resolve a prepared part yet", "unit", pt.unit, "home slot", pt.homeSlot, "err", err)
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Recover starts the resolver of the parts pending on slots this node
// leads (now or later: resolveParts), the parts it prepared before it
// stopped among them. Call it once, before serving.
func (p *Participant) Recover() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.resolveParts()
	}()
}

// Close stops the resolvers and releases every hold (a prepared part
// stays recorded: the next start resolves it).
func (p *Participant) Close() {
	p.mu.Lock()
	p.closed = true
	for u, pt := range p.parts {
		pt.timer.Stop()
		if !pt.busy { // a busy one ends with its operation
			pt.hold.Release()
		}
		delete(p.parts, u)
	}
	for t, reg := range p.watches {
		reg.timer.Stop()
		p.cfg.Engine.Unwatch(&reg.w)
		delete(p.watches, t)
	}
	p.mu.Unlock()
	p.stop()
	p.wg.Wait()
}
