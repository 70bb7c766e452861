package replication

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Config tunes a Shipper.
type Config struct {
	// Self is this node.
	Self meta.NodeID
	// Interval is the least time between the starts of two rounds
	// (walks of every slot this node leads). A commit that appends to a
	// slot log wakes the shipper at once when its last round started
	// longer ago; under a stream of commits, rounds run every Interval
	// and each ships what was committed meanwhile, so the walk's cost
	// (about 1 ms for a 4096-slot, 3-replica table, docs/replication.md)
	// is paid at most 1/Interval times a second. Default 2ms.
	Interval time.Duration
	// Fallback is how often the shipper walks its slots with no commit or
	// full sync to wake it: it retries followers that did not answer or
	// refused, probes new followers after a routing change and refreshes
	// the stats. Default 50ms.
	Fallback time.Duration
	// MaxBytes bounds the entries sent for one slot in one round. Default 256 KiB.
	MaxBytes int
	// Timeout bounds the wait for a follower's answer. Default 5s.
	Timeout time.Duration
	Log     *slog.Logger
}

// ShipperStore is what a Shipper needs of the node's storage
// (storage.Engine).
type ShipperStore interface {
	LogBounds(t storage.TableID, s storage.SlotID) (first, last storage.LogIndex, lastEpoch storage.Epoch)
	ReadLog(t storage.TableID, s storage.SlotID, from storage.LogIndex, maxBytes int) ([]storage.LogEntry, error)
	// LogWritten receives after commits appended to slot logs.
	LogWritten() <-chan struct{}
	SlotKeyCount(t storage.TableID, s storage.SlotID) int64
	StartLog(t storage.TableID, s storage.SlotID) error
	OpenSlotSnapshot(t storage.TableID, s storage.SlotID) (*storage.SlotSnapshot, error)
}

// Shipper sends the slots this node leads to their followers.
type Shipper struct {
	cfg   Config
	eng   ShipperStore
	links *peer.Links
	snap  func() *router.Snapshot
	// next is, per follower and slot, the next index to send (0: unknown,
	// ask the follower).
	next map[target]storage.LogIndex
	// behind remembers the followers reported as needing a full sync.
	behind map[target]bool
	// syncing holds the full syncs running; their results come on synced.
	syncing map[target]bool
	synced  chan syncResult
	// syncs are the full syncs' goroutines; Run waits for them.
	syncs sync.WaitGroup

	stats     atomic.Pointer[Stats]
	bytesSent atomic.Int64
	entries   atomic.Int64

	// acked is, per follower and slot, the last index the follower
	// acknowledged (AwaitAcked); copying holds the followers that need
	// or get a full sync; ackMoved is closed and replaced each time a
	// round moves them.
	ackMu    sync.Mutex
	acked    map[target]storage.LogIndex
	copying  map[target]bool
	ackMoved chan struct{}
	// ackedAt is when each follower last answered (ackMu); answered
	// collects a round's answers for it (the shipper's goroutine).
	ackedAt  map[target]time.Time
	answered map[target]bool
}

// Stats is what the shipper saw in its last round.
type Stats struct {
	// Followers holds, per follower node, how many slots it follows of
	// this node and how far the furthest behind is, in entries.
	Followers map[meta.NodeID]FollowerStats
	// FullSyncs is how many full syncs are running.
	FullSyncs int
	// BytesSent and EntriesSent count what was shipped since start.
	BytesSent, EntriesSent int64
}

// FollowerStats is one follower node's state as its leader sees it.
type FollowerStats struct {
	Slots      int
	MaxLag     int64 // entries; -1 while its position is unknown
	Behind     int   // slots needing (or in) a full sync
	LaggingSum int64
}

// Stats returns the last round's view (nil before the first round).
func (s *Shipper) Stats() *Stats { return s.stats.Load() }

type syncResult struct {
	to   target
	next storage.LogIndex // 0: failed, probe again
}

// maxFullSyncs bounds the full syncs running at once.
const maxFullSyncs = 2

type target struct {
	node  meta.NodeID
	table storage.TableID
	slot  storage.SlotID
}

