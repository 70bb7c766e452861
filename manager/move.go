package manager

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// A slot move is a replica change run as a job (docs/cluster.md "Slot
// moves"): add the target (an async follower, or a raft learner), wait
// until it has copied the slot and follows its log, hand the leadership
// over if the source led, remove the source (which then deletes its
// copy). Each step is written to the job record before it is taken, and
// every step is idempotent (it looks at the slot record and does only
// what is missing), so a manager that takes over runs the job again from
// its recorded step. Before the hand-over a move can roll back (cancel,
// or the target died); after it, it only goes forward.

// Timing of the move runner.
const (
	movePoll = 50 * time.Millisecond
	// moveStepWait bounds how long one call of a step waits before the
	// runner reads the job again (to see a cancel).
	moveStepWait = time.Second
	// moveCaughtUp is how many log entries behind its leader an async
	// target may be when the hand-over starts (the fenced hand-over then
	// waits for the rest).
	moveCaughtUp = 64
	// finishedMovesKept and finishedMoveAge bound the finished move jobs
	// kept for `pikactl job list --all`.
	finishedMovesKept = 200
	finishedMoveAge   = time.Hour
)

var errSlotBusy = errors.New("another replica change of the slot is under way")

// startMove checks a move request and writes its job; moveLoop runs it.
func (l *leadership) startMove(ctx context.Context, req api.MoveSlot) (meta.Job, error) {
	st, err := l.load(ctx)
	if err != nil {
		return meta.Job{}, err
	}
	t, ok := st.Tables[req.Table]
	if !ok {
		return meta.Job{}, errf(http.StatusNotFound, "no table %q", req.Table)
	}
	if uint32(req.Slot) >= t.Slots {
		return meta.Job{}, errf(http.StatusNotFound, "table %s has no slot %d (slots 0..%d)", t.Name, req.Slot, t.Slots-1)
	}
	si := st.Slots[t.ID][req.Slot]
	from := cmp.Or(req.From, si.Leader)
	switch {
	case req.To == "":
		return meta.Job{}, errf(http.StatusBadRequest, "no target node given")
	case !slices.Contains(si.Replicas, from):
		return meta.Job{}, errf(http.StatusBadRequest, "%s is not a replica of slot %d of %s (replicas %v)", from, req.Slot, t.Name, si.Replicas)
	case si.Holds(req.To):
		return meta.Job{}, errf(http.StatusConflict, "%s already holds slot %d of %s", req.To, req.Slot, t.Name)
	case !st.Placeable(req.To):
		return meta.Job{}, errf(http.StatusConflict, "%s is not a live member node", req.To)
	case si.State != meta.SlotServing || len(si.Learners) > 0 || len(si.Removing) > 0:
		return meta.Job{}, errf(http.StatusConflict, "slot %d of %s: %v", req.Slot, t.Name, errSlotBusy)
	}
	for _, j := range st.Jobs {
		if j.Kind == meta.JobMoveSlot && j.Move != nil && !j.Move.Step.Final() && j.Table.ID == t.ID && j.Move.Slot == req.Slot {
			return meta.Job{}, errf(http.StatusConflict, "slot %d of %s is already moving (job %s)", req.Slot, t.Name, j.ID)
		}
	}
	now := time.Now().UTC()
	mv := &meta.Move{Slot: req.Slot, From: from, To: req.To, Step: meta.MoveAdd, Updated: now}
	if l.m.cfg.SlotSize != nil {
		if info, ok := st.Alive[from]; ok {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			mv.Bytes, _ = l.m.cfg.SlotSize(sctx, info, t.ID, req.Slot)
			cancel()
		}
	}
	j := meta.Job{ID: fmt.Sprintf("%d-move-%d-%d", now.UnixNano(), t.ID, req.Slot), Kind: meta.JobMoveSlot, Table: t, Created: now, Move: mv}
	lay := l.m.cfg.Layout
	if _, err := l.txn(ctx, nil, clientv3.OpPut(lay.Job(j.ID), jsonString(j))); err != nil {
		return meta.Job{}, err
	}
	l.m.log.Info("slot move started", "job", j.ID, "table", t.Name, "slot", req.Slot, "from", from, "to", req.To, "bytes", mv.Bytes)
	return j, nil
}

