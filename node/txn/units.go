package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
	"github.com/pika-node/pika-node/unit"
	"golang.org/x/sync/errgroup"
)

// Units whose slots several nodes lead, or whose writes span slots with
// followers (async tables) or several raft groups (raft tables), even on
// one node: this node takes part in them (unit.Participant, behind the U*
// peer requests) and coordinates its clients' (unit.Coordinator).
// docs/transactions.md.

// newUnits builds the participant and the coordinator.
func (t *Txns) newUnits(logger *slog.Logger, ready func(context.Context) error, stepPause time.Duration) {
	t.units = unit.NewParticipant(unit.ParticipantConfig{
		Engine: t.eng,
		Admit:  t.admitUnitLock,
		AdmitWatch: func(req peer.UnitWatch) error {
			if reply, _ := t.proxy.AdmitUnitLock(peer.UnitLock{Table: req.Table, Unit: req.Token, Slots: req.Slots}); reply != "" {
				return peer.ReplyErr([]byte("-" + reply + "\r\n"))
			}
			return nil
		},
		Ready:    ready,
		Slots:    unitRecords{t},
		HomeSlot: t.slotSite,
		Logger:   logger,
	})
	t.coord = unit.NewCoordinator(string(t.self), logger)
	t.coord.StepPause = stepPause
	t.coord.HomeSlot = t.slotSite
}

// slotSite returns the unit.Site of the node leading slot s of table
// now (a unit's home slot), nil when no leader is known.
func (t *Txns) slotSite(table storage.TableID, s storage.SlotID) unit.Site {
	snap := t.proxy.Routing()
	tb, ok := snap.Table(table)
	if !ok || int(s) >= int(tb.Slots) {
		return nil
	}
	leader := tb.Route(s).Leader
	if raft := t.raft(); tb.Mode == meta.ModeRaft && raft != nil {
		// The group here may know its leader before the routing does.
		if l := raft.RaftLeader(table, s); l.Known {
			leader = l.Node
		}
	}
	site, ok := t.site(snap, leader, uint32(s))
	if !ok {
		return nil
	}
	return site
}

// site is the unit.Site of node: this node's participant, or the peer.
func (t *Txns) site(snap *router.Snapshot, node meta.NodeID, key uint32) (unit.Site, bool) {
	if node == t.self {
		return t.units, true
	}
	info, ok := snap.Node(node)
	if !ok {
		return nil, false
	}
	return unit.Remote{Links: t.links, Addr: info.Peer, Key: key}, true
}

// admitUnitLock checks a ULOCK under the unit's hold of its slots: the
// routing (as FWD's), then the table's Committer (no handover fences the
// slots).
func (t *Txns) admitUnitLock(req peer.UnitLock) error {
	if reply, _ := t.proxy.AdmitUnitLock(req); reply != "" {
		return peer.ReplyErr([]byte("-" + reply + "\r\n"))
	}
	slots := make([]storage.SlotID, len(req.Slots))
	for i, s := range req.Slots {
		slots[i] = s.Slot
	}
	if _, err := t.commits(req.Table).Admit(req.Table, slots); err != nil {
		return &peer.RefusedError{Reason: err.Error()}
	}
	return nil
}

// unitRecords is unit.Slots over this node's tables: a raft table's unit
// records are entries of its slots' raft groups (raft mode starts in the
// node's Run, before the participant serves or resolves anything); an
// async table's are logged writes of the slot's leader
// (storage.WriteUnitRecord), made durable by the acknowledgement of every
// live follower.
type unitRecords struct{ t *Txns }

// errNoRaft answers for a raft slot before raft mode started.
var errNoRaft = errors.New("raft mode is not running yet")

// unitAckWait bounds the wait for an async slot's followers to
// acknowledge a unit's record: a follower that does not answer makes the
// unit fail before its decision (docs/transactions.md, "Durability").
const unitAckWait = 3 * time.Second

func (u unitRecords) raftTable(t storage.TableID) bool {
	tb, ok := u.t.proxy.Routing().Table(t)
	return ok && tb.Mode == meta.ModeRaft
}

