package command

import (
	"math/rand/v2"
	"slices"

	"github.com/pika-node/pika-node/storage"
)

// A set is a collection: its meta counts the members, and each member is
// one data-CF member with an empty value.

func registerSets(t *Table) {
	spec := func(name string, arity int, f Flags, first, last int, h Handler) Spec {
		return Spec{Name: name, Arity: arity, Flags: f, FirstKey: first, LastKey: last, Step: 1, Handler: h}
	}
	rw := Write | DenyOOM
	t.Register(
		spec("sadd", -3, rw|Fast, 1, 1, cmdSAdd),
		spec("srem", -3, Write|Fast, 1, 1, cmdRemoveMembers(storage.TypeSet, EventSet, "srem")),
		spec("scard", 2, ReadOnly|Fast, 1, 1, cmdCard(storage.TypeSet)),
		spec("sismember", 3, ReadOnly|Fast, 1, 1, cmdSIsMember),
		spec("smismember", -3, ReadOnly|Fast, 1, 1, cmdSMIsMember),
		spec("smembers", 2, ReadOnly, 1, 1, cmdSMembers),
		spec("spop", -2, Write|Fast, 1, 1, cmdSPop),
		spec("srandmember", -2, ReadOnly, 1, 1, cmdSRandMember),
		spec("smove", 4, Write|Fast, 1, 2, cmdSMove),
		spec("sinter", -2, ReadOnly, 1, -1, cmdSInter),
		Spec{Name: "sintercard", Arity: -3, Flags: ReadOnly, Keys: sintercardKeys, Handler: cmdSInterCard},
		spec("sinterstore", -3, rw, 1, -1, cmdSInterStore),
		spec("sunion", -2, ReadOnly, 1, -1, cmdSUnionDiff(false, false)),
		spec("sunionstore", -3, rw, 1, -1, cmdSUnionDiff(false, true)),
		spec("sdiff", -2, ReadOnly, 1, -1, cmdSUnionDiff(true, false)),
		spec("sdiffstore", -3, rw, 1, -1, cmdSUnionDiff(true, true)),
		spec("sscan", -3, ReadOnly, 1, 1, hsScan(storage.TypeSet)),
	)
}

func cmdSAdd(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, err := lookupOrCreate(txn, key, storage.TypeSet)
	if err != nil {
		return err
	}
	var added int64
	for _, member := range c.Args[2:] {
		_, exists, err := txn.Member(key, m.Version, member)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		if err := txn.PutMember(key, m.Version, member, nil); err != nil {
			return err
		}
		added++
	}
	if added > 0 {
		m.Count += uint64(added)
		if err := txn.PutMeta(key, &m); err != nil {
			return err
		}
		c.Notify(EventSet, "sadd", key)
	}
	c.R.Int(added)
	return nil
}

func cmdSIsMember(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeSet)
	if err != nil {
		return err
	}
	if ok {
		_, ok, err = txn.Member(key, m.Version, c.Args[2])
		if err != nil {
			return err
		}
	}
	if ok {
		c.R.Int(1)
	} else {
		c.R.Int(0)
	}
	return nil
}

func cmdSMIsMember(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeSet)
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.R.Array(len(members))
	for _, member := range members {
		found := false
		if ok {
			if _, found, err = txn.Member(key, m.Version, member); err != nil {
				return err
			}
		}
		if found {
			c.R.Int(1)
		} else {
			c.R.Int(0)
		}
	}
	return nil
}

func cmdSMembers(c *Ctx) error {
	key := c.Args[1]
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeSet)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Set(0)
		return nil
	}
	return hsStreamAll(c, txn, key, m, shapeSet, true, false)
}

// cmdSPop removes random members. The choice is made here, at evaluation:
// the effect records the removed members, so replicas apply the same ones.
func cmdSPop(c *Ctx) error {
	key := c.Args[1]
	if len(c.Args) > 3 {
		return ErrSyntax
	}
	withCount := len(c.Args) == 3
	var count uint64
	if withCount {
		n, err := parseInt(c.Args[2])
		if err != nil || n < 0 {
			return ErrNotPositive
		}
		count = uint64(n)
	}
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeSet)
	if err != nil {
		return err
	}
	if !ok {
		if withCount {
			c.R.Set(0)
		} else {
			c.R.Null()
		}
		return nil
	}
	if !withCount {
		es, err := hsEntriesAt(txn, key, m, []uint64{rand.Uint64N(m.Count)}, false)
		if err != nil {
			return err
		}
		if err := setRemove(txn, key, &m, es); err != nil {
			return err
		}
		c.Notify(EventSet, "spop", key)
		if m.Count == 0 {
			c.Notify(EventGeneric, "del", key)
		}
		c.R.Bulk(es[0].member)
		return nil
	}
	if count == 0 {
		c.R.Set(0)
		return nil
	}
	if count >= m.Count {
		// All of it: reply with every member and drop the key at once.
		if err := hsStreamAll(c, txn, key, m, shapeSet, true, false); err != nil {
			return err
		}
		if err := txn.DeleteKey(key); err != nil {
			return err
		}
		c.Notify(EventSet, "spop", key)
		c.Notify(EventGeneric, "del", key)
		return nil
	}
	es, err := hsRandomDistinct(txn, key, m, count, false)
	if err != nil {
		return err
	}
	if err := setRemove(txn, key, &m, es); err != nil {
		return err
	}
	c.Notify(EventSet, "spop", key) // count < size: the set stays
	c.R.Set(len(es))
	for _, e := range es {
		c.R.Bulk(e.member)
	}
	return nil
}

