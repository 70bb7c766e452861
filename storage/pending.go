package storage

import (
	"bytes"
	"slices"

	"github.com/linxGnu/grocksdb"
)

// pendingView is what a write Txn's scan of one range of one column family
// merges over RocksDB: the pending ops in that range, of the Txn's batch
// (its base) and then of the Txn itself, resolved as of the scan's start.
type pendingView struct {
	// points holds the last point op (put or delete) of each key, sorted
	// by key. A stored key equal to one is replaced or hidden by it.
	points []pendingPoint
	// ranges are the OpDeleteRange ops: they hide every stored key in
	// them, and the point ops they come after.
	ranges []pendingRange
	seq    int // ops collected so far: the next op's place in the order
}

type pendingPoint struct {
	key, val []byte
	seq      int
	// put is set for a put no later op removes: the scan shows it.
	put bool
}

// pendingRange is one OpDeleteRange, of [start, end).
type pendingRange struct {
	start, end []byte
	seq        int
}

func (r *pendingRange) covers(k []byte) bool {
	return bytes.Compare(r.start, k) <= 0 && bytes.Compare(k, r.end) < 0
}

// opIn reports whether op changes some key of cf in [lower, upper) (upper
// nil: unbounded).
func opIn(op *Op, cf CF, lower, upper []byte) bool {
	if op.CF != cf {
		return false
	}
	if op.Kind == OpDeleteRange {
		return bytes.Compare(op.Value, lower) > 0 && bytes.Compare(op.Key, op.Value) < 0 &&
			(upper == nil || bytes.Compare(op.Key, upper) < 0)
	}
	return bytes.Compare(op.Key, lower) >= 0 && (upper == nil || bytes.Compare(op.Key, upper) < 0)
}

// hasPendingIn reports whether t or its base has a pending op in range. It
// allocates nothing: a scan with no pending op in its range costs this
// loop over the ops and nothing more.
func (t *Txn) hasPendingIn(cf CF, lower, upper []byte) bool {
	for o := t; o != nil; o = o.base {
		for i := range o.eff.Ops {
			if opIn(&o.eff.Ops[i], cf, lower, upper) {
				return true
			}
		}
	}
	return false
}

// pendingIn returns the pending ops of t (after its base's) in cf's range
// [lower, upper), resolved; nil when there is none.
func (t *Txn) pendingIn(cf CF, lower, upper []byte) *pendingView {
	if !t.hasPendingIn(cf, lower, upper) {
		return nil
	}
	v := &pendingView{}
	v.collect(t, cf, lower, upper)
	v.resolve()
	return v
}

// collect appends t's base's ops in range and then t's own, in the order
// they were written.
func (v *pendingView) collect(t *Txn, cf CF, lower, upper []byte) {
	if t == nil {
		return
	}
	v.collect(t.base, cf, lower, upper)
	for i := range t.eff.Ops {
		op := &t.eff.Ops[i]
		if !opIn(op, cf, lower, upper) {
			continue
		}
		switch op.Kind {
		case OpPut, OpDelete:
			v.points = append(v.points, pendingPoint{key: op.Key, val: op.Value, seq: v.seq, put: op.Kind == OpPut})
		case OpDeleteRange:
			v.ranges = append(v.ranges, pendingRange{start: op.Key, end: op.Value, seq: v.seq})
		}
		v.seq++
	}
}

// resolve keeps the last point op of each key, sorted by key, and clears
// put on the puts a later range delete removes.
func (v *pendingView) resolve() {
	// Stable: a key's ops stay in the order they were written.
	slices.SortStableFunc(v.points, func(a, b pendingPoint) int { return bytes.Compare(a.key, b.key) })
	out := v.points[:0]
	for i, p := range v.points {
		if i+1 < len(v.points) && bytes.Equal(p.key, v.points[i+1].key) {
			continue // a later op on the key wins
		}
		if p.put {
			for j := range v.ranges {
				if r := &v.ranges[j]; r.seq > p.seq && r.covers(p.key) {
					p.put = false
					break
				}
			}
		}
		out = append(out, p)
	}
	v.points = out
}

