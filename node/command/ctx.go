package command

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Error is a Redis error reply, sent as is ("ERR ...", "WRONGTYPE ...").
type Error string

func (e Error) Error() string { return string(e) }

// The error replies shared by many commands, worded exactly as Redis 7's.
const (
	ErrWrongType   Error = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrSyntax      Error = "ERR syntax error"
	ErrNotInt      Error = "ERR value is not an integer or out of range"
	ErrNotFloat    Error = "ERR value is not a valid float"
	ErrNoSuchKey   Error = "ERR no such key"
	ErrOverflow    Error = "ERR increment or decrement would overflow"
	ErrOutOfRange  Error = "ERR index out of range"
	ErrNotPositive Error = "ERR value is out of range, must be positive"
)

// Ctx is one command's execution context. It is built by the connection
// that received the command and used by one goroutine.
type Ctx struct {
	Args   [][]byte
	R      *resp.Reply
	Engine *storage.Engine
	Table  storage.TableID
	Slots  uint32
	// Cursors holds SCAN positions, shared by the node's connections.
	Cursors *Cursors
	// Conn is the connection's state, for connection and server commands
	// (nil in tests of data commands).
	Conn any
	// OwnsSlot, when set, limits the table-wide commands (KEYS, SCAN,
	// DBSIZE, RANDOMKEY) to the slots this node leads: SCAN stops at the
	// first slot it does not own (its cursor then names that slot), the
	// others skip such slots. Nil: every slot is this node's.
	OwnsSlot func(storage.SlotID) bool
	// Reroute says the caller routes a command again when it had no
	// effect because its slot turned out to be led elsewhere (a raft
	// leader moved): such a command then appends no reply and sets
	// Rerouted. Without Reroute the client gets the error.
	Reroute  bool
	Rerouted bool
	// Commits gives a table's storage.Committer: how its writes are
	// admitted and committed (a raft table's by its slots' groups). Nil,
	// or nil for a table: the engine's local commit.
	Commits func(storage.TableID) storage.Committer
	// OtherTable, when set, opens another table than Table for a command
	// that writes key there (COPY ... DB n): it returns the table's slot
	// count, or the error reply when the command may not write key there
	// from here (no such database, one the connection has not
	// authenticated to, a slot this node does not lead). Nil: no other
	// table is within reach (CROSSSLOT).
	OtherTable func(t storage.TableID, key []byte) (slots uint32, err error)
	// Config, when set, returns a redis.conf parameter's current value as
	// CONFIG GET shows it (DUMP and OBJECT ENCODING read the encoding
	// thresholds, OBJECT FREQ maxmemory-policy). Nil: Redis's defaults.
	Config func(name string) string
	// Events collects the keyspace events of the commands (Notify), for
	// the owner to publish once they are committed. Nil: none kept.
	Events *Events
	// Script says the command runs inside a Lua script (XREAD BLOCK is
	// refused there, as in Redis).
	Script bool

	update *storage.Update
	view   *storage.View
	batch  *storage.Batch
	// unit: the command is one of a unit's (RunInUnit): its reads too go
	// through the batch, which holds the unit's slots.
	unit bool
	// then, set by a handler, runs once the command's slots are unlocked
	// and its writes committed: the part of a command that writes another
	// table (COPY ... DB n) under that table's locks.
	then func() error
}

// Txn returns the storage Txn of key's slot: a write Txn inside a write
// command (the slot is locked), else a read Txn.
func (c *Ctx) Txn(key []byte) *storage.Txn {
	s := router.SlotOf(key, c.Slots)
	if c.update != nil {
		return c.update.Txn(s)
	}
	if c.view == nil {
		c.view = c.Engine.View(c.Table)
	}
	return c.view.Txn(s)
}

// NowMS is the command's clock: one value for its whole evaluation, so the
// effect it produces is deterministic.
func (c *Ctx) NowMS() int64 {
	if c.update != nil {
		return c.update.NowMS()
	}
	if c.view == nil {
		c.view = c.Engine.View(c.Table)
	}
	return c.view.NowMS()
}

// UnitBatch returns the batch of the unit the command runs in
// (RunInUnit: a MULTI ... EXEC block), or nil outside one: an OwnLocks
// command runs its own commands through it.
func (c *Ctx) UnitBatch() *storage.Batch {
	if !c.unit {
		return nil
	}
	return c.batch
}

// RunBatched is Run for a command whose Spec.Batchable holds: its writes
// join b and are committed with b.Commit. It returns storage.ErrBatchBusy,
// with no reply appended, when b must be committed before the command can
// run; the caller commits and calls RunBatched again.
func RunBatched(spec *Spec, c *Ctx, b *storage.Batch) error {
	c.batch = b
	defer func() { c.batch = nil }()
	return execute(spec, c)
}

