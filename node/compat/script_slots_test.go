package compat

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The slot rule the scripts must follow (DESIGN.md, "Keys, tables, slots"):
//
// pika-node puts every key in a slot, crc32_ieee(hashkey) % slots, where hashkey is the content
// of the first non-empty {...} of the key (a hash tag), else the whole key. A multi-key command
// whose keys are in different slots answers
//
//	-CROSSSLOT Keys in request don't hash to the same slot
//
// except MGET, MSET, DEL, UNLINK, EXISTS and TOUCH, which fan out across slots. redis-server
// (not in cluster mode) has no such rule, so a script line such as `RENAME a b` would stop
// matching. Scripts therefore give the keys of every other multi-key command one hash tag:
// `RENAME {r}a {r}b`, `SINTERSTORE {s}d {s}a {s}b`, `ZUNIONSTORE {z}d 2 {z}a {z}b`, and use the
// same names in the surrounding lines that set up and check those keys. The fan-out commands
// keep (and must keep) lines whose keys span slots, which is what tests the fan-out.
//
// TestScriptKeysShareSlot enforces this for every script, for the slot counts of all the
// databases a script may use; TestCrossSlot (crossslot_test.go) checks pika-node's side.

// fanOutCommands are the multi-key commands pika-node runs across slots.
var fanOutCommands = []string{"del", "exists", "mget", "mset", "touch", "unlink"}

// scriptSlotCounts are the slot counts of the databases a script may use: db0 (the table a
// node bootstraps) and the tables db1..db<extraDBs> that createTables makes.
var scriptSlotCounts = []uint32{storage.DefaultSlots, extraTableSlots}

// scriptPaths returns every script the suite replays: testdata/*.txt and testdata/auth/*.txt.
func scriptPaths(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"*.txt", filepath.Join("auth", "*.txt")} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		t.Fatal("no scripts in testdata")
	}
	return paths
}

// commandKeys returns the name and keys of a command as pika-node's command table finds them,
// and ok false when the table does not know the command or the command would fail before its
// keys are looked at (wrong arity, malformed key count), so it has no keys to place.
func commandKeys(tbl *command.Table, args []string) (name string, keys []string, ok bool) {
	if len(args) == 0 {
		return "", nil, false
	}
	spec := tbl.Lookup([]byte(args[0]))
	if spec == nil || !spec.ArityOK(len(args)) {
		return "", nil, false
	}
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	bkeys, err := spec.KeysOf(bargs)
	if err != nil {
		return "", nil, false
	}
	for _, k := range bkeys {
		keys = append(keys, string(k))
	}
	return spec.Name, keys, true
}

// crossSlot reports whether keys are not all in one slot of a table of slots slots, and
// describes where each key goes.
func crossSlot(keys []string, slots uint32) (bool, string) {
	if len(keys) < 2 {
		return false, ""
	}
	first := router.SlotOf([]byte(keys[0]), slots)
	cross := false
	var where []string
	for _, k := range keys {
		s := router.SlotOf([]byte(k), slots)
		cross = cross || s != first
		where = append(where, fmt.Sprintf("%q->%d", k, s))
	}
	return cross, strings.Join(where, " ")
}

// TestScriptKeysShareSlot fails for every script line whose multi-key command (other than the
// fan-out ones) has keys in different slots, with 1024 slots (db0) or 16 (db1..db3). It also
// checks that the scripts keep exercising each fan-out command with keys in different slots.
func TestScriptKeysShareSlot(t *testing.T) {
	tbl := command.NewTable()
	fanOutSpanning := map[string]int{}
	for _, path := range scriptPaths(t) {
		steps, err := parseScript(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel("testdata", path)
		for _, st := range steps {
			name, keys, ok := commandKeys(tbl, st.args)
			if !ok || len(keys) < 2 {
				continue
			}
			if slices.Contains(fanOutCommands, name) {
				if cross, _ := crossSlot(keys, storage.DefaultSlots); cross {
					fanOutSpanning[name]++
				}
				continue
			}
			for _, slots := range scriptSlotCounts {
				if cross, where := crossSlot(keys, slots); cross {
					t.Errorf("%s:%d: %s: keys in different slots of %d (%s); pika-node answers CROSSSLOT: give them one hash tag, e.g. {t}a {t}b",
						rel, st.line, st.text, slots, where)
				}
			}
		}
	}
	for _, name := range fanOutCommands {
		if fanOutSpanning[name] == 0 {
			t.Errorf("no script runs %s with keys in different slots: add a line to strings.txt or keys.txt", strings.ToUpper(name))
		}
	}
}

// TestCrossSlotCheck checks the helpers TestScriptKeysShareSlot relies on.
func TestCrossSlotCheck(t *testing.T) {
	tbl := command.NewTable()
	for _, tc := range []struct {
		line  string
		name  string
		keys  []string
		cross bool // with 1024 slots
	}{
		{line: "RENAME a b", name: "rename", keys: []string{"a", "b"}, cross: true},
		{line: "rename {t}a {t}b", name: "rename", keys: []string{"{t}a", "{t}b"}},
		{line: "SINTERSTORE d a b", name: "sinterstore", keys: []string{"d", "a", "b"}, cross: true},
		{line: "ZUNIONSTORE {z}d 2 {z}a {z}b WEIGHTS 1 2", name: "zunionstore", keys: []string{"{z}d", "{z}a", "{z}b"}},
		{line: "SINTERCARD 2 a b LIMIT 1", name: "sintercard", keys: []string{"a", "b"}, cross: true},
		{line: "MSETNX a 1 b 2", name: "msetnx", keys: []string{"a", "b"}, cross: true},
		{line: "MSET a 1 b 2", name: "mset", keys: []string{"a", "b"}, cross: true},
		{line: "LMOVE a a LEFT RIGHT", name: "lmove", keys: []string{"a", "a"}},
		// An empty tag is no tag; only the first {...} counts.
		{line: "RENAME {}a {}b", name: "rename", keys: []string{"{}a", "{}b"}, cross: true},
		{line: "RENAME {a}{b} {a}{c}", name: "rename", keys: []string{"{a}{b}", "{a}{c}"}},
	} {
		args, err := splitArgs(tc.line)
		if err != nil {
			t.Fatal(err)
		}
		name, keys, ok := commandKeys(tbl, args)
		if !ok || name != tc.name || !slices.Equal(keys, tc.keys) {
			t.Errorf("commandKeys(%q) = %q %q %v; want %q %q", tc.line, name, keys, ok, tc.name, tc.keys)
			continue
		}
		if cross, where := crossSlot(keys, storage.DefaultSlots); cross != tc.cross {
			t.Errorf("%q: crossSlot = %v (%s), want %v", tc.line, cross, where, tc.cross)
		}
	}
	// Lines that fail before their keys are looked at have none to place.
	for _, line := range []string{"RENAME a", "SINTERCARD 3 a b", "ZUNIONSTORE d x a b", "NOSUCH a b"} {
		args, _ := splitArgs(line)
		if name, keys, ok := commandKeys(tbl, args); ok {
			t.Errorf("commandKeys(%q) = %q %q, true; want not ok", line, name, keys)
		}
	}
}
