package unit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// A unit's part is a record of its slot (storage.PartEffect), its
// decision a record of the home slot (storage.DecisionEffect), and a part
// ends by a record that applies it or not (storage.EndEffect), so that
// every replica has them and a new leader of a slot finds them. How a
// record is written and made durable is the table mode's (Slots): an
// entry of the slot's raft group, or a logged write of an async slot's
// leader that every live follower acknowledged. The hold of the slots
// (their stripe locks) is this node's while it leads them; from the
// prepare on, every replica keeps the slot pending on its record (reads
// and writes of it wait), whoever leads it next.
//
// A raft part is prepared only in the term in which this node led the
// slot when it locked it and copied its keys: another leader in between
// (it may have written the slot) means another term, and the prepare
// fails (the unit runs again). Decisions are made by the home slot's
// leader; a new raft leader decides only once it has applied its log (so
// it has every decision committed before it), and a decision records an
// outcome only where none is (the first wins on every replica: the rule
// is applied where the record is written, ApplyRaft or the committer),
// so two decisions of one unit made at once need no lock here: each reads
// back the outcome recorded first. (A lock held across the write would
// serialize every unit's decision behind one quorum or acknowledgement
// round trip.)

// Slots is how a Participant writes unit records in this node's slots:
// raft groups, or async slots and their followers.
type Slots interface {
	// Leads reports whether this node leads slot s of table t now.
	Leads(t storage.TableID, s storage.SlotID) bool
	// WritableTerm waits until this node leads slot s and may write it
	// (raft: has applied its group's log), and returns its raft term then
	// (0 in an async table).
	WritableTerm(t storage.TableID, s storage.SlotID) (uint64, error)
	// ReadBarrier returns once a read of slot s started now is
	// linearizable here, confirmed in term (unless 0): it fails once a
	// raft group has moved to another term. Nothing to do in an async
	// table (the hold keeps writes out).
	ReadBarrier(ctx context.Context, t storage.TableID, s storage.SlotID, term uint64) error
	// Propose writes records (encoded storage.Effects of unit records),
	// each on its slot, durably: raft: each appended to its slot's group
	// only in its Term (unless 0) and applied here; async: written in one
	// write and acknowledged by every live follower of each slot (so a
	// failover keeps them). An error may leave some written.
	Propose(ctx context.Context, t storage.TableID, recs []Record) error
	// End writes parts' ends or decisions' deletions, which need not
	// wait for followers (a lost one is written again by the
	// resolution).
	End(ctx context.Context, t storage.TableID, recs []Record) error
	// Durable returns once what this node wrote of slot s so far is as
	// durable as Propose makes it (async: acknowledged by every live
	// follower; raft: at once, applied entries are committed): a decision
	// found recorded is answered only then.
	Durable(ctx context.Context, t storage.TableID, s storage.SlotID) error
}

// Record is one slot's entry of a write of unit records (Slots), and the
// raft term it may be appended in (0: any).
type Record struct {
	Slot  storage.SlotID
	Entry []byte
	Term  uint64
}

// lockSlots notes the terms in which this node leads the part's slots and
// makes the copies about to be taken linearizable reads (a part that only
// reads is never proposed).
func (p *Participant) lockSlots(ctx context.Context, pt *part, slots []storage.SlotID) error {
	pt.terms = make(map[storage.SlotID]uint64, len(slots))
	var mu sync.Mutex
	return eachGroup(slots, func(s storage.SlotID) error {
		term, err := p.cfg.Slots.WritableTerm(pt.hold.Table(), s)
		if err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		if err := p.cfg.Slots.ReadBarrier(ctx, pt.hold.Table(), s, term); err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		mu.Lock()
		pt.terms[s] = term
		mu.Unlock()
		return nil
	})
}

// confirmReads returns once a quorum of each slot's group confirmed
// that this node still leads it in the term it locked it in: then no
// other leader wrote the slot since the copy the coordinator read, and
// the copy is still the slot's state (its hold kept local writes out).
func (p *Participant) confirmReads(ctx context.Context, pt *part) error {
	slots := make([]storage.SlotID, 0, len(pt.terms))
	for s := range pt.terms {
		slots = append(slots, s)
	}
	return eachGroup(slots, func(s storage.SlotID) error {
		if err := p.cfg.Slots.ReadBarrier(ctx, pt.hold.Table(), s, pt.terms[s]); err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		return nil
	})
}