// NewShipper returns a shipper reading store's slot logs and sending over
// links: the log as peer.ClassForward (one slot's requests in order, on
// its connection), full syncs as peer.ClassBulk (apart from the log and
// the clients' forwards, so that a follower writing a large copy holds
// none of them up).
func NewShipper(cfg Config, store ShipperStore, links *peer.Links, snap func() *router.Snapshot) *Shipper {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Millisecond
	}
	if cfg.Fallback <= 0 {
		cfg.Fallback = 50 * time.Millisecond
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Shipper{cfg: cfg, eng: store, links: links, snap: snap, next: map[target]storage.LogIndex{},
		behind: map[target]bool{}, syncing: map[target]bool{}, synced: make(chan syncResult, 64),
		acked: map[target]storage.LogIndex{}, copying: map[target]bool{}, ackMoved: make(chan struct{}),
		ackedAt: map[target]time.Time{}, answered: map[target]bool{}}
}

// ErrNotLeader is AwaitAcked for a slot this node does not lead (any
// more): its followers take nothing more from it.
var ErrNotLeader = errors.New("replication: this node does not lead the slot")

// AwaitAcked returns once every live follower of slot s of table t (the
// replicas the routing lists whose node is registered) acknowledged the
// slot's log up to index: then a failover, which promotes the most
// up-to-date of them, keeps the entry. A follower that does not answer
// keeps it waiting until ctx ends (its error is returned); one that
// needs or gets a full sync (a replica being added, one that fell behind
// the retained log) is not waited for: it lacks more than this entry
// until its copy lands, which takes the slot's lock a unit may hold.
func (s *Shipper) AwaitAcked(ctx context.Context, t storage.TableID, slot storage.SlotID, index storage.LogIndex) error {
	for {
		s.ackMu.Lock()
		moved := s.ackMoved
		behind, err := s.unacked(t, slot, index)
		s.ackMu.Unlock()
		if err != nil || behind == "" {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication: follower %s did not acknowledge entry %d of slot %d: %w", behind, index, slot, ctx.Err())
		case <-moved:
		}
	}
}

// unacked returns a live follower of the slot that has not acknowledged
// index ("" when none); ackMu is held.
func (s *Shipper) unacked(t storage.TableID, slot storage.SlotID, index storage.LogIndex) (meta.NodeID, error) {
	snap := s.snap()
	if snap == nil {
		return "", ErrNotLeader
	}
	tb, ok := snap.Table(t)
	if !ok || int(slot) >= int(tb.Slots) {
		return "", ErrNotLeader
	}
	if tb.Route(slot).Leader != s.cfg.Self {
		return "", ErrNotLeader
	}
	for to := range s.liveFollowers(snap, tb, slot) {
		if !s.copying[to] && s.acked[to] < index {
			return to.node, nil
		}
	}
	return "", nil
}

// liveFollowers yields the followers of a slot of table tb that are alive
// in snapshot snap.
func (s *Shipper) liveFollowers(snap *router.Snapshot, tb *router.Table, slot storage.SlotID) iter.Seq[target] {
	return func(yield func(target) bool) {
		for _, f := range tb.Route(slot).Replicas {
			if f == s.cfg.Self {
				continue
			}
			if _, live := snap.Node(f); live && !yield(target{f, tb.ID, slot}) {
				return
			}
		}
	}
}

// GoodFollowers counts the followers of slot s of table t (led here)
// that min-replicas-to-write counts as good, as Redis counts replicas
// whose last acknowledgement is at most maxLag old: live in the routing,
// their position known, not being copied, and either holding the slot's
// whole log or having answered within maxLag. A follower that is up to
// date is not sent anything, so it stays good while the slot is idle; one
// cut off is found when a write is shipped to it and it does not answer
// (Config.Timeout), or by its lease.
func (s *Shipper) GoodFollowers(t storage.TableID, slot storage.SlotID, maxLag time.Duration) int {
	snap := s.snap()
	if snap == nil {
		return 0
	}
	tb, ok := snap.Table(t)
	if !ok || int(slot) >= int(tb.Slots) {
		return 0
	}
	_, last, _ := s.eng.LogBounds(t, slot)
	now := time.Now()
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	good := 0
	for to := range s.liveFollowers(snap, tb, slot) {
		acked, known := s.acked[to]
		switch {
		case !known || s.copying[to]:
		case acked >= last, now.Sub(s.ackedAt[to]) <= maxLag:
			good++
		}
	}
	return good
}

