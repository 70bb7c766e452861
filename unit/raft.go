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

// Parts on raft slots (docs/transactions.md, "Raft tables"). The protocol
// is the one of async tables; what changes is where its records live: a
// part is a record of its slot's raft group (storage.RaftPartEffect), the
// decision a record of the home slot's group (storage.RaftDecisionEffect),
// and a part ends by an entry of its group (storage.RaftEndEffect), so
// that every replica has them and a new leader of a slot finds them. The
// hold of the slots (their stripe locks) is this node's while it leads
// them; from the prepare on, every replica keeps the slot pending on its
// record (reads and writes of it wait), whoever leads it next.
//
// A part is prepared only in the term in which this node led the slot
// when it locked it and copied its keys: another leader in between (it
// may have written the slot) means another term, and the prepare fails
// (the unit runs again). Decisions are made by the home slot's leader,
// checked and proposed under decideMu in the term it leads in; a new
// leader decides only once it has applied its log (so it has every
// decision committed before it), and the entry records an outcome only
// where none is (the first wins on every replica).

// RaftGroups is what a Participant needs of this node's raft groups.
type RaftGroups interface {
	// IsRaft reports whether table t's slots are raft groups.
	IsRaft(t storage.TableID) bool
	// Leads reports whether this node leads slot s's group now.
	Leads(t storage.TableID, s storage.SlotID) bool
	// WritableTerm waits until this node leads slot s's group and has
	// applied its log, and returns its term then.
	WritableTerm(t storage.TableID, s storage.SlotID) (uint64, error)
	// ReadBarrier returns once a read of slot s started now is
	// linearizable here, confirmed in term (unless 0): it fails once the
	// group has moved to another term.
	ReadBarrier(ctx context.Context, t storage.TableID, s storage.SlotID, term uint64) error
	// Propose proposes an encoded storage.Effect to slot s's group,
	// appended only in term (unless 0), and returns once this node
	// applied it.
	Propose(ctx context.Context, t storage.TableID, s storage.SlotID, effect []byte, term uint64) error
}

func (p *Participant) isRaft(t storage.TableID) bool {
	return p.cfg.Raft != nil && p.cfg.Raft.IsRaft(t)
}

// lockRaft notes the terms in which this node leads the part's slots and
// makes the copies about to be taken linearizable reads (a part that only
// reads is never proposed).
func (p *Participant) lockRaft(ctx context.Context, pt *part, slots []storage.SlotID) error {
	pt.raft = true
	pt.terms = make(map[storage.SlotID]uint64, len(slots))
	var mu sync.Mutex
	return eachGroup(slots, func(s storage.SlotID) error {
		term, err := p.cfg.Raft.WritableTerm(pt.hold.Table(), s)
		if err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		if err := p.cfg.Raft.ReadBarrier(ctx, pt.hold.Table(), s, term); err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		mu.Lock()
		pt.terms[s] = term
		mu.Unlock()
		return nil
	})
}

// confirmRaftReads returns once a quorum of each slot's group confirmed
// that this node still leads it in the term it locked it in: then no
// other leader wrote the slot since the copy the coordinator read, and
// the copy is still the slot's state (its hold kept local writes out).
func (p *Participant) confirmRaftReads(ctx context.Context, pt *part) error {
	slots := make([]storage.SlotID, 0, len(pt.terms))
	for s := range pt.terms {
		slots = append(slots, s)
	}
	return eachGroup(slots, func(s storage.SlotID) error {
		if err := p.cfg.Raft.ReadBarrier(ctx, pt.hold.Table(), s, pt.terms[s]); err != nil {
			return &peer.RefusedError{Reason: err.Error()}
		}
		return nil
	})
}

// prepareRaft records the part on each of its slots' groups, in the terms
// noted at the lock; with req.Decide (this node leads the home slot) the
// home slot's entry also records the commit, unless an outcome is
// recorded: then the home's part is not, and that outcome is answered.
func (p *Participant) prepareRaft(ctx context.Context, pt *part, req peer.UnitPrepare) (peer.Outcome, error) {
	t := pt.hold.Table()
	var home *peer.UnitPart
	var others []peer.UnitPart
	for i, part := range req.Parts {
		if req.Decide && part.Slot == req.HomeSlot {
			home = &req.Parts[i]
		} else {
			others = append(others, part)
		}
	}
	if req.Decide && home == nil {
		return "", fmt.Errorf("unit %s: the home slot %d has no part here", req.Unit, req.HomeSlot)
	}
	err := eachGroup(others, func(part peer.UnitPart) error {
		entry := storage.RaftPartEffect(t, part.Slot, req.Unit, req.HomeSlot, part.Effect)
		return p.cfg.Raft.Propose(ctx, t, part.Slot, entry, pt.terms[part.Slot])
	})
	if err != nil || home == nil {
		return "", err
	}
	p.decideMu.Lock()
	defer p.decideMu.Unlock()
	if d, err := p.cfg.Engine.RaftDecision(t, home.Slot, req.Unit); err != nil || d != storage.Undecided {
		return outcomeOf(d), err
	}
	entry := storage.RaftDecisionEffect(t, home.Slot, req.Unit, storage.Committed, home.Effect)
	if err := p.cfg.Raft.Propose(ctx, t, home.Slot, entry, pt.terms[home.Slot]); err != nil {
		return "", err
	}
	// What the group recorded (the first outcome): commit, unless an
	// abort was recorded in between by another leader of the slot.
	d, err := p.cfg.Engine.RaftDecision(t, home.Slot, req.Unit)
	return outcomeOf(d), err
}

