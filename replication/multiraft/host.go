package multiraft

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/pika-node/pika-node/storage"
)

// GroupID names a group: the slot it replicates.
type GroupID struct {
	Table storage.TableID
	Slot  storage.SlotID
}

func (g GroupID) String() string { return fmt.Sprintf("%d/%d", g.Table, g.Slot) }

// PeerID is a node's id inside raft groups.
type PeerID = uint64

// Store is what a host needs of the node's storage (storage.Engine): the
// groups' persisted state and log, the one write per round, and the
// slots' data for snapshots both ways.
type Store interface {
	// LoadRaftGroup reads a group's persisted state (at open).
	LoadRaftGroup(t storage.TableID, s storage.SlotID) (storage.RaftGroupState, error)
	// ApplyRaft persists many groups' ready states and applies their
	// committed effects in one write.
	ApplyRaft(groups []storage.RaftGroupWrite) error
	// OpenRaftSlotSnapshot reads a slot's data as of now (a leader's
	// snapshot for a follower).
	OpenRaftSlotSnapshot(t storage.TableID, s storage.SlotID) (*storage.SlotSnapshot, error)
	// ClearStaging and StageSlotChunk receive a snapshot beside the slot
	// until ApplyRaft lands it.
	ClearStaging(t storage.TableID, s storage.SlotID) error
	StageSlotChunk(t storage.TableID, s storage.SlotID, ops []storage.Op) error
	// ClientWritesRefused says why a client's write must not be proposed
	// now (the disk runs low), or nil.
	ClientWritesRefused() error
}

// Config configures a Host.
type Config struct {
	Self  PeerID
	Store Store
	// Send starts shipping one batch of messages to a peer node and
	// returns a function that waits for the peer's acknowledgement. A
	// peer's batches are sent in order without waiting for earlier
	// acknowledgements (at most maxInflight outstanding).
	Send func(to PeerID, batch []byte) (wait func() error)
	// Tick is the raft tick; elections time out after ElectionTicks to
	// twice that, heartbeats go every tick.
	Tick          time.Duration
	ElectionTicks int
	// ProposalTimeout bounds how long a write waits for its entry.
	ProposalTimeout time.Duration
	// PeerTimeout: a peer not heard from for this long is down.
	PeerTimeout time.Duration
	// Log compaction: once the applied index is CompactEvery past the
	// compaction point, the log is cut KeepEntries behind it, or at the
	// slowest follower's match if that is older, unless that follower is
	// more than MaxLag entries behind (it then gets a snapshot).
	CompactEvery, KeepEntries, MaxLag uint64
	// StreamSnapshot copies a snapshot of a group's slot to a follower
	// (the peer's BeginInstall, then StageChunk for each chunk) before the
	// snapshot's raft message is sent. Nil: no snapshots.
	StreamSnapshot func(SnapshotStream) error
	// OnLeader is called (on the driver goroutine: do not block) when
	// this node becomes the leader of a group, with the group's term.
	OnLeader func(g GroupID, term uint64)
	Log      *slog.Logger
}

func (c *Config) defaults() {
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = 10
	}
	if c.ProposalTimeout <= 0 {
		c.ProposalTimeout = 5 * time.Second
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.CompactEvery == 0 {
		c.CompactEvery = 1024
	}
	if c.KeepEntries == 0 {
		c.KeepEntries = 256
	}
	if c.MaxLag == 0 {
		c.MaxLag = 1 << 16
	}
}

// Host runs the groups of one node.
type Host struct {
	cfg Config

	mu     sync.Mutex
	groups map[GroupID]*group
	inbox  []event
	wake   chan struct{}

	nextID atomic.Uint64 // proposal and read ids

	peersMu     sync.Mutex
	peers       map[PeerID]*peer
	peersClosed bool // stopped: new links start closed, with no goroutines

	// bg counts the goroutines the host started; stop waits for them.
	bg sync.WaitGroup

	stageMu sync.Mutex
	staged  map[GroupID]staging

	stopped atomic.Bool

	snapshotsSent, snapshotsInstalled atomic.Int64
}

