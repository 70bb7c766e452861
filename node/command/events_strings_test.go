package command

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// strEventCase runs setup on a new node, moves its clock by advanceMS,
// then checks the events of cmd: Redis 7.0's, in its order.
type strEventCase struct {
	setup     [][]string
	advanceMS int64
	cmd       []string
	want      string
}

func strEventRun(t *testing.T, cases []strEventCase) {
	t.Helper()
	for _, tc := range cases {
		checkEvents(t, strings.Join(tc.cmd, " "), tc.setup, tc.advanceMS, tc.cmd, tc.want)
	}
}

// strEventCmds is shorthand for a setup: commands separated by ";",
// arguments by spaces.
func strEventCmds(s string) [][]string {
	var out [][]string
	for _, c := range strings.Split(s, ";") {
		out = append(out, strings.Fields(c))
	}
	return out
}

func TestEventsStringsSet(t *testing.T) {
	str := strEventCmds("SET k old")
	ttl := strEventCmds("SET k old EX 100")
	list := strEventCmds("RPUSH k a")
	strEventRun(t, []strEventCase{
		{nil, 0, []string{"SET", "k", "v"}, "set k"},
		{str, 0, []string{"SET", "k", "v"}, "set k"},
		{list, 0, []string{"SET", "k", "v"}, "set k"},
		{nil, 0, []string{"SET", "k", "v", "EX", "10"}, "set k, expire k"},
		{nil, 0, []string{"SET", "k", "v", "PX", "10"}, "set k, expire k"},
		{nil, 0, []string{"SET", "k", "v", "EXAT", "4000000000"}, "set k, expire k"},
		{nil, 0, []string{"SET", "k", "v", "PXAT", "4000000000000"}, "set k, expire k"},
		{ttl, 0, []string{"SET", "k", "v", "KEEPTTL"}, "set k"},
		{nil, 0, []string{"SET", "k", "v", "KEEPTTL"}, "set k"},
		{nil, 0, []string{"SET", "k", "v", "NX"}, "set k"},
		{str, 0, []string{"SET", "k", "v", "NX"}, ""},
		{str, 0, []string{"SET", "k", "v", "NX", "EX", "10"}, ""},
		{str, 0, []string{"SET", "k", "v", "NX", "GET"}, ""},
		{nil, 0, []string{"SET", "k", "v", "XX"}, ""},
		{str, 0, []string{"SET", "k", "v", "XX", "EX", "10"}, "set k, expire k"},
		{str, 0, []string{"SET", "k", "v", "GET"}, "set k"},
		{nil, 0, []string{"SET", "k", "v", "GET", "PX", "5"}, "set k, expire k"},
		{list, 0, []string{"SET", "k", "v", "GET"}, ""}, // WRONGTYPE
		{nil, 0, []string{"SET", "k", "v", "EX", "0"}, ""},
		{nil, 0, []string{"SET", "k", "v", "EX", "x"}, ""},
		{nil, 0, []string{"SET", "k", "v", "NX", "XX"}, ""},
		// An expired key is missing: NX sets it.
		{strEventCmds("SET k old PX 10"), 20, []string{"SET", "k", "v", "NX"}, "set k"},

		{nil, 0, []string{"SETNX", "k", "v"}, "set k"},
		{str, 0, []string{"SETNX", "k", "v"}, ""},

		{nil, 0, []string{"SETEX", "k", "10", "v"}, "set k, expire k"},
		{str, 0, []string{"SETEX", "k", "10", "v"}, "set k, expire k"},
		{nil, 0, []string{"SETEX", "k", "0", "v"}, ""},
		{nil, 0, []string{"PSETEX", "k", "100", "v"}, "set k, expire k"},
		{nil, 0, []string{"PSETEX", "k", "-1", "v"}, ""},

		{nil, 0, []string{"GETSET", "k", "v"}, "set k"},
		{ttl, 0, []string{"GETSET", "k", "v"}, "set k"},
		{list, 0, []string{"GETSET", "k", "v"}, ""},
	})
}