// setRemove deletes members known to be in the set and stores its meta.
func setRemove(txn *storage.Txn, key []byte, m *storage.Meta, es []hsEntry) error {
	for _, e := range es {
		if err := txn.DeleteMember(key, m.Version, e.member); err != nil {
			return err
		}
	}
	m.Count -= uint64(len(es))
	return storeCollection(txn, key, m)
}

func cmdSRandMember(c *Ctx) error { return hsRandom(c, storage.TypeSet) }

func cmdSMove(c *Ctx) error {
	src, dst, member := c.Args[1], c.Args[2], c.Args[3]
	st, dt := c.Txn(src), c.Txn(dst)
	sm, ok, err := lookup(st, src, storage.TypeSet)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	dm, dok, err := lookup(dt, dst, storage.TypeSet)
	if err != nil {
		return err
	}
	_, in, err := st.Member(src, sm.Version, member)
	if err != nil {
		return err
	}
	if !in || string(src) == string(dst) {
		if in {
			c.R.Int(1)
		} else {
			c.R.Int(0)
		}
		return nil
	}
	if err := setRemove(st, src, &sm, []hsEntry{{member: member}}); err != nil {
		return err
	}
	c.Notify(EventSet, "srem", src)
	if sm.Count == 0 {
		c.Notify(EventGeneric, "del", src)
	}
	if !dok {
		if dm, err = lookupOrCreate(dt, dst, storage.TypeSet); err != nil {
			return err
		}
	}
	_, there, err := dt.Member(dst, dm.Version, member)
	if err != nil {
		return err
	}
	if !there {
		if err := dt.PutMember(dst, dm.Version, member, nil); err != nil {
			return err
		}
		dm.Count++
		if err := dt.PutMeta(dst, &dm); err != nil {
			return err
		}
		c.Notify(EventSet, "sadd", dst)
	}
	c.R.Int(1)
	return nil
}

// setSource is one input of a multi-key set command.
type setSource struct {
	key []byte
	txn *storage.Txn
	m   storage.Meta
	ok  bool // false: missing, an empty set
}

// setSources looks up every key: missing keys are empty sets, a key of
// another type is ErrWrongType.
func setSources(c *Ctx, keys [][]byte) ([]setSource, error) {
	srcs := make([]setSource, len(keys))
	for i, k := range keys {
		txn := c.Txn(k)
		m, ok, err := lookup(txn, k, storage.TypeSet)
		if err != nil {
			return nil, err
		}
		srcs[i] = setSource{key: k, txn: txn, m: m, ok: ok}
	}
	return srcs, nil
}

func (s *setSource) has(member []byte) (bool, error) {
	if !s.ok {
		return false, nil
	}
	_, ok, err := s.txn.Member(s.key, s.m.Version, member)
	return ok, err
}

// setInter calls fn (when not nil) for the members of the intersection,
// at most limit of them (0: all), and returns how many it found. It scans
// the smallest set and looks each member up in the others.
func setInter(srcs []setSource, limit uint64, fn func(member []byte)) (uint64, error) {
	for i := range srcs {
		if !srcs[i].ok {
			return 0, nil
		}
	}
	order := make([]int, len(srcs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := srcs[a].m.Count, srcs[b].m.Count
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return 0
	})
	small := srcs[order[0]]
	var n uint64
	var lerr error
	err := small.txn.ScanMembers(small.key, small.m.Version, nil, false, func(member, _ []byte) bool {
		for _, o := range order[1:] {
			in, err := srcs[o].has(member)
			if err != nil {
				lerr = err
				return false
			}
			if !in {
				return true
			}
		}
		n++
		if fn != nil {
			fn(member)
		}
		return limit == 0 || n < limit
	})
	if err == nil {
		err = lerr
	}
	return n, err
}

// setInterMembers returns the intersection of srcs.
func setInterMembers(srcs []setSource) ([][]byte, error) {
	var out [][]byte
	_, err := setInter(srcs, 0, func(member []byte) { out = append(out, append([]byte{}, member...)) })
	return out, err
}

func cmdSInter(c *Ctx) error {
	srcs, err := setSources(c, c.Args[1:])
	if err != nil {
		return err
	}
	out, err := setInterMembers(srcs)
	if err != nil {
		return err
	}
	setReplyMembers(c, out)
	return nil
}

