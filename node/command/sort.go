package command

import (
	"bytes"
	"math"
	"sort"

	"github.com/pika-node/pika-node/storage"
)

// SORT and SORT_RO, as redis-server 7.0's sort.c answers them, over keys
// in any slots: the keys BY and GET patterns name are computed from the
// elements, and may be anywhere. The handlers here read them through
// Ctx.Reach (node/txn runs SORT as a unit that grows to hold them, as it
// does for a script's undeclared keys); they are not registered by
// NewTable but by node/txn, wrapped (SortSpecs).

// SortSpecs returns SORT and SORT_RO as plain commands: run alone they
// read pattern keys of the slots their unit holds (Ctx.Reach says which).
func SortSpecs() []Spec {
	return []Spec{
		{Name: "sort", Arity: -2, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Keys: sortKeys(false), Handler: cmdSort(false)},
		{Name: "sort_ro", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Keys: sortKeys(true), Handler: cmdSort(true)},
	}
}

// sortKeys declares the sorted key and SORT's STORE destination, found
// as Redis's sortGetKeys finds it (the last STORE; LIMIT's, BY's and
// GET's arguments skipped).
func sortKeys(readOnly bool) func(args [][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) {
		keys := [][]byte{args[1]}
		if readOnly {
			return keys, nil
		}
		var store []byte
		for i := 2; i < len(args); i++ {
			left := len(args) - i - 1
			switch {
			case isArg(args[i], "limit") && left >= 2:
				i += 2
			case (isArg(args[i], "get") || isArg(args[i], "by")) && left >= 1:
				i++
			case isArg(args[i], "store") && left >= 1:
				store = args[i+1]
				i++
			}
		}
		if store != nil {
			keys = append(keys, store)
		}
		return keys, nil
	}
}

// SortStores reports whether a SORT call stores its result (STORE), which
// makes it a write.
func SortStores(args [][]byte) bool {
	keys, _ := sortKeys(false)(args)
	return len(keys) > 1
}

// errSortScores is Redis's error for a BY value or element that is not a
// number in a numeric sort.
const errSortScores = Error("ERR One or more scores can't be converted into double")

// sortOptions are SORT's parsed arguments.
type sortOptions struct {
	desc, alpha, dontSort  bool
	limitStart, limitCount int64
	by, store              []byte
	gets                   [][]byte
}

func parseSort(args [][]byte, readOnly, restricted bool) (o sortOptions, err error) {
	o.limitCount = -1
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case isArg(a, "asc"):
			o.desc = false
		case isArg(a, "desc"):
			o.desc = true
		case isArg(a, "alpha"):
			o.alpha = true
		case isArg(a, "limit") && left >= 2:
			if o.limitStart, err = parseInt(args[j+1]); err != nil {
				return o, err
			}
			if o.limitCount, err = parseInt(args[j+2]); err != nil {
				return o, err
			}
			j += 2
		case !readOnly && isArg(a, "store") && left >= 1:
			o.store = args[j+1]
			j++
		case isArg(a, "by") && left >= 1:
			o.by = args[j+1]
			// A pattern without '*' names no key: nothing to sort by.
			o.dontSort = bytes.IndexByte(cString(o.by), '*') < 0
			if !o.dontSort && restricted {
				return o, Error("ERR BY option of SORT denied due to insufficient ACL permissions.")
			}
			j++
		case isArg(a, "get") && left >= 1:
			if restricted {
				return o, Error("ERR GET option of SORT denied due to insufficient ACL permissions.")
			}
			o.gets = append(o.gets, args[j+1])
			j++
		default:
			return o, ErrSyntax
		}
	}
	return o, nil
}

// cString is b as C's string functions see it: up to its first NUL.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// sortPattern is where a BY or GET pattern leads for one element: the key
// with the first '*' replaced by the element, and the hash field after
// "->" when there is one. self: the pattern is "#" (the element itself);
// none: it has no '*' (no key).
type sortPattern struct {
	key, field []byte
	self, none bool
}

// patternFor substitutes elem in pattern as Redis's lookupKeyByPattern
// does (which reads the pattern as a C string to find '*' and "->").
func patternFor(pattern, elem []byte) sortPattern {
	cs := cString(pattern)
	if len(cs) == 1 && cs[0] == '#' {
		return sortPattern{self: true}
	}
	star := bytes.IndexByte(cs, '*')
	if star < 0 {
		return sortPattern{none: true}
	}
	var field []byte
	fieldLen := 0
	if f := bytes.Index(cs[star+1:], []byte("->")); f >= 0 && star+1+f+2 < len(cs) {
		at := star + 1 + f
		field = pattern[at+2:]
		fieldLen = len(field)
	}
	post := len(pattern) - (star + 1)
	if fieldLen > 0 {
		post -= fieldLen + 2
	}
	key := make([]byte, 0, star+len(elem)+post)
	key = append(key, pattern[:star]...)
	key = append(key, elem...)
	key = append(key, pattern[star+1:star+1+post]...)
	return sortPattern{key: key, field: field}
}