// AwaitReplicas is WAIT on this node's part of table t: it waits until,
// for every async slot of t this node leads, at least want followers
// acknowledged the slot's log as of the call (every write answered
// before it, whichever client made it), or ctx ends. It returns the
// smallest number of such followers among those slots, or -1 when this
// node leads none of t's slots.
func (s *Shipper) AwaitReplicas(ctx context.Context, t storage.TableID, want int) int {
	snap := s.snap()
	if snap == nil {
		return -1
	}
	tb, ok := snap.Table(t)
	if !ok {
		return -1
	}
	type goal struct {
		slot  storage.SlotID
		index storage.LogIndex
	}
	var goals []goal
	for i := range tb.Slots {
		slot := storage.SlotID(i)
		if tb.Route(slot).Leader != s.cfg.Self {
			continue
		}
		_, last, _ := s.eng.LogBounds(t, slot)
		goals = append(goals, goal{slot, last})
	}
	if len(goals) == 0 {
		return -1
	}
	for {
		if snap = s.snap(); snap == nil {
			return -1
		}
		if tb, ok = snap.Table(t); !ok {
			return -1
		}
		s.ackMu.Lock()
		moved := s.ackMoved
		least := -1
		for _, g := range goals {
			n := s.ackedCount(snap, tb, g.slot, g.index)
			if least < 0 || n < least {
				least = n
			}
		}
		s.ackMu.Unlock()
		if least >= want {
			return least
		}
		select {
		case <-ctx.Done():
			return least
		case <-moved:
		}
	}
}

// ackedCount counts the live followers of a slot of table tb that
// acknowledged its log up to index; ackMu is held.
func (s *Shipper) ackedCount(snap *router.Snapshot, tb *router.Table, slot storage.SlotID, index storage.LogIndex) int {
	if int(slot) >= int(tb.Slots) {
		return 0
	}
	n := 0
	for to := range s.liveFollowers(snap, tb, slot) {
		if acked, known := s.acked[to]; known && acked >= index && !s.copying[to] {
			n++
		}
	}
	return n
}

// publishAcked records the followers' positions after a round (next - 1
// per follower whose position is known) and wakes AwaitAcked.
func (s *Shipper) publishAcked() {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	now := time.Now()
	for to := range s.answered {
		s.ackedAt[to] = now
		delete(s.answered, to)
	}
	moved := false
	for to, next := range s.next {
		if cur, known := s.acked[to]; next > 0 && (!known || cur != next-1) {
			s.acked[to] = next - 1
			moved = true
		}
	}
	for to := range s.acked {
		// Forgotten, or its position unknown (it did not answer, or
		// will be synced again): not counted until it answers.
		if s.next[to] == 0 {
			delete(s.acked, to)
			delete(s.ackedAt, to)
		}
	}
	for to := range s.copying {
		if !s.behind[to] && !s.syncing[to] {
			delete(s.copying, to)
			moved = true
		}
	}
	for _, set := range []map[target]bool{s.behind, s.syncing} {
		for to := range set {
			if !s.copying[to] {
				s.copying[to] = true
				moved = true
			}
		}
	}
	if moved {
		close(s.ackMoved)
		s.ackMoved = make(chan struct{})
	}
}

