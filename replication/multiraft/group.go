package multiraft

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// The first index of every group: a new group starts from a snapshot at
// index 1 holding its voters, identical on every replica, instead of
// bootstrap configuration entries (which a restart could not replay once
// applied).
const (
	initialIndex = 1
	initialTerm  = 1
)

// quiesceAfter is how many ticks a leader stays idle, everything
// committed and acknowledged, before it stops ticking: the heartbeats of
// these ticks tell followers the final commit index.
const quiesceAfter = 3

// group is one slot's raft group. Only the driver goroutine touches its
// fields except the pub* atomics, which it publishes after each round.
type group struct {
	id    GroupID
	rn    *raft.RawNode
	store *raft.MemoryStorage
	conf  raftpb.ConfState

	applied, appliedTerm      uint64
	compactIndex, compactTerm uint64

	lead       PeerID
	term       uint64
	state      raft.StateType
	leaderFrom uint64 // first index of this node's current leadership

	quiesced bool
	idle     int
	// campaignAt: its leader died; campaign then unless a leader showed up
	campaignAt time.Time

	fresh  bool // its initial state is not persisted yet
	initHS raftpb.HardState

	sending map[PeerID]struct{} // followers we stream a snapshot to
	// snapLanding: raft was given a staged snapshot's message; the next
	// round lands it or, if raft declined it, releases the staging area.
	snapLanding bool
	// landing: a snapshot's round is being written off the driver (land);
	// removals asked meanwhile wait for it.
	landing  bool
	removals []event

	want        Membership // what the routing wants (reconcileConf)
	confPending uint64     // index of a proposed conf change not yet applied

	proposals  map[uint64]*waiter
	reads      map[uint64]*waiter // waiting for their read state
	readsReady []*waiter          // read index known, waiting for apply

	pubQuiesced atomic.Bool
	// changed, when a waiter asked for it (changes), is closed at the
	// next publish: Writable waits on it instead of polling.
	changed     atomic.Pointer[chan struct{}]
	pubLeader   atomic.Uint64
	pubTerm     atomic.Uint64
	pubApplied  atomic.Uint64
	pubWritable atomic.Bool
	pubConf     atomic.Pointer[raftpb.ConfState]
}

// openGroup loads group id from the engine, or creates it: from the
// wanted voters if this node is one, else empty (a learner being added
// waits for the leader's snapshot).
func (h *Host) openGroup(id GroupID, want Membership) (*group, error) {
	st, err := h.cfg.Store.LoadRaftGroup(id.Table, id.Slot)
	if err != nil {
		return nil, err
	}
	g := &group{id: id, store: raft.NewMemoryStorage(), proposals: map[uint64]*waiter{}, reads: map[uint64]*waiter{}}
	var hs raftpb.HardState
	var fresh bool
	joining := !st.Exists && !slices.Contains(want.Voters, h.cfg.Self)
	if !st.Exists && !joining {
		// A new group: the same initial snapshot on every replica.
		fresh = true
		g.conf = raftpb.ConfState{Voters: want.Voters}
		g.applied, g.appliedTerm = initialIndex, initialTerm
		g.compactIndex, g.compactTerm = initialIndex, initialTerm
		hs = raftpb.HardState{Term: initialTerm, Commit: initialIndex}
	} else {
		if err := g.conf.Unmarshal(st.Applied.Conf); err != nil {
			return nil, fmt.Errorf("group %s: conf state: %w", id, err)
		}
		if err := hs.Unmarshal(st.HardState); err != nil {
			return nil, fmt.Errorf("group %s: hard state: %w", id, err)
		}
		g.applied, g.appliedTerm = st.Applied.Index, st.Applied.Term
		g.compactIndex, g.compactTerm = st.Applied.CompactIndex, st.Applied.CompactTerm
	}
	if !joining {
		snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: g.compactIndex, Term: g.compactTerm, ConfState: g.conf}}
		if err := g.store.ApplySnapshot(snap); err != nil {
			return nil, fmt.Errorf("group %s: %w", id, err)
		}
	}
	ents := make([]raftpb.Entry, 0, len(st.Entries))
	for _, b := range st.Entries {
		var e raftpb.Entry
		if err := e.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("group %s: log entry: %w", id, err)
		}
		ents = append(ents, e)
	}
	if err := g.store.Append(ents); err != nil {
		return nil, fmt.Errorf("group %s: %w", id, err)
	}
	if !joining {
		if err := g.store.SetHardState(hs); err != nil {
			return nil, err
		}
	}
	g.want = want
	// A new group's initial state is written with the next round (one
	// write for a whole table's groups, not one each); lost in a crash
	// before that, it is created again identically.
	g.fresh = fresh
	g.initHS = hs
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              h.cfg.Self,
		ElectionTick:    h.cfg.ElectionTicks,
		HeartbeatTick:   1,
		Storage:         g.store,
		Applied:         g.applied,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true,
		PreVote:         true,
		ReadOnlyOption:  raft.ReadOnlySafe,
		Logger:          raftLogger{h.cfg.Log.With("group", id.String())},
	})
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", id, err)
	}
	g.rn = rn
	g.term = hs.Term
	g.state = raft.StateFollower
	g.publish(h.cfg.Self)
	return g, nil
}