func TestEventsStringsMSet(t *testing.T) {
	strEventRun(t, []strEventCase{
		{nil, 0, []string{"MSET", "a", "1", "b", "2"}, "set a, set b"},
		{nil, 0, []string{"MSET", "a", "1", "a", "2"}, "set a, set a"},
		{nil, 0, []string{"MSET", "a", "1", "b"}, ""},
		{nil, 0, []string{"MSETNX", "a", "1", "b", "2"}, "set a, set b"},
		{strEventCmds("SET b x"), 0, []string{"MSETNX", "a", "1", "b", "2"}, ""},
		{nil, 0, []string{"MSETNX", "a", "1", "b"}, ""},
	})
}

func TestEventsStringsGetDelGetEx(t *testing.T) {
	str := strEventCmds("SET k v")
	ttl := strEventCmds("SET k v EX 100")
	list := strEventCmds("RPUSH k a")
	strEventRun(t, []strEventCase{
		{str, 0, []string{"GETDEL", "k"}, "del k"},
		{nil, 0, []string{"GETDEL", "k"}, ""},
		{list, 0, []string{"GETDEL", "k"}, ""},
		{strEventCmds("SET k v PX 10"), 20, []string{"GETDEL", "k"}, ""},

		{str, 0, []string{"GETEX", "k"}, ""},
		{str, 0, []string{"GETEX", "k", "EX", "10"}, "expire k"},
		{ttl, 0, []string{"GETEX", "k", "PX", "10"}, "expire k"},
		{str, 0, []string{"GETEX", "k", "EXAT", "4000000000"}, "expire k"},
		{str, 0, []string{"GETEX", "k", "PXAT", "4000000000000"}, "expire k"},
		{str, 0, []string{"GETEX", "k", "EXAT", "1"}, "del k"},
		{ttl, 0, []string{"GETEX", "k", "PXAT", "1"}, "del k"},
		{ttl, 0, []string{"GETEX", "k", "PERSIST"}, "persist k"},
		{str, 0, []string{"GETEX", "k", "PERSIST"}, ""},
		{nil, 0, []string{"GETEX", "k", "EX", "10"}, ""},
		{nil, 0, []string{"GETEX", "k", "PERSIST"}, ""},
		{list, 0, []string{"GETEX", "k", "EX", "10"}, ""},
		{str, 0, []string{"GETEX", "k", "EX", "0"}, ""},
		{str, 0, []string{"GETEX", "k", "EX", "10", "PERSIST"}, ""},
	})
}

func TestEventsStringsIncr(t *testing.T) {
	num := strEventCmds("SET k 10 EX 100")
	text := strEventCmds("SET k abc")
	list := strEventCmds("RPUSH k a")
	strEventRun(t, []strEventCase{
		{nil, 0, []string{"INCR", "k"}, "incrby k"},
		{num, 0, []string{"INCR", "k"}, "incrby k"},
		{num, 0, []string{"DECR", "k"}, "incrby k"},
		{num, 0, []string{"INCRBY", "k", "5"}, "incrby k"},
		{num, 0, []string{"DECRBY", "k", "5"}, "incrby k"},
		{nil, 0, []string{"DECRBY", "k", "0"}, "incrby k"},
		{text, 0, []string{"INCR", "k"}, ""},
		{list, 0, []string{"DECR", "k"}, ""},
		{nil, 0, []string{"INCRBY", "k", "x"}, ""},
		{nil, 0, []string{"DECRBY", "k", "-9223372036854775808"}, ""},
		{strEventCmds("SET k 9223372036854775807"), 0, []string{"INCR", "k"}, ""},

		{nil, 0, []string{"INCRBYFLOAT", "k", "1.5"}, "incrbyfloat k"},
		{num, 0, []string{"INCRBYFLOAT", "k", "-0.5"}, "incrbyfloat k"},
		{text, 0, []string{"INCRBYFLOAT", "k", "1"}, ""},
		{nil, 0, []string{"INCRBYFLOAT", "k", "x"}, ""},
		{list, 0, []string{"INCRBYFLOAT", "k", "1"}, ""},
	})
}

