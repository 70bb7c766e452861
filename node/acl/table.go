package acl

import (
	"strings"
	"sync"

	"github.com/pika-node/pika-node/node/command"
)

// table numbers redis-server 7.0's commands and subcommands: a selector
// keeps one bit per number, as Redis keeps one per command id, plus one
// more (future) for the commands Redis 7.0 does not have, which Redis
// sets with +@all for the commands modules would add later.
type table struct {
	names  []string // "get", "config|get"; sorted, so a container precedes its subcommands
	index  map[string]int
	cats   []command.Category
	parent []int   // -1 for a top-level command
	subs   [][]int // a container's subcommands, sorted
	tops   []int   // the top-level commands, sorted
	future int     // the bit past the commands
}

// commands is built once from package command's copy of redis-server's
// COMMAND INFO; it never changes after.
var commands = sync.OnceValue(func() *table {
	names := command.RedisCommandNames()
	t := &table{names: names, index: make(map[string]int, len(names)), future: len(names)}
	t.cats = make([]command.Category, len(names))
	t.parent = make([]int, len(names))
	t.subs = make([][]int, len(names))
	for i, n := range names {
		t.index[n] = i
		t.cats[i] = command.CategoriesOf(n)
		t.parent[i] = -1
		if top, _, ok := strings.Cut(n, "|"); ok {
			p := t.index[top] // sorted: "config" comes before "config|get"
			t.parent[i] = p
			t.subs[p] = append(t.subs[p], i)
		} else {
			t.tops = append(t.tops, i)
		}
	}
	return t
})

// lookup finds a command or subcommand by a rule's name, case-insensitively
// and only in ASCII as Redis does ("CONFIG|get"); -1 when Redis 7.0 does
// not have it.
func (t *table) lookup(name string) int {
	if i, ok := t.index[command.LowerASCII(name)]; ok {
		return i
	}
	return -1
}

// bits is a set of command numbers.
type bits []uint64

func newBits(t *table) bits { return make(bits, (t.future+64)/64) }

func (b bits) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }

func (b bits) set(i int, v bool) {
	if v {
		b[i/64] |= 1 << (i % 64)
	} else {
		b[i/64] &^= 1 << (i % 64)
	}
}

func (b bits) fill(v bool) {
	var w uint64
	if v {
		w = ^w
	}
	for i := range b {
		b[i] = w
	}
}
