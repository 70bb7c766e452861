package multiraft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/pika-node/pika-node/storage"
)

// driver is the state of Host.Run's goroutine.
type driver struct {
	h *Host
	// ctx is Run's: snapshot streams end with it.
	ctx   context.Context
	dirty map[*group]bool
	// quiesced are the groups put to sleep this tick; their followers
	// are told after the round's messages (the last heartbeats) went.
	quiesced []*group
}

func (d *driver) groupOf(id GroupID) *group {
	d.h.mu.Lock()
	defer d.h.mu.Unlock()
	return d.h.groups[id]
}

// awaken makes g tick again.
func (d *driver) awaken(g *group) {
	g.setQuiesced(false)
	g.idle = 0
	d.dirty[g] = true
}

func (d *driver) handle(ev *event) {
	h := d.h
	switch ev.kind {
	case evEnsure:
		if g := d.groupOf(ev.group); g != nil {
			if !slices.Equal(g.want.Voters, ev.want.Voters) || !slices.Equal(g.want.Learners, ev.want.Learners) {
				g.want = ev.want
				if g.state == raft.StateLeader {
					d.awaken(g) // reconcile on the next tick
				}
			}
			return
		}
		g, err := h.openGroup(ev.group, ev.want)
		if err != nil {
			h.cfg.Log.Error("open raft group", "group", ev.group.String(), "err", err)
			return
		}
		h.mu.Lock()
		h.groups[ev.group] = g
		h.mu.Unlock()
		for _, v := range g.conf.Voters {
			if v != h.cfg.Self {
				h.peer(v)
			}
		}
		if ev.boot && g.term == initialTerm && g.lastIndex() == initialIndex {
			_ = g.rn.Campaign()
		}
		d.dirty[g] = true
	case evRemove:
		g := d.groupOf(ev.group)
		if g != nil && g.landing {
			// Its snapshot is being written: the group goes once that
			// write is done (evLanded), so that nothing of it is written
			// after its removal.
			g.removals = append(g.removals, *ev)
			return
		}
		if ev.reply != nil {
			defer func() { ev.reply <- nil }()
		}
		if g == nil {
			return
		}
		// A removed group's proposals may have committed: unknown.
		g.failReads(&NotLeaderError{Group: ev.group, Reason: "group removed"})
		g.failAll(&TimeoutError{Group: ev.group})
		h.mu.Lock()
		delete(h.groups, ev.group)
		h.mu.Unlock()
		h.unstage(ev.group)
		delete(d.dirty, g)
		g.wakeWaiters()
	case evMessage:
		g := d.groupOf(ev.group)
		if g == nil {
			return // not (yet) ours: raft retries
		}
		if m := &ev.msg; m.Type == raftpb.MsgSnap {
			if m.Snapshot == nil || !h.claimStaged(ev.group, m.From, m.Snapshot.Metadata.Index, m.Snapshot.Metadata.Term) {
				return // its data is not here: the leader times out and retries
			}
			g.snapLanding = true
		}
		if g.quiesced && ev.msg.Type != raftpb.MsgHeartbeat && ev.msg.Type != raftpb.MsgHeartbeatResp {
			// Heartbeats (the last ones before quiescence, and their
			// answers) carry nothing to wake up for.
			d.awaken(g)
		}
		if err := g.rn.Step(ev.msg); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			h.cfg.Log.Debug("raft step", "group", ev.group.String(), "err", err)
		}
		d.dirty[g] = true
	case evQuiesce:
		g := d.groupOf(ev.group)
		if g == nil || g.quiesced {
			return
		}
		// ev.msg.Commit carries the leader's last (committed) index.
		if g.state == raft.StateFollower && g.lead == ev.from && g.term == ev.term && g.lastIndex() == ev.msg.Commit && len(g.reads) == 0 {
			g.setQuiesced(true)
		}
	case evPropose:
		g, w := d.ledGroup(ev)
		if g == nil {
			return
		}
		if w.term != 0 && w.term != g.term {
			w.done <- &NotLeaderError{Group: ev.group, Leader: g.lead, Reason: fmt.Sprintf("the group moved from term %d to %d", w.term, g.term)}
			return
		}
		if err := g.rn.Propose(w.data); err != nil {
			w.done <- &NotLeaderError{Group: ev.group, Leader: g.lead, Reason: err.Error()}
			return
		}
		g.proposals[w.id] = w
	case evRead:
		g, w := d.ledGroup(ev)
		if g == nil {
			return
		}
		if w.term != 0 && w.term != g.term {
			w.done <- &NotLeaderError{Group: ev.group, Leader: g.lead, Reason: fmt.Sprintf("the group moved from term %d to %d", w.term, g.term)}
			return
		}
		g.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, w.id))
		g.reads[w.id] = w
	case evTransfer:
		g := d.groupOf(ev.group)
		if g == nil || g.state != raft.StateLeader {
			return
		}
		d.awaken(g)
		g.rn.TransferLeader(ev.to)
	case evPeerDown:
		d.peerDown(ev.from)
	case evSnapDone:
		g := d.groupOf(ev.group)
		if g == nil {
			return
		}
		delete(g.sending, ev.to)
		status := raft.SnapshotFailure
		if ev.term == 1 {
			status = raft.SnapshotFinish
		}
		g.rn.ReportSnapshot(ev.to, status)
		d.dirty[g] = true
	case evPing:
		// Liveness only: Deliver recorded the time.
	case evLanded:
		d.landed(ev.round, ev.err)
	}
}

