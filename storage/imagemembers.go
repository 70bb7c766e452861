package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Members left out of an image. A collection of more than
// ExportMembersMax members is exported as its meta alone: copying every
// member of a list of a million jobs to push one more would make a unit
// over it cost as much as the list (and could pass the forward reply
// limit). The coordinator reads such a collection's members when a
// command needs them, from the participant that holds the slot locked
// (ReadMembers there, a MemberSource here), a point or a page of a range
// at a time. The hold keeps the members what the image's meta says.

// ExportMembersMax is the most members ExportKeys copies with a
// collection's meta; a larger collection's members are read on demand.
const ExportMembersMax = 128

// readMembersPage bounds one ReadMembers answer (entries), and
// readMembersBytes its size: a page may stop short of its limit.
const (
	readMembersPage  = 512
	readMembersBytes = 1 << 20
)

// MemberSource reads what an image left out: the entries of cf (the data
// or score column family) in [lower, upper) of the image's slot, at most
// limit of them, ascending (reverse: descending), and whether the range
// holds more past the last one returned. Keys and values are full stored
// keys and values, the caller's to keep.
type MemberSource interface {
	Members(cf CF, lower, upper []byte, reverse bool, limit int) (keys, vals [][]byte, more bool, err error)
}

// ErrNoMemberSource is a read of members an image left out while it has
// no MemberSource (SetSource).
var ErrNoMemberSource = errors.New("storage: the image left out members and has no source for them")

// SetSource gives the image the source of the members it left out. Call
// it before a batch reads the image.
func (im *SlotImage) SetSource(src MemberSource) { im.src = src }

// LeftOut reports whether the image left out the members of a collection.
func (im *SlotImage) LeftOut() bool { return len(im.lazy) > 0 }