// decideRaft records a unit's outcome d in its home slot s of table t,
// which this node leads, unless one is recorded; the recorded one is the
// answer (abort when none is and d is Undecided).
func (p *Participant) decideRaft(ctx context.Context, t storage.TableID, s storage.SlotID, unit string, d storage.Decision) (peer.Outcome, error) {
	term, err := p.cfg.Raft.WritableTerm(t, s)
	if err != nil {
		return "", &peer.RefusedError{Reason: err.Error()}
	}
	p.decideMu.Lock()
	defer p.decideMu.Unlock()
	got, err := p.cfg.Engine.RaftDecision(t, s, unit)
	if err != nil || got != storage.Undecided || d == storage.Undecided {
		return outcomeOf(got), err
	}
	if err := p.cfg.Raft.Propose(ctx, t, s, storage.RaftDecisionEffect(t, s, unit, d, nil), term); err != nil {
		return "", err
	}
	got, err = p.cfg.Engine.RaftDecision(t, s, unit)
	return outcomeOf(got), err
}

// finishRaft ends a prepared raft part: each slot's end entry (its
// effect applied on commit, dropped on abort), then the hold's locks.
func (p *Participant) finishRaft(pt *part, commit bool) error {
	t := pt.prepared.Table
	err := eachGroup(pt.prepared.Slots, func(s storage.SlotID) error { return p.endRaftPart(t, s, pt.unit, commit) })
	if err != nil {
		return err
	}
	pt.hold.Release()
	return nil
}

// leadsAny reports whether this node leads one of a raft part's slots.
func (p *Participant) leadsAny(pt *part) bool {
	for _, s := range pt.prepared.Slots {
		if p.cfg.Raft.Leads(pt.prepared.Table, s) {
			return true
		}
	}
	return false
}

// endRaftPart proposes the entry that ends unit's part on slot s (a no-op
// when it is not recorded here: ended already).
func (p *Participant) endRaftPart(t storage.TableID, s storage.SlotID, unit string, commit bool) error {
	entry, recorded, err := p.cfg.Engine.RaftEndEffect(t, s, unit, commit)
	if err != nil || !recorded {
		return err
	}
	if !p.cfg.Raft.Leads(t, s) {
		// Recorded here and not ended: only the slot's leader can; the
		// asker must not take it for ended (a committed unit's decision
		// is forgotten only once every part is applied).
		return &peer.RefusedError{Reason: fmt.Sprintf("slot %d: not its raft leader", s)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), proposeWait)
	defer cancel()
	return p.cfg.Raft.Propose(ctx, t, s, entry, 0)
}

// proposeWait bounds a proposal the participant makes on its own.
const proposeWait = 5 * time.Second

// endRaftRecords ends unit's parts recorded on this node's raft slots
// (UAPPLY or UABORT for a part another node prepared, or one restored
// from its records).
func (p *Participant) endRaftRecords(unit string, commit bool) error {
	if p.cfg.Raft == nil {
		return nil
	}
	var errs []error
	for _, rp := range p.cfg.Engine.RaftParts() {
		if rp.Unit == unit {
			errs = append(errs, p.endRaftPart(rp.Table, rp.Slot, unit, commit))
		}
	}
	return errors.Join(errs...)
}

// askHomeSlot asks the leader of a raft unit's home slot for its outcome,
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

// resolveRaftParts ends the parts pending on raft slots this node leads
// whose coordinator went silent: each one recorded for longer than
// ResolveAfter, which no unit in progress here holds, is ended with the
// outcome its home slot's leader answers. A part prepared by another node
// (this one leads its slot since a failover, a move or a restart) is
// found this way. It runs until Close.
func (p *Participant) resolveRaftParts() {
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
		for _, rp := range p.cfg.Engine.RaftParts() {
			if p.ctx.Err() != nil {
				return
			}
			if time.Since(rp.Since) < p.cfg.ResolveAfter || !p.cfg.Raft.Leads(rp.Table, rp.Slot) {
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
				err = p.endRaftPart(rp.Table, rp.Slot, rp.Unit, o == peer.OutcomeCommit)
			}
			if err != nil {
				p.cfg.Logger.Warn("unit: cannot resolve a raft part yet", "unit", rp.Unit, "table", rp.Table, "slot", rp.Slot, "home slot", rp.Home, "err", err)
				continue
			}
			p.cfg.Logger.Info("unit: resolved a raft part through its home slot", "unit", rp.Unit, "slot", rp.Slot, "outcome", o)
		}
	}
}

// eachGroup runs fn for every item (a slot, or a part of one slot) at
// once, each being its own raft group's, and returns the errors joined.
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
