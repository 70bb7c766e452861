package storage

import (
	"sync/atomic"
)

// staleMemberFilter drops data and score CF entries whose collection no
// longer exists at that version: the collection was deleted or overwritten
// (a new version, or a string now). This is how DEL of a huge collection
// stays O(1): its members go away when compaction next rewrites their files.
//
// It does not drop the members of a collection that has merely expired: a
// command evaluated just before the deadline (PERSIST, EXPIRE) may still
// commit and keep the key alive, and the filter would have taken its
// members. Expired keys are deleted by the sweeper (or a read that finds
// them), through the write path; their members go at the next compaction.
//
// The members and the meta of a collection are written in one batch, and
// compaction only sees flushed data, so a member being filtered always has
// its meta visible to the lookup here.
type staleMemberFilter struct {
	name   string
	engine atomic.Pointer[Engine] // nil until Open finishes and after Close
}

func (f *staleMemberFilter) Name() string { return f.name }

func (f *staleMemberFilter) SetIgnoreSnapshots(bool) {}

func (f *staleMemberFilter) Destroy() {}

func (f *staleMemberFilter) Filter(_ int, key, _ []byte) (bool, []byte) {
	e := f.engine.Load()
	if e == nil || e.closed.Load() {
		return false, nil
	}
	mk, version, _, ok := parseMemberKey(key)
	if !ok {
		return false, nil
	}
	v, exists, err := e.get(CFMeta, mk)
	if err != nil {
		return false, nil // keep on doubt
	}
	if !exists {
		return true, nil
	}
	m, err := decodeMeta(v)
	if err != nil {
		return false, nil
	}
	return m.Type == TypeString || m.Version != version, nil
}
