package command

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/pika-node/pika-node/storage"
)

// A hash is a collection: its meta counts the fields, and each field is one
// data-CF member whose value is the field's value.

func registerHashes(t *Table) {
	spec := func(name string, arity int, f Flags, h Handler) Spec {
		return Spec{Name: name, Arity: arity, Flags: f, FirstKey: 1, LastKey: 1, Step: 1, Handler: h}
	}
	rw := Write | DenyOOM
	t.Register(
		spec("hset", -4, rw|Fast, cmdHSet("hset", false)),
		spec("hmset", -4, rw|Fast, cmdHSet("hmset", true)),
		spec("hsetnx", 4, rw|Fast, cmdHSetNX),
		spec("hget", 3, ReadOnly|Fast, cmdHGet),
		spec("hmget", -3, ReadOnly|Fast, cmdHMGet),
		spec("hdel", -3, Write|Fast, cmdRemoveMembers(storage.TypeHash, EventHash, "hdel")),
		spec("hlen", 2, ReadOnly|Fast, cmdCard(storage.TypeHash)),
		spec("hstrlen", 3, ReadOnly|Fast, cmdHStrlen),
		spec("hexists", 3, ReadOnly|Fast, cmdHExists),
		spec("hgetall", 2, ReadOnly, cmdHGetAll(true, true)),
		spec("hkeys", 2, ReadOnly, cmdHGetAll(true, false)),
		spec("hvals", 2, ReadOnly, cmdHGetAll(false, true)),
		spec("hincrby", 4, rw|Fast, cmdHIncrBy),
		spec("hincrbyfloat", 4, rw|Fast, cmdHIncrByFloat),
		spec("hrandfield", -2, ReadOnly, cmdHRandField),
		spec("hscan", -3, ReadOnly, hsScan(storage.TypeHash)),
	)
}

func cmdHSet(name string, replyOK bool) Handler {
	return func(c *Ctx) error {
		if len(c.Args)%2 == 1 {
			return wrongArgs(name)
		}
		key := c.Args[1]
		txn := c.Txn(key)
		m, err := lookupOrCreate(txn, key, storage.TypeHash)
		if err != nil {
			return err
		}
		var added int64
		for i := 2; i < len(c.Args); i += 2 {
			_, exists, err := txn.Member(key, m.Version, c.Args[i])
			if err != nil {
				return err
			}
			if err := txn.PutMember(key, m.Version, c.Args[i], c.Args[i+1]); err != nil {
				return err
			}
			if !exists {
				added++
			}
		}
		if added > 0 { // else the key existed and its meta is unchanged
			m.Count += uint64(added)
			if err := txn.PutMeta(key, &m); err != nil {
				return err
			}
		}
		c.Notify(EventHash, "hset", key) // even when no value changed
		if replyOK {
			c.R.OK()
		} else {
			c.R.Int(added)
		}
		return nil
	}
}

func cmdHSetNX(c *Ctx) error {
	key, field := c.Args[1], c.Args[2]
	txn := c.Txn(key)
	m, err := lookupOrCreate(txn, key, storage.TypeHash)
	if err != nil {
		return err
	}
	_, exists, err := txn.Member(key, m.Version, field)
	if err != nil {
		return err
	}
	if exists {
		c.R.Int(0)
		return nil
	}
	if err := txn.PutMember(key, m.Version, field, c.Args[3]); err != nil {
		return err
	}
	m.Count++
	if err := txn.PutMeta(key, &m); err != nil {
		return err
	}
	c.Notify(EventHash, "hset", key)
	c.R.Int(1)
	return nil
}

// hashField reads one field of the hash at key: ok is false when the key or
// the field is missing.
func hashField(c *Ctx, key, field []byte) (value []byte, ok bool, err error) {
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeHash)
	if err != nil || !ok {
		return nil, false, err
	}
	return txn.Member(key, m.Version, field)
}

func cmdHGet(c *Ctx) error {
	v, ok, err := hashField(c, c.Args[1], c.Args[2])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	c.R.Bulk(v)
	return nil
}