// prepareRecords records the part on each of its slots, in the terms
// noted at the lock; with req.Decide (this node leads the home slot) the
// home's part is then applied with the commit recorded, in one entry of
// the home slot (storage.CommitEffect), unless an outcome is recorded:
// then it is not, and that outcome is answered. applied says whether the
// home's part was applied.
func (p *Participant) prepareRecords(ctx context.Context, pt *part, req peer.UnitPrepare) (o peer.Outcome, applied bool, err error) {
	t := pt.hold.Table()
	var home *peer.UnitPart
	var others []Record
	for i, part := range req.Parts {
		if req.Decide && part.Slot == req.HomeSlot {
			home = &req.Parts[i]
			continue
		}
		others = append(others, Record{Slot: part.Slot, Term: pt.terms[part.Slot],
			Entry: storage.PartEffect(t, part.Slot, req.Unit, req.HomeSlot, part.Effect)})
	}
	if req.Decide && home == nil {
		return "", false, fmt.Errorf("unit %s: the home slot %d has no part here", req.Unit, req.HomeSlot)
	}
	if len(others) > 0 {
		if err := p.cfg.Slots.Propose(ctx, t, others); err != nil {
			return "", false, err
		}
	}
	if home == nil {
		return "", false, nil
	}
	if d, err := p.cfg.Engine.RecordedDecision(t, home.Slot, req.Unit); err != nil || d != storage.Undecided {
		if err == nil {
			err = p.cfg.Slots.Durable(ctx, t, home.Slot)
		}
		return outcomeOf(d), false, err
	}
	entry, err := storage.CommitEffect(t, home.Slot, req.Unit, home.Effect)
	if err != nil {
		return "", false, err
	}
	if err := p.cfg.Slots.Propose(ctx, t, []Record{{Slot: home.Slot, Entry: entry, Term: pt.terms[home.Slot]}}); err != nil {
		return "", false, err
	}
	// What the slot recorded (the first outcome): commit, with the home's
	// part applied, unless an abort was recorded in between (by another
	// leader of the slot, or a resolver), which dropped the entry whole.
	d, err := p.cfg.Engine.RecordedDecision(t, home.Slot, req.Unit)
	return outcomeOf(d), err == nil && d == storage.Committed, err
}

// decide records a unit's outcome d in its home slot s of table t,
// which this node leads, unless one is recorded; the recorded one is the
// answer (abort when none is and d is Undecided).
func (p *Participant) decide(ctx context.Context, t storage.TableID, s storage.SlotID, unit string, d storage.Decision) (peer.Outcome, error) {
	term, err := p.cfg.Slots.WritableTerm(t, s)
	if err != nil {
		return "", &peer.RefusedError{Reason: err.Error()}
	}
	got, err := p.cfg.Engine.RecordedDecision(t, s, unit)
	if err != nil || got != storage.Undecided || d == storage.Undecided {
		if err == nil {
			err = p.cfg.Slots.Durable(ctx, t, s)
		}
		return outcomeOf(got), err
	}
	if err := p.cfg.Slots.Propose(ctx, t, []Record{{Slot: s, Entry: storage.DecisionEffect(t, s, unit, d), Term: term}}); err != nil {
		return "", err
	}
	got, err = p.cfg.Engine.RecordedDecision(t, s, unit)
	return outcomeOf(got), err
}

// finishRecords ends a prepared part: each slot's end entry (its effect
// applied on commit, dropped on abort), then the hold's locks. A slot
// another node leads now (a raft slot's lead moved on) is that leader's
// to end, from its record (resolveParts there): once every slot led here
// is ended the hold ends too, and the error, a *ledElsewhereError, tells
// the asker the part is not ended everywhere (a coordinator keeps the
// unit's decision for that leader to find).
func (p *Participant) finishRecords(pt *part, commit bool) error {
	t := pt.prepared.table
	var ends []Record
	var ledHere, elsewhere []error
	for _, s := range pt.prepared.slots {
		rec, recorded, err := p.endRecord(t, s, pt.unit, commit)
		var refused *peer.RefusedError
		switch {
		case errors.As(err, &refused):
			elsewhere = append(elsewhere, err)
		case err != nil:
			ledHere = append(ledHere, err)
		case recorded:
			ends = append(ends, rec)
		}
	}
	if len(ends) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), proposeWait)
		err := p.cfg.Slots.End(ctx, t, ends)
		cancel()
		if err != nil {
			// Which slots failed is not told: a slot still led here is
			// ended again (a no-op where it was), one led elsewhere now
			// is its leader's.
			for _, r := range ends {
				if p.cfg.Slots.Leads(t, r.Slot) {
					ledHere = append(ledHere, fmt.Errorf("slot %d: %w", r.Slot, err))
				} else {
					elsewhere = append(elsewhere, fmt.Errorf("slot %d: %w", r.Slot, err))
				}
			}
		}
	}
	if len(ledHere) > 0 {
		// Retried: this node must end them (a slot whose lead moved on
		// meanwhile is found so by the retry).
		return errors.Join(append(ledHere, elsewhere...)...)
	}
	pt.hold.Release()
	if len(elsewhere) > 0 {
		return &ledElsewhereError{errors.Join(elsewhere...)}
	}
	return nil
}

