package command

import (
	"bytes"
	"math/rand/v2"
	"strings"

	"github.com/pika-node/pika-node/node/hll"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The HyperLogLog commands: the value is a string holding Redis 7.0's
// own bytes (package hll), so GET, SET and the string commands see what
// they see on redis-server.
//
// PFCOUNT of one key stores the estimate it computed in the value (Redis
// caches it there) when the cached one was stale: it is a write here,
// which also makes it wait for a slot's leader and count as a write in
// read-only scripts and CLIENT PAUSE WRITE, as Redis's "may-replicate"
// PFCOUNT does; COMMAND INFO shows it as write, not readonly.
//
// hll-sparse-max-bytes is Redis's default, 3000: CONFIG SET of it is
// accepted but does not reach these commands.
func registerHLL(t *Table) {
	t.Register(
		Spec{Name: "pfadd", Arity: -2, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdPFAdd},
		Spec{Name: "pfcount", Arity: -2, Flags: Write, FirstKey: 1, LastKey: -1, Step: 1, Handler: cmdPFCount},
		Spec{Name: "pfmerge", Arity: -2, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Step: 1, Handler: cmdPFMerge},
		Spec{Name: "pfdebug", Arity: 3, Flags: Write | DenyOOM | Admin, FirstKey: 2, LastKey: 2, Step: 1, Handler: cmdPFDebug},
		Spec{Name: "pfselftest", Arity: 1, Flags: Admin, Cluster: router.Server, Handler: cmdPFSelfTest},
	)
}

// getHLL returns key's string value for a HyperLogLog command: nil for a
// missing key, never nil for an existing one (even empty), with its meta
// (ExpireMS 0 when missing). A key of another type is ErrWrongType.
func getHLL(c *Ctx, key []byte) (value []byte, m storage.Meta, err error) {
	m, ok, err := getString(c, key)
	if err != nil || !ok {
		return nil, storage.Meta{}, err
	}
	if m.Value == nil {
		m.Value = []byte{}
	}
	return m.Value, m, nil
}

func cmdPFAdd(c *Ctx) error {
	key := c.Args[1]
	old, m, err := getHLL(c, key)
	if err != nil {
		return err
	}
	v, changed, err := hll.Add(old, c.Args[2:])
	if err != nil {
		// Redis keeps what the elements before the corruption changed,
		// and answers the error.
		if v == nil || bytes.Equal(v, old) {
			return err
		}
		if perr := putString(c, key, v, m.ExpireMS); perr != nil {
			return perr
		}
		msg, _ := ErrorReply(err)
		c.R.Error(msg)
		return nil
	}
	if !changed {
		c.R.Int(0)
		return nil
	}
	if err := putString(c, key, v, m.ExpireMS); err != nil {
		return err
	}
	c.Notify(EventString, "pfadd", key)
	c.R.Int(1)
	return nil
}

func cmdPFCount(c *Ctx) error {
	if len(c.Args) == 2 {
		key := c.Args[1]
		v, m, err := getHLL(c, key)
		if err != nil {
			return err
		}
		card, updated, err := hll.Count(v)
		if err != nil {
			return err
		}
		if updated != nil { // no event, as Redis
			if err := putString(c, key, updated, m.ExpireMS); err != nil {
				return err
			}
		}
		c.R.Int(int64(card)) // Redis answers the cache as a signed integer
		return nil
	}
	u := new(hll.Union)
	for _, key := range c.Args[1:] {
		v, _, err := getHLL(c, key)
		if err != nil {
			return err
		}
		if err := u.Merge(v); err != nil {
			return err
		}
	}
	c.R.Int(int64(u.Count()))
	return nil
}

func cmdPFMerge(c *Ctx) error {
	u := new(hll.Union)
	var dest []byte
	var destMeta storage.Meta
	for i, key := range c.Args[1:] { // the destination is merged too
		v, m, err := getHLL(c, key)
		if err != nil {
			return err
		}
		if i == 0 {
			dest, destMeta = v, m
		}
		if err := u.Merge(v); err != nil {
			return err
		}
	}
	v, err := u.Store(dest)
	if err != nil {
		return err
	}
	if err := putString(c, c.Args[1], v, destMeta.ExpireMS); err != nil {
		return err
	}
	c.Notify(EventString, "pfadd", c.Args[1]) // Redis's event for PFMERGE
	c.R.OK()
	return nil
}

func cmdPFDebug(c *Ctx) error {
	key := c.Args[2]
	v, m, err := getHLL(c, key)
	if err != nil {
		return err
	}
	if v == nil {
		return Error("ERR The specified key does not exist")
	}
	if err := hll.Validate(v); err != nil {
		return err
	}
	switch strings.ToLower(string(c.Args[1])) {
	case "getreg":
		regs, dense, err := hll.DenseRegisters(v)
		if err != nil {
			return err
		}
		if dense != nil {
			if err := putString(c, key, dense, m.ExpireMS); err != nil {
				return err
			}
		}
		c.R.Array(len(regs))
		for _, r := range regs {
			c.R.Int(int64(r))
		}
	case "decode":
		s, err := hll.Decode(v)
		if err != nil {
			return err
		}
		c.R.BulkString(s)
	case "encoding":
		c.R.Simple(hll.Encoding(v))
	case "todense":
		dense, err := hll.ToDense(v)
		if err != nil {
			return err
		}
		if dense == nil {
			c.R.Int(0)
			return nil
		}
		if err := putString(c, key, dense, m.ExpireMS); err != nil {
			return err
		}
		c.R.Int(1)
	default:
		return Error("ERR Unknown PFDEBUG subcommand '" + string(c.Args[1]) + "'")
	}
	return nil
}

func cmdPFSelfTest(c *Ctx) error {
	if err := hll.SelfTest(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))); err != nil {
		return err
	}
	c.R.OK()
	return nil
}
