package command

import (
	"github.com/pika-node/pika-node/storage"
)

// lookup returns key's live meta when it has type typ. ok is false when the
// key does not exist (or has expired); a key of another type is ErrWrongType.
func lookup(txn *storage.Txn, key []byte, typ storage.Type) (m storage.Meta, ok bool, err error) {
	m, ok, err = txn.Meta(key)
	if err != nil || !ok {
		return m, false, err
	}
	if m.Type != typ {
		return m, false, ErrWrongType
	}
	return m, true, nil
}

// lookupOrCreate returns key's collection meta for a write that may create
// it: a missing key gets a fresh meta with a new version (not yet stored).
func lookupOrCreate(txn *storage.Txn, key []byte, typ storage.Type) (storage.Meta, error) {
	m, ok, err := lookup(txn, key, typ)
	if err != nil || ok {
		return m, err
	}
	v, err := txn.NewVersion()
	if err != nil {
		return m, err
	}
	m = storage.Meta{Type: typ, Version: v}
	if typ == storage.TypeList {
		m.Head, m.Tail = storage.ListInitialIndex, storage.ListInitialIndex
	}
	return m, nil
}

// storeCollection writes a collection's meta after its members changed, or
// deletes the key when it became empty (Redis never keeps empty
// collections).
func storeCollection(txn *storage.Txn, key []byte, m *storage.Meta) error {
	if m.Count == 0 {
		return txn.DeleteKey(key)
	}
	return txn.PutMeta(key, m)
}

// cmdRemoveMembers serves HDEL and SREM: remove members of a hash or set
// (fields, for a hash) and reply how many existed. The keyspace event is
// event (of class) when something was removed, then "del" when that
// emptied the key.
func cmdRemoveMembers(typ storage.Type, class EventClass, event string) Handler {
	return func(c *Ctx) error {
		key := c.Args[1]
		txn := c.Txn(key)
		m, ok, err := lookup(txn, key, typ)
		if err != nil {
			return err
		}
		if !ok {
			c.R.Int(0)
			return nil
		}
		var removed int64
		for _, member := range c.Args[2:] {
			_, exists, err := txn.Member(key, m.Version, member)
			if err != nil {
				return err
			}
			if !exists {
				continue
			}
			if err := txn.DeleteMember(key, m.Version, member); err != nil {
				return err
			}
			removed++
		}
		if removed > 0 {
			m.Count -= uint64(removed)
			if err := storeCollection(txn, key, &m); err != nil {
				return err
			}
			c.Notify(class, event, key)
			if m.Count == 0 {
				c.Notify(EventGeneric, "del", key)
			}
		}
		c.R.Int(removed)
		return nil
	}
}

// cmdCard serves HLEN and SCARD: the member count, 0 for a missing key.
func cmdCard(typ storage.Type) Handler {
	return func(c *Ctx) error {
		m, _, err := lookup(c.Txn(c.Args[1]), c.Args[1], typ)
		if err != nil {
			return err
		}
		c.R.Int(int64(m.Count))
		return nil
	}
}

// isArg reports whether arg equals the option name as Redis's strcasecmp
// compares them: ASCII letters only folded, arg read up to its first NUL.
func isArg(arg []byte, name string) bool { return strcaseEqual(arg, name) }

// IsArg is isArg for the packages that parse their own commands' options.
func IsArg(arg []byte, name string) bool { return strcaseEqual(arg, name) }

// wrongArgs is Redis's arity error for command name.
func wrongArgs(name string) Error {
	return Error("ERR wrong number of arguments for '" + name + "' command")
}

// WrongArgs is exported for the node's arity check.
func WrongArgs(name string) Error { return wrongArgs(name) }