// ledGroup returns the group of a proposal or read, awake, if this node
// leads it; otherwise it answers the waiter and returns nil.
func (d *driver) ledGroup(ev *event) (*group, *waiter) {
	g, w := d.groupOf(ev.group), ev.prop
	switch {
	case g == nil:
		w.done <- &NotLeaderError{Group: ev.group, Reason: "no raft group here"}
		return nil, w
	case g.state != raft.StateLeader:
		w.done <- &NotLeaderError{Group: ev.group, Leader: g.lead, Reason: "not the leader"}
		return nil, w
	}
	d.awaken(g)
	return g, w
}

// peerDown makes the groups that peer p led elect a new leader now: they
// forget p (so their votes are free) and the lowest live follower runs.
func (d *driver) peerDown(p PeerID) {
	h := d.h
	h.mu.Lock()
	groups := make([]*group, 0, len(h.groups))
	for _, g := range h.groups {
		if g.lead == p && g.state != raft.StateLeader {
			groups = append(groups, g)
		}
	}
	h.mu.Unlock()
	now := time.Now()
	for _, g := range groups {
		d.awaken(g)
		_ = g.rn.ForgetLeader()
		g.lead = 0
		// The live voters run in turn, lowest id first, a moment apart:
		// one candidate at a time (no split vote), and if the first one's
		// log is behind (its votes are refused), the next runs soon
		// rather than after an election timeout.
		if rank := d.rank(g, p); rank == 0 {
			_ = g.rn.Campaign()
		} else if rank > 0 {
			g.campaignAt = now.Add(time.Duration(rank) * campaignStagger)
		}
	}
	if len(groups) > 0 {
		h.cfg.Log.Info("raft peer down: its groups elect again", "peer", p, "groups", len(groups))
	}
}

// campaignStagger separates the campaigns of a dead leader's followers.
const campaignStagger = 300 * time.Millisecond

// rank is this node's place among g's voters other than the dead peer
// and peers known down, in id order; -1 if it is not one.
func (d *driver) rank(g *group, dead PeerID) int {
	r := 0
	for _, v := range slices.Sorted(slices.Values(g.conf.Voters)) {
		if v == dead || d.h.isDown(v) {
			continue
		}
		if v == d.h.cfg.Self {
			return r
		}
		r++
	}
	return -1
}

