package command

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/storage"
)

func registerZSets(t *Table) {
	rw := Write | DenyOOM
	ro := ReadOnly
	t.Register(
		Spec{Name: "zadd", Arity: -4, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZAdd},
		Spec{Name: "zincrby", Arity: 4, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZIncrBy},
		Spec{Name: "zrem", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRem},
		Spec{Name: "zcard", Arity: 2, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZCard},
		Spec{Name: "zscore", Arity: 3, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZScore},
		Spec{Name: "zmscore", Arity: -3, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZMScore},
		Spec{Name: "zrank", Arity: 3, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRank(false)},
		Spec{Name: "zrevrank", Arity: 3, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRank(true)},
		Spec{Name: "zcount", Arity: 4, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZCount},
		Spec{Name: "zlexcount", Arity: 4, Flags: ro | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZLexCount},
		Spec{Name: "zrange", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeAuto, dirAuto)},
		Spec{Name: "zrangebyscore", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeScore, dirForward)},
		Spec{Name: "zrevrangebyscore", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeScore, dirReverse)},
		Spec{Name: "zrangebylex", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeLex, dirForward)},
		Spec{Name: "zrevrangebylex", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeLex, dirReverse)},
		Spec{Name: "zrevrange", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRange(rangeRank, dirReverse)},
		Spec{Name: "zremrangebyrank", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRemRange(rangeRank)},
		Spec{Name: "zremrangebyscore", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRemRange(rangeScore)},
		Spec{Name: "zremrangebylex", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRemRange(rangeLex)},
		Spec{Name: "zpopmin", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZPop(false)},
		Spec{Name: "zpopmax", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZPop(true)},
		Spec{Name: "zmpop", Arity: -4, Flags: Write, Keys: mpopKeys, Handler: cmdZMPop},
		Spec{Name: "zrangestore", Arity: -5, Flags: rw, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdZRangeStore},
	)
	for _, o := range []zop{
		{name: "zunionstore", op: opUnion, store: true},
		{name: "zinterstore", op: opInter, store: true},
		{name: "zdiffstore", op: opDiff, store: true},
		{name: "zunion", op: opUnion},
		{name: "zinter", op: opInter},
		{name: "zdiff", op: opDiff},
		{name: "zintercard", op: opInter, card: true},
	} {
		s := Spec{Name: o.name, Arity: -3, Flags: ro, Keys: o.keys, Handler: cmdZSetOp(o)}
		if o.store {
			s.Arity, s.Flags, s.FirstKey, s.LastKey, s.Step = -4, rw, 1, 1, 1
		}
		t.Register(s)
	}
	t.Register(
		Spec{Name: "zrandmember", Arity: -2, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZRandMember},
		Spec{Name: "zscan", Arity: -3, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdZScan},
	)
}

// ---- numbers and ranges

// isCSpace is C's isspace.
func isCSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// strtod parses all of s as C's strtod would (hex floats included); ok is
// false unless s is entirely a number, rangeErr reports strtod's ERANGE
// (overflow to ±inf, or underflow to zero).
func strtod(s string) (f float64, rangeErr, ok bool) {
	if s == "" || strings.ContainsRune(s, '_') {
		return 0, false, false
	}
	sign, t := "", s
	if t[0] == '+' || t[0] == '-' {
		sign, t = t[:1], t[1:]
	}
	hex := len(t) > 2 && t[0] == '0' && (t[1]|0x20) == 'x'
	if hex && !strings.ContainsAny(t, "pP") {
		t += "p0" // Go wants a binary exponent
	}
	f, err := strconv.ParseFloat(sign+t, 64)
	if err != nil {
		if isRangeErr(err) {
			return f, true, true
		}
		return 0, false, false
	}
	if f == 0 {
		mant, digits := t, "123456789"
		if hex {
			mant, digits = t[2:], "123456789abcdefABCDEF"
			if i := strings.IndexAny(mant, "pP"); i >= 0 {
				mant = mant[:i]
			}
		} else if i := strings.IndexAny(mant, "eE"); i >= 0 {
			mant = mant[:i]
		}
		if strings.ContainsAny(mant, digits) {
			return f, true, true // underflow
		}
	}
	return f, false, true
}

// parseScore parses a score argument as Redis's getDoubleFromObject.
func parseScore(b []byte) (float64, error) {
	s := string(b)
	if s == "" || isCSpace(s[0]) {
		return 0, ErrNotFloat
	}
	f, rangeErr, ok := strtod(s)
	if !ok || math.IsNaN(f) || (rangeErr && (f == 0 || math.IsInf(f, 0))) {
		return 0, ErrNotFloat
	}
	return f, nil
}

// scoreRange is a parsed ZRANGEBYSCORE interval.
type scoreRange struct {
	min, max     float64
	minex, maxex bool
}

var errNotFloatRange = Error("ERR min or max is not a float")

// parseRangeScore parses one bound as zslParseRange: strtod without its
// error checks, so "" is 0 and leading spaces are allowed.
func parseRangeScore(b []byte) (f float64, ex bool, err error) {
	s := string(b)
	if strings.HasPrefix(s, "(") {
		s, ex = s[1:], true
	}
	if s == "" {
		return 0, ex, nil
	}
	t := strings.TrimLeftFunc(s, func(r rune) bool { return r < 0x80 && isCSpace(byte(r)) })
	f, _, ok := strtod(t)
	if !ok || math.IsNaN(f) {
		return 0, false, errNotFloatRange
	}
	return f, ex, nil
}