func (u unitRecords) Leads(t storage.TableID, s storage.SlotID) bool {
	if u.raftTable(t) {
		raft := u.t.raft()
		return raft != nil && raft.Leads(t, s)
	}
	tb, ok := u.t.proxy.Routing().Table(t)
	return ok && int(s) < int(tb.Slots) && tb.Route(s).Leader == u.t.self
}

func (u unitRecords) WritableTerm(t storage.TableID, s storage.SlotID) (uint64, error) {
	switch raft := u.t.raft(); {
	case u.raftTable(t) && raft == nil:
		return 0, errNoRaft
	case u.raftTable(t):
		return raft.WritableTerm(t, s)
	case !u.Leads(t, s):
		return 0, fmt.Errorf("this node does not lead slot %d", s)
	}
	return 0, nil
}

func (u unitRecords) ReadBarrier(ctx context.Context, t storage.TableID, s storage.SlotID, term uint64) error {
	if !u.raftTable(t) {
		return nil // the hold keeps the slot's writes out
	}
	raft := u.t.raft()
	if raft == nil {
		return errNoRaft
	}
	return raft.ReadBarrierAt(ctx, t, s, term)
}

func (u unitRecords) Propose(ctx context.Context, t storage.TableID, recs []unit.Record) error {
	if u.raftTable(t) {
		raft := u.t.raft()
		if raft == nil {
			return errNoRaft
		}
		// Each record to its slot's group, at once.
		var g errgroup.Group
		for _, r := range recs {
			g.Go(func() error { return raft.Propose(ctx, t, r.Slot, r.Entry, r.Term) })
		}
		return g.Wait()
	}
	indexes, err := u.t.eng.WriteUnitRecords(t, slotEntries(recs))
	if err != nil {
		return err
	}
	for i, index := range indexes {
		if index == 0 {
			continue
		}
		if err := u.awaitAcked(ctx, t, recs[i].Slot, index); err != nil {
			return err
		}
	}
	return nil
}

func slotEntries(recs []unit.Record) []storage.SlotEntry {
	out := make([]storage.SlotEntry, len(recs))
	for i, r := range recs {
		out[i] = storage.SlotEntry{Slot: r.Slot, Entry: r.Entry}
	}
	return out
}

// awaitAcked waits, at most unitAckWait, until the live followers of
// async slot s acknowledged its log up to index.
func (u unitRecords) awaitAcked(ctx context.Context, t storage.TableID, s storage.SlotID, index storage.LogIndex) error {
	ctx, cancel := context.WithTimeout(ctx, unitAckWait)
	defer cancel()
	return u.t.shipper().AwaitAcked(ctx, t, s, index)
}

func (u unitRecords) Durable(ctx context.Context, t storage.TableID, s storage.SlotID) error {
	if u.raftTable(t) {
		return nil // applied here: committed
	}
	_, last, _ := u.t.eng.LogBounds(t, s)
	if last == 0 {
		return nil // no log: no followers
	}
	return u.awaitAcked(ctx, t, s, last)
}

func (u unitRecords) End(ctx context.Context, t storage.TableID, recs []unit.Record) error {
	if u.raftTable(t) {
		return u.Propose(ctx, t, recs)
	}
	_, err := u.t.eng.WriteUnitRecords(t, slotEntries(recs))
	return err
}