// tick advances every awake group's clock, quiesces idle leaders, and
// fails overdue waiters.
func (d *driver) tick() {
	h := d.h
	now := time.Now()
	h.mu.Lock()
	groups := make([]*group, 0, len(h.groups))
	for _, g := range h.groups {
		if !g.quiesced {
			groups = append(groups, g)
		}
	}
	h.mu.Unlock()
	for _, g := range groups {
		g.rn.Tick()
		d.dirty[g] = true
		g.expire(now)
		if !g.campaignAt.IsZero() && now.After(g.campaignAt) {
			g.campaignAt = time.Time{}
			if g.lead == 0 && g.state == raft.StateFollower {
				_ = g.rn.Campaign()
			}
		}
		if g.state == raft.StateLeader {
			d.reconcileConf(g)
			d.maybeQuiesce(g)
		}
	}
}

// maybeQuiesce puts an idle leader's group to sleep once every voter has
// every entry and has been told it is committed.
func (d *driver) maybeQuiesce(g *group) {
	if len(g.proposals) > 0 || len(g.reads) > 0 || len(g.readsReady) > 0 || g.confPending > 0 || !d.confAsWanted(g) {
		g.idle = 0
		return
	}
	last := g.lastIndex()
	if g.rn.BasicStatus().Commit != last || g.applied != last {
		g.idle = 0
		return
	}
	caughtUp := true
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.Match != last {
			caughtUp = false
		}
	})
	if !caughtUp {
		g.idle = 0
		return
	}
	g.idle++
	if g.idle < quiesceAfter {
		return
	}
	g.setQuiesced(true)
	d.quiesced = append(d.quiesced, g)
}

// pendingRound is one group's part of a round.
type pendingRound struct {
	g          *group
	rd         raft.Ready
	applied    []uint64 // proposal ids applied
	newApplied uint64
	newTerm    uint64
	compact    uint64
	compactT   uint64
	write      int  // index in writes, -1 if none
	sent       bool // the messages went before the write (a leader's)
	ready      bool // rd is a Ready taken from the group
	snapshot   bool // rd installs a snapshot
}

