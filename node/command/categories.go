package command

import (
	"slices"
	"strings"
)

// Category is a set of Redis's ACL command categories (@read, @write,
// ...), as ACL CAT lists them and COMMAND INFO shows them.
type Category uint32

// The categories, in Redis 7.0's order (ACL CAT's, and the order COMMAND
// INFO lists a command's in).
const (
	CatKeyspace Category = 1 << iota
	CatRead
	CatWrite
	CatSet
	CatSortedset
	CatList
	CatHash
	CatString
	CatBitmap
	CatHyperloglog
	CatGeo
	CatStream
	CatPubsub
	CatAdmin
	CatFast
	CatSlow
	CatBlocking
	CatDangerous
	CatConnection
	CatTransaction
	CatScripting
)

// categoryNames are the names, in the order of the bits.
var categoryNames = [...]string{"keyspace", "read", "write", "set", "sortedset", "list", "hash",
	"string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting"}

// CategoryNames lists every category's name, in ACL CAT's order.
func CategoryNames() []string { return categoryNames[:] }

// CategoryNamed finds a category by name (without '@'), case-insensitively.
func CategoryNamed(name string) (Category, bool) {
	for i, n := range categoryNames {
		if strings.EqualFold(n, name) {
			return 1 << i, true
		}
	}
	return 0, false
}

// Names lists the categories of c, each with its '@', in ACL CAT's order.
func (c Category) Names() []string {
	var out []string
	for i, n := range categoryNames {
		if c&(1<<i) != 0 {
			out = append(out, "@"+n)
		}
	}
	return out
}

// CategoriesOf returns the categories of a command or subcommand
// ("config|set") as redis-server 7.0 has them; 0 for a name it does not
// have.
func CategoriesOf(name string) Category { return redisCategories[name] }

// CommandsIn lists, sorted, the commands and subcommands ("config|set")
// of category cat whose command has reports this server has.
func CommandsIn(cat Category, has func(command string) bool) []string {
	var out []string
	for name, c := range redisCategories {
		top, _, _ := strings.Cut(name, "|")
		if c&cat != 0 && has(top) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