func TestEventsStringsAppendSetRange(t *testing.T) {
	str := strEventCmds("SET k abc")
	list := strEventCmds("RPUSH k a")
	strEventRun(t, []strEventCase{
		{nil, 0, []string{"APPEND", "k", "x"}, "append k"},
		{str, 0, []string{"APPEND", "k", "x"}, "append k"},
		{str, 0, []string{"APPEND", "k", ""}, "append k"},
		{nil, 0, []string{"APPEND", "k", ""}, "append k"},
		{list, 0, []string{"APPEND", "k", "x"}, ""},

		{nil, 0, []string{"SETRANGE", "k", "2", "x"}, "setrange k"},
		{str, 0, []string{"SETRANGE", "k", "1", "x"}, "setrange k"},
		{str, 0, []string{"SETRANGE", "k", "1", "b"}, "setrange k"}, // same bytes: Redis does not compare
		{str, 0, []string{"SETRANGE", "k", "1", ""}, ""},
		{nil, 0, []string{"SETRANGE", "k", "1", ""}, ""},
		{str, 0, []string{"SETRANGE", "k", "-1", "x"}, ""},
		{str, 0, []string{"SETRANGE", "k", "536870912", "x"}, ""},
		{list, 0, []string{"SETRANGE", "k", "0", "x"}, ""},
	})
}

func TestEventsStringsSetBit(t *testing.T) {
	str := strEventCmds("SET k @") // 0x40: bit 1 set
	strEventRun(t, []strEventCase{
		{nil, 0, []string{"SETBIT", "k", "7", "1"}, "setbit k"},
		{nil, 0, []string{"SETBIT", "k", "7", "0"}, "setbit k"}, // created
		{str, 0, []string{"SETBIT", "k", "1", "1"}, ""},         // unchanged
		{str, 0, []string{"SETBIT", "k", "0", "0"}, ""},         // unchanged
		{str, 0, []string{"SETBIT", "k", "1", "0"}, "setbit k"},
		{str, 0, []string{"SETBIT", "k", "0", "1"}, "setbit k"},
		{str, 0, []string{"SETBIT", "k", "8", "0"}, "setbit k"}, // grown
		{str, 0, []string{"SETBIT", "k", "0", "2"}, ""},
		{str, 0, []string{"SETBIT", "k", "-1", "1"}, ""},
		{strEventCmds("RPUSH k a"), 0, []string{"SETBIT", "k", "0", "1"}, ""},
	})
}

func TestEventsKeysDel(t *testing.T) {
	ab := strEventCmds("SET a 1; RPUSH b x")
	for _, cmd := range []string{"DEL", "UNLINK"} {
		strEventRun(t, []strEventCase{
			{ab, 0, []string{cmd, "a"}, "del a"},
			{ab, 0, []string{cmd, "a", "b", "c"}, "del a, del b"},
			{ab, 0, []string{cmd, "b", "a", "b"}, "del b, del a"},
			{nil, 0, []string{cmd, "a"}, ""},
			// An expired key is missing (Redis's "expired" is not ours).
			{strEventCmds("SET a 1 PX 10"), 20, []string{cmd, "a"}, ""},
		})
	}
}

func TestEventsKeysExpire(t *testing.T) {
	str := strEventCmds("SET k v")
	ttl := strEventCmds("SET k v EX 100")
	strEventRun(t, []strEventCase{
		{str, 0, []string{"EXPIRE", "k", "10"}, "expire k"},
		{ttl, 0, []string{"PEXPIRE", "k", "10"}, "expire k"},
		{str, 0, []string{"EXPIREAT", "k", "4000000000"}, "expire k"},
		{str, 0, []string{"PEXPIREAT", "k", "4000000000000"}, "expire k"},
		{strEventCmds("RPUSH k a"), 0, []string{"EXPIRE", "k", "10"}, "expire k"},
		// A time not in the future deletes the key.
		{str, 0, []string{"EXPIRE", "k", "0"}, "del k"},
		{ttl, 0, []string{"EXPIRE", "k", "-5"}, "del k"},
		{str, 0, []string{"PEXPIRE", "k", "0"}, "del k"},
		{str, 0, []string{"EXPIREAT", "k", "1"}, "del k"},
		{str, 0, []string{"PEXPIREAT", "k", "1700000000000"}, "del k"},
		// Nothing to do.
		{nil, 0, []string{"EXPIRE", "k", "10"}, ""},
		{nil, 0, []string{"EXPIRE", "k", "-1"}, ""},
		{strEventCmds("SET k v PX 10"), 20, []string{"EXPIRE", "k", "10"}, ""},
		{ttl, 0, []string{"EXPIRE", "k", "10", "NX"}, ""},
		{str, 0, []string{"EXPIRE", "k", "10", "NX"}, "expire k"},
		{str, 0, []string{"EXPIRE", "k", "10", "XX"}, ""},
		{ttl, 0, []string{"EXPIRE", "k", "10", "XX"}, "expire k"},
		{str, 0, []string{"EXPIRE", "k", "10", "GT"}, ""},
		{ttl, 0, []string{"EXPIRE", "k", "10", "GT"}, ""},
		{ttl, 0, []string{"EXPIRE", "k", "1000", "GT"}, "expire k"},
		{ttl, 0, []string{"EXPIRE", "k", "1000", "LT"}, ""},
		{ttl, 0, []string{"EXPIRE", "k", "10", "LT"}, "expire k"},
		{str, 0, []string{"EXPIRE", "k", "10", "LT"}, "expire k"},
		{str, 0, []string{"EXPIRE", "k", "-1", "LT"}, "del k"},
		// Errors.
		{str, 0, []string{"EXPIRE", "k", "x"}, ""},
		{str, 0, []string{"EXPIRE", "k", "10", "NX", "XX"}, ""},
		{str, 0, []string{"EXPIRE", "k", "10", "FOO"}, ""},
		{str, 0, []string{"EXPIRE", "k", "9223372036854775807"}, ""},
	})
}