// round persists and applies the ready state of every dirty group in one
// write, then sends, answers and advances.
func (d *driver) round() error {
	h := d.h
	var writes []storage.RaftGroupWrite
	var rounds []pendingRound
	for g := range d.dirty {
		delete(d.dirty, g)
		if g.landing {
			continue // its round goes on when the snapshot has landed
		}
		ready := g.rn.HasReady()
		pr := pendingRound{g: g, write: -1, newApplied: g.applied, newTerm: g.appliedTerm, compact: g.compactIndex, ready: ready}
		if ready {
			pr.rd = g.rn.Ready()
		}
		if g.snapLanding && raft.IsEmptySnap(pr.rd.Snapshot) {
			// Raft declined the snapshot it was given (stale): another
			// may be staged in its place.
			g.snapLanding = false
			h.releaseStaged(g.id)
		}
		if !ready && !g.fresh {
			continue
		}
		w := storage.RaftGroupWrite{Table: g.id.Table, Slot: g.id.Slot}
		changed := false
		if g.fresh {
			hs := g.initHS
			if !raft.IsEmptyHardState(pr.rd.HardState) {
				hs = pr.rd.HardState
			}
			w.HardState, _ = hs.Marshal()
			confb, _ := g.conf.Marshal()
			w.Applied = &storage.RaftApplied{Index: g.applied, Term: g.appliedTerm, CompactIndex: g.compactIndex, CompactTerm: g.compactTerm, Conf: confb}
			w.CompactedBefore = g.compactIndex
			changed = true
		}
		if n := len(pr.rd.Entries); n > 0 {
			w.FirstIndex = storage.LogIndex(pr.rd.Entries[0].Index)
			w.Truncate = pr.rd.Entries[0].Index <= g.lastIndex()
			w.Entries = make([][]byte, n)
			for i := range pr.rd.Entries {
				e := &pr.rd.Entries[i]
				b, err := e.Marshal()
				if err != nil {
					return err
				}
				w.Entries[i] = b
				if e.Type == raftpb.EntryNormal && len(e.Data) >= 8 {
					if p := g.proposals[binary.BigEndian.Uint64(e.Data)]; p != nil {
						p.entry = e.Index // where our proposal went
					}
				}
			}
			changed = true
		}
		if !raft.IsEmptyHardState(pr.rd.HardState) {
			b, err := pr.rd.HardState.Marshal()
			if err != nil {
				return err
			}
			w.HardState = b
			changed = true
		}
		if !raft.IsEmptySnap(pr.rd.Snapshot) {
			// The data was staged before the message was stepped
			// (BeginInstall, StageChunk); this write lands it with the
			// group's new state, the log cut and the counts, atomically.
			sn := pr.rd.Snapshot
			w.TruncateAll = true
			w.FromStaging = true
			if len(sn.Data) == 16 {
				w.SetCounts = &[2]int64{int64(binary.BigEndian.Uint64(sn.Data)), int64(binary.BigEndian.Uint64(sn.Data[8:]))}
			}
			g.conf = sn.Metadata.ConfState
			pr.snapshot = true
			pr.newApplied, pr.newTerm = sn.Metadata.Index, sn.Metadata.Term
			pr.compact, pr.compactT = sn.Metadata.Index, sn.Metadata.Term
			changed = true
		}
		for _, e := range pr.rd.CommittedEntries {
			switch e.Type {
			case raftpb.EntryNormal:
				if len(e.Data) >= 8 {
					if len(e.Data) > 8 {
						w.Effects = append(w.Effects, e.Data[8:])
					}
					pr.applied = append(pr.applied, binary.BigEndian.Uint64(e.Data))
				}
			case raftpb.EntryConfChange:
				var cc raftpb.ConfChange
				if err := cc.Unmarshal(e.Data); err == nil {
					g.conf = *g.rn.ApplyConfChange(cc)
					if cc.NodeID != d.h.cfg.Self {
						d.h.peer(cc.NodeID)
					}
				}
				g.confPending = 0
			case raftpb.EntryConfChangeV2:
				var cc raftpb.ConfChangeV2
				if err := cc.Unmarshal(e.Data); err == nil {
					g.conf = *g.rn.ApplyConfChange(cc)
				}
				g.confPending = 0
			}
			pr.newApplied, pr.newTerm = e.Index, e.Term
		}
		if pr.snapshot {
			confb, _ := g.conf.Marshal()
			w.Applied = &storage.RaftApplied{Index: pr.newApplied, Term: pr.newTerm, CompactIndex: pr.compact, CompactTerm: pr.compactT, Conf: confb}
		} else if pr.newApplied > g.applied || len(pr.rd.CommittedEntries) > 0 {
			pr.compact = d.compactPoint(g, pr.newApplied)
			confb, _ := g.conf.Marshal()
			compactTerm := g.compactTerm
			if pr.compact != g.compactIndex {
				t, err := termOf(g, pr.compact, pr.rd.Entries)
				if err != nil {
					pr.compact = g.compactIndex
				} else {
					compactTerm = t
				}
			}
			pr.compactT = compactTerm
			w.Applied = &storage.RaftApplied{Index: pr.newApplied, Term: pr.newTerm, CompactIndex: pr.compact, CompactTerm: compactTerm, Conf: confb}
			w.CompactedBefore = g.compactIndex
			changed = true
		}
		if pr.snapshot {
			d.land(pr, w)
			continue
		}
		if changed {
			pr.write = len(writes)
			writes = append(writes, w)
		}
		// A leader's messages (appends, heartbeats) may go before its own
		// write: the entries are committed by a quorum that need not
		// include it (Raft thesis 10.2.1; etcd does the same).
		leader := g.state == raft.StateLeader
		if pr.rd.SoftState != nil {
			leader = pr.rd.SoftState.RaftState == raft.StateLeader
		}
		if leader && len(pr.rd.Messages) > 0 {
			d.send(g, pr.rd.Messages)
			pr.sent = true
		}
		rounds = append(rounds, pr)
	}
	d.flushSends()
	if len(writes) > 0 {
		if err := h.cfg.Store.ApplyRaft(writes); err != nil {
			// The ready states were taken and cannot be given back:
			// this node cannot go on safely.
			for _, pr := range rounds {
				pr.g.failAll(err)
			}
			return err
		}
	}
	for i := range rounds {
		d.finish(&rounds[i])
	}
	return nil
}

