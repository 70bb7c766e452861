package command

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// maxStringLen is Redis's proto-max-bulk-len, the largest string value.
const maxStringLen = 512 << 20

func registerStrings(t *Table) {
	rw := Write | DenyOOM
	t.Register(
		Spec{Name: "get", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGet},
		Spec{Name: "set", Arity: -3, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSet},
		Spec{Name: "setnx", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSetNX},
		Spec{Name: "setex", Arity: 4, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSetEX(1000, "setex")},
		Spec{Name: "psetex", Arity: 4, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSetEX(1, "psetex")},
		Spec{Name: "getset", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetSet},
		Spec{Name: "getdel", Arity: 2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetDel},
		Spec{Name: "getex", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetEx},
		Spec{Name: "mget", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.FanOut, Handler: cmdMGet},
		Spec{Name: "mset", Arity: -3, Flags: rw, FirstKey: 1, LastKey: -1, Step: 2, Cluster: router.FanOut, Handler: cmdMSet(false)},
		Spec{Name: "msetnx", Arity: -3, Flags: rw, FirstKey: 1, LastKey: -1, Step: 2, Handler: cmdMSet(true)},
		Spec{Name: "incr", Arity: 2, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdIncr(1, false)},
		Spec{Name: "decr", Arity: 2, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdIncr(-1, false)},
		Spec{Name: "incrby", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdIncr(1, true)},
		Spec{Name: "decrby", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdIncr(-1, true)},
		Spec{Name: "incrbyfloat", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdIncrByFloat},
		Spec{Name: "append", Arity: 3, Flags: rw | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdAppend},
		Spec{Name: "strlen", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdStrlen},
		Spec{Name: "getrange", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetRange},
		Spec{Name: "substr", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetRange},
		Spec{Name: "setrange", Arity: 4, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSetRange},
		Spec{Name: "setbit", Arity: 4, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSetBit},
		Spec{Name: "getbit", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGetBit},
		Spec{Name: "bitcount", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdBitCount},
		Spec{Name: "bitpos", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdBitPos},
	)
}

// getString returns key's string value; ok false when missing.
func getString(c *Ctx, key []byte) (m storage.Meta, ok bool, err error) {
	return lookup(c.Txn(key), key, storage.TypeString)
}

// putString stores value under key with the given absolute expiry (0 none).
func putString(c *Ctx, key, value []byte, expireMS int64) error {
	return c.Txn(key).PutMeta(key, &storage.Meta{Type: storage.TypeString, Value: value, ExpireMS: expireMS})
}

func cmdGet(c *Ctx) error {
	m, ok, err := getString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	c.R.Bulk(m.Value)
	return nil
}

// expireArg converts an expiry argument of a SET-family command to an
// absolute unix ms, with Redis's checks. unit is 1000 for seconds, 1 for ms;
// absolute says whether the argument already is a unix time.
func expireArg(c *Ctx, arg []byte, unit int64, absolute bool, cmd string) (int64, error) {
	n, err := parseInt(arg)
	if err != nil {
		return 0, err
	}
	bad := Error("ERR invalid expire time in '" + cmd + "' command")
	if n <= 0 {
		return 0, bad
	}
	if n > math.MaxInt64/unit {
		return 0, bad
	}
	n *= unit
	if !absolute {
		now := c.NowMS()
		if n > math.MaxInt64-now {
			return 0, bad
		}
		n += now
	}
	return n, nil
}

// setOptions are the parsed options of SET and GETEX.
type setOptions struct {
	nx, xx, get, keepTTL, persist bool
	expireArg                     []byte // the last EX/PX/EXAT/PXAT value
	expireKind                    string // "ex", "px", "exat" or "pxat"
}