func cmdHMGet(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeHash)
	if err != nil {
		return err
	}
	fields := c.Args[2:]
	c.R.Array(len(fields))
	for _, f := range fields {
		if !ok {
			c.R.Null()
			continue
		}
		v, found, err := txn.Member(key, m.Version, f)
		if err != nil {
			return err
		}
		if found {
			c.R.Bulk(v)
		} else {
			c.R.Null()
		}
	}
	return nil
}

func cmdHStrlen(c *Ctx) error {
	v, _, err := hashField(c, c.Args[1], c.Args[2])
	if err != nil {
		return err
	}
	c.R.Int(int64(len(v)))
	return nil
}

func cmdHExists(c *Ctx) error {
	_, ok, err := hashField(c, c.Args[1], c.Args[2])
	if err != nil {
		return err
	}
	if ok {
		c.R.Int(1)
	} else {
		c.R.Int(0)
	}
	return nil
}

// cmdHGetAll serves HGETALL, HKEYS and HVALS.
func cmdHGetAll(fields, values bool) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		txn := c.Txn(key)
		m, ok, err := lookup(txn, key, storage.TypeHash)
		if err != nil {
			return err
		}
		sh := shapeArray
		if fields && values {
			sh = shapeMap
		}
		if !ok {
			sh.header(c, 0)
			return nil
		}
		return hsStreamAll(c, txn, key, m, sh, fields, values)
	}
}

// shape is how a reply of a collection's members (and their values) is
// framed, as redis-server 7.0 frames each command's in RESP3; in RESP2
// every shape is one flat array.
type shape uint8

const (
	shapeArray shape = iota // an array (HKEYS, SRANDMEMBER)
	shapeMap                // a map of members to values (HGETALL)
	shapeSet                // a set (SMEMBERS, SPOP with a count)
	shapePairs              // an array of [member, value] arrays (HRANDFIELD WITHVALUES)
)

// header starts a reply of n entries (an entry is a member, or a member
// and its value for shapeMap and shapePairs).
func (sh shape) header(c *Ctx, n int) {
	switch {
	case sh == shapeMap:
		c.R.Map(n)
	case sh == shapeSet:
		c.R.Set(n)
	case sh == shapePairs && !c.R.Resp3:
		c.R.Array(2 * n)
	default:
		c.R.Array(n)
	}
}

// entry starts one entry's elements: a pair's own array, when it has one.
func (sh shape) entry(c *Ctx) {
	if sh == shapePairs && c.R.Resp3 {
		c.R.Array(2)
	}
}

// hsStreamAll replies with every member of a collection (the member, its
// value, or both, framed as sh), written straight into the reply: the
// length is the meta's count, checked against what the scan found.
func hsStreamAll(c *Ctx, txn *storage.Txn, key []byte, m storage.Meta, sh shape, members, values bool) error {
	per := 0
	if members {
		per++
	}
	if values {
		per++
	}
	if sh == shapeArray {
		c.R.Array(int(m.Count) * per)
	} else {
		sh.header(c, int(m.Count))
	}
	var n uint64
	err := txn.ScanMembers(key, m.Version, nil, false, func(member, value []byte) bool {
		sh.entry(c)
		if members {
			c.R.Bulk(member)
		}
		if values {
			c.R.Bulk(value)
		}
		n++
		return n < m.Count
	})
	if err != nil {
		return err
	}
	if n != m.Count {
		return hsCountMismatch(key, m, n)
	}
	return nil
}

func hsCountMismatch(key []byte, m storage.Meta, found uint64) error {
	return fmt.Errorf("%s %q counts %d members but has %d", m.Type, key, m.Count, found)
}