func parseScoreRange(min, max []byte) (r scoreRange, err error) {
	if r.min, r.minex, err = parseRangeScore(min); err != nil {
		return r, err
	}
	if r.max, r.maxex, err = parseRangeScore(max); err != nil {
		return r, err
	}
	return r, nil
}

// bounds returns the inclusive [lo, hi] of the range; ok is false when it
// is empty.
func (r scoreRange) bounds() (lo, hi float64, ok bool) {
	lo, hi = r.min, r.max
	if r.minex {
		if math.IsInf(lo, 1) {
			return 0, 0, false
		}
		lo = math.Nextafter(lo, math.Inf(1))
	}
	if r.maxex {
		if math.IsInf(hi, -1) {
			return 0, 0, false
		}
		hi = math.Nextafter(hi, math.Inf(-1))
	}
	return lo, hi, lo <= hi
}

// lexBound is one end of a lex range: inf -1 is "-", +1 is "+".
type lexBound struct {
	v   []byte
	ex  bool
	inf int
}

type lexRange struct{ min, max lexBound }

func parseLexBound(b []byte) (lexBound, bool) {
	if len(b) == 0 {
		return lexBound{}, false
	}
	switch b[0] {
	case '+':
		return lexBound{ex: true, inf: 1}, len(b) == 1
	case '-':
		return lexBound{ex: true, inf: -1}, len(b) == 1
	case '(':
		return lexBound{v: b[1:], ex: true}, true
	case '[':
		return lexBound{v: b[1:]}, true
	}
	return lexBound{}, false
}

func parseLexRange(min, max []byte) (r lexRange, err error) {
	var ok1, ok2 bool
	r.min, ok1 = parseLexBound(min)
	r.max, ok2 = parseLexBound(max)
	if !ok1 || !ok2 {
		return r, Error("ERR min or max not valid string range item")
	}
	return r, nil
}

// lexCmp compares a member with a bound as Redis's sdscmplex.
func lexCmp(v []byte, b lexBound) int {
	switch b.inf {
	case -1:
		return 1
	case 1:
		return -1
	}
	return bytes.Compare(v, b.v)
}

func (r lexRange) gteMin(v []byte) bool {
	if r.min.ex {
		return lexCmp(v, r.min) > 0
	}
	return lexCmp(v, r.min) >= 0
}

func (r lexRange) lteMax(v []byte) bool {
	if r.max.ex {
		return lexCmp(v, r.max) < 0
	}
	return lexCmp(v, r.max) <= 0
}

// empty reports ranges that can never match, as zslIsInLexRange.
func (r lexRange) empty() bool {
	var cmp int
	switch {
	case r.min.inf == r.max.inf && r.min.inf != 0:
		cmp = 0
	case r.min.inf == -1 || r.max.inf == 1:
		cmp = -1
	case r.min.inf == 1 || r.max.inf == -1:
		cmp = 1
	default:
		cmp = bytes.Compare(r.min.v, r.max.v)
	}
	return cmp > 0 || (cmp == 0 && (r.min.ex || r.max.ex))
}

// ---- the sorted set type

// zset is one sorted set key being read or changed by a command.
type zset struct {
	c   *Ctx // the command, for its keyspace events
	txn *storage.Txn
	key []byte
	m   storage.Meta
}

// zitem is a member with its score, owned by the caller.
type zitem struct {
	member []byte
	score  float64
}

func getZSet(c *Ctx, key []byte) (*zset, bool, error) {
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeZSet)
	if err != nil || !ok {
		return nil, false, err
	}
	return &zset{c: c, txn: txn, key: key, m: m}, true, nil
}

// score reads member's score; it sees the command's own writes.
func (z *zset) score(member []byte) (float64, bool, error) {
	v, ok, err := z.txn.Member(z.key, z.m.Version, member)
	if err != nil || !ok || len(v) != 8 {
		return 0, false, err
	}
	return storage.DecodeScore(v), true, nil
}

// put sets member's score; old is its current score when had.
func (z *zset) put(member []byte, score, old float64, had bool) error {
	if had {
		if err := z.txn.DeleteScore(z.key, z.m.Version, old, member); err != nil {
			return err
		}
	} else {
		z.m.Count++
	}
	if err := z.txn.PutScore(z.key, z.m.Version, score, member); err != nil {
		return err
	}
	return z.txn.PutMember(z.key, z.m.Version, member, storage.EncodeScore(nil, score))
}

// remove deletes member (at score) from the set.
func (z *zset) remove(member []byte, score float64) error {
	if err := z.txn.DeleteMember(z.key, z.m.Version, member); err != nil {
		return err
	}
	z.m.Count--
	return z.txn.DeleteScore(z.key, z.m.Version, score, member)
}

// removeAll removes the distinct items; when they are the whole set, the
// key is deleted at once.
func (z *zset) removeAll(items []zitem) error {
	if uint64(len(items)) >= z.m.Count {
		z.m.Count = 0
		return z.store()
	}
	for _, it := range items {
		if err := z.remove(it.member, it.score); err != nil {
			return err
		}
	}
	return z.store()
}

func (z *zset) store() error { return storeCollection(z.txn, z.key, &z.m) }

// notifyRemoved records the event of a removal from the set, then "del"
// when it emptied the set.
func (z *zset) notifyRemoved(event string) {
	z.c.Notify(EventZset, event, z.key)
	if z.m.Count == 0 {
		z.c.Notify(EventGeneric, "del", z.key)
	}
}

// walk calls fn in (score, member) order (descending when reverse) for
// the members scored in [lo, hi]. It reads committed data. member is valid
// only during fn.
func (z *zset) walk(lo, hi float64, reverse bool, fn func(score float64, member []byte) bool) error {
	return z.txn.ScanScores(z.key, z.m.Version, lo, hi, reverse, fn)
}