// RegisterPeer adds the unit peer requests to the peer port's request
// table m: UNIT (a block one node leads, run here), the U* requests,
// answered by t's participant, USCRIPT and USCRIPTFLUSH, by the script
// cache, UFUNCTIONS, by the FUNCTION libraries, and USCRIPTKILL, by the
// scripts running here. None of them joins the link's pipeline
// batch: ctxOf commits what the batch holds, so that its replies stay
// contiguous, and returns the request's command context (its reply
// buffer).
func RegisterPeer[C any](m *peer.Mux[C], t *Txns, ctxOf func(C) *command.Ctx) {
	ctx := context.Background()
	answer := func(c *command.Ctx, err error) {
		if err != nil {
			c.R.Error(peer.ErrorReply(err))
			return
		}
		c.R.OK()
	}
	peer.Handle(m, peer.ParseUnit, committed(ctxOf, t.execUnit))
	peer.Handle(m, peer.ParseUnitLock, committed(ctxOf, func(c *command.Ctx, req peer.UnitLock) {
		images, err := t.units.Lock(ctx, req)
		if err != nil {
			c.R.Error(peer.ErrorReply(err))
			return
		}
		c.R.Array(len(images))
		for _, im := range images {
			c.R.Bulk(im.Encode(nil))
		}
	}))
	peer.Handle(m, peer.ParseUnitRead, committed(ctxOf, func(c *command.Ctx, req peer.UnitRead) {
		keys, vals, more, err := t.units.Read(ctx, req)
		if err != nil {
			c.R.Error(peer.ErrorReply(err))
			return
		}
		c.R.Array(1 + 2*len(keys))
		if more {
			c.R.Int(1)
		} else {
			c.R.Int(0)
		}
		for i := range keys {
			c.R.Bulk(keys[i])
			c.R.Bulk(vals[i])
		}
	}))
	peer.Handle(m, peer.ParseUnitPrepare, committed(ctxOf, func(c *command.Ctx, req peer.UnitPrepare) {
		o, err := t.units.Prepare(ctx, req)
		if err != nil || !req.Decide {
			answer(c, err)
			return
		}
		c.R.Simple(string(o))
	}))
	peer.Handle(m, peer.ParseUnitDecide, committed(ctxOf, func(c *command.Ctx, req peer.UnitDecide) {
		o, err := t.units.Decide(ctx, req)
		if err != nil {
			c.R.Error(peer.ErrorReply(err))
			return
		}
		c.R.Simple(string(o))
	}))
	peer.Handle(m, peer.ParseUnitApply, committed(ctxOf, func(c *command.Ctx, req peer.UnitApply) {
		answer(c, t.units.Apply(ctx, req.Unit))
	}))
	peer.Handle(m, peer.ParseUnitAbort, committed(ctxOf, func(c *command.Ctx, req peer.UnitAbort) {
		answer(c, t.units.Abort(ctx, req.Unit))
	}))
	peer.Handle(m, peer.ParseUnitRelease, committed(ctxOf, func(c *command.Ctx, req peer.UnitRelease) {
		answer(c, t.units.Release(ctx, req.Unit))
	}))
	peer.Handle(m, peer.ParseUnitConfirm, committed(ctxOf, func(c *command.Ctx, req peer.UnitConfirm) {
		answer(c, t.units.Confirm(ctx, req.Unit))
	}))
	peer.Handle(m, peer.ParseUnitRenew, committed(ctxOf, func(c *command.Ctx, req peer.UnitRenew) {
		answer(c, t.units.Renew(ctx, req.Unit))
	}))
	peer.Handle(m, peer.ParseUnitForget, committed(ctxOf, func(c *command.Ctx, req peer.UnitForget) {
		answer(c, t.units.Forget(ctx, req))
	}))
	peer.Handle(m, peer.ParseUnitWatch, committed(ctxOf, func(c *command.Ctx, req peer.UnitWatch) {
		answer(c, t.units.Watch(ctx, req))
	}))
	peer.Handle(m, peer.ParseUnitUnwatch, committed(ctxOf, func(c *command.Ctx, req peer.UnitUnwatch) {
		answer(c, t.units.Unwatch(ctx, req.Token))
	}))
	peer.Handle(m, peer.ParseScriptFetch, committed(ctxOf, t.serveScriptFetch))
	peer.Handle(m, peer.ParseScriptFlush, committed(ctxOf, func(c *command.Ctx, _ peer.ScriptFlush) {
		t.scripts.Flush()
		c.R.OK()
	}))
	peer.Handle(m, peer.ParseFunctionsAt, committed(ctxOf, t.serveFunctionsAt))
	peer.Handle(m, peer.ParseScriptKill, committed(ctxOf, t.serveScriptKill))
}

// committed adapts the handler of a U* request to the peer port's
// request table: ctxOf readies the call (RegisterPeer).
func committed[C, R any](ctxOf func(C) *command.Ctx, h func(*command.Ctx, R)) func(C, R) {
	return func(pc C, req R) { h(ctxOf(pc), req) }
}