// parseSetOptions follows Redis 7.0's parseExtendedStringArgumentsOrReply:
// an option may repeat (the last expiry wins, and only it is parsed), but
// conflicting options are a syntax error. forSet selects SET's options,
// else GETEX's.
func parseSetOptions(args [][]byte, forSet bool) (o setOptions, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := i+1 < len(args)
		kind := ""
		for _, k := range []string{"ex", "px", "exat", "pxat"} {
			if isArg(a, k) {
				kind = k
			}
		}
		switch {
		case forSet && isArg(a, "nx") && !o.xx:
			o.nx = true
		case forSet && isArg(a, "xx") && !o.nx:
			o.xx = true
		case forSet && isArg(a, "get"):
			o.get = true
		case forSet && isArg(a, "keepttl") && !o.persist && o.expireKind == "":
			o.keepTTL = true
		case !forSet && isArg(a, "persist") && o.expireKind == "" && !o.keepTTL:
			o.persist = true
		case kind != "" && next && !o.keepTTL && !o.persist && (o.expireKind == "" || o.expireKind == kind):
			o.expireKind, o.expireArg = kind, args[i+1]
			i++
		default:
			return o, ErrSyntax
		}
	}
	return o, nil
}

// expireMS resolves the parsed expiry to absolute unix ms (0: none).
func (o *setOptions) expireMS(c *Ctx, cmd string) (int64, error) {
	if o.expireKind == "" {
		return 0, nil
	}
	unit := int64(1000)
	if o.expireKind[0] == 'p' {
		unit = 1
	}
	return expireArg(c, o.expireArg, unit, len(o.expireKind) == 4, cmd)
}

func cmdSet(c *Ctx) error {
	key, val := c.Args[1], c.Args[2]
	o, err := parseSetOptions(c.Args[3:], true)
	if err != nil {
		return err
	}
	expire, err := o.expireMS(c, "set")
	if err != nil {
		return err
	}
	txn := c.Txn(key)
	old, exists, err := txn.Meta(key)
	if err != nil {
		return err
	}
	if o.get && exists && old.Type != storage.TypeString {
		return ErrWrongType
	}
	replyOld := func() {
		if exists {
			c.R.Bulk(old.Value)
		} else {
			c.R.Null()
		}
	}
	if (o.nx && exists) || (o.xx && !exists) {
		if o.get {
			replyOld()
		} else {
			c.R.Null()
		}
		return nil
	}
	if o.keepTTL && exists {
		expire = old.ExpireMS
	}
	if err := putString(c, key, val, expire); err != nil {
		return err
	}
	c.Notify(EventString, "set", key)
	if o.expireKind != "" {
		c.Notify(EventGeneric, "expire", key)
	}
	if o.get {
		replyOld()
	} else {
		c.R.OK()
	}
	return nil
}

func cmdSetNX(c *Ctx) error {
	key := c.Args[1]
	_, exists, err := c.Txn(key).Meta(key)
	if err != nil {
		return err
	}
	if exists {
		c.R.Int(0)
		return nil
	}
	if err := putString(c, key, c.Args[2], 0); err != nil {
		return err
	}
	c.Notify(EventString, "set", key)
	c.R.Int(1)
	return nil
}

func cmdSetEX(unit int64, name string) Handler {
	return func(c *Ctx) error {
		exp, err := expireArg(c, c.Args[2], unit, false, name)
		if err != nil {
			return err
		}
		if err := putString(c, c.Args[1], c.Args[3], exp); err != nil {
			return err
		}
		c.Notify(EventString, "set", c.Args[1])
		c.Notify(EventGeneric, "expire", c.Args[1])
		c.R.OK()
		return nil
	}
}

func cmdGetSet(c *Ctx) error {
	key := c.Args[1]
	old, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	if err := putString(c, key, c.Args[2], 0); err != nil {
		return err
	}
	c.Notify(EventString, "set", key)
	if ok {
		c.R.Bulk(old.Value)
	} else {
		c.R.Null()
	}
	return nil
}

func cmdGetDel(c *Ctx) error {
	key := c.Args[1]
	old, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	if err := c.Txn(key).DeleteKey(key); err != nil {
		return err
	}
	c.Notify(EventGeneric, "del", key)
	c.R.Bulk(old.Value)
	return nil
}