// land writes a round that installs a snapshot apart from the driver: the
// write copies the whole slot out of its staging area, which may take long,
// and the other groups' rounds (their heartbeats, their appends) must not
// wait for it. The group sits out the rounds until the write is done
// (landed); raft may still step its messages and tick it meanwhile, as
// between any Ready and its Advance.
func (d *driver) land(pr pendingRound, w storage.RaftGroupWrite) {
	h := d.h
	pr.g.landing = true
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		err := h.cfg.Store.ApplyRaft([]storage.RaftGroupWrite{w})
		h.push(event{kind: evLanded, group: pr.g.id, round: &pr, err: err})
	}()
}

// landed finishes a snapshot's round once its write is done (land), then
// removes the group if that was asked meanwhile.
func (d *driver) landed(pr *pendingRound, err error) {
	g := pr.g
	g.landing = false
	d.dirty[g] = true
	if err != nil {
		// As for a failed round: the ready state was taken and cannot be
		// given back.
		d.h.cfg.Log.Error("raft snapshot landing failed", "group", g.id.String(), "err", err)
		g.failAll(err)
	} else {
		d.finish(pr)
	}
	removals := g.removals
	g.removals = nil
	for i := range removals {
		d.handle(&removals[i])
	}
}

// termOf is the term of entry i, from the store or this round's entries.
func termOf(g *group, i uint64, fresh []raftpb.Entry) (uint64, error) {
	for _, e := range fresh {
		if e.Index == i {
			return e.Term, nil
		}
	}
	return g.store.Term(i)
}

// compactPoint is where g's log may be cut once applied is applied.
func (d *driver) compactPoint(g *group, applied uint64) uint64 {
	cfg := &d.h.cfg
	if applied < g.compactIndex+cfg.CompactEvery {
		return g.compactIndex
	}
	cut := applied - cfg.KeepEntries
	if g.state == raft.StateLeader {
		g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id != cfg.Self && pr.Match < cut && applied-pr.Match < cfg.MaxLag {
				cut = pr.Match
			}
		})
	}
	if cut <= g.compactIndex {
		return g.compactIndex
	}
	return cut
}