// RunInUnit executes spec as one command of a unit (a MULTI ... EXEC
// block) whose slots b holds (storage.Batch.Hold): its reads and writes go
// through b, so it sees the unit's earlier writes, and its writes wait in b
// for the unit's commit. A command that fails leaves no write; the unit's
// other commands keep theirs (Redis does not roll EXEC back).
func RunInUnit(spec *Spec, c *Ctx, b *storage.Batch) {
	c.batch, c.unit = b, true
	defer func() { c.batch, c.unit = nil, false }()
	if err := execute(spec, c); err != nil {
		// A slot the unit did not hold, and another client does: never
		// waited for (the unit holds locks), answered instead.
		c.R.Error("ERR the command touches a slot its transaction did not lock: " + err.Error())
	}
}

// Run executes spec on c after the arity check: a write command under its
// slots' locks, committed before Run returns; a read over keys of several
// slots under their locks too, so that it sees every unit whole. The reply (or the error reply)
// is appended to c.R. A panic in a handler is answered with an error, not a
// crashed node.
func Run(spec *Spec, c *Ctx) { _ = execute(spec, c) } // no batch: never busy

// execute runs spec and appends its reply or error reply, except for
// storage.ErrBatchBusy, which it returns with nothing appended.
func execute(spec *Spec, c *Ctx) error {
	mark, events := len(c.R.B), c.Events.Len()
	err := run(spec, c)
	c.update, c.view, c.then = nil, nil, nil
	if err == nil {
		return nil
	}
	c.R.B = c.R.B[:mark]
	c.Events.Truncate(events) // a command that failed did nothing
	if errors.Is(err, storage.ErrBatchBusy) {
		return err
	}
	if c.Reroute && IsUnapplied(err) {
		c.Rerouted = true
		return nil
	}
	msg, known := ErrorReply(err)
	if !known {
		slog.Error("command failed", "command", spec.Name, "err", err)
	}
	c.R.Error(msg)
	return nil
}

// RedisError is an error that knows its reply: a storage or replication
// error meant for the client (a raft slot's leadership moving, say).
type RedisError interface {
	error
	RedisError() string
}

// Unapplied is an error of a command that had no effect and never will
// (its raft slot is led elsewhere): running it again on the slot's
// leader is safe.
type Unapplied interface {
	error
	Unapplied() bool
}

// IsUnapplied reports whether err is an Unapplied error.
func IsUnapplied(err error) bool {
	var u Unapplied
	return errors.As(err, &u) && u.Unapplied()
}

// ErrorReply is the error reply (without '-') for err, and whether err was
// one meant for clients (an Error or a RedisError) rather than a failure.
func ErrorReply(err error) (string, bool) {
	var rerr Error
	if errors.As(err, &rerr) {
		return string(rerr), true
	}
	var re RedisError
	if errors.As(err, &re) {
		return re.RedisError(), true
	}
	return "ERR " + err.Error(), false
}

func run(spec *Spec, c *Ctx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("command panicked", "command", spec.Name, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in '%s'", spec.Name)
		}
	}()
	if spec.Flags&OwnLocks != 0 {
		return spec.Handler(c)
	}
	read := spec.Flags&Write == 0
	if read && !c.unit && oneKey(spec) {
		return spec.Handler(c)
	}
	keys, err := spec.KeysOf(c.Args)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return spec.Handler(c)
	}
	slots := make([]storage.SlotID, 0, len(keys))
	for _, k := range keys {
		slots = append(slots, router.SlotOf(k, c.Slots))
	}
	if read && !c.unit && !spans(slots) {
		return spec.Handler(c)
	}
	fn := func(u *storage.Update) error {
		c.update = u
		return spec.Handler(c)
	}
	switch {
	case c.batch != nil:
		return c.batch.Update(c.Table, slots, fn)
	case read:
		// A read over several slots: under their locks, so that no unit
		// writing several of them is seen half done; nothing to commit.
		b := c.Engine.NewBatch(nil)
		defer b.Release()
		if err := b.Hold(c.Table, slots); err != nil {
			return err
		}
		return b.Update(c.Table, slots, fn)
	}
	err = c.Engine.UpdateWith(c.Commits, c.Table, slots, fn)
	if then := c.then; then != nil && err == nil {
		c.update, c.then = nil, nil
		return then()
	}
	return err
}

// oneKey reports whether spec's commands name one key at most, which a
// read needs no lock for.
func oneKey(spec *Spec) bool {
	return spec.Keys == nil && spec.LastKey == spec.FirstKey
}

// spans reports whether slots holds more than one slot.
func spans(slots []storage.SlotID) bool {
	for _, s := range slots[1:] {
		if s != slots[0] {
			return true
		}
	}
	return false
}