func cmdGetEx(c *Ctx) error {
	key := c.Args[1]
	o, err := parseSetOptions(c.Args[2:], false)
	if err != nil {
		return err
	}
	expire, err := o.expireMS(c, "getex")
	if err != nil {
		return err
	}
	set, persist := o.expireKind != "", o.persist
	m, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	event := ""
	switch {
	case set && expire <= c.NowMS():
		event, err = "del", c.Txn(key).DeleteKey(key)
	case set:
		event, err = "expire", putString(c, key, m.Value, expire)
	case persist && m.ExpireMS != 0:
		event, err = "persist", putString(c, key, m.Value, 0)
	}
	if err != nil {
		return err
	}
	if event != "" {
		c.Notify(EventGeneric, event, key)
	}
	c.R.Bulk(m.Value)
	return nil
}

func cmdMGet(c *Ctx) error {
	c.R.Array(len(c.Args) - 1)
	for _, key := range c.Args[1:] {
		m, ok, err := c.Txn(key).Meta(key)
		if err != nil {
			return err
		}
		if ok && m.Type == storage.TypeString {
			c.R.Bulk(m.Value)
		} else {
			c.R.Null()
		}
	}
	return nil
}

func cmdMSet(nx bool) Handler {
	return func(c *Ctx) error {
		if len(c.Args)%2 != 1 {
			if nx {
				return wrongArgs("msetnx")
			}
			return wrongArgs("mset")
		}
		if nx {
			for i := 1; i < len(c.Args); i += 2 {
				_, exists, err := c.Txn(c.Args[i]).Meta(c.Args[i])
				if err != nil {
					return err
				}
				if exists {
					c.R.Int(0)
					return nil
				}
			}
		}
		for i := 1; i < len(c.Args); i += 2 {
			if err := putString(c, c.Args[i], c.Args[i+1], 0); err != nil {
				return err
			}
			c.Notify(EventString, "set", c.Args[i])
		}
		if nx {
			c.R.Int(1)
		} else {
			c.R.OK()
		}
		return nil
	}
}

func cmdIncr(sign int64, withArg bool) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		delta := sign
		if withArg {
			n, err := parseInt(c.Args[2])
			if err != nil {
				return err
			}
			if sign < 0 {
				if n == math.MinInt64 {
					return Error("ERR decrement would overflow")
				}
				n = -n
			}
			delta = n
		}
		m, ok, err := getString(c, key)
		if err != nil {
			return err
		}
		var cur int64
		if ok {
			if cur, err = parseInt(m.Value); err != nil {
				return err
			}
		}
		if (delta < 0 && cur < 0 && delta < math.MinInt64-cur) || (delta > 0 && cur > 0 && delta > math.MaxInt64-cur) {
			return ErrOverflow
		}
		cur += delta
		val := strconv.AppendInt(nil, cur, 10)
		if err := putString(c, key, val, m.ExpireMS); err != nil {
			return err
		}
		c.Notify(EventString, "incrby", key)
		c.R.Int(cur)
		return nil
	}
}

func cmdIncrByFloat(c *Ctx) error {
	key := c.Args[1]
	incr, err := parseLongDouble(c.Args[2])
	if err != nil {
		return err
	}
	m, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	cur, _ := parseLongDouble([]byte("0"))
	if ok {
		if cur, err = parseLongDouble(m.Value); err != nil {
			return err
		}
	}
	sum, err := addLongDouble(cur, incr)
	if err != nil {
		return err
	}
	s := formatLongDouble(sum)
	if err := putString(c, key, []byte(s), m.ExpireMS); err != nil {
		return err
	}
	c.Notify(EventString, "incrbyfloat", key)
	c.R.BulkString(s)
	return nil
}

