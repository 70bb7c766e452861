package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"time"
)

// SweepExpired runs until ctx is done, removing expired keys in the
// background like Redis's expiry, through Update (so the deletions are
// effects, like any write); their collection members are then dropped by
// compaction. Two sources feed it:
//   - lazily, keys that a read found expired (noteExpired), at once;
//   - actively, every interval, at most batch meta entries examined from
//     where the previous step stopped, round-robin over the whole store.
//
// commits gives each table's Committer (a raft table's deletions go
// through its groups; nil: local).
func (e *Engine) SweepExpired(ctx context.Context, interval time.Duration, batch int, commits func(TableID) Committer) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var cursor []byte
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-e.expired:
			_, _ = e.deleteIfExpired(k, commits)
		case <-t.C:
			next, _, err := e.sweepOnce(cursor, batch, commits)
			if err == nil {
				cursor = next
			}
		}
	}
}

// SetExpiredHook sets the function told of each key the sweep deleted
// because its TTL passed, after the deletion committed: the table and the
// user key (keyspace notifications' "expired"). Only a slot's leader
// sweeps: a follower's copy is deleted by its leader's log, untold.
func (e *Engine) SetExpiredHook(hook func(t TableID, key []byte)) { e.expiredHook.Store(&hook) }

// expiredKey is a key a reader found expired.
type expiredKey struct {
	t   TableID
	s   SlotID
	key []byte
}

// noteExpired hands a key a read found expired to the sweeper, without
// waiting: when the queue is full the active sweep will find it later.
func (e *Engine) noteExpired(t TableID, s SlotID, key []byte) {
	select {
	case e.expired <- expiredKey{t: t, s: s, key: append([]byte(nil), key...)}:
	default:
	}
}

// deleteIfExpired deletes k if it is still expired under its slot's lock.
func (e *Engine) deleteIfExpired(k expiredKey, commits func(TableID) Committer) (bool, error) {
	if c, err := e.slotCount(k.t, k.s); err != nil || c.follower.Load() {
		// A follower's slot changes only by its leader's log: the
		// leader's sweep deletes the key and ships the deletion.
		return false, nil
	}
	deleted := false
	err := e.UpdateWith(commits, k.t, []SlotID{k.s}, func(u *Update) error {
		txn := u.Txn(k.s)
		raw, ok, err := txn.rawMeta(k.key)
		if err != nil || !ok {
			return err
		}
		if exp, ok := metaExpireMS(raw); ok && exp != 0 && exp <= u.NowMS() {
			deleted = true
			return txn.DeleteKey(k.key)
		}
		return nil
	})
	if deleted && err == nil {
		if hook := e.expiredHook.Load(); hook != nil {
			(*hook)(k.t, k.key)
		}
	}
	return deleted, err
}

// sweepOnce examines up to limit meta entries starting at cursor and deletes
// the expired ones. It returns where to continue (nil: from the start).
func (e *Engine) sweepOnce(cursor []byte, limit int, commits func(TableID) Committer) (next []byte, deleted int, err error) {
	if e.closed.Load() {
		return nil, 0, ErrClosed
	}
	now := e.NowMS()
	var victims []expiredKey
	seen := 0
	txn := &Txn{e: e}
	err = txn.iterate(CFMeta, cursor, nil, false, func(k, v []byte) bool {
		seen++
		if seen > limit {
			next = append([]byte(nil), k...)
			return false
		}
		if exp, ok := metaExpireMS(v); ok && exp != 0 && exp <= now && len(k) >= prefixLen {
			victims = append(victims, expiredKey{
				t:   TableID(binary.BigEndian.Uint32(k)),
				s:   SlotID(binary.BigEndian.Uint32(k[4:])),
				key: append([]byte(nil), k[prefixLen:]...),
			})
		}
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	for _, vc := range victims {
		ok, err := e.deleteIfExpired(vc, commits)
		if errors.Is(err, ErrClosed) {
			return nil, deleted, err
		}
		if err != nil {
			continue // not this node's to delete now (its slot moved, say)
		}
		if ok {
			deleted++
		}
	}
	return next, deleted, nil
}

// SweepOnceForTest runs one sweep step; for tests of expiry.
func (e *Engine) SweepOnceForTest(cursor []byte, limit int) ([]byte, int, error) {
	return e.sweepOnce(cursor, limit, nil)
}