// lazyKey reports whether key's members were left out of the image.
func (im *SlotImage) lazyKey(key []byte) bool {
	for _, k := range im.lazy {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// fetch reads a page of left-out entries from the source.
func (im *SlotImage) fetch(cf CF, lower, upper []byte, reverse bool, limit int) ([]imageEntry, bool, error) {
	if im.src == nil {
		return nil, false, ErrNoMemberSource
	}
	keys, vals, more, err := im.src.Members(cf, lower, upper, reverse, limit)
	if err != nil {
		return nil, false, err
	}
	if len(keys) != len(vals) || len(keys) > limit {
		return nil, false, fmt.Errorf("%w: a member page of %d keys and %d values for %d", ErrCorruptImage, len(keys), len(vals), limit)
	}
	ents := make([]imageEntry, len(keys))
	var last []byte
	for i, k := range keys {
		// Hostile input: every key in the range, in the asked order.
		if bytes.Compare(k, lower) < 0 || (upper != nil && bytes.Compare(k, upper) >= 0) ||
			(last != nil && (bytes.Compare(last, k) >= 0) != reverse) || (last != nil && bytes.Equal(last, k)) {
			return nil, false, fmt.Errorf("%w: a member page out of its range or order", ErrCorruptImage)
		}
		ents[i], last = imageEntry{k, vals[i]}, k
	}
	return ents, more, nil
}

// fetchMember reads data CF key k of a left-out collection.
func (im *SlotImage) fetchMember(k []byte) ([]byte, bool, error) {
	ents, _, err := im.fetch(CFData, k, append(append([]byte(nil), k...), 0), false, 1)
	if err != nil || len(ents) == 0 {
		return nil, false, err
	}
	return ents[0].val, true, nil
}

// pagedIter is a storedIter over left-out entries in [lower, upper),
// fetched a page at a time in the scan's direction: forward scans use
// Next and Seek, reverse ones Prev and SeekForPrev (pendingView.merge).
// The first error ends it (err).
type pagedIter struct {
	im           *SlotImage
	cf           CF
	lower, upper []byte
	reverse      bool
	ents         []imageEntry // the page, in the scan's order
	i            int
	more         bool // the source has entries past the page
	err          error
}

func newPagedIter(im *SlotImage, cf CF, lower, upper []byte, reverse bool) *pagedIter {
	p := &pagedIter{im: im, cf: cf, lower: lower, upper: upper, reverse: reverse}
	p.load(lower, upper)
	return p
}

// load fetches the first page of [lo, hi) in the scan's direction.
func (p *pagedIter) load(lo, hi []byte) {
	p.i = 0
	if p.err != nil {
		p.ents = nil
		return
	}
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		p.ents, p.more = nil, false
		return
	}
	p.ents, p.more, p.err = p.im.fetch(p.cf, lo, hi, p.reverse, readMembersPage)
}

func (p *pagedIter) Valid() bool   { return p.err == nil && p.i < len(p.ents) }
func (p *pagedIter) Key() []byte   { return p.ents[p.i].key }
func (p *pagedIter) Value() []byte { return p.ents[p.i].val }

// advance moves one entry in the scan's direction, fetching the next
// page past the last one when the page ends.
func (p *pagedIter) advance() {
	p.i++
	if p.i < len(p.ents) || !p.more {
		return
	}
	last := p.ents[len(p.ents)-1].key
	if p.reverse {
		p.load(p.lower, last)
	} else {
		p.load(append(append([]byte(nil), last...), 0), p.upper)
	}
}

func (p *pagedIter) Next() {
	if p.reverse {
		p.err = errors.New("storage: a reverse member scan stepped forward")
		return
	}
	p.advance()
}

func (p *pagedIter) Prev() {
	if !p.reverse {
		p.err = errors.New("storage: a forward member scan stepped back")
		return
	}
	p.advance()
}

// Seek moves to the first entry at or after k (forward scans).
func (p *pagedIter) Seek(k []byte) {
	if p.reverse {
		p.err = errors.New("storage: a reverse member scan sought forward")
		return
	}
	if bytes.Compare(k, p.lower) < 0 {
		k = p.lower
	}
	p.load(k, p.upper)
}

// SeekForPrev moves to the last entry at or before k (reverse scans).
func (p *pagedIter) SeekForPrev(k []byte) {
	if !p.reverse {
		p.err = errors.New("storage: a forward member scan sought back")
		return
	}
	hi := append(append([]byte(nil), k...), 0)
	if p.upper != nil && bytes.Compare(hi, p.upper) > 0 {
		hi = p.upper
	}
	p.load(p.lower, hi)
}

// ReadMembers answers a coordinator's read of members an image left out
// (MemberSource): the entries of cf in [lower, upper) of slot s, which the
// hold must hold, at most limit (and a page's bytes), in order. lower and
// upper come from another node: both must lie in the slot.
func (h *SlotHold) ReadMembers(s SlotID, cf CF, lower, upper []byte, reverse bool, limit int) (keys, vals [][]byte, more bool, err error) {
	if !slices.Contains(h.slots, s) {
		return nil, nil, false, fmt.Errorf("storage: read of slot %d, which the hold does not hold", s)
	}
	return h.e.readMembers(h.table, s, cf, lower, upper, reverse, limit)
}

// readMembers is ReadMembers without the hold.
func (e *Engine) readMembers(t TableID, s SlotID, cf CF, lower, upper []byte, reverse bool, limit int) (keys, vals [][]byte, more bool, err error) {
	p := appendPrefix(nil, t, s)
	if (cf != CFData && cf != CFScore) || !bytes.HasPrefix(lower, p) || upper == nil || !bytes.HasPrefix(upper, p) ||
		bytes.Compare(lower, upper) > 0 || limit <= 0 {
		return nil, nil, false, fmt.Errorf("storage: a member read outside table %d slot %d", t, s)
	}
	limit = min(limit, readMembersPage)
	size := 0
	// A view's Txn has no pending writes: its iterate is RocksDB's.
	err = e.View(t).Txn(s).iterate(cf, lower, upper, reverse, func(k, v []byte) bool {
		if len(keys) == limit || size >= readMembersBytes {
			more = true
			return false
		}
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		size += len(k) + len(v)
		return true
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("storage: read members: %w", err)
	}
	return keys, vals, more, nil
}