func (z *zset) walkAll(reverse bool, fn func(score float64, member []byte) bool) error {
	return z.walk(math.Inf(-1), math.Inf(1), reverse, fn)
}

// walkScore calls fn for the members in r, in order.
func (z *zset) walkScore(r scoreRange, reverse bool, fn func(score float64, member []byte) bool) error {
	lo, hi, ok := r.bounds()
	if !ok {
		return nil
	}
	return z.walk(lo, hi, reverse, fn)
}

// walkLex calls fn for the members in r as Redis walks a listpack: from the
// first member (last, when reverse) on the near side of the range, while
// members stay within the far bound.
func (z *zset) walkLex(r lexRange, reverse bool, fn func(score float64, member []byte) bool) error {
	if r.empty() {
		return nil
	}
	// Like zzlIsInLexRange: nothing matches unless the last member is
	// above min and the first below max (this matters only when scores
	// differ).
	var first, last []byte
	for _, rev := range []bool{false, true} {
		err := z.walkAll(rev, func(_ float64, member []byte) bool {
			if rev {
				last = bytes.Clone(member)
			} else {
				first = bytes.Clone(member)
			}
			return false
		})
		if err != nil {
			return err
		}
	}
	if first == nil || !r.gteMin(last) || !r.lteMax(first) {
		return nil
	}
	started := false
	near, far := r.gteMin, r.lteMax
	if reverse {
		near, far = r.lteMax, r.gteMin
	}
	return z.walkAll(reverse, func(score float64, member []byte) bool {
		if !started {
			if !near(member) {
				return true
			}
			started = true
		}
		if !far(member) {
			return false
		}
		return fn(score, member)
	})
}

// replyScore sends a score: a double (RESP2: its text as a bulk string).
func replyScore(c *Ctx, f float64) { c.R.Double([]byte(formatDouble(f))) }

// replyItems sends items as ZRANGE does: members, or with scores their
// pairs, flat in RESP2 and each a [member, score] array in RESP3.
func replyItems(c *Ctx, items []zitem, withScores bool) {
	if !withScores {
		c.R.Array(len(items))
		for _, it := range items {
			c.R.Bulk(it.member)
		}
		return
	}
	if !c.R.Resp3 {
		replyFlatItems(c, items)
		return
	}
	replyPairs(c, items)
}

// replyPairs sends items as an array of [member, score] arrays in both
// protocols (ZMPOP; ZRANGE WITHSCORES in RESP3).
func replyPairs(c *Ctx, items []zitem) {
	c.R.Array(len(items))
	for _, it := range items {
		c.R.Array(2)
		c.R.Bulk(it.member)
		replyScore(c, it.score)
	}
}

// replyFlatItems sends items as one flat array of members and scores in
// both protocols (ZPOPMIN without a count).
func replyFlatItems(c *Ctx, items []zitem) {
	c.R.Array(2 * len(items))
	for _, it := range items {
		c.R.Bulk(it.member)
		replyScore(c, it.score)
	}
}

// ---- ZADD / ZINCRBY / ZREM / ZCARD / ZSCORE / ZMSCORE

const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

var errNaNScore = Error("ERR resulting score is not a number (NaN)")

// add is Redis's zsetAdd.
func (z *zset) add(member []byte, score float64, flags int) (added, updated, nop bool, newScore float64, err error) {
	cur, had, err := z.score(member)
	if err != nil {
		return false, false, false, 0, err
	}
	if had {
		if flags&zaddNX != 0 {
			return false, false, true, 0, nil
		}
		if flags&zaddIncr != 0 {
			score += cur
			if math.IsNaN(score) {
				return false, false, false, 0, errNaNScore
			}
		}
		if (flags&zaddLT != 0 && score >= cur) || (flags&zaddGT != 0 && score <= cur) {
			return false, false, true, 0, nil
		}
		if score != cur {
			if err := z.put(member, score, cur, true); err != nil {
				return false, false, false, 0, err
			}
			updated = true
		}
		return false, updated, false, score, nil
	}
	if flags&zaddXX != 0 {
		return false, false, true, 0, nil
	}
	if err := z.put(member, score, 0, false); err != nil {
		return false, false, false, 0, err
	}
	return true, false, false, score, nil
}

func cmdZAdd(c *Ctx) error    { return zaddGeneric(c, 0) }
func cmdZIncrBy(c *Ctx) error { return zaddGeneric(c, zaddIncr) }

