package geo

// Point is a member found by a search.
type Point struct {
	Member   []byte
	Score    float64
	Lon, Lat float64 // its cell's center
	Dist     float64 // from the search's center, in meters
}

// Order is how a search sorts its results.
type Order int

const (
	Unsorted Order = iota
	Asc
	Desc
)

// compare is Redis's sort_gp_asc (negated for Desc): it answers -1 when a
// distance is NaN, as Redis's does, so the sorts below follow Redis's
// algorithms step by step for the order to be the same in every case.
func compare(a, b *Point, order Order) int {
	r := -1
	switch {
	case a.Dist > b.Dist:
		r = 1
	case a.Dist == b.Dist:
		r = 0
	}
	if order == Desc {
		return -r
	}
	return r
}

// SortPoints sorts points by distance as Redis does before replying with
// the first n (n ≤ len(points)): when n is all of them, glibc's qsort,
// which is a merge sort (stable: equal distances keep the order they were
// found in); else Redis's partial quicksort (pqsort), which sorts only as
// much as puts the first n in place, and leaves equal distances in its
// own order. Unsorted leaves them as found.
func SortPoints(points []Point, order Order, n int) {
	if order == Unsorted || len(points) < 2 {
		return
	}
	if n >= len(points) {
		mergeSort(points, make([]Point, len(points)), order)
		return
	}
	if n < 1 {
		return
	}
	partialSort(points, 0, len(points), order, 0, n-1)
}

// mergeSort is glibc's msort_with_tmp: halves (the first n/2), each
// sorted, merged taking from the first half while it is not greater.
func mergeSort(b, tmp []Point, order Order) {
	n := len(b)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := b[:n1], b[n1:]
	mergeSort(b1, tmp, order)
	mergeSort(b2, tmp, order)
	i, j, k := 0, 0, 0
	for i < len(b1) && j < len(b2) {
		if compare(&b1[i], &b2[j], order) <= 0 {
			tmp[k] = b1[i]
			i++
		} else {
			tmp[k] = b2[j]
			j++
		}
		k++
	}
	k += copy(tmp[k:], b1[i:])
	// What is left of b2 is in place already.
	copy(b[:k], tmp[:k])
}

// partialSort is Redis's _pqsort (Bentley and McIlroy's quicksort,
// recursing only into the parts that hold positions lrange..rrange) over
// a[lo:lo+n]; positions are indexes into a.
func partialSort(a []Point, lo, n int, order Order, lrange, rrange int) {
	cmp := func(i, j int) int { return compare(&a[i], &a[j], order) }
	swap := func(i, j int) { a[i], a[j] = a[j], a[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	med3 := func(x, y, z int) int {
		if cmp(x, y) < 0 {
			switch {
			case cmp(y, z) < 0:
				return y
			case cmp(x, z) < 0:
				return z
			}
			return x
		}
		switch {
		case cmp(y, z) > 0:
			return y
		case cmp(x, z) < 0:
			return x
		}
		return z
	}
	// outside reports a part [l, l+size) holding none of the positions.
	outside := func(l, size int) bool {
		r := l + size - 1
		return (lrange < l && rrange < l) || (lrange > r && rrange > r)
	}
	for {
		if n < 7 {
			for pm := lo + 1; pm < lo+n; pm++ {
				for pl := pm; pl > lo && cmp(pl-1, pl) > 0; pl-- {
					swap(pl, pl-1)
				}
			}
			return
		}
		pm := lo + n/2
		if n > 7 {
			pl, pn := lo, lo+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(lo, pm)
		pa, pb := lo+1, lo+1
		pc, pd := lo+n-1, lo+n-1
		for {
			for pb <= pc {
				r := cmp(pb, lo)
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(pc, lo)
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		pn := lo + n
		r := min(pa-lo, pb-pa)
		vecswap(lo, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		if r = pb - pa; r > 1 && !outside(lo, r) {
			partialSort(a, lo, r, order, lrange, rrange)
		}
		if r = pd - pc; r > 1 {
			lo, n = pn-r, r
			if !outside(lo, n) {
				continue
			}
		}
		return
	}
}
