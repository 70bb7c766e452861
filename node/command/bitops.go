package command

import (
	"bytes"
	"math"

	"github.com/pika-node/pika-node/node/resp"
)

// BITOP, BITFIELD and BITFIELD_RO, as redis-server 7.0's bitops.c answers
// them (the checks in its order, its error strings).

func registerBitOps(t *Table) {
	t.Register(
		Spec{Name: "bitop", Arity: -4, Flags: Write | DenyOOM, FirstKey: 2, LastKey: -1, Step: 1, Handler: cmdBitOp},
		Spec{Name: "bitfield", Arity: -2, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdBitField(false)},
		Spec{Name: "bitfield_ro", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdBitField(true)},
	)
}

func cmdBitOp(c *Ctx) error {
	op := c.Args[1]
	var fold func(a, b byte) byte
	switch {
	case isArg(op, "and"):
		fold = func(a, b byte) byte { return a & b }
	case isArg(op, "or"):
		fold = func(a, b byte) byte { return a | b }
	case isArg(op, "xor"):
		fold = func(a, b byte) byte { return a ^ b }
	case isArg(op, "not"):
		if len(c.Args) != 4 {
			return Error("ERR BITOP NOT must be called with a single source key.")
		}
	default:
		return ErrSyntax
	}
	dst, keys := c.Args[2], c.Args[3:]
	srcs := make([][]byte, len(keys))
	longest := 0
	for i, k := range keys {
		m, _, err := getString(c, k) // a missing key is an empty string
		if err != nil {
			return err
		}
		srcs[i] = m.Value
		longest = max(longest, len(m.Value))
	}
	// Shorter strings count as padded with zero bytes.
	at := func(s []byte, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	var out []byte
	if longest > 0 {
		out = make([]byte, longest)
		for i := range out {
			b := at(srcs[0], i)
			if fold == nil {
				b = ^b
			}
			for _, s := range srcs[1:] {
				b = fold(b, at(s, i))
			}
			out[i] = b
		}
	}
	txn := c.Txn(dst)
	if longest > 0 {
		if err := putString(c, dst, out, 0); err != nil { // Redis's setKey: the TTL goes
			return err
		}
		c.Notify(EventString, "set", dst)
	} else {
		_, existed, err := txn.Meta(dst)
		if err != nil {
			return err
		}
		if existed {
			if err := txn.DeleteKey(dst); err != nil {
				return err
			}
			c.Notify(EventGeneric, "del", dst)
		}
	}
	c.R.Int(int64(longest))
	return nil
}

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD call.
type bitfieldOp struct {
	op     byte // 'g', 's' or 'i'
	signed bool
	bits   uint
	offset uint64
	arg    int64 // SET's value, INCRBY's increment
	ow     overflowKind
}

const errBitfieldType = Error("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")

// bitfieldType parses i1..i64 or u1..u63. As Redis, the width is read
// up to the argument's first NUL, and the letter is lower case.
func bitfieldType(arg []byte) (signed bool, bits uint, err error) {
	if i := bytes.IndexByte(arg, 0); i >= 0 {
		arg = arg[:i]
	}
	if len(arg) == 0 || arg[0] != 'i' && arg[0] != 'u' {
		return false, 0, errBitfieldType
	}
	signed = arg[0] == 'i'
	n, ok := resp.ParseInt(arg[1:])
	if !ok || n < 1 || signed && n > 64 || !signed && n > 63 {
		return false, 0, errBitfieldType
	}
	return signed, uint(n), nil
}

// bitfieldOffset parses a field offset: a bit offset, or #n for the n-th
// field of bits bits.
func bitfieldOffset(arg []byte, bits uint) (uint64, error) {
	bad := Error("ERR bit offset is not an integer or out of range")
	hash := len(arg) > 0 && arg[0] == '#'
	if hash {
		arg = arg[1:]
	}
	n, ok := resp.ParseInt(arg)
	if !ok {
		return 0, bad
	}
	if hash {
		n *= int64(bits) // wraps as Redis's does, then fails the range check
	}
	if n < 0 || n>>3 >= maxStringLen {
		return 0, bad
	}
	return uint64(n), nil
}

// parseBitfield reads BITFIELD's operations, checking them all before
// anything runs, as Redis does.
func parseBitfield(args [][]byte) (ops []bitfieldOp, writes bool, highest uint64, err error) {
	ow := overflowWrap
	for j := 0; j < len(args); j++ {
		rest := len(args) - j - 1
		sub := args[j]
		var op byte
		switch {
		case isArg(sub, "get") && rest >= 2:
			op = 'g'
		case isArg(sub, "set") && rest >= 3:
			op = 's'
		case isArg(sub, "incrby") && rest >= 3:
			op = 'i'
		case isArg(sub, "overflow") && rest >= 1:
			j++
			switch {
			case isArg(args[j], "wrap"):
				ow = overflowWrap
			case isArg(args[j], "sat"):
				ow = overflowSat
			case isArg(args[j], "fail"):
				ow = overflowFail
			default:
				return nil, false, 0, Error("ERR Invalid OVERFLOW type specified")
			}
			continue
		default:
			return nil, false, 0, ErrSyntax
		}
		signed, bits, err := bitfieldType(args[j+1])
		if err != nil {
			return nil, false, 0, err
		}
		off, err := bitfieldOffset(args[j+2], bits)
		if err != nil {
			return nil, false, 0, err
		}
		o := bitfieldOp{op: op, signed: signed, bits: bits, offset: off, ow: ow}
		if op != 'g' {
			writes = true
			highest = max(highest, off+uint64(bits)-1)
			if o.arg, err = parseInt(args[j+3]); err != nil {
				return nil, false, 0, err
			}
			j++
		}
		j += 2
		ops = append(ops, o)
	}
	return ops, writes, highest, nil
}

func cmdBitField(readOnly bool) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		ops, writes, highest, err := parseBitfield(c.Args[2:])
		if err != nil {
			return err
		}
		if writes && readOnly {
			return Error("ERR BITFIELD_RO only supports the GET subcommand")
		}
		m, ok, err := getString(c, key)
		if err != nil {
			return err
		}
		v := m.Value
		dirty := writes && !ok // created, or grown below
		if writes {
			// The string grows to hold the farthest field written, even
			// when every write then fails.
			if need := highest>>3 + 1; uint64(len(v)) < need {
				grown := make([]byte, need)
				copy(grown, v)
				v, dirty = grown, true
			} else {
				v = bytes.Clone(v)
			}
			if !ok {
				m.ExpireMS = 0
			}
		}
		changed := false // as Redis: an event when a write created, grew or changed the string
		c.R.Array(len(ops))
		for _, o := range ops {
			old := fieldBits(v, o.offset, o.bits)
			if o.op == 'g' {
				if o.signed {
					c.R.Int(signExtend(old, o.bits))
				} else {
					c.R.Int(int64(old))
				}
				continue
			}
			var stored uint64
			var reply int64
			var overflow bool
			if o.signed {
				var nv int64
				if o.op == 'i' {
					nv, overflow = signedField(signExtend(old, o.bits), o.arg, o.bits, o.ow)
					reply = nv
				} else {
					nv, overflow = signedField(o.arg, 0, o.bits, o.ow)
					reply = signExtend(old, o.bits)
				}
				stored = uint64(nv)
			} else {
				if o.op == 'i' {
					stored, overflow = unsignedField(old, o.arg, o.bits, o.ow)
					reply = int64(stored)
				} else {
					stored, overflow = unsignedField(uint64(o.arg), 0, o.bits, o.ow)
					reply = int64(old)
				}
			}
			if overflow && o.ow == overflowFail {
				c.R.Null()
				continue
			}
			putFieldBits(v, o.offset, o.bits, stored)
			changed = changed || dirty || stored&(math.MaxUint64>>(64-o.bits)) != old
			c.R.Int(reply)
		}
		if writes {
			if err := putString(c, key, v, m.ExpireMS); err != nil {
				return err
			}
			if changed {
				c.Notify(EventString, "setbit", key)
			}
		}
		return nil
	}
}