// acrossNodes reports whether a unit over slots of tb, which unitPlace
// refused, can run as a unit over several nodes (or several raft groups):
// its slots all have a live leader, with no handover in progress.
func acrossNodes(snap *router.Snapshot, tb *router.Table, slots []storage.SlotID) bool {
	for _, s := range slots {
		if router.LeaderDown(snap, tb, s) != "" || tb.Route(s).Handover {
			return false
		}
	}
	return true
}

// unitShares groups the keys of a block's commands (and the slots of
// its watched keys) by the node leading their slot.
func (t *Txns) unitShares(cl Conn, snap *router.Snapshot, tb *router.Table, slots []storage.SlotID, cmds []queuedCommand) ([]unit.Share, bool) {
	keys := map[storage.SlotID][][]byte{}
	for _, q := range cmds {
		if q.spec.Cluster != router.Keyed && q.spec.Cluster != router.FanOut {
			continue
		}
		ks, err := q.spec.KeysOf(q.args)
		if err != nil {
			continue
		}
		for _, k := range ks {
			s := router.SlotOf(k, tb.Slots)
			if !slices.ContainsFunc(keys[s], func(x []byte) bool { return string(x) == string(k) }) {
				keys[s] = append(keys[s], k)
			}
		}
	}
	return t.sharesOf(snap, tb, slots, keys, func(leader meta.NodeID) string {
		if cl != nil && len(cl.Transaction().remote[leader]) > 0 {
			return cl.Transaction().token
		}
		return ""
	})
}

// sharesOf groups slots of tb, with the keys of each (keys), by the node
// leading them; watch names the WATCH token a node's share checks (nil:
// none). ok is false when a leader is not a live node.
func (t *Txns) sharesOf(snap *router.Snapshot, tb *router.Table, slots []storage.SlotID, keys map[storage.SlotID][][]byte, watch func(meta.NodeID) string) (_ []unit.Share, ok bool) {
	var shares []unit.Share
	for _, s := range slots {
		r := tb.Route(s)
		i := slices.IndexFunc(shares, func(sh unit.Share) bool { return sh.Node == string(r.Leader) })
		if i < 0 {
			site, ok := t.site(snap, r.Leader, uint32(s))
			if !ok {
				return nil, false
			}
			sh := unit.Share{Node: string(r.Leader), Site: site}
			if watch != nil {
				sh.Watch = watch(r.Leader)
			}
			shares = append(shares, sh)
			i = len(shares) - 1
		}
		shares[i].Slots = append(shares[i].Slots, peer.UnitSlot{SlotEpoch: peer.SlotEpoch{Slot: s, Epoch: r.Epoch}, Keys: keys[s]})
	}
	return shares, true
}

// acrossMode is how runUnitAcross answers and what it checks.
type acrossMode struct {
	// array: the replies go in EXEC's array (else they are appended
	// bare: one command outside MULTI, or a segment of a block).
	array bool
	// watch: the connection's WATCH is checked under the unit's locks.
	watch bool
	// attempt counts the tries of this unit so far (the pause after a
	// busy slot grows with it).
	attempt int
	// busyAt, kept by the caller across tries (never nil), is the node
	// where the last try found a slot busy ("" when none did): the next
	// try waits for its slots there first (unit.Coordinator.RunWaitingOn).
	busyAt *string
}

// busyPause is how long a unit that found a slot busy waits before its
// next try: random (so that two units that met do not meet again), up to
// 0.5 ms doubled per try, at most 20 ms.
func busyPause(attempt int) time.Duration {
	ceiling := min(500*time.Microsecond<<min(attempt, 6), 20*time.Millisecond)
	return time.Duration(rand.Int64N(int64(ceiling))) + 50*time.Microsecond
}

// errWatched is a segment of a block whose WATCH check found a change.
var errWatched = errors.New("a watched key changed")

