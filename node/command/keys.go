package command

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

func registerKeys(t *Table) {
	t.Register(
		Spec{Name: "del", Arity: -2, Flags: Write, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Merge: router.MergeSum, Handler: cmdDel},
		Spec{Name: "unlink", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Merge: router.MergeSum, Handler: cmdDel},
		Spec{Name: "exists", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Merge: router.MergeSum, Handler: cmdExists},
		Spec{Name: "touch", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Merge: router.MergeSum, Handler: cmdExists},
		Spec{Name: "type", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdType},
		Spec{Name: "expire", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdExpire(1000, false, "expire")},
		Spec{Name: "pexpire", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdExpire(1, false, "pexpire")},
		Spec{Name: "expireat", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdExpire(1000, true, "expireat")},
		Spec{Name: "pexpireat", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdExpire(1, true, "pexpireat")},
		Spec{Name: "ttl", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdTTL(false, false)},
		Spec{Name: "pttl", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdTTL(true, false)},
		Spec{Name: "expiretime", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdTTL(false, true)},
		Spec{Name: "pexpiretime", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdTTL(true, true)},
		Spec{Name: "persist", Arity: 2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPersist},
		Spec{Name: "rename", Arity: 3, Flags: Write, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdRename(false)},
		Spec{Name: "renamenx", Arity: 3, Flags: Write | Fast, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdRename(true)},
		Spec{Name: "keys", Arity: 2, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeConcat, Handler: cmdKeys},
		Spec{Name: "scan", Arity: -2, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeScan, Handler: cmdScan},
		Spec{Name: "randomkey", Arity: 1, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeFirst, Handler: cmdRandomKey},
		Spec{Name: "dbsize", Arity: 1, Flags: ReadOnly | Fast, Cluster: router.TableWide, Merge: router.MergeSum, Handler: cmdDBSize},
		Spec{Name: "flushdb", Arity: -1, Flags: Write, Cluster: router.TableWide, Merge: router.MergeOK, Handler: cmdFlush},
		Spec{Name: "flushall", Arity: -1, Flags: Write, Cluster: router.TableWide, Merge: router.MergeOK, Handler: cmdFlush},
	)
}

func cmdDel(c *Ctx) error {
	var n int64
	for _, key := range c.Args[1:] {
		txn := c.Txn(key)
		_, ok, err := txn.Meta(key)
		if err != nil {
			return err
		}
		if ok {
			n++
		}
		// An expired key still physically present goes too.
		if err := txn.DeleteKey(key); err != nil {
			return err
		}
	}
	c.R.Int(n)
	return nil
}

func cmdExists(c *Ctx) error {
	var n int64
	for _, key := range c.Args[1:] {
		_, ok, err := c.Txn(key).Meta(key)
		if err != nil {
			return err
		}
		if ok {
			n++
		}
	}
	c.R.Int(n)
	return nil
}

func cmdType(c *Ctx) error {
	m, ok, err := c.Txn(c.Args[1]).Meta(c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Simple("none")
		return nil
	}
	c.R.Simple(m.Type.String())
	return nil
}

func cmdExpire(unit int64, absolute bool, name string) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		when, err := parseInt(c.Args[2])
		if err != nil {
			return err
		}
		var nx, xx, gt, lt bool
		for _, a := range c.Args[3:] {
			switch {
			case isArg(a, "nx"):
				nx = true
			case isArg(a, "xx"):
				xx = true
			case isArg(a, "gt"):
				gt = true
			case isArg(a, "lt"):
				lt = true
			default:
				return Error("ERR Unsupported option " + string(a))
			}
		}
		if nx && (xx || gt || lt) {
			return Error("ERR NX and XX, GT or LT options at the same time are not compatible")
		}
		if gt && lt {
			return Error("ERR GT and LT options at the same time are not compatible")
		}
		bad := Error("ERR invalid expire time in '" + name + "' command")
		if unit == 1000 {
			if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
				return bad
			}
			when *= 1000
		}
		if !absolute {
			now := c.NowMS()
			if when > math.MaxInt64-now {
				return bad
			}
			when += now
		}
		txn := c.Txn(key)
		m, ok, err := txn.Meta(key)
		if err != nil {
			return err
		}
		if !ok {
			c.R.Int(0)
			return nil
		}
		cur := m.ExpireMS // 0 = persistent, treated as infinite TTL
		if (nx && cur != 0) || (xx && cur == 0) || (gt && (cur == 0 || when <= cur)) || (lt && cur != 0 && when >= cur) {
			c.R.Int(0)
			return nil
		}
		if when <= c.NowMS() {
			if err := txn.DeleteKey(key); err != nil {
				return err
			}
			c.R.Int(1)
			return nil
		}
		m.ExpireMS = when
		if err := txn.PutMeta(key, &m); err != nil {
			return err
		}
		c.R.Int(1)
		return nil
	}
}