// Run ships until ctx is done; it returns once the full syncs it started
// have stopped. A round walks every slot this node leads and sends each
// follower what it lacks; a round that moved a follower's position is
// followed by another (the follower may lack more than a round sends, or
// a probe's answer may have found entries to send). Otherwise the shipper
// waits for a commit to a slot log, a full sync's end or Config.Fallback.
// A commit during a round leaves its wake pending, so the next round sees
// it: no entry waits for the fallback. Rounds start Config.Interval apart
// at least.
func (s *Shipper) Run(ctx context.Context) {
	defer s.syncs.Wait() // their results are buffered: none blocks
	fallback := time.NewTicker(s.cfg.Fallback)
	defer fallback.Stop()
	pace := time.NewTimer(0) // Reset drops its first fire (Go 1.23 timers)
	defer pace.Stop()
	for ctx.Err() == nil {
		start := time.Now()
		more := false
		if snap := s.snap(); snap != nil {
			more = s.round(ctx, snap)
		}
		if !more {
			s.await(ctx, fallback.C)
		}
		if rest := s.cfg.Interval - time.Since(start); rest > 0 {
			pace.Reset(rest)
			select {
			case <-ctx.Done():
			case <-pace.C:
			}
		}
	}
}

// await returns when there may be something to ship: a commit appended to
// a slot log, a full sync ended well, tick fired or ctx is done. A failed
// full sync is recorded and waited past: it is retried on the next tick,
// as other failures are, not in a loop as fast as it fails.
func (s *Shipper) await(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.eng.LogWritten():
			return
		case r := <-s.synced:
			s.landSync(r)
			if r.next > 0 {
				return
			}
		case <-tick:
			return
		}
	}
}

// landSync records a full sync's result: the follower's position after
// it, or 0 (probe again) when it failed.
func (s *Shipper) landSync(r syncResult) {
	delete(s.syncing, r.to)
	s.next[r.to] = r.next
	if r.next > 0 {
		delete(s.behind, r.to)
	}
}

type sent struct {
	to   target
	fut  *peer.Future
	from storage.LogIndex // the follower's next index when sent, 0 for a probe
	last storage.LogIndex // the last index sent, 0 for a probe
}

// round sends every follower what it lacks, then reads the answers. It
// reports whether the next round has work at once: an answer moved a
// follower's position (to ship from), or a follower was found to need a
// full sync and one can start.
func (s *Shipper) round(ctx context.Context, snap *router.Snapshot) (more bool) {
	for done := false; !done; {
		select {
		case r := <-s.synced:
			s.landSync(r)
		default:
			done = true
		}
	}
	var out []sent
	live := map[target]bool{}
	marked := false // a follower was found to need a full sync
	for _, tb := range snap.Tables() {
		if tb.Replicated() == 0 || tb.Mode == meta.ModeRaft { // raft groups replicate themselves
			continue
		}
		for i := range tb.Slots {
			slot := storage.SlotID(i)
			r := tb.Route(slot)
			if r.Leader != s.cfg.Self || len(r.Replicas) < 2 {
				continue
			}
			first, last, _ := s.eng.LogBounds(tb.ID, slot)
			for _, f := range r.Replicas {
				if f == s.cfg.Self {
					continue
				}
				info, ok := snap.Node(f)
				if !ok {
					continue // down: resumes from its answer when back
				}
				to := target{f, tb.ID, slot}
				live[to] = true
				if s.syncing[to] {
					continue
				}
				next := s.next[to]
				if s.behind[to] && len(s.syncing) < maxFullSyncs {
					s.syncing[to] = true
					s.syncs.Go(func() { s.fullSync(ctx, info.Peer, to, r.Epoch) })
					continue
				}
				req := peer.Replicate{Table: tb.ID, Slot: slot, Epoch: r.Epoch}
				var lastSent storage.LogIndex
				switch {
				case next == 0: // probe: where is the follower?
				case next > last:
					continue // up to date
				case next < first:
					s.behind[to] = true
					marked = true
					s.cfg.Log.Info("follower is behind the retained log: full sync", "follower", f, "table", tb.Name,
						"slot", slot, "follower_next", next, "log_first", first)
					continue
				default:
					entries, err := s.eng.ReadLog(tb.ID, slot, next, s.cfg.MaxBytes)
					if err != nil || len(entries) == 0 {
						continue
					}
					for _, en := range entries {
						req.Entries = append(req.Entries, storage.EncodeLogEntry(nil, en))
					}
					lastSent = entries[len(entries)-1].Index
				}
				for _, a := range req.Entries {
					s.bytesSent.Add(int64(len(a)))
				}
				out = append(out, sent{to: to, fut: s.links.Do(info.Peer, peer.ClassForward, uint32(slot), req), from: next, last: lastSent})
			}
		}
	}
	for to := range s.next { // forget followers that no longer are
		if !live[to] && !s.syncing[to] {
			delete(s.next, to)
			delete(s.behind, to)
		}
	}
	for _, x := range out {
		x.fut.Flush()
		if x.last > 0 {
			s.entries.Add(int64(x.last - x.from + 1))
		}
	}
	for _, x := range out {
		raw, err := x.fut.Wait(ctx, s.cfg.Timeout)
		var gap *peer.GapError
		switch {
		case err != nil:
			s.next[x.to] = 0
		case len(raw) > 0 && raw[0] == '*':
			last, epoch, err := position(raw)
			if err != nil {
				s.next[x.to] = 0
				continue
			}
			if x.last == 0 && !s.consistent(x.to, last, epoch) { // a probe's answer
				s.next[x.to] = 0
				s.behind[x.to] = true
				marked = true
				s.cfg.Log.Warn("follower has diverged from this leader's log: full sync (its writes this leader never had are dropped)",
					"follower", x.to.node, "table", x.to.table, "slot", x.to.slot, "follower_last", last, "follower_epoch", epoch)
				continue
			}
			if x.last == 0 && last == 0 && s.eng.SlotKeyCount(x.to.table, x.to.slot) > 0 {
				// An empty follower (a replica being added) of a slot
				// with data: the log may not hold all of it (the slot
				// was not logged while it had one replica), so copy it.
				s.next[x.to] = 0
				s.behind[x.to] = true
				marked = true
				s.cfg.Log.Info("new follower of a slot with data: full sync", "follower", x.to.node, "table", x.to.table, "slot", x.to.slot)
				continue
			}
			s.next[x.to] = last + 1
			delete(s.behind, x.to)
			s.answered[x.to] = true
		case errors.As(peer.ReplyErr(raw), &gap):
			s.next[x.to] = gap.Last + 1
			s.answered[x.to] = true
		default: // refused (routing moved) or an error: ask again next round
			s.next[x.to] = 0
		}
	}
	s.publishStats(snap)
	s.publishAcked()
	for _, x := range out {
		if n := s.next[x.to]; n != 0 && n != x.from {
			return true
		}
	}
	return marked && len(s.syncing) < maxFullSyncs
}