// runUnitAcross runs a block over slots of several nodes: the
// coordinator locks them and copies the keys, the block runs here over
// the copies (its replies written to c), and its writes are committed on
// each node in two phases. retry says nothing ran and the caller should
// route again (after the pause it waited). A WATCH that found a change
// answers nil with the array mode, errWatched without.
func (t *Txns) runUnitAcross(cl Conn, c *command.Ctx, snap *router.Snapshot, tb *router.Table, slots []storage.SlotID, cmds []queuedCommand, mode acrossMode) (retry bool, err error) {
	var wcl Conn // whose WATCH the unit checks
	if mode.watch {
		wcl = cl
	}
	shares, ok := t.unitShares(wcl, snap, tb, slots, cmds)
	if !ok {
		return true, nil
	}
	start := markOf(c)
	watched := false
	eval := func(images map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error) {
		start.undo(c)
		if wcl != nil && wcl.Transaction().watch.Changed(t.eng.NowMS()) {
			watched = true
			return nil, nil
		}
		b := t.eng.NewBatch(nil)
		defer b.Release()
		for _, im := range images {
			if err := b.UseImage(im); err != nil {
				return nil, err
			}
		}
		if mode.array {
			c.R.Array(len(cmds))
		}
		reroute := c.Reroute
		c.Reroute = false
		defer func() { c.Reroute = reroute }()
		c.Table, c.Slots = tb.ID, tb.Slots
		for _, q := range cmds {
			began := time.Now()
			mark := c.R.Len()
			c.Args = q.args
			if q.spec.Cluster == router.Server {
				command.Run(q.spec, c)
			} else {
				command.RunInUnit(q.spec, c, b)
			}
			if cl.Transaction().open { // EXEC's; a command alone is counted by the node's exec
				t.account(q.spec, began, c, mark)
			}
		}
		return b.Effects(), nil
	}
	err = t.coord.RunWaitingOn(context.Background(), tb.ID, shares, eval, *mode.busyAt)
	switch {
	case (err == nil && watched) || errors.Is(err, unit.ErrWatched):
		start.undo(c)
		if !mode.array {
			return false, errWatched
		}
		c.R.NullArray()
		return false, nil
	case err == nil:
		return false, nil
	}
	start.undo(c)
	return t.afterUnit(err, snap, mode.attempt, mode.busyAt, "the transaction")
}

// afterUnit answers a unit across nodes that did not commit (err, not
// nil), which what names in its error: retry says nothing ran and the
// caller should route again, after the pause this waited (a random one
// after an abort, so that units that met do not meet again: no event
// says when they will not) or the routing it awaited; busyAt, kept by
// the caller across tries, names the node where a slot was busy.
func (t *Txns) afterUnit(err error, snap *router.Snapshot, attempt int, busyAt *string, what string) (retry bool, _ error) {
	var refused *peer.RefusedError
	var aborted *unit.AbortedError
	var busy *unit.BusyError
	var unknown *unit.UnknownOutcomeError
	switch {
	case errors.As(err, &busy):
		// Nothing ran: the next try waits for the busy slots first,
		// holding nothing else.
		*busyAt = busy.Node
		return true, nil
	case errors.As(err, &aborted):
		time.Sleep(busyPause(attempt))
		return true, nil
	case errors.As(err, &refused):
		t.proxy.AwaitNewer(snap.Revision, 100*time.Millisecond)
		return true, nil
	case errors.As(err, &unknown):
		return false, command.Error("ERR " + unknown.Error())
	}
	if _, known := command.ErrorReply(err); known {
		return false, err
	}
	// A participant did not answer (down, partitioned): nothing of the
	// unit was decided, so nothing of it applies.
	return false, command.Error("CLUSTERDOWN a node of " + what + " did not answer before its decision (nothing ran): " + err.Error())
}

// splitsUnit reports whether a queued command ends a block's unit: SELECT
// (the rest is of another table), a command over the whole table, or one
// that writes another table (COPY ... DB n).
func splitsUnit(q queuedCommand, table storage.TableID) bool {
	return q.spec.Name == "select" || q.spec.Cluster == router.TableWide ||
		(q.spec.Elsewhere != nil && q.spec.Elsewhere(q.args, table))
}

