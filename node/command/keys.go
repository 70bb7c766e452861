package command

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

func registerKeys(t *Table) {
	t.Register(
		Spec{Name: "del", Arity: -2, Flags: Write, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Handler: cmdDel},
		Spec{Name: "unlink", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Handler: cmdDel},
		Spec{Name: "exists", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Handler: cmdExists},
		Spec{Name: "touch", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Handler: cmdExists},
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
		Spec{Name: "copy", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Step: 1, Elsewhere: copyElsewhere, Handler: cmdCopy},
		Spec{Name: "renamenx", Arity: 3, Flags: Write | Fast, FirstKey: 1, LastKey: 2, Step: 1, Handler: cmdRename(true)},
		Spec{Name: "keys", Arity: 2, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeConcat, Handler: cmdKeys},
		Spec{Name: "scan", Arity: -2, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeScan, Handler: cmdScan},
		Spec{Name: "randomkey", Arity: 1, Flags: ReadOnly, Cluster: router.TableWide, Merge: router.MergeRandom, Handler: cmdRandomKey},
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
		// An expired key still physically present goes too.
		if err := txn.DeleteKey(key); err != nil {
			return err
		}
		if ok {
			n++
			c.Notify(EventGeneric, "del", key)
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
			c.Notify(EventGeneric, "del", key)
			c.R.Int(1)
			return nil
		}
		m.ExpireMS = when
		if err := txn.PutMeta(key, &m); err != nil {
			return err
		}
		c.Notify(EventGeneric, "expire", key)
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
	c.Notify(EventGeneric, "persist", key)
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
		c.Notify(EventGeneric, "rename_from", src)
		c.Notify(EventGeneric, "rename_to", dst)
		if nx {
			c.R.Int(1)
		} else {
			c.R.OK()
		}
		return nil
	}
}

// copyKey writes src's value under dst (replacing it), keeping the expiry.
func copyKey(st *storage.Txn, src []byte, m storage.Meta, dt *storage.Txn, dst []byte) error {
	d, err := dumpKey(st, src, m)
	if err != nil {
		return err
	}
	return d.restore(dt, dst)
}

// dumped is a key's value read out of storage: its meta (a string's value
// in it) and a collection's members with their values.
type dumped struct {
	m       storage.Meta
	members [][2][]byte
}

// dumpKey reads the value of key, whose live meta is m.
func dumpKey(txn *storage.Txn, key []byte, m storage.Meta) (*dumped, error) {
	d := &dumped{m: m}
	if m.Type == storage.TypeString {
		return d, nil
	}
	d.members = make([][2][]byte, 0, m.Count)
	err := txn.ScanMembers(key, m.Version, nil, false, func(member, value []byte) bool {
		d.members = append(d.members, [2][]byte{bytes.Clone(member), bytes.Clone(value)})
		return uint64(len(d.members)) < m.Count
	})
	if err == nil && uint64(len(d.members)) != m.Count {
		// A scan does not see a unit's pending writes: never copy a
		// collection whose members it did not all find.
		err = hsCountMismatch(key, m, uint64(len(d.members)))
	}
	return d, err
}

// restore writes the value under key (replacing it), with its expiry. A
// collection gets a new version: its members are keyed by its name.
func (d *dumped) restore(txn *storage.Txn, key []byte) error {
	m := d.m
	if m.Type == storage.TypeString {
		return txn.PutMeta(key, &m)
	}
	v, err := txn.NewVersion()
	if err != nil {
		return err
	}
	m.Version = v
	for _, mv := range d.members {
		member, value := mv[0], mv[1]
		if err := txn.PutMember(key, v, member, value); err != nil {
			return err
		}
		if m.Type == storage.TypeZSet && len(value) == 8 {
			if err := txn.PutScore(key, v, storage.DecodeScore(value), member); err != nil {
				return err
			}
		}
	}
	return txn.PutMeta(key, &m)
}

var (
	errSameObject   = Error("ERR source and destination objects are the same")
	errDBOutOfRange = Error("ERR DB index is out of range")
)

// copyArgs parses COPY's options as Redis does, in order: the table it
// copies to (cur unless DB n) and REPLACE. open, when set, is asked about
// every DB n other than cur as it is parsed; its error is the reply.
func copyArgs(args [][]byte, cur storage.TableID, open func(storage.TableID) error) (table storage.TableID, replace bool, err error) {
	table = cur
	for j := 3; j < len(args); j++ {
		switch {
		case isArg(args[j], "replace"):
			replace = true
		case isArg(args[j], "db") && j+1 < len(args):
			j++
			n, err := parseInt(args[j])
			if err != nil {
				return 0, false, err
			}
			if n < math.MinInt32 || n > math.MaxInt32 { // a C int, as SELECT's
				return 0, false, Error("ERR value is out of range, value must between -2147483648 and 2147483647")
			}
			if n < 0 {
				return 0, false, errDBOutOfRange
			}
			table = storage.TableID(n)
			if table != cur && open != nil {
				if err := open(table); err != nil {
					return 0, false, err
				}
			}
		default:
			return 0, false, ErrSyntax
		}
	}
	return table, replace, nil
}

