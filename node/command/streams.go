package command

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/pika-node/pika-node/node/stream"
	"github.com/pika-node/pika-node/storage"
)

// A stream is a collection (docs/streams.md): its meta value holds the
// stream's metadata (node/stream.Meta) and counts its data-CF members of
// every kind; entries, the radix-tree nodes pika-node mirrors, consumer
// groups, consumers and pending entries are data-CF members under the
// stream's version, keyed as node/stream says.

func registerStreams(t *Table) {
	one := func(name string, arity int, f Flags, h Handler) Spec {
		return Spec{Name: name, Arity: arity, Flags: f, FirstKey: 1, LastKey: 1, Step: 1, Handler: h}
	}
	t.Register(
		one("xadd", -5, Write|DenyOOM|Fast, cmdXAdd),
		one("xrange", -4, ReadOnly, cmdXRange(false)),
		one("xrevrange", -4, ReadOnly, cmdXRange(true)),
		one("xlen", 2, ReadOnly|Fast, cmdXLen),
		one("xdel", -3, Write|Fast, cmdXDel),
		one("xtrim", -4, Write, cmdXTrim),
		one("xack", -4, Write|Fast, cmdXAck),
		one("xpending", -3, ReadOnly, cmdXPending),
		one("xclaim", -6, Write|Fast, cmdXClaim),
		one("xautoclaim", -6, Write|Fast, cmdXAutoClaim),
		one("xsetid", -3, Write|DenyOOM|Fast, cmdXSetID),
		Spec{Name: "xread", Arity: -4, Flags: ReadOnly, Keys: xreadKeys, Timeout: xreadTimeout, Blocks: XReadBlocks, Handler: cmdXRead(false)},
		Spec{Name: "xreadgroup", Arity: -7, Flags: Write, Keys: xreadKeys, Timeout: xreadTimeout, Blocks: XReadBlocks, Handler: cmdXRead(true)},
		Spec{Name: "xgroup", Arity: -2, Flags: Write | DenyOOM, FirstKey: 2, LastKey: 2, Step: 1, Handler: cmdXGroup},
		Spec{Name: "xinfo", Arity: -2, Flags: ReadOnly, FirstKey: 2, LastKey: 2, Step: 1, Handler: cmdXInfo},
	)
}

var (
	errInvalidID     = Error(stream.ErrInvalidID)
	errXAddSmaller   = Error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
	errXAddZero      = Error("ERR The ID specified in XADD must be greater than 0-0")
	errXAddExhausted = Error("ERR The stream has exhausted the last possible ID, unable to add more items")
	errStartInterval = Error("ERR invalid start ID for the interval")
	errEndInterval   = Error("ERR invalid end ID for the interval")
)

// xstream is one stream being read or changed by a command.
type xstream struct {
	txn *storage.Txn
	key []byte
	m   storage.Meta
	s   stream.Meta
}

// getStream returns key's stream; ok is false when the key does not
// exist, ErrWrongType when it holds another type.
func getStream(c *Ctx, key []byte) (*xstream, bool, error) {
	txn := c.Txn(key)
	m, ok, err := lookup(txn, key, storage.TypeStream)
	if err != nil || !ok {
		return nil, false, err
	}
	s, err := stream.DecodeMeta(m.Value)
	if err != nil {
		return nil, false, err
	}
	return &xstream{txn: txn, key: key, m: m, s: s}, true, nil
}

// newStream returns an empty stream for key (stored by save).
func newStream(c *Ctx, key []byte) (*xstream, error) {
	txn := c.Txn(key)
	v, err := txn.NewVersion()
	if err != nil {
		return nil, err
	}
	return &xstream{txn: txn, key: key, m: storage.Meta{Type: storage.TypeStream, Version: v}}, nil
}

func (x *xstream) save() error {
	x.m.Value = x.s.Encode()
	return x.txn.PutMeta(x.key, &x.m)
}

func (x *xstream) get(member []byte) ([]byte, bool, error) {
	return x.txn.Member(x.key, x.m.Version, member)
}

// put writes a member; isNew says it did not exist (it counts one more).
func (x *xstream) put(member, value []byte, isNew bool) error {
	if isNew {
		x.m.Count++
	}
	return x.txn.PutMember(x.key, x.m.Version, member, value)
}

// del removes a member that exists.
func (x *xstream) del(member []byte) error {
	x.m.Count--
	return x.txn.DeleteMember(x.key, x.m.Version, member)
}

// scanPrefix calls fn for the members starting with p (from p|from on,
// or backwards from p|from when reverse), without p.
func (x *xstream) scanPrefix(p, from []byte, reverse bool, fn func(rest, value []byte) (bool, error)) error {
	start := append(append([]byte(nil), p...), from...)
	if reverse && from == nil {
		start = append(start, bytes.Repeat([]byte{0xff}, 24)...)
	}
	var ferr error
	err := x.txn.ScanMembers(x.key, x.m.Version, start, reverse, func(member, value []byte) bool {
		if !bytes.HasPrefix(member, p) {
			return false
		}
		more, err := fn(member[len(p):], value)
		if err != nil {
			ferr = err
			return false
		}
		return more
	})
	if err != nil {
		return err
	}
	return ferr
}

// xentry is an entry read out of storage.
type xentry struct {
	id     stream.ID
	fields [][]byte
}

// entries calls fn for the entries with IDs in [lo, hi], in order
// (reverse: descending).
func (x *xstream) entries(lo, hi stream.ID, reverse bool, fn func(e xentry) (bool, error)) error {
	if hi.Less(lo) {
		return nil
	}
	from := lo.Encode()
	if reverse {
		from = hi.Encode()
	}
	return x.scanPrefix([]byte{stream.KindEntry}, from, reverse, func(rest, value []byte) (bool, error) {
		if len(rest) != 16 {
			return false, stream.ErrCorrupt
		}
		id := stream.DecodeID(rest)
		if id.Less(lo) || hi.Less(id) {
			return false, nil
		}
		e, err := stream.DecodeEntry(value)
		if err != nil {
			return false, err
		}
		fields := make([][]byte, len(e.Fields))
		for i, f := range e.Fields {
			fields[i] = bytes.Clone(f)
		}
		return fn(xentry{id, fields})
	})
}

// rangeEntries returns up to count (0: all) entries in [lo, hi].
func (x *xstream) rangeEntries(lo, hi stream.ID, count int64, reverse bool) ([]xentry, error) {
	var out []xentry
	err := x.entries(lo, hi, reverse, func(e xentry) (bool, error) {
		out = append(out, e)
		return count == 0 || int64(len(out)) < count, nil
	})
	return out, err
}

// entry returns one entry; ok is false when it does not exist.
func (x *xstream) entry(id stream.ID) (xentry, bool, error) {
	v, ok, err := x.get(stream.EntryKey(id))
	if err != nil || !ok {
		return xentry{}, false, err
	}
	e, err := stream.DecodeEntry(v)
	if err != nil {
		return xentry{}, false, err
	}
	fields := make([][]byte, len(e.Fields))
	for i, f := range e.Fields {
		fields[i] = bytes.Clone(f)
	}
	return xentry{id, fields}, true, nil
}

// lastValidID is the ID of the last entry (0-0 when empty).
func (x *xstream) lastValidID() (stream.ID, error) {
	var id stream.ID
	err := x.entries(stream.ID{}, stream.MaxID, true, func(e xentry) (bool, error) {
		id = e.id
		return false, nil
	})
	return id, err
}

// firstValidID is the ID of the first entry (0-0 when empty).
func (x *xstream) firstValidID() (stream.ID, error) {
	var id stream.ID
	err := x.entries(stream.ID{}, stream.MaxID, false, func(e xentry) (bool, error) {
		id = e.id
		return false, nil
	})
	return id, err
}

// lastNode returns the node XADD appends to, if it still exists (a
// node removed is always the last: every earlier one is full).
func (x *xstream) lastNode() (stream.ID, stream.Node, bool, error) {
	if x.s.EntriesAdded == 0 {
		return stream.ID{}, stream.Node{}, false, nil
	}
	v, ok, err := x.get(stream.NodeKey(x.s.LastNode))
	if err != nil || !ok {
		return stream.ID{}, stream.Node{}, false, err
	}
	n, err := stream.DecodeNode(v)
	return x.s.LastNode, n, err == nil, err
}