// reach asks the command's unit for keys before they are read.
func (c *Ctx) reach(keys [][]byte) error {
	if c.Reach == nil || len(keys) == 0 {
		return nil
	}
	return c.Reach(keys)
}

// patternKeys are the keys pattern names for elems.
func patternKeys(pattern []byte, elems [][]byte) [][]byte {
	var keys [][]byte
	for _, e := range elems {
		if p := patternFor(pattern, e); !p.self && !p.none {
			keys = append(keys, p.key)
		}
	}
	return keys
}

// lookupPattern reads what pattern names for elem: a string key's value,
// or a hash field's; ok false when there is none (a missing key, another
// type, no '*').
func lookupPattern(c *Ctx, pattern, elem []byte) (v []byte, ok bool, err error) {
	p := patternFor(pattern, elem)
	switch {
	case p.self:
		return elem, true, nil
	case p.none:
		return nil, false, nil
	}
	txn := c.Txn(p.key)
	m, exists, err := txn.Meta(p.key)
	if err != nil || !exists {
		return nil, false, err
	}
	if p.field == nil {
		if m.Type != storage.TypeString {
			return nil, false, nil
		}
		return m.Value, true, nil
	}
	if m.Type != storage.TypeHash {
		return nil, false, nil
	}
	return txn.Member(p.key, m.Version, p.field)
}

// sortItem is one element being sorted, with what it sorts by.
type sortItem struct {
	elem  []byte
	score float64
	cmp   []byte
	hasBy bool
}

// sortScore reads a value as SORT does, C's strtod over the value as a C
// string: leading spaces allowed, all of it a number, "" is 0.
func sortScore(v []byte) (float64, bool) {
	s := cString(v)
	if len(s) == 0 {
		return 0, true
	}
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	f, rangeErr, ok := strtod(string(s[i:]))
	return f, ok && !rangeErr && !math.IsNaN(f)
}

func cmdSort(readOnly bool) Handler {
	return func(c *Ctx) error {
		o, err := parseSort(c.Args, readOnly, c.KeysRestricted)
		if err != nil {
			return err
		}
		key := c.Args[1]
		txn := c.Txn(key)
		m, exists, err := txn.Meta(key)
		if err != nil {
			return err
		}
		if exists && m.Type != storage.TypeList && m.Type != storage.TypeSet && m.Type != storage.TypeZSet {
			return ErrWrongType
		}
		if !exists {
			m = storage.Meta{Type: storage.TypeList}
		}
		// A set has no order of its own: unsorted, it comes out sorted
		// as with ALPHA (Redis does so when it stores it or in a script;
		// elsewhere its order is unspecified).
		if o.dontSort && m.Type == storage.TypeSet {
			o.dontSort, o.alpha, o.by = false, true, nil
		}
		n := int64(m.Count)
		start := max(o.limitStart, 0)
		end := n - 1
		if o.limitCount >= 0 {
			end = start + o.limitCount - 1
		}
		if start >= n {
			start, end = n-1, n-2
		}
		end = min(end, n-1)

		var items []sortItem
		ordered := o.dontSort && (m.Type == storage.TypeList || m.Type == storage.TypeZSet)
		if ordered {
			// The key's own order (reversed by DESC), and only the range.
			if end >= start {
				items, err = sortRange(c, key, m, start, end-start+1, o.desc)
				if err != nil {
					return err
				}
			}
			end -= start
			start = 0
		} else if exists {
			if items, err = sortAll(c, key, m); err != nil {
				return err
			}
		}
		badScore := false
		if !o.dontSort {
			if o.by != nil {
				elems := make([][]byte, len(items))
				for i := range items {
					elems[i] = items[i].elem
				}
				if err := c.reach(patternKeys(o.by, elems)); err != nil {
					return err
				}
			}
			for i := range items {
				it := &items[i]
				by := it.elem
				if o.by != nil {
					v, ok, err := lookupPattern(c, o.by, it.elem)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					by, it.hasBy = v, true
				}
				if o.alpha {
					if o.by != nil {
						it.cmp = by
					}
					continue
				}
				f, ok := sortScore(by)
				if !ok {
					badScore = true
				}
				it.score = f
			}
			sortItems(items, o)
		}
		if badScore {
			return errSortScores
		}
		var out [][]byte
		if end >= start {
			out = make([][]byte, 0, int(end-start+1)*max(len(o.gets), 1))
			if len(o.gets) > 0 {
				var keys [][]byte
				for _, g := range o.gets {
					for _, it := range items[start : end+1] {
						if p := patternFor(g, it.elem); !p.self && !p.none {
							keys = append(keys, p.key)
						}
					}
				}
				if err := c.reach(keys); err != nil {
					return err
				}
			}
		}
		var nulls []bool
		for j := start; j <= end; j++ {
			it := items[j]
			if len(o.gets) == 0 {
				out = append(out, it.elem)
				nulls = append(nulls, false)
				continue
			}
			for _, g := range o.gets {
				v, ok, err := lookupPattern(c, g, it.elem)
				if err != nil {
					return err
				}
				out = append(out, v)
				nulls = append(nulls, !ok)
			}
		}
		if o.store == nil {
			c.R.Array(len(out))
			for i, v := range out {
				if nulls[i] {
					c.R.Null()
				} else {
					c.R.Bulk(v)
				}
			}
			return nil
		}
		return sortStore(c, o.store, out)
	}
}

