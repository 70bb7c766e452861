package unit

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is one participant of the tests: a real engine and its Participant,
// reached by direct calls (the Site interface), no network.
type node struct {
	name string
	dir  string
	eng  *storage.Engine
	p    *Participant
}

// cluster is the test's nodes by name, the home slot lookup of their
// participants.
type cluster map[string]*node

// leaderOf is which test node leads each slot the tests use.
var leaderOf = map[storage.SlotID]string{1: "a", 2: "b", 3: "a", 4: "a"}

// testSlots writes unit records as an async leader without followers
// does: on its engine, durable at once.
type testSlots struct{ n *node }

func (ts testSlots) Leads(_ storage.TableID, s storage.SlotID) bool { return leaderOf[s] == ts.n.name }

func (testSlots) WritableTerm(storage.TableID, storage.SlotID) (uint64, error) { return 0, nil }

func (testSlots) ReadBarrier(context.Context, storage.TableID, storage.SlotID, uint64) error {
	return nil
}

func (ts testSlots) Propose(_ context.Context, t storage.TableID, recs []Record) error {
	entries := make([]storage.SlotEntry, len(recs))
	for i, r := range recs {
		entries[i] = storage.SlotEntry{Slot: r.Slot, Entry: r.Entry}
	}
	_, err := ts.n.eng.WriteUnitRecords(t, entries)
	return err
}

func (ts testSlots) End(ctx context.Context, t storage.TableID, recs []Record) error {
	return ts.Propose(ctx, t, recs)
}

func (testSlots) Durable(context.Context, storage.TableID, storage.SlotID) error { return nil }