// ledElsewhereError is a part ended on the slots this node leads whose
// other slots another node leads now: their leader ends them.
type ledElsewhereError struct{ err error }

func (e *ledElsewhereError) Error() string {
	return "the part is ended on the slots this node leads; another node leads the rest: " + e.err.Error()
}

func (e *ledElsewhereError) Unwrap() error { return e.err }

// leadsAny reports whether this node leads one of a part's slots.
func (p *Participant) leadsAny(pt *part) bool {
	for _, s := range pt.prepared.slots {
		if p.cfg.Slots.Leads(pt.prepared.table, s) {
			return true
		}
	}
	return false
}

// endRecord returns the record that ends unit's part on slot s;
// recorded is false when the part is not recorded here (ended already).
func (p *Participant) endRecord(t storage.TableID, s storage.SlotID, unit string, commit bool) (rec Record, recorded bool, err error) {
	entry, recorded, err := p.cfg.Engine.EndEffect(t, s, unit, commit)
	if err != nil || !recorded {
		return Record{}, false, err
	}
	if !p.cfg.Slots.Leads(t, s) {
		// Recorded here and not ended: only the slot's leader can; the
		// asker must not take it for ended (a committed unit's decision
		// is forgotten only once every part is applied).
		return Record{}, false, &peer.RefusedError{Reason: fmt.Sprintf("slot %d: not its leader", s)}
	}
	return Record{Slot: s, Entry: entry}, true, nil
}

// endPart writes the entry that ends unit's part on slot s (a no-op
// when it is not recorded here: ended already).
func (p *Participant) endPart(t storage.TableID, s storage.SlotID, unit string, commit bool) error {
	rec, recorded, err := p.endRecord(t, s, unit, commit)
	if err != nil || !recorded {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), proposeWait)
	defer cancel()
	return p.cfg.Slots.End(ctx, t, []Record{rec})
}

// proposeWait bounds a proposal the participant makes on its own.
const proposeWait = 5 * time.Second

// endRecords ends unit's parts recorded on this node's slots (UAPPLY or
// UABORT for a part another node prepared, or one restored from its
// records).
func (p *Participant) endRecords(unit string, commit bool) error {
	var errs []error
	for _, rp := range p.cfg.Engine.PendingParts() {
		if rp.Unit == unit {
			errs = append(errs, p.endPart(rp.Table, rp.Slot, unit, commit))
		}
	}
	return errors.Join(errs...)
}

// askHomeSlot asks the leader of a unit's home slot for its outcome,
// recording abort when none is.
func (p *Participant) askHomeSlot(t storage.TableID, s storage.SlotID, unit string) (peer.Outcome, error) {
	home := p.cfg.HomeSlot(t, s)
	if home == nil {
		return "", fmt.Errorf("no leader known for the home slot %d", s)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	return home.Decide(ctx, peer.UnitDecide{Unit: unit, Outcome: peer.OutcomeAbort, Table: t, HomeSlot: s})
}

// resolveParts ends the parts pending on slots this node leads
// whose coordinator went silent: each one recorded for longer than
// ResolveAfter, which no unit in progress here holds, is ended with the
// outcome its home slot's leader answers. A part prepared by another node
// (this one leads its slot since a failover, a move or a restart) is
// found this way. It runs until Close.
func (p *Participant) resolveParts() {
	if p.cfg.Ready != nil && p.cfg.Ready(p.ctx) != nil {
		return
	}
	tick := time.NewTicker(max(p.cfg.ResolveAfter/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		for _, rp := range p.cfg.Engine.PendingParts() {
			if p.ctx.Err() != nil {
				return
			}
			if time.Since(rp.Since) < p.cfg.ResolveAfter || !p.cfg.Slots.Leads(rp.Table, rp.Slot) {
				continue
			}
			p.mu.Lock()
			_, local := p.parts[rp.Unit]
			p.mu.Unlock()
			if local {
				continue // its own resolution runs (Participant.resolve)
			}
			o, err := p.askHomeSlot(rp.Table, rp.Home, rp.Unit)
			if err == nil {
				err = p.endPart(rp.Table, rp.Slot, rp.Unit, o == peer.OutcomeCommit)
			}
			if err != nil {
				p.cfg.Logger.Warn("unit: cannot resolve a part yet", "unit", rp.Unit, "table", rp.Table, "slot", rp.Slot, "home slot", rp.Home, "err", err)
				continue
			}
			p.cfg.Logger.Info("unit: resolved a part through its home slot", "unit", rp.Unit, "slot", rp.Slot, "outcome", o)
		}
	}
}

// eachGroup runs fn for every item (a slot, or a part of one slot) at
// once, each being its own slot's, and returns the errors joined.
func eachGroup[T any](items []T, fn func(T) error) error {
	if len(items) == 1 {
		return fn(items[0])
	}
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