// finish does what follows a round's write for one group.
func (d *driver) finish(pr *pendingRound) {
	h, g, rd := d.h, pr.g, &pr.rd
	g.fresh = false
	if pr.snapshot {
		if err := g.store.ApplySnapshot(rd.Snapshot); err != nil {
			h.cfg.Log.Error("raft snapshot apply", "group", g.id.String(), "err", err)
		}
		g.compactIndex, g.compactTerm = pr.compact, pr.compactT
		g.snapLanding = false
		h.unstage(g.id)
		h.snapshotsInstalled.Add(1)
		h.cfg.Log.Info("raft snapshot installed", "group", g.id.String(), "index", pr.compact)
	}
	if len(rd.Entries) > 0 {
		if err := g.store.Append(rd.Entries); err != nil {
			h.cfg.Log.Error("raft log append", "group", g.id.String(), "err", err)
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = g.store.SetHardState(rd.HardState)
		g.term = rd.HardState.Term
	}
	g.applied, g.appliedTerm = pr.newApplied, pr.newTerm
	if g.confPending > 0 && g.applied >= g.confPending {
		g.confPending = 0 // applied, or dropped by raft (it was pending)
	}
	if !pr.snapshot && pr.compact > g.compactIndex {
		if err := g.store.Compact(pr.compact); err == nil {
			g.compactIndex, g.compactTerm = pr.compact, pr.compactT
		}
	}
	wasLeader := g.state == raft.StateLeader
	if rd.SoftState != nil {
		g.lead, g.state = rd.SoftState.Lead, rd.SoftState.RaftState
	}
	isLeader := g.state == raft.StateLeader
	if isLeader && !wasLeader {
		g.leaderFrom = g.lastIndex()
		// Leadership changes are rare, and the trace a linearizability
		// failure is read against (make chaos keeps the logs).
		h.cfg.Log.Info("raft: this node leads the group", "group", g.id.String(), "term", g.term, "applied", g.applied, "last", g.leaderFrom)
		if h.cfg.OnLeader != nil {
			h.cfg.OnLeader(g.id, g.term)
		}
	}
	if wasLeader && !isLeader {
		// Reads and conf changes fail (nothing applied). Proposals wait:
		// the new leader may commit their entries (a leader transfer
		// always does), and then they succeed when applied here; an
		// entry the new leader overwrote fails them below.
		g.confPending = 0
		g.failReads(&NotLeaderError{Group: g.id, Leader: g.lead, Reason: "lost leadership"})
		h.cfg.Log.Info("raft: this node no longer leads the group", "group", g.id.String(), "term", g.term, "leader", g.lead, "applied", g.applied)
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		if w := g.reads[id]; w != nil {
			delete(g.reads, id)
			w.index = rs.Index
			g.readsReady = append(g.readsReady, w)
		}
	}
	var done []*waiter
	for _, id := range pr.applied {
		if w := g.proposals[id]; w != nil {
			delete(g.proposals, id)
			done = append(done, w)
		}
	}
	g.failOverwritten(pr.snapshot)
	kept := g.readsReady[:0]
	for _, w := range g.readsReady {
		if w.index <= g.applied {
			done = append(done, w)
			continue
		}
		kept = append(kept, w)
	}
	g.readsReady = kept
	if !pr.sent {
		d.send(g, rd.Messages)
	}
	if pr.ready {
		g.rn.Advance(*rd)
	}
	g.publish(h.cfg.Self)
	for _, w := range done {
		w.done <- nil
	}
	if g.rn.HasReady() {
		d.dirty[g] = true
	}
}

// send queues a group's messages for their peers.
func (d *driver) send(g *group, msgs []raftpb.Message) {
	for _, m := range msgs {
		if m.Type == raftpb.MsgSnap {
			d.startSnapshot(g, m)
			continue
		}
		b, err := m.Marshal()
		if err != nil {
			continue
		}
		d.h.peer(m.To).add(itemRaft, g.id, b)
	}
}

// flushSends wakes every peer's sender that has something queued.
func (d *driver) flushSends() {
	h := d.h
	for _, g := range d.quiesced {
		if !g.quiesced {
			continue // woken again in the meantime
		}
		for _, v := range g.conf.Voters {
			if v != h.cfg.Self {
				h.peer(v).add(itemQuiesce, g.id, quiesceBody(g.term, g.lastIndex()))
			}
		}
	}
	d.quiesced = d.quiesced[:0]
	h.peersMu.Lock()
	defer h.peersMu.Unlock()
	for _, p := range h.peers {
		p.kick()
	}
}

// startSnapshot answers raft's wish to send a follower a snapshot: the
// slot's data as of this node's applied index (the driver is the only
// writer of raft slots, so a RocksDB snapshot taken here is exactly that)
// is streamed to it, then the message, with that index and the slot's key
// counts, follows.
func (d *driver) startSnapshot(g *group, m raftpb.Message) {
	h := d.h
	if g.sending == nil {
		g.sending = map[PeerID]struct{}{}
	}
	if _, busy := g.sending[m.To]; busy {
		return
	}
	if h.cfg.StreamSnapshot == nil {
		g.rn.ReportSnapshot(m.To, raft.SnapshotFailure)
		return
	}
	ss, err := h.cfg.Store.OpenRaftSlotSnapshot(g.id.Table, g.id.Slot)
	if err != nil {
		g.rn.ReportSnapshot(m.To, raft.SnapshotFailure)
		return
	}
	counts := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(ss.Keys))
	counts = binary.BigEndian.AppendUint64(counts, uint64(ss.Expires))
	m.Snapshot = &raftpb.Snapshot{Data: counts, Metadata: raftpb.SnapshotMetadata{Index: g.applied, Term: g.appliedTerm, ConfState: g.conf}}
	g.sending[m.To] = struct{}{}
	h.cfg.Log.Info("raft snapshot streaming out", "group", g.id.String(), "to", m.To, "index", g.applied, "keys", ss.Keys)
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		h.streamSnapshot(d.ctx, g.id, m, ss)
	}()
}