// Stats are counters of a host's work.
type Stats struct {
	Groups                            int
	SnapshotsSent, SnapshotsInstalled int64
}

// Stats returns the host's counters.
func (h *Host) Stats() Stats {
	h.mu.Lock()
	n := len(h.groups)
	h.mu.Unlock()
	return Stats{Groups: n, SnapshotsSent: h.snapshotsSent.Load(), SnapshotsInstalled: h.snapshotsInstalled.Load()}
}

// event is one thing for the driver to do.
type event struct {
	kind  eventKind
	group GroupID
	msg   raftpb.Message
	from  PeerID
	prop  *waiter
	want  Membership
	boot  bool
	to    PeerID
	term  uint64
	reply chan error
	// round and err: evLanded's
	round *pendingRound
	err   error
}

type eventKind int

const (
	evMessage eventKind = iota
	evPropose
	evRead
	evEnsure
	evRemove
	evQuiesce
	evPing
	evTransfer
	evPeerDown
	evSnapDone // our snapshot to a follower was sent (term: 1) or failed
	evLanded   // a snapshot's round was written (round, err)
)

// waiter is a proposal or a read waiting for the driver.
type waiter struct {
	id       uint64
	data     []byte // proposals: the entry
	done     chan error
	deadline time.Time
	index    uint64 // reads: the read index, once known
	// entry is a proposal's log index once this node appended it as
	// leader (0 before): a proposal still waiting when the log applied
	// past its index without it was overwritten (never committed).
	entry uint64
	// term, when not 0, is the only term a proposal may be appended in
	// (ReplicateAt), or a read confirmed in (ReadBarrierAt).
	term uint64
}

// New returns a Host; Run drives it.
func New(cfg Config) *Host {
	cfg.defaults()
	h := &Host{cfg: cfg, groups: map[GroupID]*group{}, wake: make(chan struct{}, 1), peers: map[PeerID]*peer{}, staged: map[GroupID]staging{}}
	var b [8]byte
	_, _ = rand.Read(b[:])
	h.nextID.Store(binary.BigEndian.Uint64(b[:]) >> 1)
	return h
}

// NotLeaderError is a write or read of a group this node does not lead.
// Nothing of it was applied, nor ever will be: the node may route the
// command again to the group's leader (Unapplied).
type NotLeaderError struct {
	Group  GroupID
	Leader PeerID // 0 when unknown (an election is running)
	Reason string
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("raft group %s: not the leader (%s)", e.Group, e.Reason)
}

// Unapplied reports that the command had no effect: running it again
// elsewhere is safe.
func (e *NotLeaderError) Unapplied() bool { return true }

// RedisError is the client's reply: the slot is between leaders.
func (e *NotLeaderError) RedisError() string {
	return fmt.Sprintf("CLUSTERDOWN slot %d is changing raft leader (%s), retry", e.Group.Slot, e.Reason)
}

// ErrStopped is returned once the host stopped.
var ErrStopped = errors.New("multiraft: stopped")

