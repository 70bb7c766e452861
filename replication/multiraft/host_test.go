package multiraft_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pika-node/pika-node/replication/multiraft"
	"github.com/pika-node/pika-node/storage"
)

const table storage.TableID = 7

// member is one node of an in-process cluster: a real engine and host.
// Batches travel by function call (the node tests cover the TCP link);
// cut makes a member unreachable both ways, to inject partitions.
type member struct {
	id     multiraft.PeerID
	eng    *storage.Engine
	landed *landingGate // holds this member's snapshot landings when armed
	host   *multiraft.Host
	cancel context.CancelFunc
	done   chan struct{}
	dir    string
	cut    atomic.Bool
}

type cluster struct {
	t       *testing.T
	members map[multiraft.PeerID]*member
	mu      sync.Mutex
	slots   int
	// log compaction settings (0: the defaults)
	compactEvery, keep, maxLag uint64
	// want, when set, is the membership new members are started with
	want *multiraft.Membership
}

func (c *cluster) wantOr(voters []multiraft.PeerID) multiraft.Membership {
	if c.want != nil {
		return *c.want
	}
	return multiraft.Membership{Voters: voters}
}

func newCluster(t *testing.T, n, slots int) *cluster {
	return newClusterWith(t, n, slots, func(*cluster) {})
}

func newClusterWith(t *testing.T, n, slots int, set func(*cluster)) *cluster {
	c := &cluster{t: t, members: map[multiraft.PeerID]*member{}, slots: slots}
	set(c)
	for i := 1; i <= n; i++ {
		c.start(multiraft.PeerID(i), t.TempDir())
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})
	return c
}

func (c *cluster) get(id multiraft.PeerID) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[id]
}