func cmdTTL(ms, absolute bool) Handler {
	return func(c *Ctx) error {
		m, ok, err := c.Txn(c.Args[1]).Meta(c.Args[1])
		if err != nil {
			return err
		}
		switch {
		case !ok:
			c.R.Int(-2)
		case m.ExpireMS == 0:
			c.R.Int(-1)
		default:
			v := m.ExpireMS
			if !absolute {
				v -= c.NowMS()
			}
			v = max(v, 0)
			if !ms {
				v = (v + 500) / 1000
			}
			c.R.Int(v)
		}
		return nil
	}
}

func cmdPersist(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, ok, err := txn.Meta(key)
	if err != nil {
		return err
	}
	if !ok || m.ExpireMS == 0 {
		c.R.Int(0)
		return nil
	}
	m.ExpireMS = 0
	if err := txn.PutMeta(key, &m); err != nil {
		return err
	}
	c.R.Int(1)
	return nil
}

func cmdRename(nx bool) Handler {
	return func(c *Ctx) error {
		src, dst := c.Args[1], c.Args[2]
		st := c.Txn(src)
		m, ok, err := st.Meta(src)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNoSuchKey
		}
		dt := c.Txn(dst)
		if string(src) == string(dst) {
			if nx {
				c.R.Int(0)
			} else {
				c.R.OK()
			}
			return nil
		}
		if nx {
			_, exists, err := dt.Meta(dst)
			if err != nil {
				return err
			}
			if exists {
				c.R.Int(0)
				return nil
			}
		}
		if err := copyKey(st, src, m, dt, dst); err != nil {
			return err
		}
		if err := st.DeleteKey(src); err != nil {
			return err
		}
		if nx {
			c.R.Int(1)
		} else {
			c.R.OK()
		}
		return nil
	}
}

// copyKey writes src's value under dst (replacing it), keeping the expiry.
// Collections are copied member by member under a new version: a
// collection's members are keyed by its name.
func copyKey(st *storage.Txn, src []byte, m storage.Meta, dt *storage.Txn, dst []byte) error {
	if m.Type == storage.TypeString {
		return dt.PutMeta(dst, &m)
	}
	v, err := dt.NewVersion()
	if err != nil {
		return err
	}
	old := m.Version
	m.Version = v
	var werr error
	err = st.ScanMembers(src, old, nil, false, func(member, value []byte) bool {
		member, value = append([]byte(nil), member...), append([]byte(nil), value...)
		if werr = dt.PutMember(dst, v, member, value); werr != nil {
			return false
		}
		if m.Type == storage.TypeZSet && len(value) == 8 {
			werr = dt.PutScore(dst, v, storage.DecodeScore(value), member)
		}
		return werr == nil
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	return dt.PutMeta(dst, &m)
}

// forEachKey walks the live keys of the table, slot by slot, from (slot,
// from); fn returns false to stop. It returns where it stopped: the slot and
// the next key to visit, or done.
func forEachKey(c *Ctx, slot storage.SlotID, from []byte, fn func(key []byte, m storage.Meta) bool) (nextSlot storage.SlotID, next []byte, done bool, err error) {
	return forEachOwnedKey(c, slot, from, false, fn)
}

// forEachOwnedKey is forEachKey over the slots c.OwnsSlot allows: a slot
// it does not own is skipped, or, with stopAtForeign, ends the walk there
// (returning that slot with a nil next key).
func forEachOwnedKey(c *Ctx, slot storage.SlotID, from []byte, stopAtForeign bool, fn func(key []byte, m storage.Meta) bool) (nextSlot storage.SlotID, next []byte, done bool, err error) {
	view := c.Engine.View(c.Table)
	for s := slot; uint32(s) < c.Slots; s++ {
		if c.OwnsSlot != nil && !c.OwnsSlot(s) {
			if stopAtForeign {
				return s, nil, false, nil
			}
			from = nil
			continue
		}
		stopped := false
		err = view.Txn(s).ScanKeys(from, func(key []byte, m storage.Meta) bool {
			if !fn(key, m) {
				stopped = true
				next = append([]byte(nil), key...)
				return false
			}
			return true
		})
		if err != nil {
			return 0, nil, false, err
		}
		if stopped {
			return s, next, false, nil
		}
		from = nil
	}
	return 0, nil, true, nil
}

func cmdKeys(c *Ctx) error {
	pattern := c.Args[1]
	all := string(pattern) == "*"
	var keys [][]byte
	_, _, _, err := forEachKey(c, 0, nil, func(key []byte, _ storage.Meta) bool {
		if all || globMatch(pattern, key) {
			keys = append(keys, append([]byte(nil), key...))
		}
		return true
	})
	if err != nil {
		return err
	}
	c.R.Array(len(keys))
	for _, k := range keys {
		c.R.Bulk(k)
	}
	return nil
}

// scanOptions parses [MATCH p] [COUNT n] [TYPE t] (TYPE only if allowType).
func scanOptions(args [][]byte, allowType bool) (match []byte, count int, typ string, err error) {
	count = 10
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return nil, 0, "", ErrSyntax
		}
		a, v := args[i], args[i+1]
		switch {
		case isArg(a, "match"):
			match = v
			if string(match) == "*" {
				match = nil
			}
		case isArg(a, "count"):
			n, err := parseInt(v)
			if err != nil {
				return nil, 0, "", err
			}
			if n < 1 {
				return nil, 0, "", ErrSyntax
			}
			count = int(min(n, 1<<20))
		case isArg(a, "type") && allowType:
			typ = string(v)
		default:
			return nil, 0, "", ErrSyntax
		}
	}
	return match, count, typ, nil
}