// covering returns the pending range delete holding stored key k that
// lets the scan skip furthest (the highest end forward, the lowest start
// reversed), or nil.
func (v *pendingView) covering(k []byte, reverse bool) *pendingRange {
	var best *pendingRange
	for i := range v.ranges {
		r := &v.ranges[i]
		if !r.covers(k) {
			continue
		}
		if best == nil || (!reverse && bytes.Compare(r.end, best.end) > 0) ||
			(reverse && bytes.Compare(r.start, best.start) < 0) {
			best = r
		}
	}
	return best
}

// storedIter walks the stored keys of one range of one column family:
// RocksDB's iterator (rocksIter) or a slot image's entries (imageIter,
// image.go). Key and Value are valid until the iterator moves.
type storedIter interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next()
	Prev()
	Seek(k []byte)
	SeekForPrev(k []byte)
}

// rocksIter is a RocksDB iterator as a storedIter. It is one pointer, so
// passing it as the interface allocates nothing.
type rocksIter struct{ it *grocksdb.Iterator }

func (r rocksIter) Valid() bool          { return r.it.Valid() }
func (r rocksIter) Key() []byte          { return r.it.Key().Data() }
func (r rocksIter) Value() []byte        { return r.it.Value().Data() }
func (r rocksIter) Next()                { r.it.Next() }
func (r rocksIter) Prev()                { r.it.Prev() }
func (r rocksIter) Seek(k []byte)        { r.it.Seek(k) }
func (r rocksIter) SeekForPrev(k []byte) { r.it.SeekForPrev(k) }

// stepStored moves it one key in the scan's direction.
func stepStored(it storedIter, reverse bool) {
	if reverse {
		it.Prev()
	} else {
		it.Next()
	}
}

// skip moves it past range r in the scan's direction, within the bounds
// [lower, upper); it reports whether it is still on a stored key.
func skip(it storedIter, r *pendingRange, lower, upper []byte, reverse bool) bool {
	if !reverse {
		if upper != nil && bytes.Compare(r.end, upper) >= 0 {
			return false
		}
		it.Seek(r.end)
		return it.Valid()
	}
	if bytes.Compare(r.start, lower) <= 0 {
		return false
	}
	it.SeekForPrev(r.start)
	if it.Valid() && bytes.Equal(it.Key(), r.start) {
		it.Prev()
	}
	return it.Valid()
}

// merge calls fn for the keys in [lower, upper) of the stored keys under
// it (positioned on the scan's first; RocksDB's or an image's) and the pending ops of v, in the
// scan's order, the pending state winning: a put shows with its value, a
// delete or range delete hides the stored key. fn returns false to stop.
func (v *pendingView) merge(it storedIter, lower, upper []byte, reverse bool, fn func(k, val []byte) bool) {
	i, di := 0, 1
	if reverse {
		i, di = len(v.points)-1, -1
	}
	stored := it.Valid()
	for {
		var sk []byte
		if stored {
			sk = it.Key()
			if r := v.covering(sk, reverse); r != nil {
				stored = skip(it, r, lower, upper, reverse)
				continue
			}
		}
		pending := i >= 0 && i < len(v.points)
		var c int // < 0: the stored key comes first; 0: the same key
		switch {
		case stored && pending:
			c = bytes.Compare(sk, v.points[i].key)
			if reverse {
				c = -c
			}
		case stored:
			c = -1
		case pending:
			c = 1
		default:
			return
		}
		if c < 0 {
			if !fn(sk, it.Value()) {
				return
			}
			stepStored(it, reverse)
			stored = it.Valid()
			continue
		}
		if c == 0 { // the pending op replaces or hides the stored key
			stepStored(it, reverse)
			stored = it.Valid()
		}
		p := &v.points[i]
		i += di
		if p.put && !fn(p.key, p.val) {
			return
		}
	}
}