// cancelMove asks a move job to roll back.
func (l *leadership) cancelMove(ctx context.Context, id string) (meta.Job, error) {
	j, _, ok, err := l.readJob(ctx, id)
	if err != nil {
		return meta.Job{}, err
	}
	if !ok {
		return meta.Job{}, errf(http.StatusNotFound, "no job %q", id)
	}
	if j.Kind != meta.JobMoveSlot || j.Move == nil {
		return j, errf(http.StatusConflict, "job %s is a %s: only slot moves can be cancelled", id, j.Kind)
	}
	if j.Move.Step.Final() {
		return j, errf(http.StatusConflict, "job %s is over (%s)", id, j.Move.Step)
	}
	return l.updateMove(ctx, id, func(mv *meta.Move) { mv.Cancel = true })
}

// readJob reads one job record and its mod revision.
func (l *leadership) readJob(ctx context.Context, id string) (meta.Job, int64, bool, error) {
	g, err := l.m.cli.Get(ctx, l.m.cfg.Layout.Job(id))
	if err != nil {
		return meta.Job{}, 0, false, unavailable(err)
	}
	if len(g.Kvs) == 0 {
		return meta.Job{}, 0, false, nil
	}
	var j meta.Job
	if err := json.Unmarshal(g.Kvs[0].Value, &j); err != nil {
		return meta.Job{}, 0, false, fmt.Errorf("job %s: bad record: %w", id, err)
	}
	return j, g.Kvs[0].ModRevision, true, nil
}

// updateMove changes a move job's record (read, change, compare-and-put).
func (l *leadership) updateMove(ctx context.Context, id string, fn func(*meta.Move)) (meta.Job, error) {
	key := l.m.cfg.Layout.Job(id)
	for {
		j, rev, ok, err := l.readJob(ctx, id)
		if err != nil {
			return meta.Job{}, err
		}
		if !ok || j.Move == nil {
			return meta.Job{}, errf(http.StatusNotFound, "no move job %q", id)
		}
		fn(j.Move)
		j.Move.Updated = time.Now().UTC()
		done, err := l.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}, clientv3.OpPut(key, jsonString(j)))
		if err != nil {
			return meta.Job{}, err
		}
		if done {
			return j, nil
		}
	}
}

// updateSlot changes one slot record: fn edits it and says whether it
// changed; the write is guarded by the record's mod revision and retried
// on a conflict (failover and raft reports write slot records too).
func (l *leadership) updateSlot(ctx context.Context, t meta.TableID, n meta.SlotID, fn func(*meta.SlotInfo) (bool, error)) (meta.SlotInfo, error) {
	key := l.m.cfg.Layout.Slot(t, n)
	for {
		g, err := l.m.cli.Get(ctx, key)
		if err != nil {
			return meta.SlotInfo{}, unavailable(err)
		}
		if len(g.Kvs) == 0 {
			return meta.SlotInfo{}, errf(http.StatusNotFound, "slot %d of table %d has no record (dropped?)", n, t)
		}
		var si meta.SlotInfo
		if err := json.Unmarshal(g.Kvs[0].Value, &si); err != nil {
			return meta.SlotInfo{}, fmt.Errorf("slot %d of table %d: bad record: %w", n, t, err)
		}
		changed, err := fn(&si)
		if err != nil || !changed {
			return si, err
		}
		ok, err := l.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", g.Kvs[0].ModRevision)}, clientv3.OpPut(key, jsonString(si)))
		if err != nil {
			return meta.SlotInfo{}, err
		}
		if ok {
			return si, nil
		}
	}
}

func (l *leadership) readSlot(ctx context.Context, t meta.TableID, n meta.SlotID) (meta.SlotInfo, error) {
	return l.updateSlot(ctx, t, n, func(*meta.SlotInfo) (bool, error) { return false, nil })
}

// moveLoop runs every unfinished move job, each on its own goroutine,
// while the role is held; a new manager's loop resumes them.
func (l *leadership) moveLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	running := map[string]bool{}
	var seen int64
	for ctx.Err() == nil {
		st := l.m.State()
		if st != nil {
			seen = st.Revision
			for id, j := range st.Jobs {
				if j.Kind != meta.JobMoveSlot || j.Move == nil || j.Move.Step.Final() {
					continue
				}
				mu.Lock()
				started := running[id]
				running[id] = true
				mu.Unlock()
				if started {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					l.runMove(ctx, id)
					mu.Lock()
					delete(running, id)
					mu.Unlock()
				}()
			}
			l.pruneMoves(ctx, st)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		_, _ = l.m.WaitState(wctx, func(s *meta.State) bool { return s.Revision != seen })
		cancel()
	}
}

