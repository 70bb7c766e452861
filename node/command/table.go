package command

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Flags describe a command, for dispatch and COMMAND INFO.
type Flags uint32

const (
	// Write commands change data: they run under their slots' locks and
	// their effects are committed before the reply is sent.
	Write Flags = 1 << iota
	// ReadOnly commands only read data.
	ReadOnly
	// Admin commands manage the server.
	Admin
	// NoAuth commands run before a connection has authenticated.
	NoAuth
	// Fast commands are O(1) or O(log n).
	Fast
	// Loading commands are allowed while the node loads (all of ours).
	Loading
	// Stale commands are allowed on a stale replica.
	Stale
	// DenyOOM commands may grow memory.
	DenyOOM
	// OwnLocks commands (scripts) hold their slots themselves, for as
	// long as they run: Run calls their handler without taking any
	// lock. Not shown by COMMAND INFO.
	OwnLocks
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{Write, "write"}, {ReadOnly, "readonly"}, {DenyOOM, "denyoom"}, {Admin, "admin"},
	{NoAuth, "no_auth"}, {Loading, "loading"}, {Stale, "stale"}, {Fast, "fast"},
}

// Names returns the flag names COMMAND INFO shows, in Redis's order.
func (f Flags) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// Handler evaluates one command. It appends its reply to c.R, or returns an
// error: a Error is sent as the reply, anything else as an internal error;
// either way a write's effect is dropped.
type Handler func(c *Ctx) error

// Spec describes one command.
type Spec struct {
	// Name is the lower-case command name.
	Name string
	// Arity follows Redis: n > 0 means exactly n arguments (the name
	// included), n < 0 means at least -n.
	Arity int
	Flags Flags
	// FirstKey, LastKey and Step locate the key arguments as in Redis's
	// COMMAND reply: LastKey -1 is the last argument, 0 means no keys.
	FirstKey, LastKey, Step int
	// Keys, when set, extracts keys for commands whose key count is in
	// an argument (ZUNIONSTORE, SINTERCARD). It is called after the arity
	// check and may return an error for a malformed count.
	Keys func(args [][]byte) ([][]byte, error)
	// Batchable, when set and true for the arguments, lets the command's
	// writes join its connection's pipeline batch (storage.Batch): the
	// command must read with point lookups only, never scans (scans see
	// the batch's pending writes too, but merge them over RocksDB at a
	// cost a pipeline of point writes should not pay).
	Batchable func(args [][]byte) bool
	// Elsewhere, when set, reports whether the command writes another
	// table than table too (COPY ... DB n): it must not run in a unit's
	// batch, which holds slots of one table (MULTI ... EXEC commits the
	// unit so far, runs it on its own, then holds the rest's slots).
	Elsewhere func(args [][]byte, table storage.TableID) bool
	// Cluster is how the cluster routes the command (router.Keyed, the
	// zero value, for a command of one slot's keys).
	Cluster router.Class
	// Merge is how a FanOut or TableWide command's parts' replies
	// become one (router.Merge).
	Merge router.Merge
	// Timeout, set for the blocking commands (BLPOP, BZPOPMIN, ...),
	// checks the arguments and reads how long a client may wait; their
	// Handler never waits (it answers a null when there is nothing), the
	// client's connection does.
	Timeout func(args [][]byte) (time.Duration, error)
	// Blocks, when set beside Timeout, says whether these arguments wait
	// at all (XREAD and XREADGROUP wait only with BLOCK).
	Blocks func(args [][]byte) bool
	// Handler runs the command.
	Handler Handler
}

// KeysOf returns the key arguments of args.
func (s *Spec) KeysOf(args [][]byte) ([][]byte, error) {
	if s.Keys != nil {
		return s.Keys(args)
	}
	if s.FirstKey <= 0 || s.FirstKey >= len(args) {
		return nil, nil
	}
	last := s.LastKey
	if last < 0 {
		last = len(args) + last
	}
	if last >= len(args) {
		last = len(args) - 1
	}
	step := s.Step
	if step <= 0 {
		step = 1
	}
	keys := make([][]byte, 0, (last-s.FirstKey)/step+1)
	for i := s.FirstKey; i <= last; i += step {
		keys = append(keys, args[i])
	}
	return keys, nil
}

// ArityOK reports whether n arguments (name included) fit the arity.
func (s *Spec) ArityOK(n int) bool {
	if s.Arity >= 0 {
		return n == s.Arity
	}
	return n >= -s.Arity
}

// Table is the set of commands a node serves. Register everything before
// serving; lookups are then safe for concurrent use.
type Table struct {
	byName map[string]*Spec
}

// NewTable returns a table with every data command of this package.
// Connection and server commands are registered by the node.
func NewTable() *Table {
	t := &Table{byName: map[string]*Spec{}}
	registerKeys(t)
	registerStrings(t)
	registerHashes(t)
	registerLists(t)
	registerSets(t)
	registerZSets(t)
	registerHLL(t)
	registerGeo(t)
	registerDump(t)
	registerStreams(t)
	registerBlocking(t)
	registerIntrospection(t)
	markBatchable(t)
	return t
}

// markBatchable sets Spec.Batchable on the write commands whose handlers
// read only by point lookups. A command missing here is merely slower in a
// pipeline; a command wrongly listed would read stale data, so each entry
// was checked against its handler.
func markBatchable(t *Table) {
	always := func([][]byte) bool { return true }
	noCount := func(args [][]byte) bool { return len(args) == 2 } // LPOP/RPOP with a count scan
	for name, pred := range map[string]func([][]byte) bool{
		"set": always, "setnx": always, "setex": always, "psetex": always, "getset": always,
		"getdel": always, "getex": always, "mset": always, "msetnx": always, "incr": always,
		"decr": always, "incrby": always, "decrby": always, "incrbyfloat": always,
		"append": always, "setrange": always, "setbit": always,
		"del": always, "unlink": always, "expire": always, "pexpire": always,
		"expireat": always, "pexpireat": always, "persist": always,
		"hset": always, "hmset": always, "hsetnx": always, "hdel": always,
		"hincrby": always, "hincrbyfloat": always,
		"sadd": always, "srem": always,
		"lpush": always, "rpush": always, "lpushx": always, "rpushx": always,
		"lpop": noCount, "rpop": noCount, "lset": always,
		"zadd": always, "zincrby": always, "zrem": always, "geoadd": always,
		"pfadd": always,
	} {
		s := t.byName[name]
		if s == nil || s.Flags&Write == 0 {
			panic(fmt.Sprintf("command: %q marked batchable but is not a registered write", name))
		}
		s.Batchable = pred
	}
}

// Register adds specs. A duplicate name is a programming error: it panics.
func (t *Table) Register(specs ...Spec) {
	for i := range specs {
		s := specs[i]
		if s.Name != strings.ToLower(s.Name) || s.Handler == nil {
			panic(fmt.Sprintf("command: bad spec %q", s.Name))
		}
		if _, dup := t.byName[s.Name]; dup {
			panic(fmt.Sprintf("command: %q registered twice", s.Name))
		}
		t.byName[s.Name] = &s
	}
}

// Lookup finds a command by name, case-insensitively; nil if unknown.
func (t *Table) Lookup(name []byte) *Spec {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return t.byName[string(lower)]
}

// All returns every spec sorted by name.
func (t *Table) All() []*Spec {
	out := make([]*Spec, 0, len(t.byName))
	for _, s := range t.byName {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len is the number of commands.
func (t *Table) Len() int { return len(t.byName) }
