package command

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pika-node/pika-node/storage"
)

func registerLists(t *Table) {
	rw := Write | DenyOOM
	t.Register(
		Spec{Name: "lpush", Arity: -3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPush(true, false)},
		Spec{Name: "rpush", Arity: -3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPush(false, false)},
		Spec{Name: "lpushx", Arity: -3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPush(true, true)},
		Spec{Name: "rpushx", Arity: -3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPush(false, true)},
		Spec{Name: "lpop", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPop(true, "lpop")},
		Spec{Name: "rpop", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPop(false, "rpop")},
		Spec{Name: "llen", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLLen},
		Spec{Name: "lrange", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLRange},
		Spec{Name: "lindex", Arity: 3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLIndex},
		Spec{Name: "lset", Arity: 4, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLSet},
		Spec{Name: "lrem", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLRem},
		Spec{Name: "ltrim", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLTrim},
		Spec{Name: "linsert", Arity: 5, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLInsert},
		Spec{Name: "lpos", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdLPos},
		Spec{Name: "rpoplpush", Arity: 3, Flags: rw, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdRPopLPush},
		Spec{Name: "lmove", Arity: 5, Flags: rw, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdLMove},
		Spec{Name: "lmpop", Arity: -4, Flags: Write, Keys: mpopKeys, Handler: cmdLMPop},
	)
}

// list is one list key being read or changed by a command. Position i
// (0-based from the head) is the data member ListMember(Head+i).
type list struct {
	txn *storage.Txn
	key []byte
	m   storage.Meta
}

// getList returns key's list; ok is false when the key does not exist.
func getList(c *Ctx, key []byte) (l *list, ok bool, err error) {
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeList)
	if err != nil || !ok {
		return nil, false, err
	}
	return &list{txn: txn, key: key, m: m}, true, nil
}

// getOrCreateList returns key's list, or a new empty one (not yet stored).
func getOrCreateList(c *Ctx, key []byte) (*list, error) {
	txn := c.Txn(key)
	m, err := lookupOrCreate(txn, key, storage.TypeList)
	if err != nil {
		return nil, err
	}
	return &list{txn: txn, key: key, m: m}, nil
}

func (l *list) member(pos uint64) []byte { return storage.ListMember(l.m.Head + pos) }

// at reads the item at pos (which must be in range). It sees the command's
// own earlier writes.
func (l *list) at(pos uint64) ([]byte, error) {
	v, _, err := l.txn.Member(l.key, l.m.Version, l.member(pos))
	return v, err
}

// set writes the item at pos; v must stay valid (PutMember keeps it).
func (l *list) set(pos uint64, v []byte) error {
	return l.txn.PutMember(l.key, l.m.Version, l.member(pos), v)
}

func (l *list) del(pos uint64) error {
	return l.txn.DeleteMember(l.key, l.m.Version, l.member(pos))
}

func (l *list) push(left bool, v []byte) error {
	var idx uint64
	if left {
		l.m.Head--
		idx = l.m.Head
	} else {
		idx = l.m.Tail
		l.m.Tail++
	}
	l.m.Count++
	return l.txn.PutMember(l.key, l.m.Version, storage.ListMember(idx), v)
}

// pop removes and returns the head (left) or tail item; the list must not
// be empty. The item's member is deleted even when the list becomes empty
// (a later push in the same command may reuse the list).
func (l *list) pop(left bool) ([]byte, error) {
	pos := l.m.Count - 1
	if left {
		pos = 0
	}
	v, err := l.at(pos)
	if err != nil {
		return nil, err
	}
	if err := l.del(pos); err != nil {
		return nil, err
	}
	if left {
		l.m.Head++
	} else {
		l.m.Tail--
	}
	l.m.Count--
	return v, nil
}

// scan calls fn for the items from position from (inclusive) towards the
// tail, or towards the head when reverse. It reads the committed list, not
// this command's writes. v is valid only during fn.
func (l *list) scan(from uint64, reverse bool, fn func(pos uint64, v []byte) bool) error {
	if from >= l.m.Count {
		return nil
	}
	return l.txn.ScanMembers(l.key, l.m.Version, l.member(from), reverse, func(member, v []byte) bool {
		if len(member) != 8 {
			return true
		}
		idx := binary.BigEndian.Uint64(member)
		if idx < l.m.Head || idx >= l.m.Tail {
			return false
		}
		return fn(idx-l.m.Head, v)
	})
}