// pruneMoves deletes finished move jobs beyond the newest
// finishedMovesKept and those older than finishedMoveAge.
func (l *leadership) pruneMoves(ctx context.Context, st *meta.State) {
	var done []meta.Job
	for _, j := range st.Jobs {
		if j.Kind == meta.JobMoveSlot && j.Move != nil && j.Move.Step.Final() {
			done = append(done, j)
		}
	}
	slices.SortFunc(done, func(a, b meta.Job) int { return b.Move.Finished.Compare(a.Move.Finished) })
	var ops []clientv3.Op
	for i, j := range done {
		if i >= finishedMovesKept || time.Since(j.Move.Finished) > finishedMoveAge {
			ops = append(ops, clientv3.OpDelete(l.m.cfg.Layout.Job(j.ID)))
		}
	}
	if len(ops) > 0 {
		if err := l.putChunks(ctx, ops); err != nil {
			l.m.log.Debug("prune finished moves", "err", err)
		}
	}
}

// runMove drives one move job until it is final or the role is lost.
func (l *leadership) runMove(ctx context.Context, id string) {
	for ctx.Err() == nil {
		j, _, ok, err := l.readJob(ctx, id)
		if err == nil && (!ok || j.Move == nil || j.Move.Step.Final()) {
			return
		}
		if err == nil && l.m.cfg.MoveStepPause > 0 && j.Move.Updated.After(time.Now().Add(-l.m.cfg.MoveStepPause)) {
			// Tests: hold the recorded step a while before taking it.
			_ = sleepCtx(ctx, time.Until(j.Move.Updated.Add(l.m.cfg.MoveStepPause)))
			continue
		}
		var next meta.MoveStep
		var note string
		if err == nil {
			next, note, err = l.moveStep(ctx, j)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.m.log.Warn("slot move step", "job", id, "err", err)
			if j.Move != nil && j.Move.Error != err.Error() {
				_, _ = l.updateMove(ctx, id, func(mv *meta.Move) { mv.Error = err.Error() })
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if next == j.Move.Step {
			continue
		}
		if _, err := l.updateMove(ctx, id, func(mv *meta.Move) {
			mv.Step, mv.Error = next, note
			if next.Final() {
				mv.Finished = time.Now().UTC()
			}
		}); err != nil {
			l.m.log.Warn("slot move: record the step", "job", id, "step", next, "err", err)
			continue
		}
		l.m.log.Info("slot move", "job", id, "table", j.Table.Name, "slot", j.Move.Slot, "from", j.Move.From, "to", j.Move.To, "step", next, "note", note)
	}
}

// moveStep takes (or goes on with) the job's current step and returns the
// step to record next (the same one while it is not done), with a note
// for the record.
func (l *leadership) moveStep(ctx context.Context, j meta.Job) (meta.MoveStep, string, error) {
	mv := *j.Move
	st := l.m.State()
	if st == nil {
		return mv.Step, "", errors.New("no metadata loaded yet")
	}
	if t, ok := st.TableByID(j.Table.ID); !ok || t.Name != j.Table.Name {
		var ae *api.Error
		if _, err := l.readSlot(ctx, j.Table.ID, mv.Slot); errors.As(err, &ae) && ae.Code == http.StatusNotFound {
			return meta.MoveFailed, "the table was dropped", nil
		}
	}
	raftMode := j.Table.Mode == meta.ModeRaft
	_, toAlive := st.Alive[mv.To]
	switch mv.Step {
	case meta.MoveAdd:
		if mv.Cancel {
			return meta.MoveRollback, "cancelled", nil
		}
		if !toAlive {
			return meta.MoveRollback, "the target is down", nil
		}
		_, err := l.updateSlot(ctx, j.Table.ID, mv.Slot, func(si *meta.SlotInfo) (bool, error) {
			return addTarget(si, mv.To, raftMode)
		})
		if err != nil {
			return mv.Step, "", err
		}
		return meta.MoveCatchUp, "", nil

	case meta.MoveCatchUp:
		deadline := time.Now().Add(moveStepWait)
		for {
			if mv.Cancel {
				return meta.MoveRollback, "cancelled", nil
			}
			if _, alive := l.m.State().Alive[mv.To]; !alive {
				return meta.MoveRollback, "the target died during the copy", nil
			}
			si, err := l.readSlot(ctx, j.Table.ID, mv.Slot)
			if err != nil {
				return mv.Step, "", err
			}
			if raftMode {
				if slices.Contains(si.Replicas, mv.To) {
					return afterCatchUp(si, mv), "", nil
				}
				if !slices.Contains(si.Learners, mv.To) {
					return meta.MoveAdd, "the target was taken out of the slot record: add it again", nil
				}
			} else {
				if !slices.Contains(si.Replicas, mv.To) {
					return meta.MoveAdd, "the target was taken out of the slot record: add it again", nil
				}
				if l.asyncCaughtUp(ctx, l.m.State(), j.Table.ID, mv.Slot, si, mv.To) {
					return afterCatchUp(si, mv), "", nil
				}
			}
			if time.Now().After(deadline) {
				return mv.Step, "", nil
			}
			if err := sleepCtx(ctx, movePoll); err != nil {
				return mv.Step, "", err
			}
		}

	case meta.MoveHandover:
		si, err := l.readSlot(ctx, j.Table.ID, mv.Slot)
		if err != nil {
			return mv.Step, "", err
		}
		if si.Leader != mv.From {
			return meta.MoveRemove, "", nil // handed over (or failed over) already
		}
		if mv.Cancel {
			return meta.MoveRollback, "cancelled", nil
		}
		if !toAlive {
			return meta.MoveRollback, "the target is down", nil
		}
		if _, alive := st.Alive[mv.From]; !alive {
			// The source leader died: failover (async) or an election
			// (raft) gives the slot another leader; go on then.
			return mv.Step, "", sleepCtx(ctx, moveStepWait)
		}
		if _, err := l.switchover(ctx, j.Table.Name, mv.Slot, mv.To); err != nil {
			return mv.Step, "", fmt.Errorf("hand-over to %s: %w", mv.To, err)
		}
		return meta.MoveRemove, "", nil

	case meta.MoveRemove:
		leads, gone, err := l.takeOut(ctx, j, mv.From)
		switch {
		case err != nil || (!leads && !gone):
			return mv.Step, "", err
		case leads:
			return meta.MoveHandover, "the source leads the slot again", nil
		}
		return meta.MoveDone, "", nil

	case meta.MoveRollback:
		leads, gone, err := l.takeOut(ctx, j, mv.To)
		switch {
		case err != nil || (!leads && !gone):
			return mv.Step, "", err
		case leads:
			return meta.MoveRemove, "the target leads already: the move completes", nil
		}
		return meta.MoveRolledBack, mv.Error, nil
	}
	return meta.MoveFailed, fmt.Sprintf("unknown step %q", mv.Step), nil
}

// takeOut removes node from the move's slot unless it leads the slot
// (leads); gone says it is out of the record (a raft replica first waits
// in Removing until its group's leader reports it removed: not gone yet).
func (l *leadership) takeOut(ctx context.Context, j meta.Job, node meta.NodeID) (leads, gone bool, err error) {
	raftMode := j.Table.Mode == meta.ModeRaft
	si, err := l.updateSlot(ctx, j.Table.ID, j.Move.Slot, func(si *meta.SlotInfo) (bool, error) {
		if si.Leader == node {
			return false, nil
		}
		return removeReplica(si, node, raftMode), nil
	})
	switch {
	case err != nil:
		return false, false, err
	case si.Leader == node:
		return true, false, nil
	case raftMode && slices.Contains(si.Removing, node):
		return false, false, l.waitRemoved(ctx, j.Table.ID, j.Move.Slot, node)
	}
	return false, true, nil
}

// addTarget adds the target to a slot record: a follower (async, epoch
// + 1), or a learner (raft: its group's leader adds it, streams it a
// snapshot and promotes it once it caught up).
func addTarget(si *meta.SlotInfo, to meta.NodeID, raftMode bool) (bool, error) {
	if slices.Contains(si.Replicas, to) || slices.Contains(si.Learners, to) {
		return false, nil
	}
	if !raftMode {
		si.Replicas = append(si.Replicas, to)
		si.Epoch++
		return true, nil
	}
	if len(si.Learners) > 0 || len(si.Removing) > 0 {
		return false, errSlotBusy // one raft membership change at a time
	}
	si.Learners = []meta.NodeID{to}
	return true, nil
}

// removeReplica takes node out of a slot record (not its leader): async,
// epoch + 1 (it stops following and deletes its copy); raft, it goes to
// Removing: it keeps its group until the leader's report says the group's
// voters no longer include it.
func removeReplica(si *meta.SlotInfo, node meta.NodeID, raftMode bool) bool {
	changed := false
	if slices.Contains(si.Learners, node) {
		si.Learners = slices.DeleteFunc(slices.Clone(si.Learners), func(n meta.NodeID) bool { return n == node })
		changed = true
	}
	if slices.Contains(si.Replicas, node) {
		si.Replicas = slices.DeleteFunc(slices.Clone(si.Replicas), func(n meta.NodeID) bool { return n == node })
		if raftMode {
			si.Removing = append(si.Removing, node)
		} else {
			si.Epoch++
		}
		changed = true
	}
	return changed
}

// slotRef names a slot of a table.
type slotRef struct {
	table meta.TableID
	slot  meta.SlotID
}

// activeMoves returns the unfinished move of each slot that has one.
func activeMoves(st *meta.State) map[slotRef]meta.Move {
	out := map[slotRef]meta.Move{}
	for _, j := range st.Jobs {
		if j.Kind == meta.JobMoveSlot && j.Move != nil && !j.Move.Step.Final() {
			out[slotRef{j.Table.ID, j.Move.Slot}] = *j.Move
		}
	}
	return out
}

// copying reports whether node is the target of a move of the slot that
// may not have the slot's data yet: failover must not promote it.
func copying(moves map[slotRef]meta.Move, t meta.TableID, n meta.SlotID, node meta.NodeID) bool {
	mv, ok := moves[slotRef{t, n}]
	return ok && mv.To == node && (mv.Step == meta.MoveAdd || mv.Step == meta.MoveCatchUp || mv.Step == meta.MoveRollback)
}

func afterCatchUp(si meta.SlotInfo, mv meta.Move) meta.MoveStep {
	if si.Leader == mv.From {
		return meta.MoveHandover
	}
	return meta.MoveRemove
}

// asyncCaughtUp reports whether an async target has copied slot n and
// is within moveCaughtUp entries of its leader.
func (l *leadership) asyncCaughtUp(ctx context.Context, st *meta.State, t meta.TableID, n meta.SlotID, si meta.SlotInfo, to meta.NodeID) bool {
	if _, alive := st.Alive[si.Leader]; !alive || l.m.cfg.Positions == nil {
		return false
	}
	pl, err1 := l.position(ctx, st, si.Leader, t, n)
	pt, err2 := l.position(ctx, st, to, t, n)
	if err1 != nil || err2 != nil {
		return false
	}
	if pl.Index == 0 {
		// Never logged: an empty slot has nothing to copy; one with
		// data gets a full sync, which starts the leader's log.
		if l.m.cfg.Checksum == nil {
			return false
		}
		sum, err := l.m.cfg.Checksum(ctx, st.Alive[si.Leader], t, n)
		return err == nil && sum.Keys == 0 && sum.Index == 0
	}
	return pt.Index > 0 && pt.Index+moveCaughtUp >= pl.Index
}

// waitRemoved waits (a while) for a raft group's leader to report that
// node is no longer a voter of slot n (the report clears Removing).
func (l *leadership) waitRemoved(ctx context.Context, t meta.TableID, n meta.SlotID, node meta.NodeID) error {
	wctx, cancel := context.WithTimeout(ctx, moveStepWait)
	defer cancel()
	_, err := l.m.WaitState(wctx, func(st *meta.State) bool { return !slices.Contains(st.Slots[t][n].Removing, node) })
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// StartMove starts a slot move job; only the manager may.
func (m *Member) StartMove(ctx context.Context, req api.MoveSlot) (meta.Job, error) {
	return asManager(m, func(l *leadership) (meta.Job, error) { return l.startMove(ctx, req) })
}

// CancelMove asks a slot move job to roll back; only the manager may.
func (m *Member) CancelMove(ctx context.Context, id string) (meta.Job, error) {
	return asManager(m, func(l *leadership) (meta.Job, error) { return l.cancelMove(ctx, id) })
}