func (h *Host) push(ev event) {
	h.mu.Lock()
	if h.stopped.Load() {
		h.mu.Unlock()
		if ev.prop != nil {
			ev.prop.done <- ErrStopped
		}
		if ev.reply != nil {
			ev.reply <- ErrStopped
		}
		return
	}
	h.inbox = append(h.inbox, ev)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Membership is what the routing wants a group to be: Voters are the
// slot's replicas; Learners are replicas being added, which the leader
// adds as raft learners, promotes to voters once they have caught up, and
// then removes the voters no longer wanted (one change at a time).
type Membership struct {
	Voters, Learners []PeerID
}

func (m Membership) wants(p PeerID) bool {
	return slices.Contains(m.Voters, p) || slices.Contains(m.Learners, p)
}

// Ensure makes the host run group g with the wanted membership. A group it
// must create starts, when this node is one of the voters, from the voters
// (boot: this node is the placement's leader and campaigns at once); when
// it is one of the learners (a replica being added), empty, to get a
// snapshot from the leader.
func (h *Host) Ensure(g GroupID, want Membership, boot bool) {
	want = Membership{Voters: slices.Clone(want.Voters), Learners: slices.Clone(want.Learners)}
	h.push(event{kind: evEnsure, group: g, want: want, boot: boot})
}

// Conf returns the voters and learners of g's current configuration.
func (h *Host) Conf(g GroupID) (voters, learners []PeerID) {
	gr := h.lookup(g)
	if gr == nil {
		return nil, nil
	}
	c := gr.pubConf.Load()
	if c == nil {
		return nil, nil
	}
	return c.Voters, c.Learners
}

// Remove stops running group g here; the channel answers once the group
// has stopped and will write nothing more (nil), or the host has
// (ErrStopped).
func (h *Host) Remove(g GroupID) <-chan error {
	done := make(chan error, 1)
	h.push(event{kind: evRemove, group: g, reply: done})
	return done
}

// RemoveTable stops running every group of table t here (it was dropped).
func (h *Host) RemoveTable(t storage.TableID) {
	h.mu.Lock()
	var ids []GroupID
	for id := range h.groups {
		if id.Table == t {
			ids = append(ids, id)
		}
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.Remove(id)
	}
}

// TransferLeader asks the leader of g to hand leadership to peer to.
func (h *Host) TransferLeader(g GroupID, to PeerID) {
	h.push(event{kind: evTransfer, group: g, to: to})
}

// SnapshotStream is one snapshot on its way to a follower.
type SnapshotStream struct {
	// Ctx is done when the host stops: the stream gives up.
	Ctx   context.Context
	To    PeerID
	Group GroupID
	// Index and Term name the snapshot: the leader's applied entry.
	Index, Term uint64
	// Next returns the next chunk (an encoded storage.Effect of puts).
	Next func(maxBytes int) (chunk []byte, done bool, err error)
}

// staging is a snapshot being streamed into a group's staging area.
type staging struct {
	from        PeerID
	index, term uint64
	complete    bool
	// landing is set once raft has been given the snapshot's message: the
	// staged data is what the next round lands, so no other snapshot may
	// empty or add to the staging area until that round is done.
	landing bool
}

// BeginInstall starts receiving snapshot (index, term) of group g from
// peer from: the slot's staging area is emptied. The slot's data, log and
// state are untouched until the snapshot's message lands it all at once.
func (h *Host) BeginInstall(g GroupID, from PeerID, index, term uint64) error {
	gr := h.lookup(g)
	if gr == nil {
		return fmt.Errorf("raft group %s is not here", g)
	}
	if gr.pubLeader.Load() == h.cfg.Self {
		return fmt.Errorf("raft group %s: its leader takes no snapshot", g)
	}
	h.stageMu.Lock()
	defer h.stageMu.Unlock()
	if st, ok := h.staged[g]; ok && st.landing {
		return fmt.Errorf("raft group %s: snapshot %d/%d is landing", g, st.index, st.term)
	}
	if err := h.cfg.Store.ClearStaging(g.Table, g.Slot); err != nil {
		return err
	}
	h.staged[g] = staging{from: from, index: index, term: term}
	return nil
}

// StageChunk stores a chunk of the snapshot BeginInstall started; last
// marks it complete.
func (h *Host) StageChunk(g GroupID, from PeerID, index, term uint64, ops []storage.Op, last bool) error {
	h.stageMu.Lock()
	defer h.stageMu.Unlock()
	st, ok := h.staged[g]
	if !ok || st.from != from || st.index != index || st.term != term || st.complete {
		return fmt.Errorf("raft group %s: no snapshot %d/%d from %x being received", g, index, term, from)
	}
	if err := h.cfg.Store.StageSlotChunk(g.Table, g.Slot, ops); err != nil {
		return err
	}
	if last {
		st.complete = true
		h.staged[g] = st
	}
	return nil
}

// claimStaged reports whether the snapshot (index, term) from peer from
// is completely staged for g and, if so, marks it landing: the staging
// area stays as it is until the next round has landed it (unstage) or
// raft has declined it (releaseStaged).
func (h *Host) claimStaged(g GroupID, from PeerID, index, term uint64) bool {
	h.stageMu.Lock()
	defer h.stageMu.Unlock()
	st, ok := h.staged[g]
	if !ok || !st.complete || st.from != from || st.index != index || st.term != term {
		return false
	}
	st.landing = true
	h.staged[g] = st
	return true
}

// releaseStaged lets a new snapshot replace g's staged one: raft did not
// take the one it was given (it was older than what the group has).
func (h *Host) releaseStaged(g GroupID) {
	h.stageMu.Lock()
	defer h.stageMu.Unlock()
	if st, ok := h.staged[g]; ok {
		st.landing = false
		h.staged[g] = st
	}
}

// unstage forgets g's staged snapshot: it landed, or the group is gone.
func (h *Host) unstage(g GroupID) {
	h.stageMu.Lock()
	delete(h.staged, g)
	h.stageMu.Unlock()
}

// PeerDown tells the host that peer is gone (its lease expired, say).
func (h *Host) PeerDown(p PeerID) { h.push(event{kind: evPeerDown, from: p}) }

func (h *Host) lookup(g GroupID) *group {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.groups[g]
}

// Status is what the host knows of a group.
type Status struct {
	Leader  PeerID
	Term    uint64
	Applied uint64
	Running bool
	// Quiesced: the group sleeps (an idle leader stopped ticking and
	// sending heartbeats; its followers were told).
	Quiesced bool
}

// GroupStatus returns g's status as of the last round.
func (h *Host) GroupStatus(g GroupID) Status {
	gr := h.lookup(g)
	if gr == nil {
		return Status{}
	}
	return Status{Leader: gr.pubLeader.Load(), Term: gr.pubTerm.Load(), Applied: gr.pubApplied.Load(), Running: true, Quiesced: gr.pubQuiesced.Load()}
}

// Admit implements storage.Committer: a write of slots may be evaluated
// once this node leads each one's group and has applied its whole log;
// it returns each group's term then (Commit holds the batch to it).
// The caller holds the slots' locks, so no other local write of them can
// start meanwhile.
func (h *Host) Admit(t storage.TableID, slots []storage.SlotID) ([]uint64, error) {
	terms := make([]uint64, len(slots))
	for i, s := range slots {
		term, err := h.WritableTerm(t, s)
		if err != nil {
			return nil, err
		}
		terms[i] = term
	}
	return terms, nil
}

// Commit implements storage.Committer: each slot's effect is proposed to
// its group, and Commit returns once every one was applied here (the
// group's apply writes the data), then releases the batch. A slot whose
// commands changed nothing was only read: its reply is linearizable once
// leadership is confirmed (ReadBarrier), since a deposed leader that does
// not know it yet would answer from stale data.
//
// Both happen in the term in which the slot was admitted
// (Batch.AdmittedTerm), or fail unapplied: a node that evaluated the
// batch as a deposed leader and was elected again before this commit
// confirmed its reads in the new term and answered values older than
// writes another leader had acknowledged in between (a stale read the
// linearizability checks caught about once in 150 rounds, with a node
// stalled).
//
// Each slot commits through its own group, so a batch of several slots
// may fail in part: the error is then a *storage.CommitError naming the
// slots that failed; the others' effects are committed.
func (h *Host) Commit(b *storage.Batch) error {
	defer b.Release()
	t := b.Table()
	effects := b.Effects()
	type pending struct {
		slot storage.SlotID
		wait <-chan error
	}
	for _, se := range effects {
		if se.Effect != nil {
			if err := h.cfg.Store.ClientWritesRefused(); err != nil {
				return err // nothing proposed: the batch is unapplied
			}
			break
		}
	}
	waits := make([]pending, 0, len(effects))
	var failed []storage.SlotError
	for _, se := range effects {
		if se.Effect == nil {
			continue
		}
		waits = append(waits, pending{se.Slot, h.ReplicateAt(t, se.Slot, se.Effect, b.AdmittedTerm(se.Slot))})
	}
	for _, se := range effects {
		if se.Effect != nil {
			continue
		}
		if err := h.ReadBarrierAt(context.Background(), t, se.Slot, b.AdmittedTerm(se.Slot)); err != nil {
			failed = append(failed, storage.SlotError{Slot: se.Slot, Err: err})
		}
	}
	for _, w := range waits {
		if err := <-w.wait; err != nil {
			failed = append(failed, storage.SlotError{Slot: w.slot, Effect: true, Err: err})
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(effects) == 1:
		return failed[0].Err
	}
	return &storage.CommitError{Failed: failed, Effects: len(waits)}
}

// WritableTerm is Writable, and the term in which this node leads the
// group and has applied its whole log: the term read before and after
// Writable is the same, so the two are of one round.
func (h *Host) WritableTerm(t storage.TableID, s storage.SlotID) (uint64, error) {
	g := GroupID{t, s}
	for {
		before := h.GroupStatus(g).Term
		if err := h.Writable(t, s); err != nil {
			return 0, err
		}
		if after := h.GroupStatus(g).Term; after == before {
			return after, nil
		}
	}
}

// Writable waits (at most the proposal timeout) until this node leads g
// and has applied its whole log, woken by the group's rounds.
func (h *Host) Writable(t storage.TableID, s storage.SlotID) error {
	g := GroupID{t, s}
	var timeout <-chan time.Time
	for {
		gr := h.lookup(g)
		if gr == nil {
			return &NotLeaderError{Group: g, Reason: "no raft group here"}
		}
		changed := gr.changes()
		if gr.pubWritable.Load() {
			return nil
		}
		lead := gr.pubLeader.Load()
		if lead != 0 && lead != h.cfg.Self {
			return &NotLeaderError{Group: g, Leader: lead, Reason: "led elsewhere"}
		}
		if h.stopped.Load() {
			return ErrStopped
		}
		if timeout == nil {
			t := time.NewTimer(h.cfg.ProposalTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return &NotLeaderError{Group: g, Leader: lead, Reason: "no leader elected in time"}
		}
	}
}

// Replicate proposes an encoded storage.Effect of a slot; the channel
// delivers nil once this node applied it (storage's ApplyRaft), or the
// error.
func (h *Host) Replicate(t storage.TableID, s storage.SlotID, effect []byte) <-chan error {
	return h.ReplicateAt(t, s, effect, 0)
}

// ReplicateAt is Replicate of an entry that must be appended in term
// (unless 0): when the group has moved to another term, it fails unapplied.
// A unit's part, evaluated over a copy read while this node led the slot
// in term, is appended only if no other leader could have written the
// slot since (another leader means another term).
func (h *Host) ReplicateAt(t storage.TableID, s storage.SlotID, effect []byte, term uint64) <-chan error {
	w := &waiter{id: h.nextID.Add(1), done: make(chan error, 1), deadline: time.Now().Add(h.cfg.ProposalTimeout), term: term}
	w.data = binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(effect)), w.id)
	w.data = append(w.data, effect...)
	h.push(event{kind: evPropose, group: GroupID{t, s}, prop: w})
	return w.done
}

// ReadBarrier returns once a read of g started now is linearizable here:
// this node confirmed with a quorum that it leads g (ReadIndex) and has
// applied up to the index the quorum confirmed.
func (h *Host) ReadBarrier(ctx context.Context, t storage.TableID, s storage.SlotID) error {
	return h.ReadBarrierAt(ctx, t, s, 0)
}

// ReadBarrierAt is ReadBarrier confirmed in term (unless 0): when the
// group has moved to another term, it fails. A read evaluated while this
// node led the slot in term is linearizable once a quorum confirms the
// lead in that same term (no other leader can have written in between).
func (h *Host) ReadBarrierAt(ctx context.Context, t storage.TableID, s storage.SlotID, term uint64) error {
	w := &waiter{id: h.nextID.Add(1), done: make(chan error, 1), deadline: time.Now().Add(h.cfg.ProposalTimeout), term: term}
	h.push(event{kind: evRead, group: GroupID{t, s}, prop: w})
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run drives every group until ctx is done, and returns once every
// goroutine the host started has stopped.
func (h *Host) Run(ctx context.Context) error {
	tick := time.NewTicker(h.cfg.Tick)
	defer tick.Stop()
	// Run may also return on a storage failure: its goroutines end with
	// it either way.
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		h.stop()
	}()
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		h.pingPeers(ctx)
	}()
	d := driver{h: h, ctx: ctx, dirty: map[*group]bool{}}
	busy := false
	for {
		ticked := false
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-tick.C:
			ticked = true
		}
		if busy {
			// Under load, let the writers that are about to propose do
			// so before this round: fewer, larger rounds (one RocksDB
			// write and one batch per peer each).
			runtime.Gosched()
		}
		h.mu.Lock()
		evs := h.inbox
		h.inbox = nil
		h.mu.Unlock()
		busy = len(evs) > 0
		for i := range evs {
			d.handle(&evs[i])
		}
		if ticked {
			d.tick()
		}
		for len(d.dirty) > 0 {
			if err := d.round(); err != nil {
				h.cfg.Log.Error("raft round failed", "err", err)
				if errors.Is(err, storage.ErrClosed) {
					return err
				}
				break
			}
		}
		d.flushSends()
	}
}