// store writes the meta, or deletes the key when the list became empty.
func (l *list) store() error { return storeCollection(l.txn, l.key, &l.m) }

// pushEvent and popEvent name a push or a pop at the head (left) or tail.
func pushEvent(left bool) string {
	if left {
		return "lpush"
	}
	return "rpush"
}

func popEvent(left bool) string {
	if left {
		return "lpop"
	}
	return "rpop"
}

// notifyPopped emits the events of items popped from l (Redis's
// listElementsRemoved): the pop, then "del" when the list became empty.
func (l *list) notifyPopped(c *Ctx, left bool) {
	c.Notify(EventList, popEvent(left), l.key)
	if l.m.Count == 0 {
		c.Notify(EventGeneric, "del", l.key)
	}
}

// removePositions removes the items at the sorted positions rm, moving the
// items of the shorter side to close the gaps.
func (l *list) removePositions(rm []uint64) error {
	n := l.m.Count
	if len(rm) == 0 {
		return nil
	}
	if uint64(len(rm)) == n {
		l.m.Count = 0
		return nil
	}
	first, last := rm[0], rm[len(rm)-1]
	var werr error
	if n-first <= last+1 {
		// Shift the items after first towards the head.
		w, j := first, 0
		err := l.scan(first, false, func(p uint64, v []byte) bool {
			if j < len(rm) && rm[j] == p {
				j++
				return true
			}
			if p != w {
				werr = l.set(w, bytes.Clone(v))
			}
			w++
			return werr == nil
		})
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		for p := w; p < n; p++ {
			if err := l.del(p); err != nil {
				return err
			}
		}
		l.m.Tail = l.m.Head + w
	} else {
		// Shift the items before last towards the tail. w counts the
		// next free position + 1, so that it cannot go below zero.
		w, j := last+1, len(rm)-1
		err := l.scan(last, true, func(p uint64, v []byte) bool {
			if j >= 0 && rm[j] == p {
				j--
				return true
			}
			if p != w-1 {
				werr = l.set(w-1, bytes.Clone(v))
			}
			w--
			return werr == nil
		})
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		for p := uint64(0); p < w; p++ {
			if err := l.del(p); err != nil {
				return err
			}
		}
		l.m.Head += w
	}
	l.m.Count -= uint64(len(rm))
	return nil
}

func cmdPush(left, onlyExisting bool) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		var l *list
		if onlyExisting {
			var ok bool
			var err error
			l, ok, err = getList(c, key)
			if err != nil {
				return err
			}
			if !ok {
				c.R.Int(0)
				return nil
			}
		} else {
			var err error
			if l, err = getOrCreateList(c, key); err != nil {
				return err
			}
		}
		for _, v := range c.Args[2:] {
			if err := l.push(left, v); err != nil {
				return err
			}
		}
		if err := l.store(); err != nil {
			return err
		}
		c.Notify(EventList, pushEvent(left), key)
		c.R.Int(int64(l.m.Count))
		return nil
	}
}

func cmdPop(left bool, name string) Handler {
	return func(c *Ctx) error {
		if len(c.Args) > 3 {
			return wrongArgs(name)
		}
		hasCount := len(c.Args) == 3
		count := int64(1)
		if hasCount {
			n, err := parseInt(c.Args[2])
			if err != nil || n < 0 {
				return ErrNotPositive
			}
			count = n
		}
		l, ok, err := getList(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			if hasCount {
				c.R.NullArray()
			} else {
				c.R.Null()
			}
			return nil
		}
		if !hasCount {
			v, err := l.pop(left)
			if err != nil {
				return err
			}
			if err := l.store(); err != nil {
				return err
			}
			l.notifyPopped(c, left)
			c.R.Bulk(v)
			return nil
		}
		return l.popReply(c, left, uint64(count))
	}
}

// popReply pops up to count items from the head (left) or the tail and
// replies with them as an array, in the order popped; popping none (count
// 0) emits no event.
func (l *list) popReply(c *Ctx, left bool, count uint64) error {
	n := min(count, l.m.Count)
	c.R.Array(int(n))
	if n == 0 {
		return nil
	}
	from := uint64(0)
	if !left {
		from = l.m.Count - 1
	}
	var got uint64
	err := l.scan(from, !left, func(_ uint64, v []byte) bool {
		c.R.Bulk(v)
		got++
		return got < n
	})
	if err != nil {
		return err
	}
	if got != n {
		// The header promised n items (see cmdLRange).
		return fmt.Errorf("list %q: %d items popped, want %d", l.key, got, n)
	}
	if n == l.m.Count {
		l.m.Count = 0
	} else {
		for i := uint64(0); i < n; i++ {
			pos := i
			if !left {
				pos = l.m.Count - 1 - i
			}
			if err := l.del(pos); err != nil {
				return err
			}
		}
		if left {
			l.m.Head += n
		} else {
			l.m.Tail -= n
		}
		l.m.Count -= n
	}
	if err := l.store(); err != nil {
		return err
	}
	l.notifyPopped(c, left)
	return nil
}