// streamSnapshot copies the slot, then sends the snapshot's message, and
// tells the driver how it went.
func (h *Host) streamSnapshot(ctx context.Context, g GroupID, m raftpb.Message, ss *storage.SlotSnapshot) {
	defer ss.Close()
	err := h.cfg.StreamSnapshot(SnapshotStream{Ctx: ctx, To: m.To, Group: g, Index: m.Snapshot.Metadata.Index, Term: m.Snapshot.Metadata.Term,
		Next: func(maxBytes int) ([]byte, bool, error) {
			ops, done, err := ss.Next(maxBytes)
			if err != nil {
				return nil, false, err
			}
			eff := storage.Effect{Ops: ops}
			return eff.Encode(nil), done, nil
		}})
	if err == nil {
		var b []byte
		if b, err = m.Marshal(); err == nil {
			batch := binary.BigEndian.AppendUint64(nil, h.cfg.Self)
			batch = appendItem(batch, itemRaft, g, b)
			err = h.cfg.Send(m.To, batch)()
		}
	}
	ok := uint64(0)
	if err == nil {
		ok = 1
		h.snapshotsSent.Add(1)
	} else {
		h.cfg.Log.Warn("raft snapshot not delivered", "group", g.String(), "to", m.To, "err", err)
	}
	h.push(event{kind: evSnapDone, group: g, to: m.To, term: ok})
}

// confAsWanted reports whether g's configuration is what the routing wants
// (or the routing wants nothing it can act on).
func (d *driver) confAsWanted(g *group) bool {
	if len(g.want.Voters)+len(g.want.Learners) == 0 {
		return true
	}
	for _, v := range g.conf.Voters {
		if !g.want.wants(v) {
			return false
		}
	}
	for _, p := range append(slices.Clone(g.want.Voters), g.want.Learners...) {
		if !slices.Contains(g.conf.Voters, p) {
			return false
		}
	}
	return len(g.conf.Learners) == 0
}

// reconcileConf moves a leader's group one configuration change toward
// what the routing wants: add a wanted replica as a learner; promote a
// learner once it has every committed entry; then remove the voters no
// longer wanted (never this node: its leadership is handed over first),
// and the learners no longer wanted.
func (d *driver) reconcileConf(g *group) {
	if g.confPending > 0 || d.confAsWanted(g) {
		return
	}
	self := d.h.cfg.Self
	var cc *raftpb.ConfChange
	wanted := append(slices.Clone(g.want.Voters), g.want.Learners...)
	for _, p := range wanted {
		if !slices.Contains(g.conf.Voters, p) && !slices.Contains(g.conf.Learners, p) {
			cc = &raftpb.ConfChange{Type: raftpb.ConfChangeAddLearnerNode, NodeID: p}
			break
		}
	}
	if cc == nil {
		commit := g.rn.BasicStatus().Commit
		g.rn.WithProgress(func(id uint64, typ raft.ProgressType, pr tracker.Progress) {
			if cc == nil && typ == raft.ProgressTypeLearner && slices.Contains(wanted, id) && pr.Match >= commit {
				cc = &raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: id}
			}
		})
	}
	if cc == nil {
		for _, v := range g.conf.Voters {
			if !g.want.wants(v) {
				if v == self {
					// Hand leadership to a wanted voter; it removes us.
					for _, t := range g.want.Voters {
						if slices.Contains(g.conf.Voters, t) && t != self {
							g.rn.TransferLeader(t)
							break
						}
					}
					return
				}
				cc = &raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: v}
				break
			}
		}
	}
	if cc == nil {
		for _, p := range g.conf.Learners {
			if !g.want.wants(p) { // a move rolled back: the learner goes
				cc = &raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: p}
				break
			}
		}
	}
	if cc == nil {
		return
	}
	if err := g.rn.ProposeConfChange(*cc); err != nil {
		d.h.cfg.Log.Debug("raft conf change not proposed", "group", g.id.String(), "change", cc.Type.String(), "node", cc.NodeID, "err", err)
		return
	}
	g.confPending = g.lastIndex() + 1 // at most: cleared once a conf change entry is applied
	d.dirty[g] = true
	d.h.cfg.Log.Info("raft conf change proposed", "group", g.id.String(), "change", cc.Type.String(), "node", cc.NodeID)
}