func TestEventsKeysPersist(t *testing.T) {
	strEventRun(t, []strEventCase{
		{strEventCmds("SET k v EX 100"), 0, []string{"PERSIST", "k"}, "persist k"},
		{strEventCmds("RPUSH k a; EXPIRE k 100"), 0, []string{"PERSIST", "k"}, "persist k"},
		{strEventCmds("SET k v"), 0, []string{"PERSIST", "k"}, ""},
		{nil, 0, []string{"PERSIST", "k"}, ""},
		{strEventCmds("SET k v PX 10"), 20, []string{"PERSIST", "k"}, ""},
	})
}

func TestEventsKeysRename(t *testing.T) {
	a := strEventCmds("SET a 1 EX 100")
	ab := strEventCmds("SET a 1; RPUSH b x")
	strEventRun(t, []strEventCase{
		{a, 0, []string{"RENAME", "a", "b"}, "rename_from a, rename_to b"},
		{ab, 0, []string{"RENAME", "a", "b"}, "rename_from a, rename_to b"},
		{ab, 0, []string{"RENAME", "b", "c"}, "rename_from b, rename_to c"},
		{a, 0, []string{"RENAME", "a", "a"}, ""},
		{nil, 0, []string{"RENAME", "a", "b"}, ""},
		{nil, 0, []string{"RENAME", "a", "a"}, ""},

		{a, 0, []string{"RENAMENX", "a", "b"}, "rename_from a, rename_to b"},
		{ab, 0, []string{"RENAMENX", "a", "b"}, ""},
		{a, 0, []string{"RENAMENX", "a", "a"}, ""},
		{nil, 0, []string{"RENAMENX", "a", "b"}, ""},
		// An expired destination is missing.
		{strEventCmds("SET a 1; SET b 2 PX 10"), 20, []string{"RENAMENX", "a", "b"}, "rename_from a, rename_to b"},
	})
}

func TestEventsKeysCopy(t *testing.T) {
	a := strEventCmds("SET a 1 EX 100")
	ab := strEventCmds("SET a 1; RPUSH b x")
	strEventRun(t, []strEventCase{
		{a, 0, []string{"COPY", "a", "b"}, "copy_to b"},
		{strEventCmds("RPUSH a x y"), 0, []string{"COPY", "a", "b"}, "copy_to b"},
		{ab, 0, []string{"COPY", "a", "b"}, ""},
		{ab, 0, []string{"COPY", "a", "b", "REPLACE"}, "copy_to b"},
		{a, 0, []string{"COPY", "a", "b", "DB", "0"}, "copy_to b"},
		{ab, 0, []string{"COPY", "a", "b", "DB", "0", "REPLACE"}, "copy_to b"},
		{a, 0, []string{"COPY", "a", "a"}, ""},
		{nil, 0, []string{"COPY", "a", "b"}, ""},
		{nil, 0, []string{"COPY", "a", "b", "REPLACE"}, ""},
		{strEventCmds("SET a 1 PX 10"), 20, []string{"COPY", "a", "b"}, ""},
		{a, 0, []string{"COPY", "a", "b", "FOO"}, ""},
	})
}