// mpopNumKeys parses the numkeys of LMPOP and ZMPOP as Redis does; the
// keys must be followed by the side argument.
func mpopNumKeys(args [][]byte) (int, error) {
	n, err := parseInt(args[1])
	if err != nil || n < 1 {
		return 0, Error("ERR numkeys should be greater than 0")
	}
	if n >= int64(len(args)-2) {
		return 0, ErrSyntax
	}
	return int(n), nil
}

// mpopKeys is the Keys func of LMPOP and ZMPOP: numkeys key [key ...].
func mpopKeys(args [][]byte) ([][]byte, error) {
	n, err := mpopNumKeys(args)
	if err != nil {
		return nil, err
	}
	return args[2 : 2+n], nil
}

// mpopArgs parses numkeys key [key ...] first|second [COUNT count] as
// LMPOP (LEFT|RIGHT) and ZMPOP (MIN|MAX) do: isFirst says which side was
// named; count is 1 by default.
func mpopArgs(args [][]byte, first, second string) (keys [][]byte, isFirst bool, count int64, err error) {
	n, err := mpopNumKeys(args)
	if err != nil {
		return nil, false, 0, err
	}
	keys = args[2 : 2+n]
	switch side := args[2+n]; {
	case isArg(side, first):
		isFirst = true
	case isArg(side, second):
	default:
		return nil, false, 0, ErrSyntax
	}
	count = -1
	for j := 3 + n; j < len(args); j++ {
		if count != -1 || !isArg(args[j], "count") || j+1 >= len(args) {
			return nil, false, 0, ErrSyntax
		}
		j++
		if count, err = parseInt(args[j]); err != nil || count < 1 {
			return nil, false, 0, Error("ERR count should be greater than 0")
		}
	}
	if count == -1 {
		count = 1
	}
	return keys, isFirst, count, nil
}

// mpop runs LMPOP or ZMPOP: pop pops from key (isFirst and count as
// mpopArgs gives them) and replies [key, popped] when key exists; the
// first key that does is popped from, else the reply is a null array.
func mpop(c *Ctx, first, second string, pop func(key []byte, isFirst bool, count int64) (bool, error)) error {
	keys, isFirst, count, err := mpopArgs(c.Args, first, second)
	if err != nil {
		return err
	}
	return popFirst(c, keys, func(key []byte) (bool, error) { return pop(key, isFirst, count) })
}

// popFirst pops from the first of keys that pop finds something in (it
// replies and answers true), or replies a null array: the shape of LMPOP,
// ZMPOP, BLPOP and BZPOPMIN.
func popFirst(c *Ctx, keys [][]byte, pop func(key []byte) (bool, error)) error {
	for _, key := range keys {
		if ok, err := pop(key); err != nil || ok {
			return err
		}
	}
	c.R.NullArray()
	return nil
}

// cmdLMPop is LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: it
// pops from the first list of the keys and replies [key, [item ...]], or
// a null array.
func cmdLMPop(c *Ctx) error {
	return mpop(c, "left", "right", func(key []byte, left bool, count int64) (bool, error) {
		l, ok, err := getList(c, key)
		if err != nil || !ok {
			return false, err
		}
		c.R.Array(2)
		c.R.Bulk(key)
		return true, l.popReply(c, left, uint64(count))
	})
}

func cmdLLen(c *Ctx) error {
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	c.R.Int(int64(l.m.Count))
	return nil
}

// indexRange converts Redis start/end indexes (negative from the end) over
// n items to [start, end] inclusive; ok is false for an empty range.
func indexRange(start, end, n int64) (int64, int64, bool) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= n {
		return 0, 0, false
	}
	if end >= n {
		end = n - 1
	}
	return start, end, true
}