func zaddGeneric(c *Ctx, flags int) error {
	key := c.Args[1]
	ch := false
	idx := 2
opts:
	for ; idx < len(c.Args); idx++ {
		a := c.Args[idx]
		switch {
		case isArg(a, "nx"):
			flags |= zaddNX
		case isArg(a, "xx"):
			flags |= zaddXX
		case isArg(a, "ch"):
			ch = true
		case isArg(a, "incr"):
			flags |= zaddIncr
		case isArg(a, "gt"):
			flags |= zaddGT
		case isArg(a, "lt"):
			flags |= zaddLT
		default:
			break opts
		}
	}
	incr, nx, xx, gt, lt := flags&zaddIncr != 0, flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0
	elements := len(c.Args) - idx
	if elements == 0 || elements%2 != 0 {
		return ErrSyntax
	}
	elements /= 2
	if nx && xx {
		return Error("ERR XX and NX options at the same time are not compatible")
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		return Error("ERR GT, LT, and/or NX options at the same time are not compatible")
	}
	if incr && elements > 1 {
		return Error("ERR INCR option supports a single increment-element pair")
	}
	scores := make([]float64, elements)
	for j := range scores {
		s, err := parseScore(c.Args[idx+2*j])
		if err != nil {
			return err
		}
		scores[j] = s
	}
	txn := c.Txn(key)
	m, exists, err := lookup(txn, key, storage.TypeZSet)
	if err != nil {
		return err
	}
	var added, updated, processed int64
	var score float64
	if exists || !xx {
		if !exists {
			if m, err = lookupOrCreate(txn, key, storage.TypeZSet); err != nil {
				return err
			}
		}
		z := &zset{c: c, txn: txn, key: key, m: m}
		for j, s := range scores {
			a, u, nop, ns, err := z.add(c.Args[idx+2*j+1], s, flags)
			if err != nil {
				return err
			}
			if a {
				added++
			}
			if u {
				updated++
			}
			if !nop {
				processed++
				score = ns
			}
		}
		if added+updated > 0 {
			if err := z.store(); err != nil {
				return err
			}
			if incr {
				c.Notify(EventZset, "zincr", key)
			} else {
				c.Notify(EventZset, "zadd", key)
			}
		}
	}
	if incr {
		if processed > 0 {
			replyScore(c, score)
		} else {
			c.R.Null()
		}
		return nil
	}
	if ch {
		c.R.Int(added + updated)
	} else {
		c.R.Int(added)
	}
	return nil
}

func cmdZRem(c *Ctx) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	seen := map[string]bool{}
	var items []zitem
	for _, member := range c.Args[2:] {
		if seen[string(member)] {
			continue
		}
		seen[string(member)] = true
		s, ok, err := z.score(member)
		if err != nil {
			return err
		}
		if ok {
			items = append(items, zitem{member, s})
		}
	}
	if len(items) > 0 {
		if err := z.removeAll(items); err != nil {
			return err
		}
		z.notifyRemoved("zrem")
	}
	c.R.Int(int64(len(items)))
	return nil
}

func cmdZCard(c *Ctx) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	c.R.Int(int64(z.m.Count))
	return nil
}

func cmdZScore(c *Ctx) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	s, ok, err := z.score(c.Args[2])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	replyScore(c, s)
	return nil
}

func cmdZMScore(c *Ctx) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.R.Array(len(members))
	for _, member := range members {
		if !ok {
			c.R.Null()
			continue
		}
		s, found, err := z.score(member)
		if err != nil {
			return err
		}
		if found {
			replyScore(c, s)
		} else {
			c.R.Null()
		}
	}
	return nil
}

// ---- ZRANK / ZCOUNT / ZLEXCOUNT

func cmdZRank(reverse bool) Handler {
	return func(c *Ctx) error {
		z, ok, err := getZSet(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			c.R.Null()
			return nil
		}
		member := c.Args[2]
		s, ok, err := z.score(member)
		if err != nil {
			return err
		}
		if !ok {
			c.R.Null()
			return nil
		}
		var rank int64
		found := false
		err = z.walkAll(reverse, func(score float64, m []byte) bool {
			if score == s && bytes.Equal(m, member) {
				found = true
				return false
			}
			rank++
			return true
		})
		if err != nil {
			return err
		}
		if !found {
			c.R.Null()
			return nil
		}
		c.R.Int(rank)
		return nil
	}
}

func cmdZCount(c *Ctx) error {
	r, err := parseScoreRange(c.Args[2], c.Args[3])
	if err != nil {
		return err
	}
	return zcount(c, func(z *zset, fn func(float64, []byte) bool) error { return z.walkScore(r, false, fn) })
}

func cmdZLexCount(c *Ctx) error {
	r, err := parseLexRange(c.Args[2], c.Args[3])
	if err != nil {
		return err
	}
	return zcount(c, func(z *zset, fn func(float64, []byte) bool) error { return z.walkLex(r, false, fn) })
}

// zcount replies how many members walk visits (0 for a missing key).
func zcount(c *Ctx, walk func(z *zset, fn func(float64, []byte) bool) error) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	var n int64
	if ok {
		if err := walk(z, func(float64, []byte) bool { n++; return true }); err != nil {
			return err
		}
	}
	c.R.Int(n)
	return nil
}

// ---- ZRANGE and friends

type rangeKind int

const (
	rangeAuto rangeKind = iota
	rangeRank
	rangeScore
	rangeLex
)

type rangeDir int

const (
	dirAuto rangeDir = iota
	dirForward
	dirReverse
)

// zrangeQuery is a parsed ZRANGE-family request.
type zrangeQuery struct {
	kind          rangeKind
	reverse       bool
	withScores    bool
	offset, limit int64
	start, end    int64
	sr            scoreRange
	lr            lexRange
}

// parseZRange parses <min> <max> and the options of zrangeGenericCommand,
// for the source key at args[at]: ZRANGESTORE (store) takes no
// WITHSCORES.
func parseZRange(args [][]byte, at int, store bool, kind rangeKind, dir rangeDir) (q zrangeQuery, err error) {
	q.limit = -1
	for j := at + 3; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case !store && isArg(a, "withscores"):
			q.withScores = true
		case isArg(a, "limit") && left >= 2:
			if q.offset, err = parseInt(args[j+1]); err != nil {
				return q, err
			}
			if q.limit, err = parseInt(args[j+2]); err != nil {
				return q, err
			}
			j += 2
		case dir == dirAuto && isArg(a, "rev"):
			dir = dirReverse
		case kind == rangeAuto && isArg(a, "bylex"):
			kind = rangeLex
		case kind == rangeAuto && isArg(a, "byscore"):
			kind = rangeScore
		default:
			return q, ErrSyntax
		}
	}
	if kind == rangeAuto {
		kind = rangeRank
	}
	q.kind, q.reverse = kind, dir == dirReverse
	if q.limit != -1 && kind == rangeRank {
		return q, Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	}
	if q.withScores && kind == rangeLex {
		return q, Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	}
	minArg, maxArg := args[at+1], args[at+2]
	if q.reverse && kind != rangeRank {
		minArg, maxArg = maxArg, minArg
	}
	switch kind {
	case rangeRank:
		if q.start, err = parseInt(minArg); err != nil {
			return q, err
		}
		q.end, err = parseInt(maxArg)
	case rangeScore:
		q.sr, err = parseScoreRange(minArg, maxArg)
	case rangeLex:
		q.lr, err = parseLexRange(minArg, maxArg)
	}
	return q, err
}