// runBlockAcross runs an EXEC's block that holds commands which split it
// (splitsUnit) in a table whose slots several nodes lead: each run of data
// commands between them is a unit of its own (across the nodes it names,
// or on this node), as runUnitHere does on one node; the first one,
// possibly empty, also holds the watched keys' slots and checks the WATCH.
func (t *Txns) runBlockAcross(cl Conn, c *command.Ctx, cmds []queuedCommand) error {
	start := markOf(c)
	c.R.Array(len(cmds))
	first := true
	for i := 0; i < len(cmds) || first; {
		j := i
		for j < len(cmds) && !splitsUnit(cmds[j], cl.Table()) {
			j++
		}
		if j > i || first {
			err := t.runSegmentAcross(cl, c, cmds[i:j], first)
			if errors.Is(err, errWatched) {
				start.undo(c)
				c.R.NullArray()
				return nil
			}
			if err != nil {
				return unitFailed(c, start, err)
			}
			first = false
		}
		if j == len(cmds) {
			break
		}
		q := cmds[j]
		began := time.Now()
		mark := c.R.Len()
		c.Args = q.args
		switch {
		case q.spec.Name == "select":
			command.Run(q.spec, c)
		case q.spec.Cluster == router.TableWide:
			t.runTableWide(cl, c, q)
		default: // a write of another table: routed as outside MULTI
			snap := t.proxy.Routing()
			if tb, ok := snap.Table(cl.Table()); ok {
				c.Table, c.Slots = tb.ID, tb.Slots
			}
			c.R.Raw(t.proxy.Reroute(cl.Runner(), cl.Table(), q.args))
		}
		t.account(q.spec, began, c, mark)
		i = j + 1
	}
	return nil
}

// runSegmentAcross runs a run of a block's data commands as one unit on
// the connection's current table, answering their replies bare; watch:
// it also holds the watched keys' slots and checks the WATCH (errWatched).
func (t *Txns) runSegmentAcross(cl Conn, c *command.Ctx, cmds []queuedCommand, watch bool) error {
	return t.runAcross(cl, c, cmds, watch, "transaction")
}

// RunCommandAcross runs one command, sent on connection cl outside MULTI,
// whose keys' slots several nodes lead (router.Across) as a unit across
// them: its reply is written to c, or the error that answers it returned.
func (t *Txns) RunCommandAcross(cl Conn, c *command.Ctx, spec *command.Spec) error {
	if spec.Flags&command.OwnLocks != 0 {
		command.Run(spec, c) // a script routes its unit itself
		return nil
	}
	return t.runAcross(cl, c, []queuedCommand{{spec: spec, args: c.Args}}, false, "command")
}

// runAcross runs cmds as one unit across the nodes leading their slots,
// routing it again while its slots are busy or moving, for at most
// unitRouteWait; what names it in the error after that.
func (t *Txns) runAcross(cl Conn, c *command.Ctx, cmds []queuedCommand, watch bool, what string) error {
	deadline := time.Now().Add(unitRouteWait)
	var busyAt string
	for attempt := 0; ; attempt++ {
		snap := t.proxy.Routing()
		tb, ok := snap.Table(cl.Table())
		if !ok {
			return command.Error(router.DroppedTable(cl.Table()))
		}
		slots := unitSlots(tb, cmds)
		if watch {
			var honoured bool
			if slots, honoured = watchedSlots(snap, tb, cl.Transaction(), slots); !honoured {
				return errWatched
			}
		}
		if msg := unitDown(snap, tb, slots); msg != "" {
			return command.Error(msg)
		}
		if acrossNodes(snap, tb, slots) {
			retry, err := t.runUnitAcross(cl, c, snap, tb, slots, cmds, acrossMode{watch: watch, attempt: attempt, busyAt: &busyAt})
			if !retry {
				return err
			}
		} else {
			// A slot is being handed over (or the table changed mode).
			t.proxy.AwaitNewer(snap.Revision, time.Until(deadline))
		}
		if time.Now().After(deadline) {
			return command.Error("CLUSTERDOWN the slots of the " + what + " stayed busy; retry")
		}
	}
}

// unitDown is the error of a unit one of whose slots has no live leader,
// or "".
func unitDown(snap *router.Snapshot, tb *router.Table, slots []storage.SlotID) string {
	for _, s := range slots {
		if msg := router.LeaderDown(snap, tb, s); msg != "" {
			return msg
		}
	}
	return ""
}