// sortRange reads count elements of a list or sorted set from rank start
// in its own order, or from the end when desc.
func sortRange(c *Ctx, key []byte, m storage.Meta, start, count int64, desc bool) ([]sortItem, error) {
	items := make([]sortItem, 0, count)
	txn := c.Txn(key)
	add := func(v []byte) bool {
		items = append(items, sortItem{elem: bytes.Clone(v)})
		return int64(len(items)) < count
	}
	var err error
	switch m.Type {
	case storage.TypeList:
		l := &list{txn: txn, key: key, m: m}
		from := uint64(start)
		if desc {
			from = m.Count - 1 - uint64(start)
		}
		err = l.scan(from, desc, func(_ uint64, v []byte) bool { return add(v) })
	case storage.TypeZSet:
		z := &zset{c: c, txn: txn, key: key, m: m}
		var rank int64
		err = z.walkAll(desc, func(_ float64, member []byte) bool {
			rank++
			if rank <= start {
				return true
			}
			return add(member)
		})
	}
	return items, err
}

// sortAll reads every element of a list (in order), set or sorted set.
func sortAll(c *Ctx, key []byte, m storage.Meta) ([]sortItem, error) {
	items := make([]sortItem, 0, m.Count)
	txn := c.Txn(key)
	add := func(v []byte) bool {
		items = append(items, sortItem{elem: bytes.Clone(v)})
		return true
	}
	switch m.Type {
	case storage.TypeList:
		l := &list{txn: txn, key: key, m: m}
		return items, l.scan(0, false, func(_ uint64, v []byte) bool { return add(v) })
	case storage.TypeZSet:
		z := &zset{c: c, txn: txn, key: key, m: m}
		return items, z.walkAll(false, func(_ float64, member []byte) bool { return add(member) })
	}
	return items, txn.ScanMembers(key, m.Version, nil, false, func(member, _ []byte) bool { return add(member) })
}

// sortItems orders items as Redis's sortCompare: by score, equal scores
// by the elements' bytes; ALPHA by the elements, or by the BY values
// (missing ones first, equal ones kept in their order). Without STORE,
// ALPHA compares as strcoll in the C locale: as C strings.
func sortItems(items []sortItem, o sortOptions) {
	alphaCmp := func(a, b []byte) int {
		if o.store == nil {
			return bytes.Compare(cString(a), cString(b))
		}
		return bytes.Compare(a, b)
	}
	cmp := func(a, b *sortItem) int {
		var r int
		switch {
		case !o.alpha:
			switch {
			case a.score > b.score:
				r = 1
			case a.score < b.score:
				r = -1
			default:
				r = bytes.Compare(a.elem, b.elem)
			}
		case o.by != nil:
			switch {
			case !a.hasBy || !b.hasBy:
				switch {
				case a.hasBy == b.hasBy:
					r = 0
				case !a.hasBy:
					r = -1
				default:
					r = 1
				}
			default:
				r = alphaCmp(a.cmp, b.cmp)
			}
		default:
			r = alphaCmp(a.elem, b.elem)
		}
		if o.desc {
			r = -r
		}
		return r
	}
	sort.SliceStable(items, func(i, j int) bool { return cmp(&items[i], &items[j]) < 0 })
}

// sortStore replaces dst with a list of out, or deletes it when out is
// empty, and answers the list's length.
func sortStore(c *Ctx, dst []byte, out [][]byte) error {
	txn := c.Txn(dst)
	_, existed, err := txn.Meta(dst)
	if err != nil {
		return err
	}
	if err := txn.DeleteKey(dst); err != nil {
		return err
	}
	if len(out) > 0 {
		l, err := getOrCreateList(c, dst)
		if err != nil {
			return err
		}
		for _, v := range out {
			if err := l.push(false, v); err != nil {
				return err
			}
		}
		if err := l.store(); err != nil {
			return err
		}
		c.Notify(EventList, "sortstore", dst)
	} else if existed {
		c.Notify(EventGeneric, "del", dst)
	}
	c.R.Int(int64(len(out)))
	return nil
}