func openEngine(t *testing.T, dir string) *storage.Engine {
	t.Helper()
	e, err := storage.Open(storage.Options{Dir: dir, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureTable(storage.DefaultTable, 16); err != nil {
		t.Fatal(err)
	}
	return e
}

func (c cluster) start(t *testing.T, name, dir string, resolveAfter time.Duration) *node {
	t.Helper()
	n := &node{name: name, dir: dir, eng: openEngine(t, dir)}
	n.p = NewParticipant(ParticipantConfig{
		Engine:     n.eng,
		Admit:      func(peer.UnitLock) error { return nil },
		AdmitWatch: func(peer.UnitWatch) error { return nil },
		Slots:      testSlots{n},
		HomeSlot: func(_ storage.TableID, s storage.SlotID) Site {
			if h := c[leaderOf[s]]; h != nil {
				return h.p
			}
			return nil
		},
		LockLease:    100 * time.Millisecond,
		ResolveAfter: resolveAfter,
	})
	c[name] = n
	return n
}

func (n *node) stop() {
	n.p.Close()
	n.eng.Close()
}

// get reads a string key of slot s through a read Txn (which waits while
// a prepared part holds the slot).
func (n *node) get(t *testing.T, s storage.SlotID, key string) (string, bool) {
	t.Helper()
	m, ok, err := n.eng.View(storage.DefaultTable).Txn(s).Meta([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(m.Value), ok
}

// setEval is an Evaluate that sets each key to its value in its slot, on
// a batch of coordinator engine e over the images.
func setEval(e *storage.Engine, sets map[storage.SlotID][2]string) Evaluate {
	return func(images map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error) {
		b := e.NewBatch(nil)
		defer b.Release()
		var slots []storage.SlotID
		for _, im := range images {
			if err := b.UseImage(im); err != nil {
				return nil, err
			}
			slots = append(slots, im.Slot())
		}
		err := b.Update(storage.DefaultTable, slots, func(u *storage.Update) error {
			for s, kv := range sets {
				if err := u.Txn(s).PutMeta([]byte(kv[0]), &storage.Meta{Type: storage.TypeString, Value: []byte(kv[1])}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return b.Effects(), nil
	}
}

func lockReq(unit string, s storage.SlotID, key string) peer.UnitLock {
	return peer.UnitLock{Table: storage.DefaultTable, Unit: unit,
		Slots: []peer.UnitSlot{{SlotEpoch: peer.SlotEpoch{Slot: s}, Keys: [][]byte{[]byte(key)}}}}
}

func effectOf(t *testing.T, e *storage.Engine, im *storage.SlotImage, key, val string) []byte {
	t.Helper()
	effs, err := setEval(e, map[storage.SlotID][2]string{im.Slot(): {key, val}})(map[storage.SlotID]*storage.SlotImage{im.Slot(): im})
	if err != nil || len(effs) != 1 || effs[0].Effect == nil {
		t.Fatalf("effect: %v %v", effs, err)
	}
	return effs[0].Effect
}

// A unit over two nodes commits on both: each key written, nothing left
// recorded, both slots free again.
func TestRunCommitsOnEveryNode(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), time.Minute)
	defer b.stop()
	co := newTestCoordinator(t)
	shares := []Share{
		{Node: "a", Site: a.p, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: b.p, Slots: lockReq("", 2, "y").Slots},
	}
	err := co.Run(context.Background(), storage.DefaultTable, shares, setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}, 2: {"y", "2"}}))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := a.get(t, 1, "x"); !ok || v != "1" {
		t.Fatalf("a: x = %q %v", v, ok)
	}
	if v, ok := b.get(t, 2, "y"); !ok || v != "2" {
		t.Fatalf("b: y = %q %v", v, ok)
	}
	for _, n := range []*node{a, b} {
		if recs := n.eng.PendingParts(); len(recs) != 0 {
			t.Fatalf("%s keeps part records %v", n.name, recs)
		}
		h, err := n.eng.TryHold(storage.DefaultTable, []storage.SlotID{1, 2})
		if err != nil {
			t.Fatalf("%s: slots still held: %v", n.name, err)
		}
		h.Release()
	}
	// The home (slot 1 on a: its part was applied with the commit, no
	// UAPPLY) forgets the decision once the coordinator sent its queued
	// UFORGETs.
	unit := "a." + strconv.FormatInt(co.start, 36) + ".1"
	co.Close()
	if d, err := a.eng.RecordedDecision(storage.DefaultTable, 1, unit); err != nil || d != storage.Undecided {
		t.Fatalf("the home still records %v for %s (%v)", d, unit, err)
	}
}

// A second unit over a slot a first one holds finds it busy, holding
// nothing; an unprepared hold ends with its lease.
func TestBusyAndLease(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	if _, err := a.p.Lock(context.Background(), lockReq("u1", 3, "k")); err != nil {
		t.Fatal(err)
	}
	var busy *peer.BusyError
	if _, err := a.p.Lock(context.Background(), lockReq("u2", 3, "k")); !errors.As(err, &busy) {
		t.Fatalf("second lock: %v, want busy", err)
	}
	testproc.WaitFor(t, "the unprepared lock's lease to end", 5*time.Second, func() bool {
		_, err := a.p.Lock(context.Background(), lockReq("u3", 3, "k"))
		return err == nil
	})
	if err := a.p.Release(context.Background(), "u3"); err != nil {
		t.Fatal(err)
	}
}

// A coordinator that prepared both parts and went silent before its
// decision: each part asks the home, which records abort; nothing is
// applied, the slots are free, and a late commit gets abort.
func TestSilentCoordinatorAborts(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), 50*time.Millisecond)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), 50*time.Millisecond)
	defer b.stop()
	ctx := context.Background()
	prepare(t, a, "u", 1, "x", 1)
	prepare(t, b, "u", 2, "y", 1)
	// Reads of a prepared part's slot wait for it; it ends aborted.
	if _, ok := b.get(t, 2, "y"); ok {
		t.Fatal("an aborted part was applied")
	}
	if _, ok := a.get(t, 1, "x"); ok {
		t.Fatal("an aborted part was applied")
	}
	if o, err := a.p.Decide(ctx, peer.UnitDecide{Unit: "u", Outcome: peer.OutcomeCommit, Table: storage.DefaultTable, HomeSlot: 1}); err != nil || o != peer.OutcomeAbort {
		t.Fatalf("late commit: %v %v, want abort", o, err)
	}
	waitFree(t, a, 1)
	waitFree(t, b, 2)
}