// publishStats computes each follower's lag after a round.
func (s *Shipper) publishStats(snap *router.Snapshot) {
	st := &Stats{Followers: map[meta.NodeID]FollowerStats{}, FullSyncs: len(s.syncing),
		BytesSent: s.bytesSent.Load(), EntriesSent: s.entries.Load()}
	for to, next := range s.next {
		fs := st.Followers[to.node]
		fs.Slots++
		_, last, _ := s.eng.LogBounds(to.table, to.slot)
		lag := int64(-1)
		if next > 0 {
			lag = max(int64(last)-int64(next)+1, 0)
			fs.LaggingSum += lag
		}
		if s.behind[to] || s.syncing[to] {
			fs.Behind++
		}
		if lag > fs.MaxLag || fs.Slots == 1 {
			fs.MaxLag = lag
		}
		st.Followers[to.node] = fs
	}
	s.stats.Store(st)
}

// position reads a REPLICATE answer: [last index, its epoch].
func position(raw []byte) (storage.LogIndex, storage.Epoch, error) {
	el, err := peer.Elems(raw)
	if err != nil || len(el) != 2 {
		return 0, 0, peer.ErrProtocol
	}
	last, err1 := peer.Int(el[0])
	epoch, err2 := peer.Int(el[1])
	if err1 != nil || err2 != nil {
		return 0, 0, peer.ErrProtocol
	}
	return storage.LogIndex(last), storage.Epoch(epoch), nil
}