func cmdHIncrBy(c *Ctx) error {
	key, field := c.Args[1], c.Args[2]
	incr, err := parseInt(c.Args[3])
	if err != nil {
		return err
	}
	txn := c.Txn(key)
	m, err := lookupOrCreate(txn, key, storage.TypeHash)
	if err != nil {
		return err
	}
	old, exists, err := txn.Member(key, m.Version, field)
	if err != nil {
		return err
	}
	var cur int64
	if exists {
		if cur, err = parseInt(old); err != nil {
			return Error("ERR hash value is not an integer")
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return ErrOverflow
	}
	cur += incr
	if err := hashPut(txn, key, &m, field, []byte(strconv.FormatInt(cur, 10)), exists); err != nil {
		return err
	}
	c.Notify(EventHash, "hincrby", key)
	c.R.Int(cur)
	return nil
}

// hashPut writes field and the meta, counting the field if it is new.
func hashPut(txn *storage.Txn, key []byte, m *storage.Meta, field, value []byte, exists bool) error {
	if err := txn.PutMember(key, m.Version, field, value); err != nil {
		return err
	}
	if exists {
		return nil // the meta is unchanged
	}
	m.Count++
	return txn.PutMeta(key, m)
}

func cmdHIncrByFloat(c *Ctx) error {
	key, field := c.Args[1], c.Args[2]
	incr, err := parseLongDouble(c.Args[3])
	if err != nil {
		return err
	}
	if incr.IsInf() {
		return Error("ERR value is NaN or Infinity")
	}
	txn := c.Txn(key)
	m, err := lookupOrCreate(txn, key, storage.TypeHash)
	if err != nil {
		return err
	}
	old, exists, err := txn.Member(key, m.Version, field)
	if err != nil {
		return err
	}
	cur := new(big.Float).SetPrec(longDoublePrec)
	if exists {
		if cur, err = parseLongDouble(old); err != nil {
			return Error("ERR hash value is not a float")
		}
	}
	sum, err := addLongDouble(cur, incr)
	if err != nil {
		return err
	}
	s := formatLongDouble(sum)
	if err := hashPut(txn, key, &m, field, []byte(s), exists); err != nil {
		return err
	}
	c.Notify(EventHash, "hincrbyfloat", key)
	c.R.BulkString(s)
	return nil
}

func cmdHRandField(c *Ctx) error { return hsRandom(c, storage.TypeHash) }

// ---- shared by hash and set commands (hs*) ----

// hsEntry is one member of a collection, copied out of a scan.
type hsEntry struct{ member, value []byte }

// hsLoadAll returns every member of a collection, in member order.
func hsLoadAll(txn *storage.Txn, key []byte, m storage.Meta, values bool) ([]hsEntry, error) {
	out := make([]hsEntry, 0, min(m.Count, 1<<16))
	err := txn.ScanMembers(key, m.Version, nil, false, func(member, value []byte) bool {
		e := hsEntry{member: append([]byte{}, member...)}
		if values {
			e.value = append([]byte{}, value...)
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// hsEntriesAt returns the members at positions idx (sorted, distinct) of
// the collection's member order. The scan stops at the last position.
func hsEntriesAt(txn *storage.Txn, key []byte, m storage.Meta, idx []uint64, values bool) ([]hsEntry, error) {
	out := make([]hsEntry, 0, len(idx))
	if len(idx) == 0 {
		return out, nil
	}
	var pos uint64
	err := txn.ScanMembers(key, m.Version, nil, false, func(member, value []byte) bool {
		if pos == idx[len(out)] {
			e := hsEntry{member: append([]byte{}, member...)}
			if values {
				e.value = append([]byte{}, value...)
			}
			out = append(out, e)
		}
		pos++
		return len(out) < len(idx)
	})
	if err != nil {
		return nil, err
	}
	if len(out) != len(idx) {
		return nil, hsCountMismatch(key, m, pos)
	}
	return out, nil
}

// hsDistinctIndexes returns k distinct random positions in [0, n), k <= n,
// sorted (Floyd's sampling: O(k) whatever n).
func hsDistinctIndexes(n, k uint64) []uint64 {
	set := make(map[uint64]struct{}, k)
	for j := n - k; j < n; j++ {
		t := rand.Uint64N(j + 1)
		if _, dup := set[t]; dup {
			t = j
		}
		set[t] = struct{}{}
	}
	out := make([]uint64, 0, k)
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// hsRandomDistinct picks k < m.Count distinct random members, in random
// order.
func hsRandomDistinct(txn *storage.Txn, key []byte, m storage.Meta, k uint64, values bool) ([]hsEntry, error) {
	es, err := hsEntriesAt(txn, key, m, hsDistinctIndexes(m.Count, k), values)
	if err != nil {
		return nil, err
	}
	rand.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	return es, nil
}

// errRandRange is getRangeLongFromObjectOrReply's error for a count of
// LLONG_MIN.
const errRandRange Error = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

// hsRandom serves HRANDFIELD and SRANDMEMBER: key [count [WITHVALUES]]
// (WITHVALUES for hashes only). A positive count picks distinct members, a
// negative one allows repeats.
func hsRandom(c *Ctx, typ storage.Type) error {
	hash := typ == storage.TypeHash
	key := c.Args[1]
	if !hash && len(c.Args) > 3 {
		return ErrSyntax
	}
	if len(c.Args) == 2 {
		txn := c.Txn(key)
		m, ok, err := lookup(txn, key, typ)
		if err != nil {
			return err
		}
		if !ok {
			c.R.Null()
			return nil
		}
		es, err := hsEntriesAt(txn, key, m, []uint64{rand.Uint64N(m.Count)}, false)
		if err != nil {
			return err
		}
		c.R.Bulk(es[0].member)
		return nil
	}
	l, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	if l == math.MinInt64 {
		return errRandRange
	}
	values := false
	if hash && len(c.Args) == 4 && isArg(c.Args[3], "withvalues") {
		values = true
	} else if len(c.Args) >= 4 {
		return ErrSyntax
	}
	if values && l < -math.MaxInt64/2 {
		return Error("ERR value is out of range")
	}
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, typ)
	if err != nil {
		return err
	}
	if !ok || l == 0 {
		c.R.Array(0)
		return nil
	}
	sh := shapeArray
	if values {
		sh = shapePairs
	}
	reply := func(e hsEntry) {
		sh.entry(c)
		c.R.Bulk(e.member)
		if values {
			c.R.Bulk(e.value)
		}
	}
	if l > 0 {
		if uint64(l) >= m.Count {
			return hsStreamAll(c, txn, key, m, sh, true, values)
		}
		es, err := hsRandomDistinct(txn, key, m, uint64(l), values)
		if err != nil {
			return err
		}
		sh.header(c, len(es))
		for _, e := range es {
			reply(e)
		}
		return nil
	}
	// Negative: -l picks with repeats.
	k := uint64(-l)
	if k >= m.Count {
		es, err := hsLoadAll(txn, key, m, values)
		if err != nil {
			return err
		}
		if uint64(len(es)) != m.Count {
			return hsCountMismatch(key, m, uint64(len(es)))
		}
		sh.header(c, int(k))
		for i := uint64(0); i < k; i++ {
			reply(es[rand.IntN(len(es))])
		}
		return nil
	}
	picks := make([]uint64, k)
	for i := range picks {
		picks[i] = rand.Uint64N(m.Count)
	}
	uniq := slices.Clone(picks)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	es, err := hsEntriesAt(txn, key, m, uniq, values)
	if err != nil {
		return err
	}
	sh.header(c, len(picks))
	for _, p := range picks {
		i, _ := slices.BinarySearch(uniq, p)
		reply(es[i])
	}
	return nil
}

// hsScan serves HSCAN and SSCAN: key cursor [MATCH pattern] [COUNT count].
// The cursor is a handle (from c.Cursors) on the next member to visit.
func hsScan(typ storage.Type) Handler {
	values := typ == storage.TypeHash
	return func(c *Ctx) error {
		key := c.Args[1]
		cursor, err := parseCursor(c.Args[2])
		if err != nil {
			return err
		}
		txn := c.Txn(key)
		m, ok, err := lookup(txn, key, typ)
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
		var from []byte
		if cursor != 0 {
			from = c.Cursors.load(cursor).next
		}
		var out [][]byte
		var next []byte
		more, seen := false, 0
		err = txn.ScanMembers(key, m.Version, from, false, func(member, value []byte) bool {
			if seen >= count {
				more, next = true, append([]byte{}, member...)
				return false
			}
			seen++
			if match == nil || globMatch(match, member) {
				out = append(out, append([]byte{}, member...))
				if values {
					out = append(out, append([]byte{}, value...))
				}
			}
			return true
		})
		if err != nil {
			return err
		}
		var id uint64
		if more {
			id = c.Cursors.save(0, next)
		}
		c.R.Array(2)
		c.R.BulkString(strconv.FormatUint(id, 10))
		c.R.Array(len(out))
		for _, b := range out {
			c.R.Bulk(b)
		}
		return nil
	}
}