// COPY ... DB n: "copy_to" names the destination's table.
func TestEventsKeysCopyOtherTable(t *testing.T) {
	n := newTestNode(t)
	const other storage.TableID = 7
	if err := n.eng.EnsureTable(other, 16); err != nil {
		t.Fatal(err)
	}
	open := func(t storage.TableID, _ []byte) (uint32, error) {
		if t != other {
			return 0, errDBOutOfRange
		}
		return 16, nil
	}
	refused := func(storage.TableID, []byte) (uint32, error) { return 0, Error("NOAUTH Authentication required.") }
	n.do("SET", "k", "v")
	for _, tc := range []struct {
		open func(storage.TableID, []byte) (uint32, error)
		args string
		want string // "table:event key", ", " separated
	}{
		{open, "COPY k k DB 7", "7:copy_to k"},
		{open, "COPY k k DB 7", ""}, // exists
		{open, "COPY k k DB 7 REPLACE", "7:copy_to k"},
		{open, "COPY k k2 DB 7", "7:copy_to k2"},
		{open, "COPY nokey k DB 7 REPLACE", ""},
		{open, "COPY k k DB 8", ""},
		{refused, "COPY k k DB 7 REPLACE", ""},
		{nil, "COPY k k3 DB 0", "0:copy_to k3"},
	} {
		args := strings.Fields(tc.args)
		bargs := make([][]byte, len(args))
		for i, a := range args {
			bargs[i] = []byte(a)
		}
		var r resp.Reply
		n.events.Take()
		Run(n.tbl.Lookup(bargs[0]), &Ctx{Args: bargs, R: &r, Engine: n.eng, Table: storage.DefaultTable, Slots: storage.DefaultSlots, Cursors: n.cursors, OtherTable: tc.open, Events: n.events})
		var got []string
		for _, ev := range n.events.Take() {
			got = append(got, strconv.FormatUint(uint64(ev.Table), 10)+":"+ev.Name+" "+string(ev.Key))
		}
		if g := strings.Join(got, ", "); g != tc.want {
			t.Errorf("%s (%s): events %q, want %q", tc.args, shorten(string(r.B)), g, tc.want)
		}
	}
}

func TestEventsKeysFlush(t *testing.T) {
	strEventRun(t, []strEventCase{
		{strEventCmds("SET a 1; RPUSH b x"), 0, []string{"FLUSHDB"}, ""},
		{strEventCmds("SET a 1; RPUSH b x"), 0, []string{"FLUSHALL"}, ""},
	})
}

// In a unit (MULTI ... EXEC) the handlers see the unit's earlier writes
// and a failing command's events are dropped, the others' kept.
func TestEventsStringsInUnit(t *testing.T) {
	n := newTestNode(t)
	cmds := [][]string{
		{"SET", "a", "v", "EX", "10"},
		{"INCR", "a"}, // not an integer
		{"GETEX", "a", "PERSIST"},
		{"RENAME", "a", "b"},
		{"DEL", "a", "b"},
		{"SET", "b", "1", "NX"},
		{"INCRBY", "b", "2"},
		{"SETBIT", "b", "0", "0"}, // "3" = 0x33: bit 0 already clear
	}
	b := n.eng.NewBatch(nil)
	var slots []storage.SlotID
	for _, k := range []string{"a", "b"} {
		slots = append(slots, router.SlotOf([]byte(k), storage.DefaultSlots))
	}
	if err := b.Hold(storage.DefaultTable, slots); err != nil {
		t.Fatal(err)
	}
	n.events.Take()
	var r resp.Reply
	for _, cmd := range cmds {
		bargs := make([][]byte, len(cmd))
		for i, a := range cmd {
			bargs[i] = []byte(a)
		}
		RunInUnit(n.tbl.Lookup(bargs[0]), &Ctx{Args: bargs, R: &r, Engine: n.eng, Table: storage.DefaultTable, Slots: storage.DefaultSlots, Cursors: n.cursors, Events: n.events}, b)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range n.events.Take() {
		got = append(got, ev.Name+" "+string(ev.Key))
	}
	want := "set a, expire a, persist a, rename_from a, rename_to b, del b, set b, incrby b"
	if g := strings.Join(got, ", "); g != want {
		t.Errorf("events %q, want %q (replies %s)", g, want, shorten(string(r.B)))
	}
}