func (c *cluster) start(id multiraft.PeerID, dir string) *member {
	t := c.t
	eng, err := storage.Open(storage.Options{Dir: dir, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.EnsureTable(table, uint32(c.slots)); err != nil {
		t.Fatal(err)
	}
	m := &member{id: id, eng: eng, dir: dir, done: make(chan struct{}), landed: &landingGate{}}
	m.host = multiraft.New(multiraft.Config{
		Self:  id,
		Store: gatedStore{Engine: eng, gate: m.landed},
		Tick:  20 * time.Millisecond,
		Send: func(to multiraft.PeerID, batch []byte) func() error {
			peer := c.get(to)
			var err error
			if peer == nil || peer.cut.Load() || m.cut.Load() {
				err = errors.New("unreachable")
			} else {
				err = peer.host.Deliver(append([]byte(nil), batch...))
			}
			return func() error { return err }
		},
		PeerTimeout:     300 * time.Millisecond,
		ProposalTimeout: 2 * time.Second,
		StreamSnapshot: func(st multiraft.SnapshotStream) error {
			peer := c.get(st.To)
			if peer == nil || peer.cut.Load() || m.cut.Load() {
				return errors.New("unreachable")
			}
			if err := peer.host.BeginInstall(st.Group, id, st.Index, st.Term); err != nil {
				return err
			}
			for {
				chunk, done, err := st.Next(64 << 10)
				if err != nil {
					return err
				}
				eff, err := storage.DecodeEffect(chunk)
				if err != nil {
					return err
				}
				if err := peer.host.StageChunk(st.Group, id, st.Index, st.Term, eff.Ops, done); err != nil {
					return err
				}
				if done {
					return nil
				}
			}
		},
		CompactEvery: c.compactEvery,
		KeepEntries:  c.keep,
		MaxLag:       c.maxLag,
	})
	for s := range c.slots {
		eng.SetSlotRole(table, storage.SlotID(s), storage.SlotRole{Raft: true})
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { defer close(m.done); _ = m.host.Run(ctx) }()
	voters := []multiraft.PeerID{}
	for i := 1; i <= 3; i++ {
		voters = append(voters, multiraft.PeerID(i))
	}
	for s := range c.slots {
		m.host.Ensure(multiraft.GroupID{Table: table, Slot: storage.SlotID(s)}, c.wantOr(voters), id == 1)
	}
	c.mu.Lock()
	c.members[id] = m
	c.mu.Unlock()
	return m
}

// landingGate holds a member's snapshot landings while armed: the landing
// write tells entered, then waits for release.
type landingGate struct {
	mu               sync.Mutex
	entered, release chan struct{}
}

func (g *landingGate) arm() (entered, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entered, g.release = make(chan struct{}), make(chan struct{})
	return g.entered, g.release
}

// gatedStore is the engine, with snapshot landings (writes from the
// staging area) held by its gate.
type gatedStore struct {
	*storage.Engine
	gate *landingGate
}

func (s gatedStore) ApplyRaft(groups []storage.RaftGroupWrite) error {
	for _, g := range groups {
		if !g.FromStaging {
			continue
		}
		s.gate.mu.Lock()
		entered, release := s.gate.entered, s.gate.release
		s.gate.entered = nil
		s.gate.mu.Unlock()
		if entered != nil {
			close(entered)
			<-release
		}
	}
	return s.Engine.ApplyRaft(groups)
}

// update runs fn as a write of slot s, committed by m's raft group.
func (m *member) update(s storage.SlotID, fn func(*storage.Update) error) error {
	commits := func(storage.TableID) storage.Committer { return m.host }
	return m.eng.UpdateWith(commits, table, []storage.SlotID{s}, fn)
}

func (c *cluster) stop(m *member) {
	m.cancel()
	<-m.done
	m.eng.Close()
	c.mu.Lock()
	delete(c.members, m.id)
	c.mu.Unlock()
}

// followerOf returns a member of the 3-member cluster other than l.
func (c *cluster) followerOf(l *member) *member {
	for _, id := range []multiraft.PeerID{1, 2, 3} {
		if id != l.id {
			return c.get(id)
		}
	}
	return nil
}

// leaderOf waits until some member leads slot s and returns it.
func (c *cluster) leaderOf(s storage.SlotID) *member {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, m := range c.members {
			st := m.host.GroupStatus(multiraft.GroupID{Table: table, Slot: s})
			if st.Leader == m.id && !m.cut.Load() {
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("no leader of slot %d", s)
	return nil
}

// set writes key through m's raft group of slot s.
func set(m *member, s storage.SlotID, key, val string) error {
	return m.update(s, func(u *storage.Update) error {
		return u.Txn(s).PutMeta([]byte(key), &storage.Meta{Type: storage.TypeString, Value: []byte(val)})
	})
}

// setThroughLeader writes key=val through slot s's leader, again through
// the new leader while the write fails because the lead moved
// (*multiraft.NotLeaderError), for up to 10 s.
func setThroughLeader(t *testing.T, c *cluster, s storage.SlotID, key, val string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := set(c.leaderOf(s), s, key, val)
		var nl *multiraft.NotLeaderError
		if err == nil {
			return
		}
		if !errors.As(err, &nl) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("slot %d: %v; writing through its new leader", s, err)
	}
}

func get(eng *storage.Engine, s storage.SlotID, key string) (string, bool) {
	m, ok, err := eng.View(table).Txn(s).Meta([]byte(key))
	if err != nil || !ok {
		return "", false
	}
	return string(m.Value), true
}

// waitValue polls member m until key has val.
func waitValue(t *testing.T, m *member, s storage.SlotID, key, val string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, ok := get(m.eng, s, key); ok && v == val {
			return
		}
		if time.Now().After(deadline) {
			v, ok := get(m.eng, s, key)
			t.Fatalf("member %d: %s = %q,%v; want %q", m.id, key, v, ok, val)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Writes through the leader are applied on every replica, survive a
// restart of every member, and the key counts follow.
func TestReplicateApplyRestart(t *testing.T) {
	c := newCluster(t, 3, 4)
	for s := range storage.SlotID(4) {
		l := c.leaderOf(s)
		for i := range 20 {
			if err := set(l, s, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d-%d", s, i)); err != nil {
				t.Fatalf("slot %d write %d: %v", s, i, err)
			}
		}
		// The leader answered after applying: its read sees the write.
		if v, _ := get(l.eng, s, "k19"); v != fmt.Sprintf("v%d-19", s) {
			t.Fatalf("leader reads %q after its acknowledged write", v)
		}
	}
	for _, m := range []multiraft.PeerID{1, 2, 3} {
		for s := range storage.SlotID(4) {
			waitValue(t, c.get(m), s, "k19", fmt.Sprintf("v%d-19", s))
		}
	}
	if n := c.get(2).eng.SlotKeyCount(table, 3); n != 20 {
		t.Errorf("follower key count %d, want 20", n)
	}
	// Restart everyone: state and data come back, and groups elect.
	dirs := map[multiraft.PeerID]string{}
	for id, m := range c.members {
		dirs[id] = m.dir
	}
	for _, id := range []multiraft.PeerID{1, 2, 3} {
		c.stop(c.get(id))
	}
	for _, id := range []multiraft.PeerID{1, 2, 3} {
		c.start(id, dirs[id])
	}
	l := c.leaderOf(2)
	if err := set(l, 2, "after", "restart"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []multiraft.PeerID{1, 2, 3} {
		waitValue(t, c.get(id), 2, "after", "restart")
		waitValue(t, c.get(id), 2, "k7", "v2-7")
		if n := c.get(id).eng.SlotKeyCount(table, 2); n != 21 {
			t.Errorf("member %d: key count %d after restart, want 21", id, n)
		}
	}
}

// A follower refuses writes; a read barrier on the leader passes.
func TestFollowerRefusesAndReadBarrier(t *testing.T) {
	c := newCluster(t, 3, 1)
	l := c.leaderOf(0)
	f := c.get(2)
	if l.id == 2 {
		f = c.get(3)
	}
	err := set(f, 0, "k", "v")
	var nl *multiraft.NotLeaderError
	if !errors.As(err, &nl) {
		t.Fatalf("follower write: %v, want NotLeaderError", err)
	}
	if err := f.host.ReadBarrier(context.Background(), table, 0); !errors.As(err, &nl) {
		t.Fatalf("follower read barrier: %v, want NotLeaderError", err)
	}
	if err := l.host.ReadBarrier(context.Background(), table, 0); err != nil {
		t.Fatalf("leader read barrier: %v", err)
	}
}

// Killing the leader elects another member quickly (node-level failure
// detection, not the group's election timeout), and no acknowledged write
// is lost.
func TestLeaderLossElectsAndKeepsWrites(t *testing.T) {
	c := newCluster(t, 3, 8)
	for s := range storage.SlotID(8) {
		l := c.leaderOf(s)
		if err := set(l, s, "before", "x"); err != nil {
			t.Fatal(err)
		}
	}
	// Let the groups quiesce: the leader stops sending.
	old := c.leaderOf(0)
	led := 0
	for s := range storage.SlotID(8) {
		if c.leaderOf(s) == old {
			led++
		}
	}
	waitQuiet(t, c)
	start := time.Now()
	old.cut.Store(true)
	for s := range storage.SlotID(8) {
		l := c.leaderOf(s)
		if l == old {
			t.Fatalf("slot %d still led by the cut member", s)
		}
		if err := set(l, s, "after", "y"); err != nil {
			t.Fatalf("slot %d write after failover: %v", s, err)
		}
		if v, ok := get(l.eng, s, "before"); !ok || v != "x" {
			t.Fatalf("slot %d lost an acknowledged write: %q %v", s, v, ok)
		}
	}
	t.Logf("MEASURED: %d quiesced groups re-elected and wrote in %s after their leader was cut", led, time.Since(start))
	old.cut.Store(false)
	for s := range storage.SlotID(8) {
		waitValue(t, old, s, "after", "y")
	}
}

// waitInstalled waits until m's host has counted n snapshots installed.
// A follower that caught up from the log instead never gets there.
func waitInstalled(t *testing.T, m *member, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := m.host.Stats().SnapshotsInstalled
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %d: %d snapshots installed, want %d: the follower caught up without one, so the test did not test it", m.id, got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitQuiet waits until every group of every member sleeps: the leaders
// stopped ticking and sending heartbeats, and their followers were told.
func waitQuiet(t *testing.T, c *cluster) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		awake := ""
		c.mu.Lock()
		for _, m := range c.members {
			for s := range c.slots {
				if !m.host.GroupStatus(multiraft.GroupID{Table: table, Slot: storage.SlotID(s)}).Quiesced {
					awake = fmt.Sprintf("member %d slot %d", m.id, s)
				}
			}
		}
		c.mu.Unlock()
		if awake == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups never went quiet: %s is awake", awake)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A follower cut off while the leader compacts its log past it gets a
// snapshot of the slot when it comes back: same data, same key count, and
// it keeps following (and survives a restart).
func TestSnapshotToLaggingFollower(t *testing.T) {
	c := newClusterWith(t, 3, 1, func(c *cluster) { c.compactEvery, c.keep, c.maxLag = 16, 4, 8 })
	l := c.leaderOf(0)
	lag := c.followerOf(l)
	if err := set(l, 0, "early", "1"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, lag, 0, "early", "1")
	lag.cut.Store(true)
	for i := range 200 {
		if err := set(l, 0, fmt.Sprintf("k%d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("write %d with a follower cut: %v", i, err)
		}
	}
	if err := l.update(0, func(u *storage.Update) error {
		return u.Txn(0).DeleteKey([]byte("early"))
	}); err != nil {
		t.Fatal(err)
	}
	lag.cut.Store(false)
	waitValue(t, lag, 0, "k199", "199")
	// The landing's data is readable before the driver finishes its round
	// and counts the install, so the count is awaited, not read once.
	waitInstalled(t, lag, 1)
	if _, ok := get(lag.eng, 0, "early"); ok {
		t.Error("a key deleted while the follower was away survived the snapshot")
	}
	if got, want := lag.eng.SlotKeyCount(table, 0), l.eng.SlotKeyCount(table, 0); got != want || want != 200 {
		t.Errorf("key counts: follower %d, leader %d, want 200", got, want)
	}
	if err := set(l, 0, "after", "snapshot"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, lag, 0, "after", "snapshot")
	dir := lag.dir
	c.stop(lag)
	back := c.start(lag.id, dir)
	waitValue(t, back, 0, "k150", "150")
	waitValue(t, back, 0, "after", "snapshot")
}

// A snapshot landing (the write that copies the slot out of its staging
// area) runs apart from the raft driver: while one is held, the same
// member goes on applying the other groups' entries, and the held one
// lands when let go.
func TestSlowLandingHoldsNoOtherGroup(t *testing.T) {
	c := newClusterWith(t, 3, 2, func(c *cluster) { c.compactEvery, c.keep, c.maxLag = 16, 4, 8 })
	l := c.leaderOf(0)
	lag := c.followerOf(l)
	if err := set(l, 0, "early", "1"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, lag, 0, "early", "1")
	entered, release := lag.landed.arm()
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before the cluster stops (cleanups run last first)
	lag.cut.Store(true)
	for i := range 200 {
		if err := set(l, 0, fmt.Sprintf("k%d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("write %d with a follower cut: %v", i, err)
		}
	}
	lag.cut.Store(false)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot landing began on the lagging member")
	}
	// Group 1 may change leaders meanwhile (its leader checks its quorum
	// every 200 ms, and this machine may be busy): a write the new leader
	// overwrote is written again, as the node's router would.
	setThroughLeader(t, c, 1, "during", "landing")
	waitValue(t, lag, 1, "during", "landing")
	if _, ok := get(lag.eng, 0, "k199"); ok {
		t.Error("the held snapshot's data is there before its landing was let go")
	}
	letGo()
	waitValue(t, lag, 0, "k199", "199")
	if err := set(l, 0, "after", "landing"); err != nil {
		t.Fatal(err)
	}
	waitValue(t, lag, 0, "after", "landing")
}

// A follower that stops (as a crash would) while a snapshot streams in
// keeps its data (the stream only filled a staging area), and a staged
// snapshot whose message never came is never landed.
func TestRestartDuringInstall(t *testing.T) {
	c := newClusterWith(t, 3, 1, func(c *cluster) { c.compactEvery, c.keep, c.maxLag = 16, 4, 8 })
	l := c.leaderOf(0)
	f := c.followerOf(l)
	for i := range 100 {
		if err := set(l, 0, fmt.Sprintf("k%d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitValue(t, f, 0, "k99", "99")
	g := multiraft.GroupID{Table: table, Slot: 0}
	f.cut.Store(true)
	if err := f.host.BeginInstall(g, l.id, 1000, 9); err != nil {
		t.Fatal(err)
	}
	if err := f.host.StageChunk(g, l.id, 1000, 9, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := f.host.StageChunk(g, l.id, 999, 9, nil, true); err == nil {
		t.Fatal("a chunk of another snapshot was staged")
	}
	if v, ok := get(f.eng, 0, "k5"); !ok || v != "5" {
		t.Fatalf("staging a snapshot touched the slot's data: %q %v", v, ok)
	}
	dir := f.dir
	c.stop(f)
	for i := 100; i < 150; i++ {
		if err := set(l, 0, fmt.Sprintf("k%d", i), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	back := c.start(f.id, dir)
	waitValue(t, back, 0, "k149", "149")
	waitValue(t, back, 0, "k5", "5")
	// The count is stored right after the data: wait for it, briefly.
	deadline := time.Now().Add(5 * time.Second)
	for back.eng.SlotKeyCount(table, 0) != 150 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := back.eng.SlotKeyCount(table, 0); got != 150 {
		t.Errorf("key count %d after the interrupted install, want 150", got)
	}
}

// Replacing a replica: the routing wants member 4 instead of member 3. The
// leader adds 4 as a learner, which gets a snapshot (the log was
// compacted), promotes it once caught up, then removes 3; writes go on
// throughout and 4 ends with every key.
func TestReplaceReplica(t *testing.T) {
	c := newClusterWith(t, 3, 2, func(c *cluster) { c.compactEvery, c.keep, c.maxLag = 16, 4, 8 })
	for s := range storage.SlotID(2) {
		l := c.leaderOf(s)
		for i := range 100 {
			if err := set(l, s, fmt.Sprintf("k%d", i), fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := multiraft.Membership{Voters: []multiraft.PeerID{1, 2}, Learners: []multiraft.PeerID{4}}
	c.want = &want
	c.start(4, t.TempDir())
	for _, id := range []multiraft.PeerID{1, 2, 3} {
		for s := range storage.SlotID(2) {
			c.get(id).host.Ensure(multiraft.GroupID{Table: table, Slot: s}, want, false)
		}
	}
	for s := range storage.SlotID(2) {
		g := multiraft.GroupID{Table: table, Slot: s}
		deadline := time.Now().Add(20 * time.Second)
		for {
			l := c.leaderOf(s)
			v, lr := l.host.Conf(g)
			if fmt.Sprint(v) == "[1 2 4]" && len(lr) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("slot %d: conf voters %v learners %v, want [1 2 4] and none", s, v, lr)
			}
			// Writes keep going during the change.
			_ = set(l, s, "during", "x")
			time.Sleep(20 * time.Millisecond)
		}
		l := c.leaderOf(s)
		if err := set(l, s, "after", "change"); err != nil {
			t.Fatalf("slot %d write after the change: %v", s, err)
		}
		waitValue(t, c.get(4), s, "after", "change")
		waitValue(t, c.get(4), s, "k42", "42")
		if got, want := c.get(4).eng.SlotKeyCount(table, s), l.eng.SlotKeyCount(table, s); got != want {
			t.Errorf("slot %d: new replica counts %d keys, leader %d", s, got, want)
		}
	}
	t.Logf("snapshots installed on the new replica: %d", c.get(4).host.Stats().SnapshotsInstalled)
}

// A leader cut off from the others may not know it was deposed: a write
// that changes nothing (DEL of a key it does not have) is then a read, and
// must not be answered from its stale data (a chaos run caught exactly
// that: DEL answered 0 for a key the new leader had just written).
func TestDeposedLeaderAnswersNoEmptyWrite(t *testing.T) {
	c := newCluster(t, 3, 1)
	old := c.leaderOf(0)
	waitQuiet(t, c)
	old.cut.Store(true)
	var now *member
	deadline := time.Now().Add(10 * time.Second)
	for now == nil {
		for _, id := range []multiraft.PeerID{1, 2, 3} {
			m := c.get(id)
			if m != old && m.host.GroupStatus(multiraft.GroupID{Table: table, Slot: 0}).Leader == id {
				now = m
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no new leader while the old one is cut")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := set(now, 0, "fresh", "1"); err != nil {
		t.Fatal(err)
	}
	err := old.update(0, func(u *storage.Update) error {
		_, ok, err := u.Txn(0).Meta([]byte("fresh"))
		if err == nil && ok {
			t.Error("the cut leader has a key written after the cut")
		}
		return err // deletes nothing: an empty effect
	})
	if err == nil {
		t.Fatal("a cut-off leader acknowledged a write that read its stale data")
	}
	t.Logf("the cut leader refused: %v", err)
}

// A batch evaluated while its node led the slot in one term is not
// committed, nor are its reads answered, after the node lost the lead and
// won it back: another leader wrote the slot in between. (Confirmed in the
// new term, the read answered "old" after "new" was acknowledged: the stale
// read the linearizability checks caught with a stalled node.)
func TestBatchOfAnEarlierTermFails(t *testing.T) {
	c := newCluster(t, 3, 1)
	l := c.leaderOf(0)
	f := c.followerOf(l)
	if err := set(l, 0, "k", "old"); err != nil {
		t.Fatal(err)
	}
	commits := func(storage.TableID) storage.Committer { return l.host }
	for _, write := range []bool{false, true} {
		b := l.eng.NewBatch(commits)
		err := b.Update(table, []storage.SlotID{0}, func(u *storage.Update) error {
			if write {
				return u.Txn(0).PutMeta([]byte("k"), &storage.Meta{Type: storage.TypeString, Value: []byte("stale")})
			}
			m, ok, err := u.Txn(0).Meta([]byte("k"))
			if err == nil && (!ok || string(m.Value) == "new") {
				t.Errorf("the read before the bounce saw %q, %v", m.Value, ok)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		admitted := b.AdmittedTerm(0)
		if admitted == 0 {
			t.Fatal("the raft committer noted no term")
		}
		// The lead goes to f, which writes, and comes back to l.
		moveLead(t, l.host, f, 0, 0)
		if err := set(f, 0, "k", "new"); err != nil {
			t.Fatal(err)
		}
		moveLead(t, f.host, l, 0, admitted)
		var nl *multiraft.NotLeaderError
		if err := b.Commit(); !errors.As(err, &nl) {
			t.Fatalf("write %v: a batch admitted in term %d committed in term %d: %v, want NotLeaderError",
				write, admitted, l.host.GroupStatus(multiraft.GroupID{Table: table, Slot: 0}).Term, err)
		}
		if v, _ := get(l.eng, 0, "k"); v != "new" {
			t.Fatalf("k = %q after the refused batch, want new", v)
		}
		if err := set(l, 0, "k", "old"); err != nil { // for the next round
			t.Fatal(err)
		}
	}
}

// moveLead transfers the lead of slot s from host to m and waits until m
// leads it, writable, in a term after term.
func moveLead(t *testing.T, from *multiraft.Host, m *member, s storage.SlotID, term uint64) {
	t.Helper()
	g := multiraft.GroupID{Table: table, Slot: s}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := m.host.GroupStatus(g); st.Leader == m.id && st.Term > term {
			if w, err := m.host.WritableTerm(table, s); err == nil && w > term {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %d did not take the lead of slot %d", m.id, s)
		}
		from.TransferLeader(g, m.id)
		time.Sleep(20 * time.Millisecond)
	}
}

// A batch of two slots whose second slot's lead moved before the commit
// fails for that slot only: the first slot's write commits, and the error
// says so (storage.CommitError), so that a pipeline answers the first
// slot's command with its reply instead of running it again. (Run again
// on the new leader, a SET erased an APPEND acknowledged in between: a
// lost write the linearizability checks caught during slot moves.)
func TestBatchFailsInPart(t *testing.T) {
	c := newCluster(t, 3, 2)
	l := c.leaderOf(0)
	for c.leaderOf(1) != l {
		moveLead(t, c.leaderOf(1).host, l, 1, 0)
	}
	f := c.followerOf(l)
	commits := func(storage.TableID) storage.Committer { return l.host }
	b := l.eng.NewBatch(commits)
	for _, s := range []storage.SlotID{0, 1} {
		if err := b.Update(table, []storage.SlotID{s}, func(u *storage.Update) error {
			return u.Txn(s).PutMeta([]byte(fmt.Sprint("k", s)), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	moveLead(t, l.host, f, 1, b.AdmittedTerm(1))
	err := b.Commit()
	var ce *storage.CommitError
	if !errors.As(err, &ce) {
		t.Fatalf("commit: %v, want a CommitError", err)
	}
	if len(ce.Failed) != 1 || ce.Failed[0].Slot != 1 || ce.Effects != 2 {
		t.Fatalf("failed slots %+v of %d, want slot 1 of 2", ce.Failed, ce.Effects)
	}
	var nl *multiraft.NotLeaderError
	if ce.For([]storage.SlotID{0}) != nil || !errors.As(ce.For([]storage.SlotID{1}), &nl) || ce.Unapplied() {
		t.Fatalf("slot 0: %v, slot 1: %v, unapplied %v; want nil, NotLeaderError, false",
			ce.For([]storage.SlotID{0}), ce.For([]storage.SlotID{1}), ce.Unapplied())
	}
	if v, ok := get(l.eng, 0, "k0"); v != "v" || !ok {
		t.Fatalf("k0 = %q, %v after the commit, want v", v, ok)
	}
	if _, ok := get(f.eng, 1, "k1"); ok {
		t.Fatal("k1 was written by a batch whose slot 1 failed")
	}
}
