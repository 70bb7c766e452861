package storage

import (
	"context"
	"encoding/binary"
	"time"
)

// SweepExpired runs until ctx is done, removing expired keys in the
// background like Redis's active expiry: every interval it examines at most
// batch meta entries from where it stopped last time and deletes the expired
// ones through Update (so the deletions are effects, like any write).
// Their collection members are then dropped by compaction.
func (e *Engine) SweepExpired(ctx context.Context, interval time.Duration, batch int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var cursor []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, _, err := e.sweepOnce(cursor, batch)
		if err != nil {
			continue
		}
		cursor = next
	}
}

// sweepOnce examines up to limit meta entries starting at cursor and deletes
// the expired ones. It returns where to continue (nil: from the start).
func (e *Engine) sweepOnce(cursor []byte, limit int) (next []byte, deleted int, err error) {
	if e.closed.Load() {
		return nil, 0, ErrClosed
	}
	now := e.NowMS()
	type victim struct {
		t   TableID
		s   SlotID
		key []byte
	}
	var victims []victim
	seen := 0
	txn := &Txn{e: e}
	err = txn.iterate(CFMeta, cursor, nil, false, func(k, v []byte) bool {
		seen++
		if seen > limit {
			next = append([]byte(nil), k...)
			return false
		}
		if exp, ok := metaExpireMS(v); ok && exp != 0 && exp <= now && len(k) >= prefixLen {
			victims = append(victims, victim{
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
		err := e.Update(vc.t, []SlotID{vc.s}, func(u *Update) error {
			txn := u.Txn(vc.s)
			raw, ok, err := txn.rawMeta(vc.key)
			if err != nil || !ok {
				return err
			}
			if exp, ok := metaExpireMS(raw); ok && exp != 0 && exp <= u.NowMS() {
				deleted++
				return txn.DeleteKey(vc.key)
			}
			return nil
		})
		if err != nil {
			return nil, deleted, err
		}
	}
	return next, deleted, nil
}

// SweepOnceForTest runs one sweep step; for tests of expiry.
func (e *Engine) SweepOnceForTest(cursor []byte, limit int) ([]byte, int, error) {
	return e.sweepOnce(cursor, limit)
}