// prepare locks slot s of n for unit u and prepares key=u's part there,
// with home as the unit's home slot.
func prepare(t *testing.T, n *node, u string, s storage.SlotID, key string, home storage.SlotID) {
	t.Helper()
	ctx := context.Background()
	ims, err := n.p.Lock(ctx, lockReq(u, s, key))
	if err != nil {
		t.Fatal(err)
	}
	eff := effectOf(t, n.eng, ims[0], key, u)
	if _, err := n.p.Prepare(ctx, peer.UnitPrepare{Table: storage.DefaultTable, Unit: u, Home: leaderOf[home], HomeSlot: home,
		Parts: []peer.UnitPart{{Slot: s, Effect: eff}}}); err != nil {
		t.Fatal(err)
	}
}

func waitFree(t *testing.T, n *node, s storage.SlotID) {
	t.Helper()
	testproc.WaitFor(t, n.name+"'s slot to be free", 5*time.Second, func() bool {
		h, err := n.eng.TryHold(storage.DefaultTable, []storage.SlotID{s})
		if err != nil {
			return false
		}
		h.Release()
		return true
	})
}

// failingApply is a Site whose UAPPLY is lost (the participant never gets
// it), as when the coordinator's connection to it breaks.
type failingApply struct{ Site }

func (failingApply) Apply(context.Context, string) error { return errors.New("connection reset") }

// A unit committed at its home whose UAPPLY to one participant was lost:
// the home keeps the decision (no UFORGET), and the participant resolves
// its part to commit through it.
func TestLostApplyResolvesToCommit(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), 50*time.Millisecond)
	defer b.stop()
	co := newTestCoordinator(t)
	shares := []Share{
		{Node: "a", Site: a.p, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: failingApply{b.p}, Slots: lockReq("", 2, "y").Slots},
	}
	err := co.Run(context.Background(), storage.DefaultTable, shares, setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}, 2: {"y", "2"}}))
	if err != nil {
		t.Fatal(err)
	}
	// b's read waits for its part, which resolves through a (the home).
	if v, ok := b.get(t, 2, "y"); !ok || v != "2" {
		t.Fatalf("b: y = %q %v after its part resolved, want the committed 2", v, ok)
	}
	if v, ok := a.get(t, 1, "x"); !ok || v != "1" {
		t.Fatalf("a: x = %q %v", v, ok)
	}
}

// A node that stops with a prepared part (its process killed: the
// record stays) finds it pending at its restart and resolves it through
// the home slot: committed there, applied here.
func TestRestartResolvesPreparedPart(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	bdir := t.TempDir()
	b := c.start(t, "b", bdir, time.Minute)
	prepare(t, b, "u", 2, "y", 1)
	if o, err := a.p.Decide(context.Background(), peer.UnitDecide{Unit: "u", Outcome: peer.OutcomeCommit, Table: storage.DefaultTable, HomeSlot: 1}); err != nil || o != peer.OutcomeCommit {
		t.Fatalf("decide: %v %v", o, err)
	}
	b.stop() // the part's record stays on disk, unapplied
	b = c.start(t, "b", bdir, 50*time.Millisecond)
	defer b.stop()
	b.p.Recover()
	if v, ok := b.get(t, 2, "y"); !ok || v != "u" {
		t.Fatalf("after the restart y = %q %v, want the committed part", v, ok)
	}
	if recs := b.eng.PendingParts(); len(recs) != 0 {
		t.Fatalf("the resolved part's record stayed: %v", recs)
	}
}