// copyElsewhere is COPY's Spec.Elsewhere: DB n names another table.
func copyElsewhere(args [][]byte, cur storage.TableID) bool {
	t, _, err := copyArgs(args, cur, nil)
	return err == nil && t != cur
}

// cmdCopy is COPY source destination [DB n] [REPLACE]. Within the table
// it runs under both keys' slots' locks. To another table, the source is
// read under its slot's lock, and the destination written afterwards
// under its own table's lock (c.then): never both at once, which could
// deadlock with a COPY the other way; another client may see the
// destination not yet written while the source is already changed.
func cmdCopy(c *Ctx) error {
	src, dst := c.Args[1], c.Args[2]
	slots := c.Slots
	table, replace, err := copyArgs(c.Args, c.Table, func(t storage.TableID) error {
		if c.OtherTable == nil {
			return Error(router.ErrCrossSlot)
		}
		var err error
		slots, err = c.OtherTable(t, dst)
		return err
	})
	if err != nil {
		return err
	}
	if table == c.Table && bytes.Equal(src, dst) {
		return errSameObject
	}
	st := c.Txn(src)
	m, ok, err := st.Meta(src)
	if err != nil {
		return err
	}
	if !ok {
		// An expired source still physically present goes, as Redis's
		// lookup deletes it.
		if err := st.DeleteKey(src); err != nil {
			return err
		}
		c.R.Int(0)
		return nil
	}
	if table == c.Table {
		return copyDumped(c, c.Table, c.Txn(dst), dst, replace, func() (*dumped, error) { return dumpKey(st, src, m) })
	}
	if c.batch != nil {
		// A unit holds its own table's slots (Spec.Elsewhere keeps COPY
		// to another table out of units).
		return Error("ERR COPY to another database cannot run inside this unit")
	}
	d, err := dumpKey(st, src, m)
	if err != nil {
		return err
	}
	slot := router.SlotOf(dst, slots)
	c.then = func() error {
		err := c.Engine.UpdateWith(c.Commits, table, []storage.SlotID{slot}, func(u *storage.Update) error {
			return copyDumped(c, table, u.Txn(slot), dst, replace, func() (*dumped, error) { return d, nil })
		})
		if IsUnapplied(err) {
			// Not routed again: the source's routing cannot help.
			msg, _ := ErrorReply(err)
			return Error(msg)
		}
		return err
	}
	return nil
}

// copyDumped writes the value dump reads under dst in txn (of table t),
// unless dst exists and replace is not set, and replies 1 when it did,
// else 0.
func copyDumped(c *Ctx, t storage.TableID, txn *storage.Txn, dst []byte, replace bool, dump func() (*dumped, error)) error {
	_, exists, err := txn.Meta(dst)
	if err != nil {
		return err
	}
	if exists && !replace {
		c.R.Int(0)
		return nil
	}
	d, err := dump()
	if err != nil {
		return err
	}
	if err := d.restore(txn, dst); err != nil {
		return err
	}
	c.NotifyIn(t, EventGeneric, "copy_to", dst)
	c.R.Int(1)
	return nil
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

// cmdRandomKey is RANDOMKEY over the slots c owns: every live key as
// likely. It picks a rank below the key count, finds the slot holding that
// rank (slots in order, by their counts) and walks the slot's live keys to
// it. Counts include keys expired and not yet swept, which the walk
// passes over: a rank past the slot's live keys is drawn again, a few
// times, before the first live key from there is taken.
func cmdRandomKey(c *Ctx) error {
	total := ownedKeyCount(c)
	if total == 0 {
		c.R.Null()
		return nil
	}
	view := c.Engine.View(c.Table)
	owned := func(s storage.SlotID) bool { return c.OwnsSlot == nil || c.OwnsSlot(s) }
	// nth returns the slot's live key of that rank, nil when it has fewer.
	nth := func(s storage.SlotID, rank int64) ([]byte, error) {
		var found []byte
		seen := int64(0)
		err := view.Txn(s).ScanKeys(nil, func(key []byte, _ storage.Meta) bool {
			if seen == rank {
				found = bytes.Clone(key)
				return false
			}
			seen++
			return true
		})
		return found, err
	}
	const draws = 8
	start := storage.SlotID(0)
	for range draws {
		rank := rand.Int64N(total)
		for s := uint32(0); s < c.Slots; s++ {
			slot := storage.SlotID(s)
			if !owned(slot) {
				continue
			}
			if n := c.Engine.SlotKeyCount(c.Table, slot); rank >= n {
				rank -= n
				continue
			}
			start = slot
			break
		}
		key, err := nth(start, rank)
		if err != nil {
			return err
		}
		if key != nil {
			c.R.Bulk(key)
			return nil
		}
	}
	// Mostly keys expired: the first live key from the last slot drawn.
	for i := uint32(0); i < c.Slots; i++ {
		s := storage.SlotID((uint32(start) + i) % c.Slots)
		if !owned(s) || c.Engine.SlotKeyCount(c.Table, s) == 0 {
			continue
		}
		key, err := nth(s, 0)
		if err != nil {
			return err
		}
		if key != nil {
			c.R.Bulk(key)
			return nil
		}
	}
	c.R.Null()
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