func cmdScan(c *Ctx) error {
	cursor, err := parseCursor(c.Args[1])
	if err != nil {
		return err
	}
	match, count, typ, err := scanOptions(c.Args[2:], true)
	if err != nil {
		return err
	}
	pos := c.Cursors.load(cursor)
	if uint32(pos.slot) >= c.Slots {
		pos = cursorPos{}
	}
	var keys [][]byte
	seen := 0
	slot, next, done, err := forEachOwnedKey(c, pos.slot, pos.next, true, func(key []byte, m storage.Meta) bool {
		if seen >= count {
			return false
		}
		seen++
		if (match == nil || globMatch(match, key)) && (typ == "" || isArg([]byte(m.Type.String()), typ)) {
			keys = append(keys, append([]byte(nil), key...))
		}
		return true
	})
	if err != nil {
		return err
	}
	var out uint64
	switch {
	case done:
	case next == nil: // stopped at a slot another node leads
		out = SlotStartCursor(slot)
	default:
		out = c.Cursors.save(slot, next)
	}
	c.R.Array(2)
	c.R.BulkString(strconv.FormatUint(out, 10))
	c.R.Array(len(keys))
	for _, k := range keys {
		c.R.Bulk(k)
	}
	return nil
}

func cmdRandomKey(c *Ctx) error {
	if ownedKeyCount(c) == 0 {
		c.R.Null()
		return nil
	}
	start := storage.SlotID(rand.Uint32N(c.Slots))
	// Walk from a random slot, wrapping once, to the first live key.
	var found []byte
	for i := uint32(0); i < c.Slots && found == nil; i++ {
		s := storage.SlotID((uint32(start) + i) % c.Slots)
		if (c.OwnsSlot != nil && !c.OwnsSlot(s)) || c.Engine.SlotKeyCount(c.Table, s) == 0 {
			continue
		}
		err := c.Engine.View(c.Table).Txn(s).ScanKeys(nil, func(key []byte, _ storage.Meta) bool {
			found = append([]byte(nil), key...)
			return false
		})
		if err != nil {
			return err
		}
	}
	if found == nil {
		c.R.Null()
		return nil
	}
	c.R.Bulk(found)
	return nil
}

func cmdDBSize(c *Ctx) error {
	c.R.Int(ownedKeyCount(c))
	return nil
}

// ownedKeyCount is the table's key count over the slots c owns.
func ownedKeyCount(c *Ctx) int64 {
	keys, _ := c.Engine.CountsWhere(c.Table, c.OwnsSlot)
	return keys
}

func cmdFlush(c *Ctx) error {
	if len(c.Args) > 2 || (len(c.Args) == 2 && !isArg(c.Args[1], "async") && !isArg(c.Args[1], "sync")) {
		return ErrSyntax
	}
	// Through the write path, slot by slot: replicated like any write.
	if err := c.Engine.FlushSlots(c.Table, c.Slots, c.OwnsSlot, c.Commits); err != nil {
		return err
	}
	c.R.OK()
	return nil
}
