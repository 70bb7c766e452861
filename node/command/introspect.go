package command

import (
	"strings"

	"github.com/pika-node/pika-node/router"
)

// registerIntrospection adds COMMAND, which describes t's own commands.
func registerIntrospection(t *Table) {
	t.Register(Spec{Name: "command", Arity: -1, Flags: Loading | Stale, Cluster: router.Server, Handler: t.cmdCommand})
}

// cmdCommand serves COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND LIST and
// COMMAND DOCS (empty: we ship no docs; redis-cli then shows no hints).
func (t *Table) cmdCommand(c *Ctx) error {
	if len(c.Args) == 1 {
		all := t.All()
		c.R.Array(len(all))
		for _, s := range all {
			writeCommandInfo(c, s)
		}
		return nil
	}
	sub := strings.ToLower(string(c.Args[1]))
	switch sub {
	case "count":
		if len(c.Args) != 2 {
			return WrongArgs("command|count")
		}
		c.R.Int(int64(t.Len()))
	case "info":
		names := c.Args[2:]
		if len(names) == 0 {
			all := t.All()
			c.R.Array(len(all))
			for _, s := range all {
				writeCommandInfo(c, s)
			}
			return nil
		}
		c.R.Array(len(names))
		for _, name := range names {
			if s := t.Lookup(name); s != nil {
				writeCommandInfo(c, s)
			} else {
				c.R.NullArray()
			}
		}
	case "list":
		all := t.All()
		c.R.Array(len(all))
		for _, s := range all {
			c.R.BulkString(s.Name)
		}
	case "docs":
		c.R.Map(0)
	case "getkeys":
		if len(c.Args) < 3 {
			return WrongArgs("command|getkeys")
		}
		s := t.Lookup(c.Args[2])
		if s == nil {
			return Error("ERR Invalid command specified")
		}
		if !s.ArityOK(len(c.Args) - 2) {
			return Error("ERR Invalid number of arguments specified for command")
		}
		keys, err := s.KeysOf(c.Args[2:])
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return Error("ERR The command has no key arguments")
		}
		c.R.Array(len(keys))
		for _, k := range keys {
			c.R.Bulk(k)
		}
	default:
		return Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try COMMAND HELP.")
	}
	return nil
}

// writeCommandInfo writes Redis 7's 10-element command description.
func writeCommandInfo(c *Ctx, s *Spec) {
	c.R.Array(10)
	c.R.BulkString(s.Name)
	c.R.Int(int64(s.Arity))
	flags := s.Flags.Names()
	c.R.Set(len(flags))
	for _, f := range flags {
		c.R.Simple(f)
	}
	c.R.Int(int64(s.FirstKey))
	c.R.Int(int64(s.LastKey))
	c.R.Int(int64(s.Step))
	cats := CategoriesOf(s.Name).Names()
	c.R.Set(len(cats))
	for _, cat := range cats {
		c.R.Simple(cat)
	}
	c.R.Set(0) // tips
	c.R.Set(0) // key specs
	c.R.Set(0) // subcommands
}