// A WATCH registered on a participant makes a later ULOCK naming its
// token fail once a watched key changed.
func TestWatchToken(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	ctx := context.Background()
	w := peer.UnitWatch{Table: storage.DefaultTable, Token: "w1", Slots: lockReq("", 4, "k").Slots}
	if err := a.p.Watch(ctx, w); err != nil {
		t.Fatal(err)
	}
	req := lockReq("u1", 4, "k")
	req.Watch = "w1"
	if _, err := a.p.Lock(ctx, req); err != nil {
		t.Fatalf("lock with an unchanged watch: %v", err)
	}
	if err := a.p.Release(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	err := a.eng.Update(storage.DefaultTable, []storage.SlotID{4}, func(u *storage.Update) error {
		return u.Txn(4).PutMeta([]byte("k"), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
	})
	if err != nil {
		t.Fatal(err)
	}
	req.Unit = "u2"
	var we *peer.WatchedError
	if _, err := a.p.Lock(ctx, req); !errors.As(err, &we) {
		t.Fatalf("lock after a watched key changed: %v, want WatchedError", err)
	}
	// Nothing held: the slot is free.
	waitFree(t, a, 4)
	if err := a.p.Unwatch(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	req.Unit = "u3"
	if _, err := a.p.Lock(ctx, req); !errors.As(err, &we) {
		t.Fatalf("lock naming a forgotten watch: %v, want WatchedError", err)
	}
}

// The home's prepare carries the commit, unless a participant that gave
// up on the coordinator recorded abort first: then the home answers
// abort and records nothing of its part.
func TestHomePrepareAfterAbort(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), 50*time.Millisecond)
	defer b.stop()
	ctx := context.Background()
	ims, err := a.p.Lock(ctx, lockReq("u", 1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	prepare(t, b, "u", 2, "y", 1)
	// b resolves through a: abort, and drops its part.
	if _, ok := b.get(t, 2, "y"); ok {
		t.Fatal("b applied an aborted part")
	}
	o, err := a.p.Prepare(ctx, peer.UnitPrepare{Table: storage.DefaultTable, Unit: "u", Home: "a", HomeSlot: 1, Decide: true,
		Parts: []peer.UnitPart{{Slot: 1, Effect: effectOf(t, a.eng, ims[0], "x", "u")}}})
	if err != nil || o != peer.OutcomeAbort {
		t.Fatalf("the home's prepare after an abort: %v %v, want abort", o, err)
	}
	if recs := a.eng.PendingParts(); len(recs) != 0 {
		t.Fatalf("the home recorded its part of an aborted unit: %v", recs)
	}
	if err := a.p.Abort(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	waitFree(t, a, 1)
	if _, ok := a.get(t, 1, "x"); ok {
		t.Fatal("the home applied an aborted part")
	}
}

// lostPrepare is a Site whose UPREPARE answers an error: lost before it
// reaches the participant, or (reached) its answer lost after.
type lostPrepare struct {
	Site
	reached bool
}

func (l lostPrepare) Prepare(ctx context.Context, req peer.UnitPrepare) (peer.Outcome, error) {
	if l.reached {
		if _, err := l.Site.Prepare(ctx, req); err != nil {
			return "", err
		}
	}
	return "", errors.New("connection reset")
}

// twoNodes starts nodes a and b whose unprepared holds outlive the test
// (a hold found free right after Run was released by it, not its lease).
func twoNodes(t *testing.T) (a, b *node) {
	c := cluster{}
	a = c.start(t, "a", t.TempDir(), time.Minute)
	b = c.start(t, "b", t.TempDir(), time.Minute)
	a.p.cfg.LockLease, b.p.cfg.LockLease = time.Minute, time.Minute
	return a, b
}

func free(t *testing.T, n *node, s storage.SlotID) {
	t.Helper()
	h, err := n.eng.TryHold(storage.DefaultTable, []storage.SlotID{s})
	if err != nil {
		t.Fatalf("%s: slot %d still held after the unit: %v", n.name, s, err)
	}
	h.Release()
}

// A participant's prepare that fails aborts the unit, and every hold ends
// with it: the home's (never asked to prepare) too, not at its lease, so
// that the unit run again finds its slots free.
func TestFailedPrepareReleasesEveryHold(t *testing.T) {
	a, b := twoNodes(t)
	defer a.stop()
	defer b.stop()
	shares := []Share{
		{Node: "a", Site: a.p, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: lostPrepare{Site: b.p}, Slots: lockReq("", 2, "y").Slots},
	}
	err := newTestCoordinator(t).Run(context.Background(), storage.DefaultTable, shares, setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}, 2: {"y", "2"}}))
	var aborted *AbortedError
	if !errors.As(err, &aborted) {
		t.Fatalf("Run: %v, want aborted", err)
	}
	free(t, a, 1)
	free(t, b, 2)
	if _, ok := a.get(t, 1, "x"); ok {
		t.Fatal("an aborted unit's part was applied")
	}
}

// The home's prepare (with the commit) answers an error: the coordinator
// asks the home to record the abort, which answers what was recorded
// first. Lost before the home: aborted (the unit may run again), nothing
// applied; its answer lost after the home recorded the commit: committed
// and applied, not "outcome unknown".
func TestHomePrepareLost(t *testing.T) {
	for _, reached := range []bool{false, true} {
		t.Run(map[bool]string{false: "lost before", true: "answer lost"}[reached], func(t *testing.T) { testHomePrepareLost(t, reached) })
	}
}

func testHomePrepareLost(t *testing.T, reached bool) {
	a, b := twoNodes(t)
	defer a.stop()
	defer b.stop()
	shares := []Share{
		{Node: "a", Site: lostPrepare{Site: a.p, reached: reached}, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: b.p, Slots: lockReq("", 2, "y").Slots},
	}
	err := newTestCoordinator(t).Run(context.Background(), storage.DefaultTable, shares, setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}, 2: {"y", "2"}}))
	var aborted *AbortedError
	switch {
	case !reached && !errors.As(err, &aborted):
		t.Fatalf("home's prepare lost: Run: %v, want aborted", err)
	case reached && err != nil:
		t.Fatalf("home's answer lost after its commit: Run: %v, want committed", err)
	}
	xa, _ := a.get(t, 1, "x")
	yb, _ := b.get(t, 2, "y")
	if want := map[bool]string{false: "", true: "1"}[reached]; xa != want || (yb == "") != (want == "") {
		t.Fatalf("reached %v: x = %q, y = %q", reached, xa, yb)
	}
	free(t, a, 1)
	free(t, b, 2)
}