// setReplyMembers replies with a set's members (SINTER, SUNION, SDIFF).
func setReplyMembers(c *Ctx, members [][]byte) {
	c.R.Set(len(members))
	for _, m := range members {
		c.R.Bulk(m)
	}
}

// sintercardNumKeys validates SINTERCARD's numkeys.
func sintercardNumKeys(args [][]byte) (int, error) {
	n, err := parseInt(args[1])
	if err != nil || n < 1 {
		return 0, Error("ERR numkeys should be greater than 0")
	}
	if n > int64(len(args)-2) {
		return 0, Error("ERR Number of keys can't be greater than number of args")
	}
	return int(n), nil
}

// sintercardKeys is SINTERCARD's key extractor: numkeys key [key ...].
func sintercardKeys(args [][]byte) ([][]byte, error) {
	n, err := sintercardNumKeys(args)
	if err != nil {
		return nil, err
	}
	return args[2 : 2+n], nil
}

func cmdSInterCard(c *Ctx) error {
	n, err := sintercardNumKeys(c.Args)
	if err != nil {
		return err
	}
	var limit uint64
	for i := 2 + n; i < len(c.Args); i++ {
		if isArg(c.Args[i], "limit") && i+1 < len(c.Args) {
			i++
			l, err := parseInt(c.Args[i])
			if err != nil || l < 0 {
				return Error("ERR LIMIT can't be negative")
			}
			limit = uint64(l)
			continue
		}
		return ErrSyntax
	}
	srcs, err := setSources(c, c.Args[2:2+n])
	if err != nil {
		return err
	}
	card, err := setInter(srcs, limit, nil)
	if err != nil {
		return err
	}
	c.R.Int(int64(card))
	return nil
}

func cmdSInterStore(c *Ctx) error {
	srcs, err := setSources(c, c.Args[2:])
	if err != nil {
		return err
	}
	out, err := setInterMembers(srcs)
	if err != nil {
		return err
	}
	return setStore(c, c.Args[1], out, "sinterstore")
}

// setStore replaces dst with a set of members (all distinct), or deletes
// it when there are none, and replies with the set's size. It emits event
// on dst, or "del" when it deleted a key that existed.
func setStore(c *Ctx, dst []byte, members [][]byte, event string) error {
	txn := c.Txn(dst)
	_, existed, err := txn.Meta(dst)
	if err != nil {
		return err
	}
	if err := txn.DeleteKey(dst); err != nil {
		return err
	}
	if len(members) > 0 {
		v, err := txn.NewVersion()
		if err != nil {
			return err
		}
		for _, mb := range members {
			if err := txn.PutMember(dst, v, mb, nil); err != nil {
				return err
			}
		}
		if err := txn.PutMeta(dst, &storage.Meta{Type: storage.TypeSet, Version: v, Count: uint64(len(members))}); err != nil {
			return err
		}
		c.Notify(EventSet, event, dst)
	} else if existed {
		c.Notify(EventGeneric, "del", dst)
	}
	c.R.Int(int64(len(members)))
	return nil
}

// setUnion returns the union of srcs, each member once.
func setUnion(srcs []setSource) ([][]byte, error) {
	seen := map[string]struct{}{}
	var out [][]byte
	for _, s := range srcs {
		if !s.ok {
			continue
		}
		err := s.txn.ScanMembers(s.key, s.m.Version, nil, false, func(member, _ []byte) bool {
			if _, dup := seen[string(member)]; !dup {
				seen[string(member)] = struct{}{}
				out = append(out, append([]byte{}, member...))
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setDiff returns the members of the first source in none of the others:
// it scans the first set and looks each member up in the others.
func setDiff(srcs []setSource) ([][]byte, error) {
	first := srcs[0]
	if !first.ok {
		return nil, nil
	}
	for _, s := range srcs[1:] {
		if s.ok && string(s.key) == string(first.key) {
			return nil, nil // A - A
		}
	}
	var out [][]byte
	var lerr error
	err := first.txn.ScanMembers(first.key, first.m.Version, nil, false, func(member, _ []byte) bool {
		for i := 1; i < len(srcs); i++ {
			in, err := srcs[i].has(member)
			if err != nil {
				lerr = err
				return false
			}
			if in {
				return true
			}
		}
		out = append(out, append([]byte{}, member...))
		return true
	})
	if err == nil {
		err = lerr
	}
	return out, err
}

// cmdSUnionDiff serves SUNION, SDIFF and their STORE forms.
func cmdSUnionDiff(diff, store bool) Handler {
	return func(c *Ctx) error {
		keys := c.Args[1:]
		if store {
			keys = c.Args[2:]
		}
		srcs, err := setSources(c, keys)
		if err != nil {
			return err
		}
		var out [][]byte
		if diff {
			out, err = setDiff(srcs)
		} else {
			out, err = setUnion(srcs)
		}
		if err != nil {
			return err
		}
		if store {
			event := "sunionstore"
			if diff {
				event = "sdiffstore"
			}
			return setStore(c, c.Args[1], out, event)
		}
		setReplyMembers(c, out)
		return nil
	}
}
