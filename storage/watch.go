package storage

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// Watch is one client's WATCH: the keys it watches and whether one of them
// changed since it was watched. Every write the engine applies to a
// watched key (a command's, an expiry sweep's, a replicated or raft entry,
// FLUSHDB of a table holding the key) marks the watch changed, as
// redis-server's touchWatchedKey does, even when the value written is the
// one already there. A Watch belongs to one client; its zero value is
// ready to use.
type Watch struct {
	changed atomic.Bool
	keys    []*watchedKey
}

// watchedKey is one key of a Watch.
type watchedKey struct {
	w  *Watch
	mk string // the key's meta key: table | slot | user key
	// deadline is the key's expire time when it was watched (unix ms),
	// 0 without one; Changed reports the key expired since.
	deadline int64
	// expiredAtWatch: the key was already expired (not yet removed) when
	// watched: its removal is then no change, as in Redis.
	expiredAtWatch atomic.Bool
}

// watchSet is the engine's registry of watched keys.
type watchSet struct {
	n     atomic.Int64 // keys watched: 0 keeps every write's check to one load
	mu    sync.Mutex
	byKey map[string][]*watchedKey
}

// Watch adds key of slot s of table t to w. The caller holds no lock: a
// write racing with the registration may or may not mark it (it committed
// before or after the WATCH, as on one redis-server).
func (e *Engine) Watch(w *Watch, t TableID, s SlotID, key []byte) error {
	mk := metaKey(t, s, key)
	for _, k := range w.keys {
		if k.mk == string(mk) {
			return nil
		}
	}
	wk := &watchedKey{w: w, mk: string(mk)}
	e.watches.mu.Lock()
	if e.watches.byKey == nil {
		e.watches.byKey = map[string][]*watchedKey{}
	}
	e.watches.byKey[wk.mk] = append(e.watches.byKey[wk.mk], wk)
	e.watches.n.Add(1)
	e.watches.mu.Unlock()
	w.keys = append(w.keys, wk)
	// Its expiry as of now, read after the registration: a write between
	// the two marks the watch, so no change is missed.
	raw, ok, err := e.getMeta(t, s, mk, false)
	if err != nil {
		return err
	}
	if ok {
		m, err := decodeMeta(raw)
		if err != nil {
			return err
		}
		switch {
		case m.Expired(e.NowMS()):
			wk.expiredAtWatch.Store(true)
		case m.ExpireMS != 0:
			wk.deadline = m.ExpireMS
		}
	}
	return nil
}

// Unwatch forgets every key of w and clears it (UNWATCH, EXEC, DISCARD).
func (e *Engine) Unwatch(w *Watch) {
	if len(w.keys) == 0 {
		w.changed.Store(false)
		return
	}
	e.watches.mu.Lock()
	for _, wk := range w.keys {
		list := e.watches.byKey[wk.mk]
		for i, o := range list {
			if o == wk {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(e.watches.byKey, wk.mk)
		} else {
			e.watches.byKey[wk.mk] = list
		}
	}
	e.watches.n.Add(-int64(len(w.keys)))
	e.watches.mu.Unlock()
	w.keys = nil
	w.changed.Store(false)
}

// Watching reports whether w watches any key.
func (w *Watch) Watching() bool { return len(w.keys) > 0 }

// Changed reports whether a key of w was written, or expired, since it was
// watched, at time nowMS. EXEC asks it with the slots of the watched keys
// locked, so no write can come between the answer and the transaction.
func (w *Watch) Changed(nowMS int64) bool {
	if w.changed.Load() {
		return true
	}
	for _, k := range w.keys {
		if k.deadline > 0 && k.deadline <= nowMS && !k.expiredAtWatch.Load() {
			return true
		}
	}
	return false
}

// Invalidate marks w changed: its keys can no longer be tracked (their
// slot moved away from this node).
func (w *Watch) Invalidate() { w.changed.Store(true) }

// touchEffect marks the watches of every key eff writes, and signals
// the wanted keys it puts.
func (e *Engine) touchEffect(eff *Effect) {
	e.signalWanted(eff)
	if e.watches.n.Load() == 0 {
		return
	}
	e.watches.mu.Lock()
	defer e.watches.mu.Unlock()
	for _, op := range eff.Ops {
		switch {
		case op.Kind == OpDeleteRange:
			e.touchRangeLocked(op.Key, op.Value, op.CF)
		case op.CF == CFMeta:
			e.touchKeyLocked(op.Key, op.Kind == OpDelete)
		case op.CF == CFData || op.CF == CFScore:
			if mk, _, _, ok := parseMemberKey(op.Key); ok {
				e.touchKeyLocked(mk, false)
			}
		}
	}
}

// touchKeyLocked marks the watches of meta key mk; removed says the write
// removes the key (which is no change for a watch that found it expired).
func (e *Engine) touchKeyLocked(mk []byte, removed bool) {
	for _, wk := range e.watches.byKey[string(mk)] {
		if removed && wk.expiredAtWatch.Load() {
			// Redis: an expired key's removal changes nothing logically;
			// a later write of the key does.
			wk.expiredAtWatch.Store(false)
			continue
		}
		wk.w.changed.Store(true)
	}
}

// touchRangeLocked marks the watches of every key whose meta key, or whose
// members (data and score keys), lie in [start, end) of cf.
func (e *Engine) touchRangeLocked(start, end []byte, cf CF) {
	for mk, list := range e.watches.byKey {
		k := []byte(mk)
		if cf != CFMeta {
			// A member range of a key starts with its slot prefix and
			// length-prefixed key; compare on the slot prefix, which
			// is what the engine's ranges (a slot, a table) cover.
			k = k[:prefixLen]
		}
		if bytes.Compare(k, start) >= 0 && (end == nil || bytes.Compare(k, end) < 0) {
			for _, wk := range list {
				wk.w.changed.Store(true)
			}
		}
	}
}

// touchSlot marks the watches of every key of slot s of table t: its data
// was replaced wholesale (a snapshot or a full sync landed).
func (e *Engine) touchSlot(t TableID, s SlotID) {
	e.signalWantedSlot(t, s)
	if e.watches.n.Load() == 0 {
		return
	}
	p := SlotPrefix(t, s)
	e.watches.mu.Lock()
	defer e.watches.mu.Unlock()
	e.touchRangeLocked(p, prefixEnd(p), CFMeta)
}

// touchTable marks the watches of every key of table t that exists
// (FLUSHDB): as in Redis, a watched key that did not exist is unchanged.
// The caller holds every stripe, before the flush is written.
func (e *Engine) touchTable(t TableID) {
	if e.watches.n.Load() == 0 {
		return
	}
	prefix := TablePrefix(t)
	e.watches.mu.Lock()
	defer e.watches.mu.Unlock()
	for mk, list := range e.watches.byKey {
		if !bytes.HasPrefix([]byte(mk), prefix) {
			continue
		}
		if _, ok, err := e.get(CFMeta, []byte(mk)); err == nil && !ok {
			continue
		}
		for _, wk := range list {
			wk.w.changed.Store(true)
		}
	}
}