// add appends an entry with id (greater than the last ID), in the last
// node or a new one as redis-server's streamAppendItem does.
func (x *xstream) add(id stream.ID, fields [][]byte) error {
	nid, n, ok, err := x.lastNode()
	if err != nil {
		return err
	}
	var size uint64
	for _, f := range fields {
		size += uint64(len(f))
	}
	isNew := false
	if !ok || n.Bytes+size >= stream.NodeMaxBytes || n.Total >= stream.NodeMaxEntries {
		nid, isNew = id, true
		n = stream.Node{Bytes: stream.NewNodeBytes(fields)}
		for i := 0; i < len(fields); i += 2 {
			n.Master = append(n.Master, fields[i])
		}
	}
	n.Bytes += stream.EntryBytes(nid, id, fields, stream.SameFields(n.Master, fields))
	n.Live++
	n.Total++
	n.Last = id
	if err := x.put(stream.NodeKey(nid), n.Encode(), isNew); err != nil {
		return err
	}
	x.s.LastNode = nid
	e := stream.Entry{Node: nid, Fields: fields}
	if err := x.put(stream.EntryKey(id), e.Encode(), true); err != nil {
		return err
	}
	x.s.Length++
	x.s.EntriesAdded++
	x.s.LastID = id
	if x.s.Length == 1 {
		x.s.FirstID = id
	}
	return nil
}

// remove deletes the entry id; ok is false when it does not exist. The
// stream's first ID is the caller's to fix.
func (x *xstream) remove(id stream.ID) (bool, error) {
	k := stream.EntryKey(id)
	v, ok, err := x.get(k)
	if err != nil || !ok {
		return false, err
	}
	e, err := stream.DecodeEntry(v)
	if err != nil {
		return false, err
	}
	nk := stream.NodeKey(e.Node)
	nv, ok, err := x.get(nk)
	if err != nil {
		return false, err
	}
	if ok {
		n, err := stream.DecodeNode(nv)
		if err != nil {
			return false, err
		}
		n.Live--
		if n.Live == 0 {
			err = x.del(nk)
		} else {
			err = x.put(nk, n.Encode(), false)
		}
		if err != nil {
			return false, err
		}
	}
	if err := x.del(k); err != nil {
		return false, err
	}
	x.s.Length--
	return true, nil
}

// fixFirst sets the first ID after entries were removed.
func (x *xstream) fixFirst() error {
	if x.s.Length == 0 {
		x.s.FirstID = stream.ID{}
		return nil
	}
	id, err := x.firstValidID()
	x.s.FirstID = id
	return err
}

// trimArgs are XADD's and XTRIM's trimming options.
type trimArgs struct {
	strategy int // 0 none, 1 maxlen, 2 minid
	approx   bool
	maxlen   int64
	minid    stream.ID
	limit    int64
}

const (
	trimNone = iota
	trimMaxLen
	trimMinID
)