func cmdLRange(c *Ctx) error {
	start, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	end, err := parseInt(c.Args[3])
	if err != nil {
		return err
	}
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Array(0)
		return nil
	}
	start, end, ok = indexRange(start, end, int64(l.m.Count))
	if !ok {
		c.R.Array(0)
		return nil
	}
	n := end - start + 1
	c.R.Array(int(n))
	var got int64
	err = l.scan(uint64(start), false, func(_ uint64, v []byte) bool {
		c.R.Bulk(v)
		got++
		return got < n
	})
	if err == nil && got != n {
		// The header promised n items: never send fewer (the client
		// would wait for the rest); the error replaces the reply.
		err = fmt.Errorf("list %q has %d items in [%d, %d], want %d", c.Args[1], got, start, end, n)
	}
	return err
}

func cmdLIndex(c *Ctx) error {
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	idx, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	n := int64(l.m.Count)
	if idx < 0 {
		idx += n
	}
	if idx < 0 || idx >= n {
		c.R.Null()
		return nil
	}
	v, err := l.at(uint64(idx))
	if err != nil {
		return err
	}
	c.R.Bulk(v)
	return nil
}

func cmdLSet(c *Ctx) error {
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSuchKey
	}
	idx, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	n := int64(l.m.Count)
	if idx < 0 {
		idx += n
	}
	if idx < 0 || idx >= n {
		return ErrOutOfRange
	}
	if err := l.set(uint64(idx), c.Args[3]); err != nil {
		return err
	}
	c.Notify(EventList, "lset", l.key)
	c.R.OK()
	return nil
}

func cmdLRem(c *Ctx) error {
	count, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	elem := c.Args[3]
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	reverse := count < 0
	limit := uint64(count)
	from := uint64(0)
	if reverse {
		limit = -uint64(count) // also right for math.MinInt64
		from = l.m.Count - 1
	}
	var rm []uint64
	err = l.scan(from, reverse, func(p uint64, v []byte) bool {
		if bytes.Equal(v, elem) {
			rm = append(rm, p)
		}
		return limit == 0 || uint64(len(rm)) < limit
	})
	if err != nil {
		return err
	}
	if len(rm) == 0 {
		c.R.Int(0)
		return nil
	}
	if reverse {
		for i, j := 0, len(rm)-1; i < j; i, j = i+1, j-1 {
			rm[i], rm[j] = rm[j], rm[i]
		}
	}
	if err := l.removePositions(rm); err != nil {
		return err
	}
	if err := l.store(); err != nil {
		return err
	}
	c.Notify(EventList, "lrem", l.key)
	if l.m.Count == 0 {
		c.Notify(EventGeneric, "del", l.key)
	}
	c.R.Int(int64(len(rm)))
	return nil
}

func cmdLTrim(c *Ctx) error {
	start, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	end, err := parseInt(c.Args[3])
	if err != nil {
		return err
	}
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.OK()
		return nil
	}
	n := l.m.Count
	start, end, ok = indexRange(start, end, int64(n))
	if !ok {
		l.m.Count = 0
		if err := l.store(); err != nil {
			return err
		}
		c.Notify(EventList, "ltrim", l.key)
		c.Notify(EventGeneric, "del", l.key)
		c.R.OK()
		return nil
	}
	ltrim, rtrim := uint64(start), n-uint64(end)-1
	for p := uint64(0); p < ltrim; p++ {
		if err := l.del(p); err != nil {
			return err
		}
	}
	for p := n - rtrim; p < n; p++ {
		if err := l.del(p); err != nil {
			return err
		}
	}
	if ltrim+rtrim > 0 {
		l.m.Head += ltrim
		l.m.Tail -= rtrim
		l.m.Count -= ltrim + rtrim
		if err := l.store(); err != nil {
			return err
		}
	}
	c.Notify(EventList, "ltrim", l.key) // even when nothing was trimmed
	c.R.OK()
	return nil
}