// items returns the members of z the query selects, with their scores.
func (q *zrangeQuery) items(z *zset) ([]zitem, error) {
	switch q.kind {
	case rangeScore:
		if q.offset > 0 && uint64(q.offset) >= z.m.Count {
			return nil, nil
		}
		return z.collect(q.offset, q.limit, func(fn func(float64, []byte) bool) error {
			return z.walkScore(q.sr, q.reverse, fn)
		})
	case rangeLex:
		return z.collect(q.offset, q.limit, func(fn func(float64, []byte) bool) error {
			return z.walkLex(q.lr, q.reverse, fn)
		})
	}
	return z.rankRange(q.start, q.end, q.reverse)
}

// cmdZRange is Redis's zrangeGenericCommand for the reply variants.
func cmdZRange(fixedKind rangeKind, fixedDir rangeDir) Handler {
	return func(c *Ctx) error {
		q, err := parseZRange(c.Args, 1, false, fixedKind, fixedDir)
		if err != nil {
			return err
		}
		z, ok, err := getZSet(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			c.R.Array(0)
			return nil
		}
		items, err := q.items(z)
		if err != nil {
			return err
		}
		replyItems(c, items, q.withScores)
		return nil
	}
}

// cmdZRangeStore is ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV]
// [LIMIT offset count]: a missing source empties dst.
func cmdZRangeStore(c *Ctx) error {
	q, err := parseZRange(c.Args, 2, true, rangeAuto, dirAuto)
	if err != nil {
		return err
	}
	z, ok, err := getZSet(c, c.Args[2])
	if err != nil {
		return err
	}
	var items []zitem
	if ok {
		if items, err = q.items(z); err != nil {
			return err
		}
	}
	return zstore(c, c.Args[1], items, "zrangestore")
}

// rankRange returns the members at ranks [start, end] (Redis indexes).
func (z *zset) rankRange(start, end int64, reverse bool) ([]zitem, error) {
	start, end, ok := indexRange(start, end, int64(z.m.Count))
	if !ok {
		return nil, nil
	}
	return z.collect(start, end-start+1, func(fn func(float64, []byte) bool) error {
		return z.walkAll(reverse, fn)
	})
}

// collect skips offset members of a walk (all of them when negative) and
// returns up to limit (all when negative) of the next ones.
func (z *zset) collect(offset, limit int64, walk func(fn func(float64, []byte) bool) error) ([]zitem, error) {
	if offset < 0 || limit == 0 {
		return nil, nil
	}
	var items []zitem
	err := walk(func(score float64, member []byte) bool {
		if offset > 0 {
			offset--
			return true
		}
		items = append(items, zitem{bytes.Clone(member), score})
		return limit < 0 || int64(len(items)) < limit
	})
	return items, err
}

// ---- ZREMRANGEBY* / ZPOPMIN / ZPOPMAX

func cmdZRemRange(kind rangeKind) Handler {
	// Redis's event names (its documentation says "zrembyrank" and so on,
	// but the server sends these).
	event := "zremrangebyrank"
	switch kind {
	case rangeScore:
		event = "zremrangebyscore"
	case rangeLex:
		event = "zremrangebylex"
	}
	return func(c *Ctx) error {
		var start, end int64
		var sr scoreRange
		var lr lexRange
		var err error
		switch kind {
		case rangeRank:
			if start, err = parseInt(c.Args[2]); err != nil {
				return err
			}
			if end, err = parseInt(c.Args[3]); err != nil {
				return err
			}
		case rangeScore:
			if sr, err = parseScoreRange(c.Args[2], c.Args[3]); err != nil {
				return err
			}
		case rangeLex:
			if lr, err = parseLexRange(c.Args[2], c.Args[3]); err != nil {
				return err
			}
		}
		z, ok, err := getZSet(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			c.R.Int(0)
			return nil
		}
		var items []zitem
		switch kind {
		case rangeRank:
			items, err = z.rankRange(start, end, false)
		case rangeScore:
			items, err = z.collect(0, -1, func(fn func(float64, []byte) bool) error {
				return z.walkScore(sr, false, fn)
			})
		case rangeLex:
			items, err = z.collect(0, -1, func(fn func(float64, []byte) bool) error {
				return z.walkLex(lr, false, fn)
			})
		}
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := z.removeAll(items); err != nil {
				return err
			}
			z.notifyRemoved(event)
		}
		c.R.Int(int64(len(items)))
		return nil
	}
}