// lastIndex is the last index of the persisted log.
func (g *group) lastIndex() uint64 {
	i, _ := g.store.LastIndex()
	return i
}

// setQuiesced puts the group to sleep (no ticks, no heartbeats) or wakes
// it, and publishes which.
func (g *group) setQuiesced(q bool) {
	g.quiesced = q
	g.pubQuiesced.Store(q)
}

// publish updates what other goroutines read.
func (g *group) publish(self PeerID) {
	if c := g.pubConf.Load(); c == nil || !slices.Equal(c.Voters, g.conf.Voters) || !slices.Equal(c.Learners, g.conf.Learners) {
		conf := raftpb.ConfState{Voters: slices.Clone(g.conf.Voters), Learners: slices.Clone(g.conf.Learners)}
		g.pubConf.Store(&conf)
	}
	lead := g.lead
	g.pubLeader.Store(lead)
	g.pubTerm.Store(g.term)
	g.pubApplied.Store(g.applied)
	g.pubWritable.Store(g.state == raft.StateLeader && g.applied >= g.leaderFrom && g.applied == g.lastIndex() && len(g.proposals) == 0)
	g.wakeWaiters()
}

// changes returns a channel closed at the group's next publish (or when
// it stops). Take it before reading the published state: a publish in
// between closes it.
func (g *group) changes() <-chan struct{} {
	for {
		if p := g.changed.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if g.changed.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// wakeWaiters closes the channel changes handed out, if any (cheap when
// nobody waits).
func (g *group) wakeWaiters() {
	if p := g.changed.Swap(nil); p != nil {
		close(*p)
	}
}

// failAll answers every waiter of the group with err.
func (g *group) failAll(err error) {
	for id, w := range g.proposals {
		w.done <- err
		delete(g.proposals, id)
	}
	g.failReads(err)
}

// failReads fails the reads waiting for a ReadIndex or for their index to
// be applied.
func (g *group) failReads(err error) {
	for id, w := range g.reads {
		w.done <- err
		delete(g.reads, id)
	}
	for _, w := range g.readsReady {
		w.done <- err
	}
	g.readsReady = nil
}

// failOverwritten fails the proposals whose entry index was applied
// without them (a new leader overwrote the entry: it never commits).
// After a snapshot their fate is unknown: they fail as timed out.
func (g *group) failOverwritten(snapshot bool) {
	for id, w := range g.proposals {
		switch {
		case snapshot && (w.entry == 0 || w.entry <= g.applied):
			w.done <- &TimeoutError{Group: g.id}
		case w.entry != 0 && w.entry <= g.applied:
			w.done <- &NotLeaderError{Group: g.id, Leader: g.lead, Reason: "the write was overwritten by a new leader"}
		default:
			continue
		}
		delete(g.proposals, id)
	}
}

// expire fails the waiters whose deadline passed.
func (g *group) expire(now time.Time) {
	for id, w := range g.proposals {
		if now.After(w.deadline) {
			w.done <- &TimeoutError{Group: g.id}
			delete(g.proposals, id)
		}
	}
	for id, w := range g.reads {
		if now.After(w.deadline) {
			w.done <- &TimeoutError{Group: g.id, Read: true}
			delete(g.reads, id)
		}
	}
	kept := g.readsReady[:0]
	for _, w := range g.readsReady {
		if now.After(w.deadline) {
			w.done <- &TimeoutError{Group: g.id, Read: true}
			continue
		}
		kept = append(kept, w)
	}
	g.readsReady = kept
}

// TimeoutError is a write whose entry was not applied in time (its outcome
// is unknown: it may still commit) or a read that got no read index.
type TimeoutError struct {
	Group GroupID
	Read  bool
}

func (e *TimeoutError) Error() string {
	if e.Read {
		return fmt.Sprintf("raft group %s: read index timed out", e.Group)
	}
	return fmt.Sprintf("raft group %s: proposal timed out", e.Group)
}

// RedisError is the client's reply.
func (e *TimeoutError) RedisError() string {
	if e.Read {
		return fmt.Sprintf("CLUSTERDOWN slot %d: no quorum confirmed its raft leader in time", e.Group.Slot)
	}
	return fmt.Sprintf("CLUSTERDOWN slot %d: the write was not committed in time (it may still be)", e.Group.Slot)
}