func cmdLInsert(c *Ctx) error {
	var after bool
	switch {
	case isArg(c.Args[2], "after"):
		after = true
	case isArg(c.Args[2], "before"):
	default:
		return ErrSyntax
	}
	pivot, elem := c.Args[3], c.Args[4]
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	found := false
	var at uint64
	err = l.scan(0, false, func(p uint64, v []byte) bool {
		if bytes.Equal(v, pivot) {
			found, at = true, p
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if !found {
		c.R.Int(-1)
		return nil
	}
	if after {
		at++
	}
	// The new item goes to position at; move the shorter side.
	n := l.m.Count
	var werr error
	if at <= n-at {
		if at > 0 {
			err = l.scan(0, false, func(p uint64, v []byte) bool {
				werr = l.txn.PutMember(l.key, l.m.Version, storage.ListMember(l.m.Head+p-1), bytes.Clone(v))
				return werr == nil && p+1 < at
			})
		}
		l.m.Head--
	} else {
		err = l.scan(at, false, func(p uint64, v []byte) bool {
			werr = l.set(p+1, bytes.Clone(v))
			return werr == nil
		})
		l.m.Tail++
	}
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	l.m.Count++
	if err := l.set(at, elem); err != nil {
		return err
	}
	if err := l.store(); err != nil {
		return err
	}
	c.Notify(EventList, "linsert", l.key)
	c.R.Int(int64(l.m.Count))
	return nil
}

func cmdLPos(c *Ctx) error {
	elem := c.Args[2]
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(c.Args); j++ {
		more := j+1 < len(c.Args)
		switch {
		case isArg(c.Args[j], "rank") && more:
			j++
			n, err := parseInt(c.Args[j])
			if err != nil {
				return err
			}
			if n == 0 {
				return Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
			}
			rank = n
		case isArg(c.Args[j], "count") && more:
			j++
			n, err := parseInt(c.Args[j])
			if err != nil || n < 0 {
				return Error("ERR COUNT can't be negative")
			}
			count = n
		case isArg(c.Args[j], "maxlen") && more:
			j++
			n, err := parseInt(c.Args[j])
			if err != nil || n < 0 {
				return Error("ERR MAXLEN can't be negative")
			}
			maxlen = n
		default:
			return ErrSyntax
		}
	}
	l, ok, err := getList(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		if count != -1 {
			c.R.Array(0)
		} else {
			c.R.Null()
		}
		return nil
	}
	// As Redis 7.0 does, with its int64 arithmetic (RANK -2^63 wraps).
	reverse := false
	if rank < 0 {
		rank = -rank
		reverse = true
	}
	llen := int64(l.m.Count)
	from := uint64(0)
	if reverse {
		from = l.m.Count - 1
	}
	var index, matches int64
	var found []int64
	hit := false
	err = l.scan(from, reverse, func(_ uint64, v []byte) bool {
		if maxlen != 0 && index >= maxlen {
			return false
		}
		if bytes.Equal(v, elem) {
			matches++
			if matches >= rank {
				pos := index
				if reverse {
					pos = llen - index - 1
				}
				if count == -1 {
					hit = true
					found = append(found, pos)
					return false
				}
				found = append(found, pos)
				if count != 0 && matches-rank+1 >= count {
					return false
				}
			}
		}
		index++
		return true
	})
	if err != nil {
		return err
	}
	if count == -1 {
		if hit {
			c.R.Int(found[0])
		} else {
			c.R.Null()
		}
		return nil
	}
	c.R.Array(len(found))
	for _, p := range found {
		c.R.Int(p)
	}
	return nil
}

func cmdRPopLPush(c *Ctx) error { return lmove(c, c.Args[1], c.Args[2], false, true) }

func cmdLMove(c *Ctx) error {
	side := func(b []byte) (left bool, err error) {
		switch strings.ToLower(string(b)) {
		case "left":
			return true, nil
		case "right":
			return false, nil
		}
		return false, ErrSyntax
	}
	from, err := side(c.Args[3])
	if err != nil {
		return err
	}
	to, err := side(c.Args[4])
	if err != nil {
		return err
	}
	return lmove(c, c.Args[1], c.Args[2], from, to)
}

// lmove pops an item from src and pushes it onto dst (which may be src).
func lmove(c *Ctx, src, dst []byte, fromLeft, toLeft bool) error {
	sl, ok, err := getList(c, src)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	dl := sl
	if !bytes.Equal(src, dst) {
		if dl, err = getOrCreateList(c, dst); err != nil {
			return err
		}
	}
	v, err := sl.pop(fromLeft)
	if err != nil {
		return err
	}
	if err := dl.push(toLeft, v); err != nil {
		return err
	}
	if dl != sl {
		if err := sl.store(); err != nil {
			return err
		}
	}
	if err := dl.store(); err != nil {
		return err
	}
	// As Redis: the push on dst, then the pop on src (and its "del").
	c.Notify(EventList, pushEvent(toLeft), dst)
	sl.notifyPopped(c, fromLeft)
	c.R.Bulk(v)
	return nil
}