// consistent reports whether a follower at (last, epoch) holds a prefix of
// this leader's log: the leader has an entry at last with that epoch (or
// the follower is empty).
func (s *Shipper) consistent(to target, last storage.LogIndex, epoch storage.Epoch) bool {
	if last == 0 {
		return true
	}
	first, mine, _ := s.eng.LogBounds(to.table, to.slot)
	if last > mine {
		return false // it has entries this leader never wrote
	}
	if last < first {
		return true // trimmed here: cannot check; the gap is found when shipping
	}
	entries, err := s.eng.ReadLog(to.table, to.slot, last, 1)
	return err == nil && len(entries) > 0 && entries[0].Index == last && entries[0].Epoch == epoch
}

// syncChunk is how many bytes of puts one SYNCDATA carries, and
// syncInFlight how many may wait for their answer.
const (
	syncChunk    = 1 << 20
	syncInFlight = 4
	// syncTimeout bounds a full sync request: SYNCEND makes the copy
	// durable and ingests it (seconds for gigabytes).
	syncTimeout = time.Minute
)

// fullSync copies the slot's data to the follower from a snapshot at one
// log position, which becomes the follower's position; shipping the log
// resumes after it.
func (s *Shipper) fullSync(ctx context.Context, addr string, to target, epoch storage.Epoch) {
	res := syncResult{to: to}
	defer func() { s.synced <- res }()
	start := time.Now()
	if err := s.eng.StartLog(to.table, to.slot); err != nil {
		s.cfg.Log.Warn("full sync: start the log", "err", err)
		return
	}
	ss, err := s.eng.OpenSlotSnapshot(to.table, to.slot)
	if err != nil {
		s.cfg.Log.Warn("full sync: snapshot", "err", err)
		return
	}
	defer ss.Close()
	head := peer.SyncHead{Table: to.table, Slot: to.slot, Epoch: epoch}
	do := func(req peer.Request) *peer.Future {
		return s.links.Do(addr, peer.ClassBulk, uint32(to.slot), req)
	}
	call := func(req peer.Request) ([]byte, bool) {
		raw, err := do(req).Wait(ctx, syncTimeout)
		if err != nil || peer.IsError(raw) {
			s.cfg.Log.Warn("full sync failed; it will be retried", "follower", to.node, "table", to.table, "slot", to.slot, "step", req.Name(), "err", err, "reply", string(raw))
			return nil, false
		}
		return raw, true
	}
	if _, ok := call(peer.SyncBegin{SyncHead: head}); !ok {
		return
	}
	// Chunks are pipelined (syncInFlight unanswered at most, on the
	// slot's connection, so in order): reading and sending the next
	// overlaps the follower's write of the last.
	var bytesSent int
	var inFlight []*peer.Future
	wait := func(f *peer.Future) bool {
		raw, err := f.Wait(ctx, syncTimeout)
		if err != nil || peer.IsError(raw) {
			s.cfg.Log.Warn("full sync failed; it will be retried", "follower", to.node, "table", to.table, "slot", to.slot, "step", peer.SyncData{}.Name(), "err", err, "reply", string(raw))
			return false
		}
		return true
	}
	for {
		ops, done, err := ss.Next(syncChunk)
		if err != nil {
			s.cfg.Log.Warn("full sync: read", "err", err)
			return
		}
		if len(ops) > 0 {
			eff := storage.Effect{Ops: ops}
			chunk := eff.Encode(nil)
			bytesSent += len(chunk)
			f := do(peer.SyncData{SyncHead: head, Chunk: chunk})
			f.Flush()
			inFlight = append(inFlight, f)
			if len(inFlight) >= syncInFlight {
				if !wait(inFlight[0]) {
					return
				}
				inFlight = inFlight[1:]
			}
		}
		if done {
			break
		}
	}
	for _, f := range inFlight {
		if !wait(f) {
			return
		}
	}
	end := peer.SyncEnd{SyncHead: head, Index: ss.Index, EntryEpoch: ss.Epoch, Keys: ss.Keys, Expires: ss.Expires}
	if _, ok := call(end); !ok {
		return
	}
	res.next = ss.Index + 1
	s.cfg.Log.Info("full sync done", "follower", to.node, "table", to.table, "slot", to.slot,
		"index", ss.Index, "keys", ss.Keys, "bytes", bytesSent, "took", time.Since(start))
}
