package storage

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Wanted keys: keys that clients wait on (blocking pops, here or on
// another node). Every write the engine applies that puts a wanted key's
// meta (a command's, a unit's, a replicated or raft entry's; a snapshot
// or full sync landing on its slot) calls the ready hook with the key, on
// the goroutine that applied it: the hook must not block. A write that
// creates or grows a list or sorted set puts its meta, so a waiter hears
// of every write that can make its key ready (and of others: it tries
// again and finds nothing, as Redis's woken clients may).
type wantSet struct {
	n     atomic.Int64 // keys wanted: 0 keeps every write's check to one load
	mu    sync.Mutex
	byKey map[string]int // meta key -> how many want it
	hook  atomic.Pointer[func(TableID, []byte)]
}

// SetReadyHook sets the function told of writes of wanted keys (see
// wantSet): the table and the user key.
func (e *Engine) SetReadyHook(hook func(t TableID, key []byte)) { e.wants.hook.Store(&hook) }

// WantKey adds key of slot s of table t to the wanted keys until release
// is called (once).
func (e *Engine) WantKey(t TableID, s SlotID, key []byte) (release func()) {
	mk := string(metaKey(t, s, key))
	e.wants.mu.Lock()
	if e.wants.byKey == nil {
		e.wants.byKey = map[string]int{}
	}
	e.wants.byKey[mk]++
	e.wants.n.Add(1)
	e.wants.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.wants.mu.Lock()
			if e.wants.byKey[mk]--; e.wants.byKey[mk] <= 0 {
				delete(e.wants.byKey, mk)
			}
			e.wants.n.Add(-1)
			e.wants.mu.Unlock()
		})
	}
}

// signalWanted calls the ready hook for each wanted key eff puts or
// deletes (a deleted stream ends the waits of XREADGROUP on it).
func (e *Engine) signalWanted(eff *Effect) {
	if e.wants.n.Load() == 0 {
		return
	}
	var ready []string
	e.wants.mu.Lock()
	for _, op := range eff.Ops {
		if op.CF == CFMeta && (op.Kind == OpPut || op.Kind == OpDelete) && e.wants.byKey[string(op.Key)] > 0 {
			ready = append(ready, string(op.Key))
		}
	}
	e.wants.mu.Unlock()
	e.callReady(ready)
}

// signalWantedSlot calls the ready hook for every wanted key of slot s of
// table t: its data was replaced wholesale.
func (e *Engine) signalWantedSlot(t TableID, s SlotID) {
	if e.wants.n.Load() == 0 {
		return
	}
	p := SlotPrefix(t, s)
	var ready []string
	e.wants.mu.Lock()
	for mk := range e.wants.byKey {
		if bytes.HasPrefix([]byte(mk), p) {
			ready = append(ready, mk)
		}
	}
	e.wants.mu.Unlock()
	e.callReady(ready)
}

func (e *Engine) callReady(metaKeys []string) {
	hook := e.wants.hook.Load()
	if hook == nil {
		return
	}
	for _, mk := range metaKeys {
		(*hook)(TableID(binary.BigEndian.Uint32([]byte(mk))), []byte(mk[prefixLen:]))
	}
}