func cmdAppend(c *Ctx) error {
	key := c.Args[1]
	m, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	if len(m.Value)+len(c.Args[2]) > maxStringLen {
		return Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	val := append(append(make([]byte, 0, len(m.Value)+len(c.Args[2])), m.Value...), c.Args[2]...)
	if !ok {
		m.ExpireMS = 0
	}
	if err := putString(c, key, val, m.ExpireMS); err != nil {
		return err
	}
	c.Notify(EventString, "append", key)
	c.R.Int(int64(len(val)))
	return nil
}

func cmdStrlen(c *Ctx) error {
	m, _, err := getString(c, c.Args[1])
	if err != nil {
		return err
	}
	c.R.Int(int64(len(m.Value)))
	return nil
}

// clampRange converts GETRANGE's start/end (negative from the end) over a
// length into [start, end] inclusive. Unlike LRANGE (indexRange), an end
// still negative after adding the length counts as 0, as Redis does.
func clampRange(start, end, n int64) (int64, int64, bool) {
	if end < 0 {
		end = max(end+n, 0)
	}
	return indexRange(start, end, n)
}

func cmdGetRange(c *Ctx) error {
	start, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	end, err := parseInt(c.Args[3])
	if err != nil {
		return err
	}
	m, _, err := getString(c, c.Args[1])
	if err != nil {
		return err
	}
	if start < 0 && end < 0 && start > end {
		c.R.BulkString("")
		return nil
	}
	s, e, ok := clampRange(start, end, int64(len(m.Value)))
	if !ok {
		c.R.BulkString("")
		return nil
	}
	c.R.Bulk(m.Value[s : e+1])
	return nil
}

func cmdSetRange(c *Ctx) error {
	key := c.Args[1]
	off, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	if off < 0 {
		return Error("ERR offset is out of range")
	}
	val := c.Args[3]
	m, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	if len(val) == 0 {
		c.R.Int(int64(len(m.Value)))
		return nil
	}
	if off > maxStringLen-int64(len(val)) { // not off+len: that can overflow
		return Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	}
	n := max(int64(len(m.Value)), off+int64(len(val)))
	buf := make([]byte, n)
	copy(buf, m.Value)
	copy(buf[off:], val)
	if !ok {
		m.ExpireMS = 0
	}
	if err := putString(c, key, buf, m.ExpireMS); err != nil {
		return err
	}
	c.Notify(EventString, "setrange", key)
	c.R.Int(n)
	return nil
}

// bitOffset parses a SETBIT/GETBIT offset (at most 2^32-1, Redis's limit
// for 512 MB strings).
func bitOffset(arg []byte) (int64, error) {
	n, ok := parseUintStrict(arg)
	if !ok || n >= maxStringLen*8 {
		return 0, Error("ERR bit offset is not an integer or out of range")
	}
	return n, nil
}

func parseUintStrict(arg []byte) (int64, bool) {
	n, err := parseInt(arg)
	return n, err == nil && n >= 0
}

func cmdSetBit(c *Ctx) error {
	key := c.Args[1]
	off, err := bitOffset(c.Args[2])
	if err != nil {
		return err
	}
	bit := string(c.Args[3])
	if bit != "0" && bit != "1" {
		return Error("ERR bit is not an integer or out of range")
	}
	m, ok, err := getString(c, key)
	if err != nil {
		return err
	}
	byteIdx := off >> 3
	n := max(int64(len(m.Value)), byteIdx+1)
	buf := make([]byte, n)
	copy(buf, m.Value)
	mask := byte(1) << (7 - uint(off&7))
	old := 0
	if buf[byteIdx]&mask != 0 {
		old = 1
	}
	if bit == "1" {
		buf[byteIdx] |= mask
	} else {
		buf[byteIdx] &^= mask
	}
	if !ok {
		m.ExpireMS = 0
	}
	if err := putString(c, key, buf, m.ExpireMS); err != nil {
		return err
	}
	// As Redis: an event only when the key was created, grew or the bit
	// changed.
	if !ok || n > int64(len(m.Value)) || (old == 1) != (bit == "1") {
		c.Notify(EventString, "setbit", key)
	}
	c.R.Int(int64(old))
	return nil
}

func cmdGetBit(c *Ctx) error {
	off, err := bitOffset(c.Args[2])
	if err != nil {
		return err
	}
	m, _, err := getString(c, c.Args[1])
	if err != nil {
		return err
	}
	byteIdx := off >> 3
	if byteIdx >= int64(len(m.Value)) {
		c.R.Int(0)
		return nil
	}
	c.R.Int(int64(m.Value[byteIdx]>>(7-uint(off&7))) & 1)
	return nil
}

// bitIndexes turns BITCOUNT's and BITPOS's start and end (BYTE or BIT
// indexes, negative ones from the end) into the bit range [first, last]
// of a string of n bytes; empty when it holds no bit.
func bitIndexes(start, end, n int64, isBit bool) (first, last int64, empty bool) {
	total := n
	if isBit {
		total = n * 8
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	end = min(end, total-1)
	if start > end {
		return 0, 0, true
	}
	if isBit {
		return start, end, false
	}
	return start * 8, end*8 + 7, false
}

// bitUnit reads BITCOUNT's and BITPOS's BYTE|BIT argument.
func bitUnit(arg []byte) (isBit bool, err error) {
	switch {
	case isArg(arg, "bit"):
		return true, nil
	case isArg(arg, "byte"):
		return false, nil
	}
	return false, ErrSyntax
}

func bitAt(v []byte, i int64) byte { return (v[i>>3] >> (7 - uint(i&7))) & 1 }

// cmdBitCount follows Redis 7.0's order: a missing key answers 0 before
// the arguments are looked at, and start and end both negative with
// start past end answer 0 before the BYTE|BIT word is.
func cmdBitCount(c *Ctx) error {
	m, ok, err := getString(c, c.Args[1])
	if err != nil || !ok {
		if err == nil {
			c.R.Int(0)
		}
		return err
	}
	n := int64(len(m.Value))
	first, last, empty := int64(0), n*8-1, n == 0
	switch len(c.Args) {
	case 2:
	case 4, 5:
		start, err := parseInt(c.Args[2])
		if err != nil {
			return err
		}
		end, err := parseInt(c.Args[3])
		if err != nil {
			return err
		}
		if start < 0 && end < 0 && start > end {
			c.R.Int(0)
			return nil
		}
		isBit := false
		if len(c.Args) == 5 {
			if isBit, err = bitUnit(c.Args[4]); err != nil {
				return err
			}
		}
		first, last, empty = bitIndexes(start, end, n, isBit)
	default:
		return ErrSyntax
	}
	if empty {
		c.R.Int(0)
		return nil
	}
	var count int64
	i := first
	for ; i <= last && i&7 != 0; i++ {
		count += int64(bitAt(m.Value, i))
	}
	for ; i+7 <= last; i += 8 {
		count += int64(bits.OnesCount8(m.Value[i>>3]))
	}
	for ; i <= last; i++ {
		count += int64(bitAt(m.Value, i))
	}
	c.R.Int(count)
	return nil
}

// cmdBitPos follows Redis 7.0's order: the bit, then the key (a missing
// one answers at once), then start, the BYTE|BIT word, end.
func cmdBitPos(c *Ctx) error {
	bit, err := parseInt(c.Args[2])
	if err != nil {
		return err
	}
	if bit != 0 && bit != 1 {
		return Error("ERR The bit argument must be 1 or 0.")
	}
	want := byte(bit)
	m, ok, err := getString(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		// A missing key is an endless run of clear bits.
		c.R.Int(-bit)
		return nil
	}
	n := int64(len(m.Value))
	first, last, empty := int64(0), n*8-1, n == 0
	endGiven := false
	switch len(c.Args) {
	case 3:
	case 4, 5, 6:
		start, err := parseInt(c.Args[3])
		if err != nil {
			return err
		}
		isBit := false
		if len(c.Args) == 6 {
			if isBit, err = bitUnit(c.Args[5]); err != nil {
				return err
			}
		}
		end := n - 1
		if len(c.Args) >= 5 {
			if end, err = parseInt(c.Args[4]); err != nil {
				return err
			}
			endGiven = true
		}
		first, last, empty = bitIndexes(start, end, n, isBit)
	default:
		return ErrSyntax
	}
	if empty {
		c.R.Int(-1)
		return nil
	}
	skip := byte(0) // a whole byte without the bit looked for
	if want == 0 {
		skip = 0xff
	}
	for i := first; i <= last; i++ {
		if i&7 == 0 && i+7 <= last && m.Value[i>>3] == skip {
			i += 7
			continue
		}
		if bitAt(m.Value, i) == want {
			c.R.Int(i)
			return nil
		}
	}
	// Looking for a clear bit with no end given: the string is treated as
	// padded with zeros on the right, as Redis does.
	if want == 0 && !endGiven {
		c.R.Int(last + 1)
		return nil
	}
	c.R.Int(-1)
	return nil
}