// The reads of a unit are of one instant only if every share that only
// read still held its slots when the last lock was taken: a share whose
// hold ended before (its lease ran out while the coordinator evaluated)
// makes a unit that writes elsewhere abort before its decision (UCONFIRM),
// and a unit that only read run again (URELEASE answers it).
func TestReadsConfirmedBeforeTheDecision(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), time.Minute)
	defer b.stop()
	a.p.cfg.LockLease = time.Minute // the written share holds; b's read lapses
	co := newTestCoordinator(t)
	shares := []Share{
		{Node: "a", Site: a.p, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: b.p, Slots: lockReq("", 2, "y").Slots},
	}
	lapse := func() {
		testproc.WaitFor(t, "b's hold to end with its lease", 5*time.Second, func() bool {
			b.p.mu.Lock()
			defer b.p.mu.Unlock()
			return len(b.p.parts) == 0
		})
	}
	write := setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}})
	err := co.Run(context.Background(), storage.DefaultTable, shares, func(ims map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error) {
		lapse()
		return write(ims)
	})
	var aborted *AbortedError
	if !errors.As(err, &aborted) {
		t.Fatalf("a unit whose read share lapsed: %v, want AbortedError", err)
	}
	if _, ok := a.get(t, 1, "x"); ok {
		t.Fatal("a unit whose reads did not hold committed")
	}
	waitFree(t, a, 1)

	err = co.Run(context.Background(), storage.DefaultTable, shares, func(map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error) {
		lapse()
		return nil, nil
	})
	var refused *peer.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("a unit that only read, a share of which lapsed: %v, want RefusedError", err)
	}
	waitFree(t, a, 1)
}