// trim removes entries from the head as redis-server's streamTrim does
// over its radix-tree nodes, and returns how many.
func (x *xstream) trim(a *trimArgs) (int64, error) {
	if a.strategy == trimNone {
		return 0, nil
	}
	var deleted int64
	for {
		if a.strategy == trimMaxLen && x.s.Length <= uint64(a.maxlen) {
			break
		}
		var nid stream.ID
		var n stream.Node
		found := false
		err := x.scanPrefix([]byte{stream.KindNode}, nil, false, func(rest, value []byte) (bool, error) {
			if len(rest) != 16 {
				return false, stream.ErrCorrupt
			}
			var err error
			nid, found = stream.DecodeID(rest), true
			n, err = stream.DecodeNode(value)
			return false, err
		})
		if err != nil {
			return deleted, err
		}
		if !found {
			break
		}
		entries := int64(n.Live)
		if a.limit != 0 && deleted+entries > a.limit {
			break
		}
		var removeNode bool
		if a.strategy == trimMaxLen {
			removeNode = x.s.Length-n.Live >= uint64(a.maxlen)
		} else {
			removeNode = n.Last.Less(a.minid)
		}
		if removeNode {
			var ids []stream.ID
			err := x.entries(nid, n.Last, false, func(e xentry) (bool, error) {
				ids = append(ids, e.id)
				return true, nil
			})
			if err != nil {
				return deleted, err
			}
			for _, id := range ids {
				if err := x.del(stream.EntryKey(id)); err != nil {
					return deleted, err
				}
			}
			if err := x.del(stream.NodeKey(nid)); err != nil {
				return deleted, err
			}
			x.s.Length -= n.Live
			deleted += entries
			continue
		}
		if a.approx {
			break
		}
		// Trim entries from within the node.
		var ids []stream.ID
		length := x.s.Length
		err = x.entries(nid, n.Last, false, func(e xentry) (bool, error) {
			if a.strategy == trimMaxLen && length <= uint64(a.maxlen) ||
				a.strategy == trimMinID && !e.id.Less(a.minid) {
				return false, nil
			}
			ids = append(ids, e.id)
			length--
			return true, nil
		})
		if err != nil {
			return deleted, err
		}
		for _, id := range ids {
			if err := x.del(stream.EntryKey(id)); err != nil {
				return deleted, err
			}
		}
		n.Live -= uint64(len(ids))
		x.s.Length -= uint64(len(ids))
		deleted += int64(len(ids))
		if len(ids) > 0 {
			if err := x.put(stream.NodeKey(nid), n.Encode(), false); err != nil {
				return deleted, err
			}
		}
		break
	}
	if x.s.Length == 0 {
		x.s.FirstID = stream.ID{}
	} else if deleted > 0 {
		if err := x.fixFirst(); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// parseStrictID parses an ID argument that may not be "-" or "+".
func parseStrictID(arg []byte, missingSeq uint64) (stream.ID, error) {
	p, ok := stream.Parse(arg, missingSeq, true, false)
	if !ok {
		return stream.ID{}, errInvalidID
	}
	return p.ID, nil
}

// parseRangeID parses an interval bound ("-", "+", "(id").
func parseRangeID(arg []byte, missingSeq uint64) (id stream.ID, exclusive bool, err error) {
	if len(arg) > 1 && arg[0] == '(' {
		id, err = parseStrictID(arg[1:], missingSeq)
		return id, true, err
	}
	p, ok := stream.Parse(arg, missingSeq, false, false)
	if !ok {
		return id, false, errInvalidID
	}
	return p.ID, false, nil
}

// parseTrimArgs parses XADD's (xadd) or XTRIM's options from args[2]; for
// XADD it returns the position of the ID.
func parseTrimArgs(args [][]byte, xadd bool) (a trimArgs, idPos int, id stream.Parsed, idGiven, noMk bool, err error) {
	i := 2
	limitGiven := false
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := args[i]
		switch {
		case xadd && string(cstr(opt)) == "*":
			// the common case: an ID made here
			return a, i, id, false, noMk, a.finish(xadd, limitGiven)
		case isArg(opt, "maxlen") && more > 0, isArg(opt, "minid") && more > 0:
			if a.strategy != trimNone {
				err = Error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
				return
			}
			a.approx = false
			next := string(cstr(args[i+1]))
			if more >= 2 && next == "~" {
				a.approx = true
				i++
			} else if more >= 2 && next == "=" {
				i++
			}
			if isArg(opt, "maxlen") {
				if a.maxlen, err = parseInt(args[i+1]); err != nil {
					return
				}
				if a.maxlen < 0 {
					err = Error("ERR The MAXLEN argument must be >= 0.")
					return
				}
				a.strategy = trimMaxLen
			} else {
				if a.minid, err = parseStrictID(args[i+1], 0); err != nil {
					return
				}
				a.strategy = trimMinID
			}
			i++
		case isArg(opt, "limit") && more > 0:
			if a.limit, err = parseInt(args[i+1]); err != nil {
				return
			}
			if a.limit < 0 {
				err = Error("ERR The LIMIT argument must be >= 0.")
				return
			}
			limitGiven = true
			i++
		case xadd && isArg(opt, "nomkstream"):
			noMk = true
		case xadd:
			p, ok := stream.Parse(opt, 0, true, true)
			if !ok {
				err = errInvalidID
				return
			}
			return a, i, p, true, noMk, a.finish(xadd, limitGiven)
		default:
			err = ErrSyntax
			return
		}
	}
	return a, i, id, false, noMk, a.finish(xadd, limitGiven)
}

// finish checks the options together, as Redis does after parsing them.
func (a *trimArgs) finish(xadd, limitGiven bool) error {
	if a.limit != 0 && a.strategy == trimNone {
		return Error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
	}
	if !xadd && a.strategy == trimNone {
		return Error("ERR syntax error, XTRIM must be called with a trimming strategy")
	}
	if limitGiven {
		if !a.approx {
			return Error("ERR syntax error, LIMIT cannot be used without the special ~ option")
		}
	} else if a.approx {
		a.limit = 100 * stream.NodeMaxEntries
	} else {
		a.limit = 0
	}
	return nil
}

func cmdXAdd(c *Ctx) error {
	key := c.Args[1]
	a, idPos, pid, idGiven, noMk, err := parseTrimArgs(c.Args, true)
	if err != nil {
		return err
	}
	fieldPos := idPos + 1
	if n := len(c.Args) - fieldPos; n < 2 || n%2 == 1 {
		return wrongArgs("xadd")
	}
	if idGiven && !pid.SeqAuto && pid.ID.IsZero() {
		return errXAddZero
	}
	x, ok, err := getStream(c, key)
	if err != nil {
		return err
	}
	if !ok {
		if noMk {
			c.R.Null()
			return nil
		}
		if x, err = newStream(c, key); err != nil {
			return err
		}
	}
	if x.s.LastID == stream.MaxID {
		return errXAddExhausted
	}
	var id stream.ID
	switch {
	case !idGiven:
		id = stream.Next(x.s.LastID, uint64(c.NowMS()))
	case pid.SeqAuto:
		if x.s.LastID.Ms == pid.ID.Ms {
			if x.s.LastID.Seq == math.MaxUint64 {
				return errXAddSmaller
			}
			id = stream.ID{Ms: pid.ID.Ms, Seq: x.s.LastID.Seq + 1}
		} else {
			id = pid.ID
		}
	default:
		id = pid.ID
	}
	if !x.s.LastID.Less(id) {
		return errXAddSmaller
	}
	fields := make([][]byte, len(c.Args)-fieldPos)
	copy(fields, c.Args[fieldPos:])
	if err := x.add(id, fields); err != nil {
		return err
	}
	c.Notify(EventStream, "xadd", key)
	n, err := x.trim(&a)
	if err != nil {
		return err
	}
	if n > 0 {
		c.Notify(EventStream, "xtrim", key)
	}
	if err := x.save(); err != nil {
		return err
	}
	c.R.Bulk(id.Append(nil))
	return nil
}

func cmdXTrim(c *Ctx) error {
	a, _, _, _, _, err := parseTrimArgs(c.Args, false)
	if err != nil {
		return err
	}
	x, ok, err := getStream(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	n, err := x.trim(&a)
	if err != nil {
		return err
	}
	if n > 0 {
		if err := x.save(); err != nil {
			return err
		}
		c.Notify(EventStream, "xtrim", c.Args[1])
	}
	c.R.Int(n)
	return nil
}

func cmdXDel(c *Ctx) error {
	x, ok, err := getStream(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	ids := make([]stream.ID, 0, len(c.Args)-2)
	for _, arg := range c.Args[2:] {
		id, err := parseStrictID(arg, 0)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	var deleted int64
	first := false
	for _, id := range ids {
		ok, err := x.remove(id)
		if err != nil {
			return err
		}
		if ok {
			if id == x.s.FirstID {
				first = true
			}
			if x.s.MaxDeleted.Less(id) {
				x.s.MaxDeleted = id
			}
			deleted++
		}
	}
	if deleted > 0 {
		if x.s.Length == 0 {
			x.s.FirstID = stream.ID{}
		} else if first {
			if err := x.fixFirst(); err != nil {
				return err
			}
		}
		if err := x.save(); err != nil {
			return err
		}
		c.Notify(EventStream, "xdel", c.Args[1])
	}
	c.R.Int(deleted)
	return nil
}

func cmdXLen(c *Ctx) error {
	x, ok, err := getStream(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	c.R.Int(int64(x.s.Length))
	return nil
}

// replyEntry appends one entry: [id, [field, value, ...]].
func replyEntry(c *Ctx, e xentry) {
	c.R.Array(2)
	c.R.Bulk(e.id.Append(nil))
	c.R.Array(len(e.fields))
	for _, f := range e.fields {
		c.R.Bulk(f)
	}
}

func replyEntries(c *Ctx, es []xentry) {
	c.R.Array(len(es))
	for _, e := range es {
		replyEntry(c, e)
	}
}

func cmdXRange(rev bool) Handler {
	return func(c *Ctx) error {
		startArg, endArg := c.Args[2], c.Args[3]
		if rev {
			startArg, endArg = endArg, startArg
		}
		start, ex, err := parseRangeID(startArg, 0)
		if err != nil {
			return err
		}
		if ex {
			var ok bool
			if start, ok = start.Incr(); !ok {
				return errStartInterval
			}
		}
		end, ex, err := parseRangeID(endArg, math.MaxUint64)
		if err != nil {
			return err
		}
		if ex {
			var ok bool
			if end, ok = end.Decr(); !ok {
				return errEndInterval
			}
		}
		count := int64(-1)
		for j := 4; j < len(c.Args); j++ {
			if isArg(c.Args[j], "count") && j+1 < len(c.Args) {
				if count, err = parseInt(c.Args[j+1]); err != nil {
					return err
				}
				if count < 0 {
					count = 0
				}
				j++
			} else {
				return ErrSyntax
			}
		}
		x, ok, err := getStream(c, c.Args[1])
		if err != nil {
			return err
		}
		if !ok {
			c.R.Array(0)
			return nil
		}
		if count == 0 {
			c.R.NullArray()
			return nil
		}
		if count < 0 {
			count = 0
		}
		es, err := x.rangeEntries(start, end, count, rev)
		if err != nil {
			return err
		}
		replyEntries(c, es)
		return nil
	}
}

// xreadTimeout is XREAD's and XREADGROUP's Spec.Timeout: BLOCK's
// milliseconds (0: Forever), once the arguments parse.
func xreadTimeout(args [][]byte) (time.Duration, error) {
	a, err := parseXRead(args, len(args[0]) == len("xreadgroup"))
	if err != nil {
		return 0, err
	}
	if a.blockMS == 0 {
		return Forever, nil
	}
	return time.Duration(a.blockMS) * time.Millisecond, nil
}

// XReadStreams returns where an XREAD's or XREADGROUP's keys start and
// how many there are (ok false when the arguments do not parse): its
// IDs follow them.
func XReadStreams(args [][]byte) (first, n int, ok bool) {
	a, err := parseXRead(args, len(args[0]) == len("xreadgroup"))
	if err != nil {
		return 0, 0, false
	}
	return len(args) - 2*len(a.keys), len(a.keys), true
}

// XReadServedArgs returns the arguments a waiting XREAD or XREADGROUP
// runs with once woken: without a COUNT (or with COUNT 0) it takes 1000
// entries of a stream at most, as redis-server serves a blocked client.
func XReadServedArgs(args [][]byte) [][]byte {
	a, err := parseXRead(args, len(args[0]) == len("xreadgroup"))
	if err != nil || a.count != 0 {
		return args
	}
	at := len(args) - 2*len(a.keys) - 1 // STREAMS
	out := make([][]byte, 0, len(args)+2)
	out = append(out, args[:at]...)
	out = append(out, []byte("COUNT"), []byte("1000"))
	return append(out, args[at:]...)
}

// xreadArgs are XREAD's and XREADGROUP's options.
type xreadArgs struct {
	block    bool
	blockMS  int64
	count    int64
	noack    bool
	group    []byte
	consumer []byte
	keys     [][]byte
	ids      [][]byte
}

// parseXRead parses XREAD (group false) or XREADGROUP's arguments.
func parseXRead(args [][]byte, group bool) (*xreadArgs, error) {
	a := &xreadArgs{}
	streamsAt := 0
	name := "XREAD"
	for i := 1; i < len(args); i++ {
		more := len(args) - i - 1
		o := args[i]
		switch {
		case isArg(o, "block") && more > 0:
			i++
			ms, err := parseInt(args[i])
			if err != nil {
				return nil, Error("ERR timeout is not an integer or out of range")
			}
			if ms < 0 {
				return nil, Error("ERR timeout is negative")
			}
			if ms > math.MaxInt64/int64(time.Millisecond) {
				ms = 0 // longer than any wait
			}
			a.block, a.blockMS = true, ms
		case isArg(o, "count") && more > 0:
			i++
			n, err := parseInt(args[i])
			if err != nil {
				return nil, err
			}
			if n < 0 {
				n = 0
			}
			a.count = n
		case isArg(o, "streams") && more > 0:
			streamsAt = i + 1
			n := len(args) - streamsAt
			if n%2 != 0 {
				return nil, Error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
			}
			a.keys = args[streamsAt : streamsAt+n/2]
			a.ids = args[streamsAt+n/2:]
			i = len(args)
		case isArg(o, "group") && more >= 2:
			if !group {
				return nil, Error("ERR The GROUP option is only supported by XREADGROUP. You called " + name + " instead.")
			}
			a.group, a.consumer = args[i+1], args[i+2]
			i += 2
		case isArg(o, "noack"):
			if !group {
				return nil, Error("ERR The NOACK option is only supported by XREADGROUP. You called " + name + " instead.")
			}
			a.noack = true
		default:
			return nil, ErrSyntax
		}
	}
	if streamsAt == 0 {
		return nil, ErrSyntax
	}
	if group && a.group == nil {
		return nil, Error("ERR Missing GROUP option for XREADGROUP")
	}
	return a, nil
}

// xreadKeys is XREAD's and XREADGROUP's Spec.Keys: the keys after
// STREAMS (none when the arguments do not parse: the handler answers
// the error).
func xreadKeys(args [][]byte) ([][]byte, error) {
	a, err := parseXRead(args, len(args[0]) == len("xreadgroup"))
	if err != nil {
		return nil, nil
	}
	return a.keys, nil
}

// XReadBlocks reports whether an XREAD or XREADGROUP has BLOCK.
func XReadBlocks(args [][]byte) bool {
	a, err := parseXRead(args, len(args[0]) == len("xreadgroup"))
	return err == nil && a.block
}

func noGroupRead(key, group []byte) Error {
	return Error("NOGROUP No such key '" + string(cstr(key)) + "' or consumer group '" + string(cstr(group)) + "' in XREADGROUP with GROUP option")
}

// cmdXRead is XREAD and XREADGROUP (group): they answer what is there
// now, or a null (BLOCK waits in the client's connection, see
// docs/streams.md).
func cmdXRead(group bool) Handler {
	return func(c *Ctx) error {
		a, err := parseXRead(c.Args, group)
		if err != nil {
			return err
		}
		if a.block && c.Script {
			return Error("ERR " + string(bytes.ToLower(c.Args[0])) + " command is not allowed with BLOCK option from scripts")
		}
		type target struct {
			x     *xstream
			gt    stream.ID
			newer bool // ">"
			g     stream.Group
		}
		ts := make([]target, len(a.keys))
		for i, key := range a.keys {
			x, ok, err := getStream(c, key)
			if err != nil {
				return err
			}
			t := &ts[i]
			if ok {
				t.x = x
			}
			if group {
				if !ok {
					return noGroupRead(key, a.group)
				}
				v, found, err := x.get(stream.GroupKey(a.group))
				if err != nil {
					return err
				}
				if !found {
					return noGroupRead(key, a.group)
				}
				if t.g, err = stream.DecodeGroup(v); err != nil {
					return err
				}
			}
			idArg := string(cstr(a.ids[i]))
			switch {
			case idArg == "$":
				if group {
					return Error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
				}
				if ok {
					t.gt = x.s.LastID
				}
				continue
			case idArg == ">":
				if !group {
					return Error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
				}
				t.gt, t.newer = stream.MaxID, true
				continue
			}
			if t.gt, err = parseStrictID(a.ids[i], 0); err != nil {
				return err
			}
		}
		type result struct {
			key     []byte
			entries []xentry
			history []historyEntry
			isHist  bool
		}
		var out []result
		for i := range ts {
			t := &ts[i]
			if t.x == nil {
				continue
			}
			x := t.x
			serve, history := false, false
			if group {
				// Read again: the same stream may come twice.
				g, _, err := x.group(a.group)
				if err != nil {
					return err
				}
				t.g = g
				if !t.newer {
					serve, history = true, true
				} else if x.s.Length > 0 {
					maxID, err := x.lastValidID()
					if err != nil {
						return err
					}
					if t.g.LastID.Less(maxID) {
						serve = true
						t.gt = t.g.LastID
					}
				}
			} else if x.s.Length > 0 {
				maxID, err := x.lastValidID()
				if err != nil {
					return err
				}
				serve = t.gt.Less(maxID)
			}
			if !serve {
				continue
			}
			start, _ := t.gt.Incr()
			r := result{key: a.keys[i]}
			if !group {
				if r.entries, err = x.rangeEntries(start, stream.MaxID, a.count, false); err != nil {
					return err
				}
				out = append(out, r)
				continue
			}
			if _, err := x.touchConsumer(c, a.group, a.consumer); err != nil {
				return err
			}
			if history {
				r.isHist = true
				if r.history, err = x.consumerHistory(c, a.group, a.consumer, start, a.count); err != nil {
					return err
				}
			} else {
				if r.entries, err = x.deliver(c, a.group, &t.g, a.consumer, start, a.count, a.noack); err != nil {
					return err
				}
			}
			if err := x.save(); err != nil {
				return err
			}
			out = append(out, r)
		}
		if len(out) == 0 {
			c.R.NullArray()
			return nil
		}
		if c.R.Resp3 {
			c.R.Map(len(out))
		} else {
			c.R.Array(len(out))
		}
		for _, r := range out {
			if !c.R.Resp3 {
				c.R.Array(2)
			}
			c.R.Bulk(r.key)
			if !r.isHist {
				replyEntries(c, r.entries)
				continue
			}
			c.R.Array(len(r.history))
			for _, h := range r.history {
				if h.found {
					replyEntry(c, h.e)
				} else {
					c.R.Array(2)
					c.R.Bulk(h.e.id.Append(nil))
					c.R.NullArray()
				}
			}
		}
		return nil
	}
}

// touchConsumer looks a consumer up, refreshing its seen time, and
// creates it when missing (notifying xgroup-createconsumer); created
// says it did.
func (x *xstream) touchConsumer(c *Ctx, group, consumer []byte) (created bool, err error) {
	k := stream.ConsumerKey(group, consumer)
	_, ok, err := x.get(k)
	if err != nil {
		return false, err
	}
	cons := stream.Consumer{SeenMS: c.NowMS()}
	if err := x.put(k, cons.Encode(), !ok); err != nil {
		return false, err
	}
	if !ok {
		c.Notify(EventStream, "xgroup-createconsumer", x.key)
	}
	return !ok, nil
}

// pending returns a group's pending entry.
func (x *xstream) pending(group []byte, id stream.ID) (stream.Pending, bool, error) {
	v, ok, err := x.get(stream.PendingKey(group, id))
	if err != nil || !ok {
		return stream.Pending{}, false, err
	}
	p, err := stream.DecodePending(v)
	return p, err == nil, err
}

// setPending writes a pending entry, moving it to its consumer's PEL
// (prevOwner: who had it, nil when it was not pending).
func (x *xstream) setPending(group []byte, id stream.ID, p *stream.Pending, prevOwner []byte, existed bool) error {
	if err := x.put(stream.PendingKey(group, id), p.Encode(), !existed); err != nil {
		return err
	}
	if existed && bytes.Equal(prevOwner, p.Consumer) {
		return nil
	}
	if existed {
		if err := x.del(stream.OwnedKey(group, prevOwner, id)); err != nil {
			return err
		}
	}
	return x.put(stream.OwnedKey(group, p.Consumer, id), nil, true)
}

// dropPending removes a pending entry.
func (x *xstream) dropPending(group []byte, id stream.ID, p *stream.Pending) error {
	if err := x.del(stream.PendingKey(group, id)); err != nil {
		return err
	}
	return x.del(stream.OwnedKey(group, p.Consumer, id))
}

// deliver serves XREADGROUP ... >: the entries from start on, moving the
// group's last ID and read counter, and adding them to the PEL unless
// noack.
func (x *xstream) deliver(c *Ctx, group []byte, g *stream.Group, consumer []byte, start stream.ID, count int64, noack bool) ([]xentry, error) {
	es, err := x.rangeEntries(start, stream.MaxID, count, false)
	if err != nil {
		return nil, err
	}
	now := c.NowMS()
	for _, e := range es {
		if g.LastID.Less(e.id) {
			if g.EntriesRead != -1 && !x.rangeHasTombstones(e.id, stream.MaxID) {
				g.EntriesRead++
			} else if x.s.EntriesAdded != 0 {
				g.EntriesRead = x.estimateDistance(e.id)
			}
			g.LastID = e.id
		}
		if noack {
			continue
		}
		old, existed, err := x.pending(group, e.id)
		if err != nil {
			return nil, err
		}
		p := stream.Pending{DeliveryMS: now, Count: 1, Consumer: consumer}
		if err := x.setPending(group, e.id, &p, old.Consumer, existed); err != nil {
			return nil, err
		}
	}
	if err := x.put(stream.GroupKey(group), g.Encode(), false); err != nil {
		return nil, err
	}
	return es, nil
}

type historyEntry struct {
	e     xentry
	found bool
}

// consumerHistory serves XREADGROUP with an ID: the consumer's pending
// entries from start on, each delivered again.
func (x *xstream) consumerHistory(c *Ctx, group, consumer []byte, start stream.ID, count int64) ([]historyEntry, error) {
	var ids []stream.ID
	err := x.scanPrefix(stream.OwnedPrefix(group, consumer), start.Encode(), false, func(rest, _ []byte) (bool, error) {
		if len(rest) != 16 {
			return false, stream.ErrCorrupt
		}
		ids = append(ids, stream.DecodeID(rest))
		return count == 0 || int64(len(ids)) < count, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]historyEntry, 0, len(ids))
	for _, id := range ids {
		e, ok, err := x.entry(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, historyEntry{e: xentry{id: id}})
			continue
		}
		p, pok, err := x.pending(group, id)
		if err != nil {
			return nil, err
		}
		if pok {
			p.DeliveryMS = c.NowMS()
			p.Count++
			if err := x.put(stream.PendingKey(group, id), p.Encode(), false); err != nil {
				return nil, err
			}
		}
		out = append(out, historyEntry{e: e, found: true})
	}
	return out, nil
}

// rangeHasTombstones is redis-server's streamRangeHasTombstones.
func (x *xstream) rangeHasTombstones(start, end stream.ID) bool {
	s := &x.s
	if s.Length == 0 || s.MaxDeleted.IsZero() {
		return false
	}
	if s.MaxDeleted.Less(s.FirstID) {
		return false
	}
	return !s.MaxDeleted.Less(start) && !end.Less(s.MaxDeleted)
}

// estimateDistance is redis-server's
// streamEstimateDistanceFromFirstEverEntry (-1: unknown).
func (x *xstream) estimateDistance(id stream.ID) int64 {
	s := &x.s
	if s.EntriesAdded == 0 {
		return 0
	}
	if s.Length == 0 && id.Cmp(s.LastID) < 1 {
		return int64(s.EntriesAdded)
	}
	switch id.Cmp(s.LastID) {
	case 0:
		return int64(s.EntriesAdded)
	case 1:
		return -1
	}
	if s.MaxDeleted.IsZero() || s.MaxDeleted.Less(s.FirstID) {
		switch id.Cmp(s.FirstID) {
		case -1:
			return int64(s.EntriesAdded - s.Length)
		case 0:
			return int64(s.EntriesAdded - s.Length + 1)
		}
	}
	return -1
}

// replyLag appends a group's lag, or a null when it cannot be known.
func (x *xstream) replyLag(c *Ctx, g *stream.Group) {
	s := &x.s
	switch {
	case s.EntriesAdded == 0:
		c.R.Int(0)
	case g.EntriesRead != -1 && !x.rangeHasTombstones(g.LastID, stream.MaxID):
		c.R.Int(int64(s.EntriesAdded) - g.EntriesRead)
	default:
		if er := x.estimateDistance(g.LastID); er != -1 {
			c.R.Int(int64(s.EntriesAdded) - er)
		} else {
			c.R.Null()
		}
	}
}

// group reads a group; ok is false when it does not exist.
func (x *xstream) group(name []byte) (stream.Group, bool, error) {
	v, ok, err := x.get(stream.GroupKey(name))
	if err != nil || !ok {
		return stream.Group{}, false, err
	}
	g, err := stream.DecodeGroup(v)
	return g, err == nil, err
}

// groupNames lists the groups in name order.
func (x *xstream) groupNames() ([][]byte, []stream.Group, error) {
	var names [][]byte
	var gs []stream.Group
	err := x.scanPrefix([]byte{stream.KindGroup}, nil, false, func(rest, value []byte) (bool, error) {
		g, err := stream.DecodeGroup(value)
		if err != nil {
			return false, err
		}
		names = append(names, bytes.Clone(rest))
		gs = append(gs, g)
		return true, nil
	})
	return names, gs, err
}

type consumerInfo struct {
	name    []byte
	seen    int64
	pending int64
}

// consumers lists a group's consumers in name order with their PEL
// sizes.
func (x *xstream) consumers(group []byte) ([]consumerInfo, error) {
	var out []consumerInfo
	err := x.scanPrefix(stream.ConsumerPrefix(group), nil, false, func(rest, value []byte) (bool, error) {
		cons, err := stream.DecodeConsumer(value)
		if err != nil {
			return false, err
		}
		out = append(out, consumerInfo{name: bytes.Clone(rest), seen: cons.SeenMS})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		n, err := x.countPrefix(stream.OwnedPrefix(group, out[i].name))
		if err != nil {
			return nil, err
		}
		out[i].pending = n
	}
	return out, nil
}

func (x *xstream) countPrefix(p []byte) (int64, error) {
	var n int64
	err := x.scanPrefix(p, nil, false, func(_, _ []byte) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

type pendingInfo struct {
	id stream.ID
	p  stream.Pending
}

// pendings lists a group's PEL (or one consumer's) in ID order from
// start, while fn says go on.
func (x *xstream) pendings(group, consumer []byte, start stream.ID, fn func(pi pendingInfo) (bool, error)) error {
	if consumer != nil {
		return x.scanPrefix(stream.OwnedPrefix(group, consumer), start.Encode(), false, func(rest, _ []byte) (bool, error) {
			if len(rest) != 16 {
				return false, stream.ErrCorrupt
			}
			id := stream.DecodeID(rest)
			p, ok, err := x.pending(group, id)
			if err != nil || !ok {
				return ok, err
			}
			return fn(pendingInfo{id, p})
		})
	}
	return x.scanPrefix(stream.PendingPrefix(group), start.Encode(), false, func(rest, value []byte) (bool, error) {
		if len(rest) != 16 {
			return false, stream.ErrCorrupt
		}
		p, err := stream.DecodePending(value)
		if err != nil {
			return false, err
		}
		return fn(pendingInfo{stream.DecodeID(rest), p})
	})
}

func noGroup(key, group []byte) Error {
	return Error("NOGROUP No such key '" + string(cstr(key)) + "' or consumer group '" + string(cstr(group)) + "'")
}

func cmdXAck(c *Ctx) error {
	x, ok, err := getStream(c, c.Args[1])
	if err != nil {
		return err
	}
	group := c.Args[2]
	if ok {
		_, ok, err = x.group(group)
		if err != nil {
			return err
		}
	}
	if !ok {
		c.R.Int(0)
		return nil
	}
	ids := make([]stream.ID, 0, len(c.Args)-3)
	for _, arg := range c.Args[3:] {
		id, err := parseStrictID(arg, 0)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	var acked int64
	for _, id := range ids {
		p, ok, err := x.pending(group, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := x.dropPending(group, id, &p); err != nil {
			return err
		}
		acked++
	}
	if acked > 0 {
		if err := x.save(); err != nil {
			return err
		}
	}
	c.R.Int(acked)
	return nil
}

func cmdXPending(c *Ctx) error {
	args := c.Args
	justInfo := len(args) == 3
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		return ErrSyntax
	}
	var start, end stream.ID
	var count, minIdle int64
	var consumer []byte
	if len(args) >= 6 {
		at := 3
		if isArg(args[3], "idle") {
			var err error
			if minIdle, err = parseInt(args[4]); err != nil {
				return err
			}
			if len(args) < 8 {
				return ErrSyntax
			}
			at += 2
		}
		var err error
		if count, err = parseInt(args[at+2]); err != nil {
			return err
		}
		if count < 0 {
			count = 0
		}
		var ex bool
		if start, ex, err = parseRangeID(args[at], 0); err != nil {
			return err
		}
		if ex {
			var ok bool
			if start, ok = start.Incr(); !ok {
				return errStartInterval
			}
		}
		if end, ex, err = parseRangeID(args[at+1], math.MaxUint64); err != nil {
			return err
		}
		if ex {
			var ok bool
			if end, ok = end.Decr(); !ok {
				return errEndInterval
			}
		}
		if at+3 < len(args) {
			consumer = args[at+3]
		}
	}
	x, ok, err := getStream(c, args[1])
	if err != nil {
		return err
	}
	group := args[2]
	if ok {
		_, ok, err = x.group(group)
		if err != nil {
			return err
		}
	}
	if !ok {
		return noGroup(args[1], group)
	}
	if justInfo {
		var n int64
		var first, last stream.ID
		err := x.pendings(group, nil, stream.ID{}, func(pi pendingInfo) (bool, error) {
			if n == 0 {
				first = pi.id
			}
			last = pi.id
			n++
			return true, nil
		})
		if err != nil {
			return err
		}
		c.R.Array(4)
		c.R.Int(n)
		if n == 0 {
			c.R.Null()
			c.R.Null()
			c.R.NullArray()
			return nil
		}
		c.R.Bulk(first.Append(nil))
		c.R.Bulk(last.Append(nil))
		cs, err := x.consumers(group)
		if err != nil {
			return err
		}
		var with []consumerInfo
		for _, ci := range cs {
			if ci.pending > 0 {
				with = append(with, ci)
			}
		}
		c.R.Array(len(with))
		for _, ci := range with {
			c.R.Array(2)
			c.R.Bulk(ci.name)
			c.R.BulkInt(ci.pending)
		}
		return nil
	}
	if consumer != nil {
		_, ok, err := x.get(stream.ConsumerKey(group, consumer))
		if err != nil {
			return err
		}
		if !ok {
			c.R.Array(0)
			return nil
		}
	}
	now := c.NowMS()
	var out []pendingInfo
	if count > 0 {
		err = x.pendings(group, consumer, start, func(pi pendingInfo) (bool, error) {
			if end.Less(pi.id) {
				return false, nil
			}
			if minIdle != 0 && now-pi.p.DeliveryMS < minIdle {
				return true, nil
			}
			out = append(out, pi)
			return int64(len(out)) < count, nil
		})
		if err != nil {
			return err
		}
	}
	c.R.Array(len(out))
	for _, pi := range out {
		c.R.Array(4)
		c.R.Bulk(pi.id.Append(nil))
		c.R.Bulk(pi.p.Consumer)
		c.R.Int(max(now-pi.p.DeliveryMS, 0))
		c.R.Int(int64(pi.p.Count))
	}
	return nil
}

// claimOne gives the pending entry id (p, existed) to consumer; it
// reports whether the entry exists.
func (x *xstream) claimTo(group, consumer []byte, id stream.ID, p stream.Pending, existed bool, deliveryMS int64, retry int64, justID bool) error {
	prev := p.Consumer
	p.DeliveryMS = deliveryMS
	if retry >= 0 {
		p.Count = uint64(retry)
	} else if !justID {
		p.Count++
	}
	p.Consumer = consumer
	return x.setPending(group, id, &p, prev, existed)
}

func cmdXClaim(c *Ctx) error {
	args := c.Args
	key, group, consumer := args[1], args[2], args[3]
	x, ok, err := getStream(c, key)
	if err != nil {
		return err
	}
	var g stream.Group
	if ok {
		g, ok, err = x.group(group)
		if err != nil {
			return err
		}
	}
	if !ok {
		return noGroup(key, group)
	}
	minIdle, err := parseInt(args[4])
	if err != nil {
		return Error("ERR Invalid min-idle-time argument for XCLAIM")
	}
	if minIdle < 0 {
		minIdle = 0
	}
	var ids []stream.ID
	j := 5
	for ; j < len(args); j++ {
		id, err := parseStrictID(args[j], 0)
		if err != nil {
			break
		}
		ids = append(ids, id)
	}
	now := c.NowMS()
	delivery := int64(-1)
	retry := int64(-1)
	force, justID := false, false
	var lastID stream.ID
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := args[j]
		switch {
		case isArg(opt, "force"):
			force = true
		case isArg(opt, "justid"):
			justID = true
		case isArg(opt, "idle") && more > 0:
			j++
			v, err := parseInt(args[j])
			if err != nil {
				return Error("ERR Invalid IDLE option argument for XCLAIM")
			}
			delivery = now - v
		case isArg(opt, "time") && more > 0:
			j++
			v, err := parseInt(args[j])
			if err != nil {
				return Error("ERR Invalid TIME option argument for XCLAIM")
			}
			delivery = v
		case isArg(opt, "retrycount") && more > 0:
			j++
			v, err := parseInt(args[j])
			if err != nil {
				return Error("ERR Invalid RETRYCOUNT option argument for XCLAIM")
			}
			retry = v
		case isArg(opt, "lastid") && more > 0:
			j++
			if lastID, err = parseStrictID(args[j], 0); err != nil {
				return err
			}
		default:
			return Error("ERR Unrecognized XCLAIM option '" + string(cstr(opt)) + "'")
		}
	}
	changed := false
	if g.LastID.Less(lastID) {
		g.LastID = lastID
		if err := x.put(stream.GroupKey(group), g.Encode(), false); err != nil {
			return err
		}
		changed = true
	}
	if delivery != -1 {
		if delivery < 0 || delivery > now {
			delivery = now
		}
	} else {
		delivery = now
	}
	var claimed []xentry
	consumerSeen := false
	for _, id := range ids {
		p, existed, err := x.pending(group, id)
		if err != nil {
			return err
		}
		e, exists, err := x.entry(id)
		if err != nil {
			return err
		}
		if !exists {
			if existed {
				if err := x.dropPending(group, id, &p); err != nil {
					return err
				}
				changed = true
			}
			continue
		}
		fresh := false
		if force && !existed {
			p = stream.Pending{DeliveryMS: now, Count: 1}
			fresh = true
		}
		if !existed && !fresh {
			continue
		}
		if !fresh && minIdle != 0 && now-p.DeliveryMS < minIdle {
			continue
		}
		if !consumerSeen {
			if _, err := x.touchConsumer(c, group, consumer); err != nil {
				return err
			}
			consumerSeen = true
		}
		if fresh {
			// a new pending entry: no previous owner
			p.Consumer = nil
		}
		if err := x.claimTo(group, consumer, id, p, existed, delivery, retry, justID); err != nil {
			return err
		}
		changed = true
		claimed = append(claimed, e)
	}
	if changed || consumerSeen {
		if err := x.save(); err != nil {
			return err
		}
	}
	c.R.Array(len(claimed))
	for _, e := range claimed {
		if justID {
			c.R.Bulk(e.id.Append(nil))
		} else {
			replyEntry(c, e)
		}
	}
	return nil
}

func cmdXAutoClaim(c *Ctx) error {
	args := c.Args
	key, group, consumer := args[1], args[2], args[3]
	minIdle, err := parseInt(args[4])
	if err != nil {
		return Error("ERR Invalid min-idle-time argument for XAUTOCLAIM")
	}
	if minIdle < 0 {
		minIdle = 0
	}
	start, ex, err := parseRangeID(args[5], 0)
	if err != nil {
		return err
	}
	if ex {
		var ok bool
		if start, ok = start.Incr(); !ok {
			return errStartInterval
		}
	}
	count := int64(100)
	justID := false
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case isArg(args[j], "count") && more > 0:
			n, err := parseInt(args[j+1])
			if err != nil || n < 1 || n > math.MaxInt64/16 {
				return Error("ERR COUNT must be > 0")
			}
			count = n
			j++
		case isArg(args[j], "justid"):
			justID = true
		default:
			return ErrSyntax
		}
	}
	x, ok, err := getStream(c, key)
	if err != nil {
		return err
	}
	if ok {
		_, ok, err = x.group(group)
		if err != nil {
			return err
		}
	}
	if !ok {
		return noGroup(key, group)
	}
	attempts := count * 10
	now := c.NowMS()
	var claimed []xentry
	var deleted []stream.ID
	var next stream.ID
	consumerSeen := false
	var pis []pendingInfo
	// Collect the candidates first (the scan must not see its own writes
	// move under it), one past what may be looked at for the cursor.
	err = x.pendings(group, nil, start, func(pi pendingInfo) (bool, error) {
		pis = append(pis, pi)
		return int64(len(pis)) <= attempts, nil
	})
	if err != nil {
		return err
	}
	i := 0
	for ; attempts > 0 && count > 0 && i < len(pis); i++ {
		attempts--
		pi := pis[i]
		e, exists, err := x.entry(pi.id)
		if err != nil {
			return err
		}
		if !exists {
			if err := x.dropPending(group, pi.id, &pi.p); err != nil {
				return err
			}
			deleted = append(deleted, pi.id)
			count--
			continue
		}
		if minIdle != 0 && now-pi.p.DeliveryMS < minIdle {
			continue
		}
		if !consumerSeen {
			if _, err := x.touchConsumer(c, group, consumer); err != nil {
				return err
			}
			consumerSeen = true
		}
		if err := x.claimTo(group, consumer, pi.id, pi.p, true, now, -1, justID); err != nil {
			return err
		}
		claimed = append(claimed, e)
		count--
	}
	if i < len(pis) {
		next = pis[i].id
	}
	if consumerSeen || len(deleted) > 0 {
		if err := x.save(); err != nil {
			return err
		}
	}
	c.R.Array(3)
	c.R.Bulk(next.Append(nil))
	c.R.Array(len(claimed))
	for _, e := range claimed {
		if justID {
			c.R.Bulk(e.id.Append(nil))
		} else {
			replyEntry(c, e)
		}
	}
	c.R.Array(len(deleted))
	for _, id := range deleted {
		c.R.Bulk(id.Append(nil))
	}
	return nil
}

func cmdXSetID(c *Ctx) error {
	args := c.Args
	id, err := parseStrictID(args[2], 0)
	if err != nil {
		return err
	}
	entriesAdded := int64(-1)
	var maxDel stream.ID
	for i := 3; i < len(args); {
		more := len(args) - 1 - i
		switch {
		case isArg(args[i], "entriesadded") && more > 0:
			if entriesAdded, err = parseInt(args[i+1]); err != nil {
				return err
			}
			if entriesAdded < 0 {
				return Error("ERR entries_added must be positive")
			}
			i += 2
		case isArg(args[i], "maxdeletedid") && more > 0:
			if maxDel, err = parseStrictID(args[i+1], 0); err != nil {
				return err
			}
			if id.Less(maxDel) {
				return Error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
			}
			i += 2
		default:
			return ErrSyntax
		}
	}
	x, ok, err := getStream(c, args[1])
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSuchKey
	}
	if x.s.Length > 0 {
		maxID, err := x.lastValidID()
		if err != nil {
			return err
		}
		if id.Less(maxID) {
			return Error("ERR The ID specified in XSETID is smaller than the target stream top item")
		}
		if entriesAdded != -1 && x.s.Length > uint64(entriesAdded) {
			return Error("ERR The entries_added specified in XSETID is smaller than the target stream length")
		}
	}
	x.s.LastID = id
	if entriesAdded != -1 {
		x.s.EntriesAdded = uint64(entriesAdded)
	}
	if !maxDel.IsZero() {
		x.s.MaxDeleted = maxDel
	}
	if err := x.save(); err != nil {
		return err
	}
	c.Notify(EventStream, "xsetid", args[1])
	c.R.OK()
	return nil
}

func subcommandSyntax(cmd string, args [][]byte) Error {
	return Error("ERR unknown subcommand or wrong number of arguments for '" + string(cstr(args[1])) + "'. Try " + cmd + " HELP.")
}

func replyHelp(c *Ctx, cmd string, lines []string) {
	c.R.Array(len(lines) + 3)
	c.R.Simple(cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.R.Simple(l)
	}
	c.R.Simple("HELP")
	c.R.Simple("    Prints this help.")
}

var xgroupSubArity = map[string]int{"create": -5, "setid": -5, "destroy": 4, "createconsumer": 5, "delconsumer": 5, "help": 2}

// subArity checks a container command's subcommand: unknown is Redis's
// "unknown subcommand", a wrong count its arity error.
func subArity(cmd string, args [][]byte, arities map[string]int) error {
	sub := string(bytes.ToLower(args[1]))
	n, ok := arities[sub]
	if !ok {
		a := args[1]
		if len(a) > 128 {
			a = a[:128]
		}
		return Error("ERR unknown subcommand '" + string(a) + "'. Try " + cmd + " HELP.")
	}
	if n >= 0 && len(args) != n || n < 0 && len(args) < -n {
		return wrongArgs(string(bytes.ToLower([]byte(cmd))) + "|" + sub)
	}
	return nil
}

func cmdXGroup(c *Ctx) error {
	args := c.Args
	if err := subArity("XGROUP", args, xgroupSubArity); err != nil {
		return err
	}
	opt := args[1]
	if isArg(opt, "help") {
		replyHelp(c, "XGROUP", []string{
			"CREATE <key> <groupname> <id|$> [option]",
			"    Create a new consumer group. Options are:",
			"    * MKSTREAM",
			"      Create the empty stream if it does not exist.",
			"    * ENTRIESREAD entries_read",
			"      Set the group's entries_read counter (internal use).",
			"CREATECONSUMER <key> <groupname> <consumer>",
			"    Create a new consumer in the specified group.",
			"DELCONSUMER <key> <groupname> <consumer>",
			"    Remove the specified consumer.",
			"DESTROY <key> <groupname>",
			"    Remove the specified group.",
			"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
			"    Set the current group ID and entries_read counter.",
		})
		return nil
	}
	key, name := args[2], args[3]
	create, setid := isArg(opt, "create"), isArg(opt, "setid")
	mkstream := false
	entriesRead := int64(-1)
	for i := 5; i < len(args); {
		switch {
		case create && isArg(args[i], "mkstream"):
			mkstream = true
			i++
		case (create || setid) && isArg(args[i], "entriesread") && i+1 < len(args):
			n, err := parseInt(args[i+1])
			if err != nil {
				return err
			}
			if n < 0 && n != -1 {
				return Error("ERR value for ENTRIESREAD must be positive or -1")
			}
			entriesRead = n
			i += 2
		default:
			return subcommandSyntax("XGROUP", args)
		}
	}
	x, ok, err := getStream(c, key)
	if err != nil {
		return err
	}
	var g stream.Group
	gok := false
	if !mkstream {
		if !ok {
			return Error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
		}
		if g, gok, err = x.group(name); err != nil {
			return err
		}
		if !gok && !create && !isArg(opt, "destroy") {
			return Error("NOGROUP No such consumer group '" + string(cstr(name)) + "' for key name '" + string(cstr(key)) + "'")
		}
	} else if ok {
		if g, gok, err = x.group(name); err != nil {
			return err
		}
	}
	switch {
	case create && len(args) <= 8:
		var id stream.ID
		if string(cstr(args[4])) == "$" {
			if ok {
				id = x.s.LastID
			}
		} else if id, err = parseStrictID(args[4], 0); err != nil {
			return err
		}
		if !ok {
			if x, err = newStream(c, key); err != nil {
				return err
			}
		}
		if gok {
			return Error("BUSYGROUP Consumer Group name already exists")
		}
		g = stream.Group{LastID: id, EntriesRead: entriesRead}
		if err := x.put(stream.GroupKey(name), g.Encode(), true); err != nil {
			return err
		}
		if err := x.save(); err != nil {
			return err
		}
		c.R.OK()
		c.Notify(EventStream, "xgroup-create", key)
	case setid && (len(args) == 5 || len(args) == 7):
		var id stream.ID
		if string(cstr(args[4])) == "$" {
			id = x.s.LastID
		} else {
			p, okp := stream.Parse(args[4], 0, false, false)
			if !okp {
				return errInvalidID
			}
			id = p.ID
		}
		g.LastID, g.EntriesRead = id, entriesRead
		if err := x.put(stream.GroupKey(name), g.Encode(), false); err != nil {
			return err
		}
		if err := x.save(); err != nil {
			return err
		}
		c.R.OK()
		c.Notify(EventStream, "xgroup-setid", key)
	case isArg(opt, "destroy") && len(args) == 4:
		if !gok {
			c.R.Int(0)
			return nil
		}
		if err := x.destroyGroup(name); err != nil {
			return err
		}
		if err := x.save(); err != nil {
			return err
		}
		c.R.Int(1)
		c.Notify(EventStream, "xgroup-destroy", key)
	case isArg(opt, "createconsumer") && len(args) == 5:
		k := stream.ConsumerKey(name, args[4])
		_, exists, err := x.get(k)
		if err != nil {
			return err
		}
		if exists {
			c.R.Int(0)
			return nil
		}
		cons := stream.Consumer{SeenMS: c.NowMS()}
		if err := x.put(k, cons.Encode(), true); err != nil {
			return err
		}
		if err := x.save(); err != nil {
			return err
		}
		c.R.Int(1)
		c.Notify(EventStream, "xgroup-createconsumer", key)
	case isArg(opt, "delconsumer") && len(args) == 5:
		k := stream.ConsumerKey(name, args[4])
		_, exists, err := x.get(k)
		if err != nil {
			return err
		}
		if !exists {
			c.R.Int(0)
			return nil
		}
		var ids []stream.ID
		err = x.scanPrefix(stream.OwnedPrefix(name, args[4]), nil, false, func(rest, _ []byte) (bool, error) {
			ids = append(ids, stream.DecodeID(rest))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := x.del(stream.PendingKey(name, id)); err != nil {
				return err
			}
			if err := x.del(stream.OwnedKey(name, args[4], id)); err != nil {
				return err
			}
		}
		if err := x.del(k); err != nil {
			return err
		}
		if err := x.save(); err != nil {
			return err
		}
		c.R.Int(int64(len(ids)))
		c.Notify(EventStream, "xgroup-delconsumer", key)
	default:
		return subcommandSyntax("XGROUP", args)
	}
	return nil
}

// destroyGroup removes a group with its consumers and PEL.
func (x *xstream) destroyGroup(name []byte) error {
	for _, p := range [][]byte{stream.ConsumerPrefix(name), stream.PendingPrefix(name), ownedGroupPrefix(name)} {
		var ms [][]byte
		err := x.scanPrefix(p, nil, false, func(rest, _ []byte) (bool, error) {
			ms = append(ms, append(bytes.Clone(p), rest...))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := x.del(m); err != nil {
				return err
			}
		}
	}
	return x.del(stream.GroupKey(name))
}

// ownedGroupPrefix is the prefix of every consumer's PEL index of a group.
func ownedGroupPrefix(group []byte) []byte {
	b := []byte{stream.KindOwned}
	b = binary.BigEndian.AppendUint32(b, uint32(len(group)))
	return append(b, group...)
}

var xinfoSubArity = map[string]int{"stream": -3, "groups": 3, "consumers": 4, "help": 2}

func cmdXInfo(c *Ctx) error {
	args := c.Args
	if err := subArity("XINFO", args, xinfoSubArity); err != nil {
		return err
	}
	if isArg(args[1], "help") {
		replyHelp(c, "XINFO", []string{
			"CONSUMERS <key> <groupname>",
			"    Show consumers of <groupname>.",
			"GROUPS <key>",
			"    Show the stream consumer groups.",
			"STREAM <key> [FULL [COUNT <count>]",
			"    Show information about the stream.",
		})
		return nil
	}
	key := args[2]
	x, ok, err := getStream(c, key)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSuchKey
	}
	switch {
	case isArg(args[1], "consumers"):
		name := args[3]
		_, gok, err := x.group(name)
		if err != nil {
			return err
		}
		if !gok {
			return Error("NOGROUP No such consumer group '" + string(cstr(name)) + "' for key name '" + string(cstr(key)) + "'")
		}
		cs, err := x.consumers(name)
		if err != nil {
			return err
		}
		now := c.NowMS()
		c.R.Array(len(cs))
		for _, ci := range cs {
			c.R.Map(3)
			c.R.BulkString("name")
			c.R.Bulk(ci.name)
			c.R.BulkString("pending")
			c.R.Int(ci.pending)
			c.R.BulkString("idle")
			c.R.Int(max(now-ci.seen, 0))
		}
	case isArg(args[1], "groups"):
		names, gs, err := x.groupNames()
		if err != nil {
			return err
		}
		c.R.Array(len(names))
		for i, name := range names {
			g := gs[i]
			cs, err := x.consumers(name)
			if err != nil {
				return err
			}
			pel, err := x.countPrefix(stream.PendingPrefix(name))
			if err != nil {
				return err
			}
			c.R.Map(6)
			c.R.BulkString("name")
			c.R.Bulk(name)
			c.R.BulkString("consumers")
			c.R.Int(int64(len(cs)))
			c.R.BulkString("pending")
			c.R.Int(pel)
			c.R.BulkString("last-delivered-id")
			c.R.Bulk(g.LastID.Append(nil))
			c.R.BulkString("entries-read")
			replyEntriesRead(c, g.EntriesRead)
			c.R.BulkString("lag")
			x.replyLag(c, &g)
		}
	default:
		return x.info(c, args)
	}
	return nil
}

func replyEntriesRead(c *Ctx, n int64) {
	if n == -1 {
		c.R.Null()
	} else {
		c.R.Int(n)
	}
}

// nodeCount counts the stream's radix-tree nodes.
func (x *xstream) nodeCount() (int64, error) {
	return x.countPrefix([]byte{stream.KindNode})
}

// info is XINFO STREAM key [FULL [COUNT n]].
func (x *xstream) info(c *Ctx, args [][]byte) error {
	opts := args[3:]
	full := false
	count := int64(10)
	if len(opts) > 0 {
		if len(opts) != 1 && len(opts) != 3 || !isArg(opts[0], "full") {
			return subcommandSyntax("XINFO", args)
		}
		full = true
		if len(opts) == 3 {
			if !isArg(opts[1], "count") {
				return subcommandSyntax("XINFO", args)
			}
			n, err := parseInt(opts[2])
			if err != nil {
				return err
			}
			if n < 0 {
				n = 10
			}
			count = n
		}
	}
	nodes, err := x.nodeCount()
	if err != nil {
		return err
	}
	s := &x.s
	if full {
		c.R.Map(9)
	} else {
		c.R.Map(10)
	}
	c.R.BulkString("length")
	c.R.Int(int64(s.Length))
	c.R.BulkString("radix-tree-keys")
	c.R.Int(nodes)
	c.R.BulkString("radix-tree-nodes")
	rtn, err := x.radixTreeNodes()
	if err != nil {
		return err
	}
	c.R.Int(rtn)
	c.R.BulkString("last-generated-id")
	c.R.Bulk(s.LastID.Append(nil))
	c.R.BulkString("max-deleted-entry-id")
	c.R.Bulk(s.MaxDeleted.Append(nil))
	c.R.BulkString("entries-added")
	c.R.Int(int64(s.EntriesAdded))
	c.R.BulkString("recorded-first-entry-id")
	c.R.Bulk(s.FirstID.Append(nil))
	if !full {
		names, _, err := x.groupNames()
		if err != nil {
			return err
		}
		c.R.BulkString("groups")
		c.R.Int(int64(len(names)))
		first, err := x.rangeEntries(stream.ID{}, stream.MaxID, 1, false)
		if err != nil {
			return err
		}
		last, err := x.rangeEntries(stream.ID{}, stream.MaxID, 1, true)
		if err != nil {
			return err
		}
		c.R.BulkString("first-entry")
		if len(first) == 0 {
			c.R.Null()
		} else {
			replyEntry(c, first[0])
		}
		c.R.BulkString("last-entry")
		if len(last) == 0 {
			c.R.Null()
		} else {
			replyEntry(c, last[0])
		}
		return nil
	}
	es, err := x.rangeEntries(stream.ID{}, stream.MaxID, count, false)
	if err != nil {
		return err
	}
	c.R.BulkString("entries")
	replyEntries(c, es)
	names, gs, err := x.groupNames()
	if err != nil {
		return err
	}
	c.R.BulkString("groups")
	c.R.Array(len(names))
	for i, name := range names {
		g := gs[i]
		c.R.Map(7)
		c.R.BulkString("name")
		c.R.Bulk(name)
		c.R.BulkString("last-delivered-id")
		c.R.Bulk(g.LastID.Append(nil))
		c.R.BulkString("entries-read")
		replyEntriesRead(c, g.EntriesRead)
		c.R.BulkString("lag")
		x.replyLag(c, &g)
		pelCount, err := x.countPrefix(stream.PendingPrefix(name))
		if err != nil {
			return err
		}
		c.R.BulkString("pel-count")
		c.R.Int(pelCount)
		var pel []pendingInfo
		err = x.pendings(name, nil, stream.ID{}, func(pi pendingInfo) (bool, error) {
			pel = append(pel, pi)
			return count == 0 || int64(len(pel)) < count, nil
		})
		if err != nil {
			return err
		}
		c.R.BulkString("pending")
		c.R.Array(len(pel))
		for _, pi := range pel {
			c.R.Array(4)
			c.R.Bulk(pi.id.Append(nil))
			c.R.Bulk(pi.p.Consumer)
			c.R.Int(pi.p.DeliveryMS)
			c.R.Int(int64(pi.p.Count))
		}
		cs, err := x.consumers(name)
		if err != nil {
			return err
		}
		c.R.BulkString("consumers")
		c.R.Array(len(cs))
		for _, ci := range cs {
			c.R.Map(4)
			c.R.BulkString("name")
			c.R.Bulk(ci.name)
			c.R.BulkString("seen-time")
			c.R.Int(ci.seen)
			c.R.BulkString("pel-count")
			c.R.Int(ci.pending)
			var own []pendingInfo
			err = x.pendings(name, ci.name, stream.ID{}, func(pi pendingInfo) (bool, error) {
				own = append(own, pi)
				return count == 0 || int64(len(own)) < count, nil
			})
			if err != nil {
				return err
			}
			c.R.BulkString("pending")
			c.R.Array(len(own))
			for _, pi := range own {
				c.R.Array(3)
				c.R.Bulk(pi.id.Append(nil))
				c.R.Int(pi.p.DeliveryMS)
				c.R.Int(int64(pi.p.Count))
			}
		}
	}
	return nil
}

// radixTreeNodes is the count of redis-server's radix tree nodes for
// the stream's nodes' keys: the tree as rax builds it, compressed runs
// and branches, each key ending in a leaf.
func (x *xstream) radixTreeNodes() (int64, error) {
	var keys [][]byte
	err := x.scanPrefix([]byte{stream.KindNode}, nil, false, func(rest, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(rest))
		return true, nil
	})
	if err != nil || len(keys) == 0 {
		return 1, err
	}
	return raxNodes(keys, 0), nil
}

// raxNodes counts the rax nodes below the position depth of keys
// (sorted, distinct, all of one length, sharing their first depth bytes).
func raxNodes(keys [][]byte, depth int) int64 {
	if len(keys) == 1 && len(keys[0]) == depth {
		return 1 // the leaf
	}
	if len(keys) == 1 {
		return 2 // a compressed run, then the leaf
	}
	first, last := keys[0], keys[len(keys)-1]
	run := 0
	for depth+run < len(first) && first[depth+run] == last[depth+run] {
		run++
	}
	if run > 0 {
		return 1 + raxNodes(keys, depth+run)
	}
	n := int64(1) // a branch
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j][depth] == keys[i][depth] {
			j++
		}
		n += raxNodes(keys[i:j], depth+1)
		i = j
	}
	return n
}
