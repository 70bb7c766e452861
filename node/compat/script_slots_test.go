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

// Keys and slots in the scripts: pika-node puts every key in a slot, crc32_ieee(hashkey) %
// slots, where hashkey is the content of the first non-empty {...} of the key (a hash tag), else
// the whole key. A multi-key command whose keys are in different slots runs as one unit (on the
// node leading them all, or across the nodes leading them in an async table), as on
// redis-server, so a script line such as `RENAME a b` matches; older scripts still give such
// keys one hash tag (`RENAME {r}a {r}b`), which tests the single-slot path.
// TestScriptKeysSpanSlots checks that the scripts keep lines whose keys span slots, for each
// fan-out command and for the others; TestCrossSlot (crossslot_test.go) runs every multi-key
// command over keys in different slots.

// fanOutCommands are the multi-key commands pika-node runs across slots.
var fanOutCommands = []string{"del", "exists", "mget", "mset", "touch", "unlink"}

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

// TestScriptKeysSpanSlots checks that the scripts keep exercising each fan-out command, and
// multi-key commands other than those, with keys in different slots (of db0's 1024): through
// the cluster, whose tables are async, those lines run as units across the nodes that lead
// their slots (docs/transactions.md).
func TestScriptKeysSpanSlots(t *testing.T) {
	tbl := command.NewTable()
	fanOutSpanning := map[string]int{}
	otherSpanning := 0
	for _, path := range scriptPaths(t) {
		steps, err := parseScript(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range steps {
			name, keys, ok := commandKeys(tbl, st.args)
			if !ok || len(keys) < 2 {
				continue
			}
			cross, _ := crossSlot(keys, storage.DefaultSlots)
			switch {
			case !cross:
			case slices.Contains(fanOutCommands, name):
				fanOutSpanning[name]++
			default:
				otherSpanning++
			}
		}
	}
	for _, name := range fanOutCommands {
		if fanOutSpanning[name] == 0 {
			t.Errorf("no script runs %s with keys in different slots: add a line to strings.txt or keys.txt", strings.ToUpper(name))
		}
	}
	if otherSpanning == 0 {
		t.Error("no script runs a multi-key command (RENAME, SMOVE, ...) with keys in different slots")
	}
}

// TestCrossSlotCheck checks the helpers TestScriptKeysSpanSlots relies on.
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