func cmdZPop(max bool) Handler {
	return func(c *Ctx) error {
		if len(c.Args) > 3 {
			return ErrSyntax
		}
		count := int64(1)
		if len(c.Args) == 3 {
			n, err := parseInt(c.Args[2])
			if err != nil || n < 0 {
				return ErrNotPositive
			}
			count = n
		}
		z, ok, err := getZSet(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok || count == 0 {
			c.R.Array(0)
			return nil
		}
		items, err := z.pop(count, max)
		if err != nil {
			return err
		}
		if len(c.Args) == 3 {
			replyItems(c, items, true) // with a count: pairs in RESP3
		} else {
			replyFlatItems(c, items)
		}
		return nil
	}
}

// pop removes and returns the count (> 0) lowest members, or highest when
// max.
func (z *zset) pop(count int64, max bool) ([]zitem, error) {
	items, err := z.collect(0, count, func(fn func(float64, []byte) bool) error {
		return z.walkAll(max, fn)
	})
	if err != nil {
		return nil, err
	}
	if err := z.removeAll(items); err != nil {
		return nil, err
	}
	if len(items) > 0 {
		event := "zpopmin"
		if max {
			event = "zpopmax"
		}
		z.notifyRemoved(event)
	}
	return items, nil
}

// cmdZMPop is ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: it pops
// from the first sorted set of the keys and replies [key, [[member,
// score] ...]] in both protocols, or a null array.
func cmdZMPop(c *Ctx) error {
	return mpop(c, "min", "max", func(key []byte, min bool, count int64) (bool, error) {
		z, ok, err := getZSet(c, key)
		if err != nil || !ok {
			return false, err
		}
		items, err := z.pop(count, !min)
		if err != nil {
			return false, err
		}
		c.R.Array(2)
		c.R.Bulk(key)
		replyPairs(c, items)
		return true, nil
	})
}

// ---- ZUNION / ZINTER / ZDIFF / ZINTERCARD and their STORE forms

const (
	opUnion = iota
	opInter
	opDiff
)

// zop is one command of the ZUNION family: which operation, whether it
// stores into a destination (argument 1, numkeys then at 2) or replies,
// and for ZINTERCARD only the cardinality.
type zop struct {
	name  string
	op    int
	store bool
	card  bool
}

// numKeysAt is the position of the numkeys argument.
func (o zop) numKeysAt() int {
	if o.store {
		return 2
	}
	return 1
}

// keys is the command's Keys func: the destination, if any, and the input
// keys, with Redis's errors for a bad numkeys.
func (o zop) keys(args [][]byte) ([][]byte, error) {
	n, err := o.numKeys(args)
	if err != nil {
		return nil, err
	}
	at := o.numKeysAt()
	keys := make([][]byte, 0, n+1)
	if o.store {
		keys = append(keys, args[1])
	}
	return append(keys, args[at+1:at+1+n]...), nil
}

// numKeys parses numkeys as zunionInterDiffGenericCommand.
func (o zop) numKeys(args [][]byte) (int, error) {
	at := o.numKeysAt()
	n, err := parseInt(args[at])
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, Error("ERR at least 1 input key is needed for '" + o.name + "' command")
	}
	if n > int64(len(args)-at-1) {
		return 0, ErrSyntax
	}
	return int(n), nil
}

// zsrc is one input of a set operation: a sorted set, a set (scores 1) or
// a missing key (empty).
type zsrc struct {
	txn    *storage.Txn
	key    []byte
	m      storage.Meta
	exists bool
	weight float64
}

// zsources opens the inputs keys as Redis does: a key that is neither a
// sorted set nor a set is ErrWrongType.
func zsources(c *Ctx, keys [][]byte) ([]zsrc, error) {
	srcs := make([]zsrc, len(keys))
	for i, key := range keys {
		txn := c.Txn(key)
		m, ok, err := txn.Meta(key)
		if err != nil {
			return nil, err
		}
		if ok && m.Type != storage.TypeZSet && m.Type != storage.TypeSet {
			return nil, ErrWrongType
		}
		srcs[i] = zsrc{txn: txn, key: key, m: m, exists: ok, weight: 1}
	}
	return srcs, nil
}

func (s *zsrc) length() uint64 {
	if !s.exists {
		return 0
	}
	return s.m.Count
}

// each calls fn for the members and scores until it returns false.
func (s *zsrc) each(fn func(member []byte, score float64) bool) error {
	if !s.exists {
		return nil
	}
	return s.txn.ScanMembers(s.key, s.m.Version, nil, false, func(member, value []byte) bool {
		score := 1.0
		if s.m.Type == storage.TypeZSet {
			if len(value) != 8 {
				return true
			}
			score = storage.DecodeScore(value)
		}
		return fn(member, score)
	})
}

func (s *zsrc) find(member []byte) (float64, bool, error) {
	if !s.exists {
		return 0, false, nil
	}
	v, ok, err := s.txn.Member(s.key, s.m.Version, member)
	if err != nil || !ok {
		return 0, false, err
	}
	if s.m.Type == storage.TypeZSet {
		if len(v) != 8 {
			return 0, false, nil
		}
		return storage.DecodeScore(v), true, nil
	}
	return 1, true, nil
}

const (
	aggSum = iota
	aggMin
	aggMax
)

func aggregate(target *float64, v float64, agg int) {
	switch agg {
	case aggSum:
		*target += v
		if math.IsNaN(*target) {
			*target = 0
		}
	case aggMin:
		if v < *target {
			*target = v
		}
	case aggMax:
		if v > *target {
			*target = v
		}
	}
}