// A prepared part over two slots of a node, one of which moved to another
// leader before the part ended (a raft slot's lead transferred): the
// apply ends the part on the slot still led here, answers an error for
// the other (its new leader ends it from its record; the coordinator must
// keep the decision), and releases the hold, so that the slot left here is
// free again, not held until the other slot comes back.
func TestApplyAfterASlotMovedAway(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	ctx := context.Background()
	req := peer.UnitLock{Table: storage.DefaultTable, Unit: "u", Slots: []peer.UnitSlot{
		{SlotEpoch: peer.SlotEpoch{Slot: 3}, Keys: [][]byte{[]byte("x")}},
		{SlotEpoch: peer.SlotEpoch{Slot: 4}, Keys: [][]byte{[]byte("y")}},
	}}
	ims, err := a.p.Lock(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	effs, err := setEval(a.eng, map[storage.SlotID][2]string{3: {"x", "1"}, 4: {"y", "2"}})(map[storage.SlotID]*storage.SlotImage{3: ims[0], 4: ims[1]})
	if err != nil || len(effs) != 2 {
		t.Fatalf("effects %v %v", effs, err)
	}
	var parts []peer.UnitPart
	for _, e := range effs {
		parts = append(parts, peer.UnitPart{Slot: e.Slot, Effect: e.Effect})
	}
	if _, err := a.p.Prepare(ctx, peer.UnitPrepare{Table: storage.DefaultTable, Unit: "u", Home: "a", HomeSlot: 1, Parts: parts}); err != nil {
		t.Fatal(err)
	}
	if o, err := a.p.Decide(ctx, peer.UnitDecide{Unit: "u", Outcome: peer.OutcomeCommit, Table: storage.DefaultTable, HomeSlot: 1}); err != nil || o != peer.OutcomeCommit {
		t.Fatalf("decide: %v %v", o, err)
	}
	leaderOf[4] = "b"
	defer func() { leaderOf[4] = "a" }()
	var refused *peer.RefusedError
	if err := a.p.Apply(ctx, "u"); !errors.As(err, &refused) {
		t.Fatalf("UAPPLY with slot 4 led elsewhere: %v, want refused", err)
	}
	free(t, a, 3)
	if v, ok := a.get(t, 3, "x"); !ok || v != "1" {
		t.Fatalf("x = %q %v, want the committed 1", v, ok)
	}
	recs := a.eng.PendingParts()
	if len(recs) != 1 || recs[0].Slot != 4 {
		t.Fatalf("records left %v, want slot 4's alone (its new leader's to end)", recs)
	}
}

// newTestCoordinator is node a's coordinator, closed when the test ends
// (before the nodes it was given, which were started first).
func newTestCoordinator(t *testing.T) *Coordinator {
	co := NewCoordinator("a", nil)
	t.Cleanup(co.Close)
	return co
}

// A unit that found a slot busy says where; its next try can wait there
// (RunWaitingOn), holding nothing else, and commits once the slot is
// free. Units that wait on either participant of the same two, and retry
// where they found a slot busy, all commit.
func TestRunWaitingOn(t *testing.T) {
	c := cluster{}
	a := c.start(t, "a", t.TempDir(), time.Minute)
	defer a.stop()
	b := c.start(t, "b", t.TempDir(), time.Minute)
	defer b.stop()
	for _, n := range []*node{a, b} {
		n.p.cfg.LockWait, n.p.cfg.LockLease = 10*time.Second, time.Minute
	}
	co := newTestCoordinator(t)
	ctx := context.Background()
	if _, err := b.p.Lock(ctx, lockReq("blocker", 2, "y")); err != nil {
		t.Fatal(err)
	}
	shares := []Share{
		{Node: "a", Site: a.p, Slots: lockReq("", 1, "x").Slots},
		{Node: "b", Site: b.p, Slots: lockReq("", 2, "y").Slots},
	}
	eval := setEval(a.eng, map[storage.SlotID][2]string{1: {"x", "1"}, 2: {"y", "2"}})
	var busy *BusyError
	if err := co.Run(ctx, storage.DefaultTable, shares, eval); !errors.As(err, &busy) || busy.Node != "b" || !errors.Is(err, ErrBusy) {
		t.Fatalf("a unit over a held slot of b: %v, want busy on b", err)
	}
	waitFree(t, a, 1) // the try released a's slot
	done := make(chan error, 1)
	go func() { done <- co.RunWaitingOn(ctx, storage.DefaultTable, shares, eval, "b") }()
	select {
	case err := <-done:
		t.Fatalf("the unit waiting on b returned %v while its slot was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	// It waits holding nothing: a's slot is free meanwhile.
	if h, err := a.eng.TryHold(storage.DefaultTable, []storage.SlotID{1}); err != nil {
		t.Fatalf("a unit waiting on b holds a's slot: %v", err)
	} else {
		h.Release()
	}
	if err := b.p.Release(ctx, "blocker"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the unit after the release: %v", err)
	}
	if v, ok := b.get(t, 2, "y"); !ok || v != "2" {
		t.Fatalf("b: y = %q %v", v, ok)
	}

	errs := make(chan error, 2)
	for _, waitOn := range []string{"a", "b"} {
		go func() {
			for range 30 {
				at := waitOn
				for {
					var busy *BusyError
					err := co.RunWaitingOn(ctx, storage.DefaultTable, shares, eval, at)
					if !errors.As(err, &busy) {
						if err != nil {
							errs <- err
							return
						}
						break
					}
					at = busy.Node
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a unit: %v", err)
		}
	}
}