// pingPeers sends a liveness ping to every peer every PeerTimeout/5 and
// reports silent ones down. It runs apart from the driver, so that a long
// round (a large snapshot landing) never delays the pings that keep this
// node alive in its peers' eyes.
func (h *Host) pingPeers(ctx context.Context) {
	t := time.NewTicker(h.cfg.PeerTimeout / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		h.peersMu.Lock()
		peers := make([]*peer, 0, len(h.peers))
		for _, p := range h.peers {
			peers = append(peers, p)
		}
		h.peersMu.Unlock()
		for _, p := range peers {
			p.add(itemPing, GroupID{}, nil)
			p.kick()
			silent := time.Duration(now - p.lastHeard.Load())
			if silent > h.cfg.PeerTimeout && p.down.CompareAndSwap(false, true) {
				h.PeerDown(p.id)
			}
		}
	}
}

// stop fails what waits on the groups, closes the peer links and waits
// for every goroutine the host started (Run's ping loop, the peer links'
// senders, snapshot streams).
func (h *Host) stop() {
	h.mu.Lock()
	h.stopped.Store(true)
	groups := h.groups
	evs := h.inbox
	h.inbox = nil
	h.mu.Unlock()
	for _, g := range groups {
		g.failAll(ErrStopped)
		g.wakeWaiters()
		evs = append(evs, g.removals...) // waiting for a landing (Run's goroutine: stop runs on it)
	}
	for _, ev := range evs {
		if ev.prop != nil {
			ev.prop.done <- ErrStopped
		}
		if ev.reply != nil {
			ev.reply <- ErrStopped
		}
	}
	h.peersMu.Lock()
	h.peersClosed = true
	for _, p := range h.peers {
		p.close()
	}
	h.peersMu.Unlock()
	h.bg.Wait()
}

// raftLogger sends raft's logging to slog; raft's info lines (one per
// group per election) are debug here.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)                 {}
func (r raftLogger) Debugf(format string, v ...any) {}
func (r raftLogger) Info(v ...any)                  { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(format string, v ...any)  { r.l.Debug(fmt.Sprintf(format, v...)) }
func (r raftLogger) Warning(v ...any)               { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(format string, v ...any) {
	r.l.Warn(fmt.Sprintf(format, v...))
}
func (r raftLogger) Error(v ...any)                 { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(format string, v ...any) { r.l.Error(fmt.Sprintf(format, v...)) }
func (r raftLogger) Fatal(v ...any)                 { panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }
func (r raftLogger) Panic(v ...any)                 { panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }

var _ raft.Logger = raftLogger{}