// weighted is a member's score times its input's weight, NaN (0 * inf)
// counting as 0.
func weighted(score, weight float64) float64 {
	v := score * weight
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// zunion returns the union of srcs with aggregated weighted scores.
func zunion(srcs []zsrc, agg int) (map[string]float64, error) {
	result := map[string]float64{}
	for i := range srcs {
		s := &srcs[i]
		err := s.each(func(member []byte, score float64) bool {
			v := weighted(score, s.weight)
			if cur, ok := result[string(member)]; ok {
				aggregate(&cur, v, agg)
				result[string(member)] = cur
			} else {
				result[string(member)] = v
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return result, nil
}

// zinter calls emit for the members of every input, with their aggregated
// weighted scores, until it returns false. srcs are sorted by size.
func zinter(srcs []zsrc, agg int, emit func(member []byte, score float64) bool) error {
	if srcs[0].length() == 0 {
		return nil
	}
	var ierr error
	err := srcs[0].each(func(member []byte, score float64) bool {
		v := weighted(score, srcs[0].weight)
		for j := 1; j < len(srcs); j++ {
			if bytes.Equal(srcs[j].key, srcs[0].key) {
				aggregate(&v, score*srcs[j].weight, agg)
				continue
			}
			other, ok, err := srcs[j].find(member)
			if err != nil {
				ierr = err
				return false
			}
			if !ok {
				return true
			}
			aggregate(&v, other*srcs[j].weight, agg)
		}
		return emit(member, v)
	})
	if err != nil {
		return err
	}
	return ierr
}

// zdiff calls emit for the members of the first input in none of the
// others, with their (unweighted) scores.
func zdiff(srcs []zsrc, emit func(member []byte, score float64) bool) error {
	if srcs[0].length() == 0 {
		return nil
	}
	// A set minus itself is empty.
	if slices.ContainsFunc(srcs[1:], func(s zsrc) bool { return bytes.Equal(s.key, srcs[0].key) }) {
		return nil
	}
	var ierr error
	err := srcs[0].each(func(member []byte, score float64) bool {
		for j := 1; j < len(srcs); j++ {
			_, ok, err := srcs[j].find(member)
			if err != nil {
				ierr = err
				return false
			}
			if ok {
				return true
			}
		}
		return emit(member, score)
	})
	if err != nil {
		return err
	}
	return ierr
}

// sortedItems returns a result's members in sorted set order: by score,
// then member bytes.
func sortedItems(result map[string]float64) []zitem {
	items := make([]zitem, 0, len(result))
	for member, score := range result {
		items = append(items, zitem{[]byte(member), score})
	}
	slices.SortFunc(items, func(a, b zitem) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return bytes.Compare(a.member, b.member)
	})
	return items
}

// cmdZSetOp is Redis's zunionInterDiffGenericCommand.
func cmdZSetOp(o zop) Handler {
	return func(c *Ctx) error {
		n, err := o.numKeys(c.Args)
		if err != nil {
			return err
		}
		first := o.numKeysAt() + 1
		srcs, err := zsources(c, c.Args[first:first+n])
		if err != nil {
			return err
		}
		agg := aggSum
		withScores := false
		var limit int64 // ZINTERCARD: 0 is no limit
		for j := first + n; j < len(c.Args); {
			remaining := len(c.Args) - j
			a := c.Args[j]
			switch {
			case o.op != opDiff && !o.card && remaining >= n+1 && isArg(a, "weights"):
				j++
				for i := range srcs {
					w, err := parseScore(c.Args[j])
					if err != nil {
						return Error("ERR weight value is not a float")
					}
					srcs[i].weight = w
					j++
				}
			case o.op != opDiff && !o.card && remaining >= 2 && isArg(a, "aggregate"):
				switch v := c.Args[j+1]; {
				case isArg(v, "sum"):
					agg = aggSum
				case isArg(v, "min"):
					agg = aggMin
				case isArg(v, "max"):
					agg = aggMax
				default:
					return ErrSyntax
				}
				j += 2
			case !o.store && !o.card && isArg(a, "withscores"):
				withScores = true
				j++
			case o.card && remaining >= 2 && isArg(a, "limit"):
				l, err := parseInt(c.Args[j+1])
				if err != nil || l < 0 {
					return Error("ERR LIMIT can't be negative")
				}
				limit = l
				j += 2
			default:
				return ErrSyntax
			}
		}
		if o.op != opDiff {
			sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].length() < srcs[j].length() })
		}
		if o.card {
			var card int64
			err := zinter(srcs, agg, func([]byte, float64) bool {
				card++
				return limit == 0 || card < limit
			})
			if err != nil {
				return err
			}
			c.R.Int(card)
			return nil
		}
		result := map[string]float64{}
		keep := func(member []byte, score float64) bool {
			result[string(member)] = score
			return true
		}
		switch o.op {
		case opUnion:
			result, err = zunion(srcs, agg)
		case opInter:
			err = zinter(srcs, agg, keep)
		case opDiff:
			err = zdiff(srcs, keep)
		}
		if err != nil {
			return err
		}
		items := sortedItems(result)
		if o.store {
			return zstore(c, c.Args[1], items, o.name)
		}
		replyItems(c, items, withScores)
		return nil
	}
}

// zstore replaces dst with the sorted set of items (distinct members), or
// deletes it when there are none, and replies with the count. event is
// the keyspace event of a stored result ("del" if dst existed when none).
func zstore(c *Ctx, dst []byte, items []zitem, event string) error {
	dt := c.Txn(dst)
	if len(items) == 0 {
		_, existed, err := dt.Meta(dst)
		if err != nil {
			return err
		}
		if err := dt.DeleteKey(dst); err != nil {
			return err
		}
		if existed {
			c.Notify(EventGeneric, "del", dst)
		}
		c.R.Int(0)
		return nil
	}
	v, err := dt.NewVersion()
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := dt.PutMember(dst, v, it.member, storage.EncodeScore(nil, it.score)); err != nil {
			return err
		}
		if err := dt.PutScore(dst, v, it.score, it.member); err != nil {
			return err
		}
	}
	m := storage.Meta{Type: storage.TypeZSet, Version: v, Count: uint64(len(items))}
	if err := dt.PutMeta(dst, &m); err != nil {
		return err
	}
	c.Notify(EventZset, event, dst)
	c.R.Int(int64(len(items)))
	return nil
}

// ---- ZRANDMEMBER / ZSCAN

func cmdZRandMember(c *Ctx) error {
	if len(c.Args) >= 3 {
		count, err := parseInt(c.Args[2])
		if err != nil {
			return err
		}
		if count == math.MinInt64 {
			return Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		}
		withScores := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !isArg(c.Args[3], "withscores")) {
			return ErrSyntax
		}
		if len(c.Args) == 4 {
			withScores = true
			if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
				return Error("ERR value is out of range")
			}
		}
		return zrandWithCount(c, count, withScores)
	}
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	items, err := z.pick([]uint64{rand.Uint64N(z.m.Count)})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		c.R.Null()
		return nil
	}
	c.R.Bulk(items[0].member)
	return nil
}

// pick returns the members at the sorted positions idx (in member order;
// a repeated position gives the member again).
func (z *zset) pick(idx []uint64) ([]zitem, error) {
	items := make([]zitem, 0, len(idx))
	var pos uint64
	j := 0
	err := z.txn.ScanMembers(z.key, z.m.Version, nil, false, func(member, value []byte) bool {
		if len(value) != 8 {
			return true
		}
		var it *zitem
		for j < len(idx) && idx[j] == pos {
			if it == nil {
				items = append(items, zitem{bytes.Clone(member), storage.DecodeScore(value)})
				it = &items[len(items)-1]
			} else {
				items = append(items, *it)
				it = &items[len(items)-1]
			}
			j++
		}
		pos++
		return j < len(idx)
	})
	return items, err
}

func zrandWithCount(c *Ctx, count int64, withScores bool) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok || count == 0 {
		c.R.Array(0)
		return nil
	}
	size := z.m.Count
	var items []zitem
	switch {
	case count < 0 || count == 1:
		// Repetitions allowed: count independent picks, in random order.
		n := uint64(-count)
		if count == 1 {
			n = 1
		}
		if n >= size {
			// Load the set once and stream the picks.
			all, err := z.collect(0, -1, func(fn func(float64, []byte) bool) error { return z.walkAll(false, fn) })
			if err != nil {
				return err
			}
			// Streamed, one pick at a time: n may be far larger than the
			// set (the reply is bounded by the output buffer limit).
			pairs := withScores && c.R.Resp3
			if withScores && !pairs {
				c.R.Array(int(2 * n))
			} else {
				c.R.Array(int(n))
			}
			for i := uint64(0); i < n; i++ {
				it := all[rand.IntN(len(all))]
				if pairs {
					c.R.Array(2)
				}
				c.R.Bulk(it.member)
				if withScores {
					replyScore(c, it.score)
				}
			}
			return nil
		}
		idx := make([]uint64, n)
		for i := range idx {
			idx[i] = rand.Uint64N(size)
		}
		slices.Sort(idx)
		if items, err = z.pick(idx); err != nil {
			return err
		}
		rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	case uint64(count) >= size:
		// The whole set, from the highest score down as Redis iterates.
		items, err = z.collect(0, -1, func(fn func(float64, []byte) bool) error { return z.walkAll(true, fn) })
		if err != nil {
			return err
		}
	default:
		// count distinct positions (Floyd's sampling), in random order.
		chosen := make(map[uint64]bool, count)
		for j := size - uint64(count); j < size; j++ {
			t := rand.Uint64N(j + 1)
			if chosen[t] {
				t = j
			}
			chosen[t] = true
		}
		idx := make([]uint64, 0, count)
		for p := range chosen {
			idx = append(idx, p)
		}
		slices.Sort(idx)
		if items, err = z.pick(idx); err != nil {
			return err
		}
		rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	}
	replyItems(c, items, withScores)
	return nil
}

// zsetSmallScan is Redis's zset-max-listpack-entries default: ZSCAN of a
// set this small returns it whole.
const zsetSmallScan = 128

func cmdZScan(c *Ctx) error {
	cursor, err := parseCursor(c.Args[2])
	if err != nil {
		return err
	}
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Array(2)
		c.R.BulkString("0")
		c.R.Array(0)
		return nil
	}
	match, count, _, err := scanOptions(c.Args[3:], false)
	if err != nil {
		return err
	}
	var items []zitem
	var next []byte
	keep := func(score float64, member []byte) {
		if match == nil || globMatch(match, member) {
			items = append(items, zitem{bytes.Clone(member), score})
		}
	}
	if z.m.Count <= zsetSmallScan {
		// Redis keeps such a set as one listpack and returns all of it,
		// in score order, whatever the cursor and COUNT.
		err = z.walkAll(false, func(score float64, member []byte) bool {
			keep(score, member)
			return true
		})
	} else {
		var from []byte
		if cursor != 0 {
			from = c.Cursors.load(cursor).next
		}
		seen := 0
		err = z.txn.ScanMembers(z.key, z.m.Version, from, false, func(member, value []byte) bool {
			if seen >= count {
				next = bytes.Clone(member)
				return false
			}
			seen++
			if len(value) == 8 {
				keep(storage.DecodeScore(value), member)
			}
			return true
		})
	}
	if err != nil {
		return err
	}
	var out uint64
	if next != nil {
		out = c.Cursors.save(0, next)
	}
	c.R.Array(2)
	c.R.BulkString(strconv.FormatUint(out, 10))
	// A cursor's page is strings in both protocols, scores too.
	c.R.Array(2 * len(items))
	for _, it := range items {
		c.R.Bulk(it.member)
		c.R.BulkString(formatDouble(it.score))
	}
	return nil
}
