package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/acl"
	"github.com/pika-node/pika-node/node/command"
)

// ACL as redis-server 7.0 answers it, over the cluster's users
// (users.go, docs/acl.md): SETUSER and DELUSER change them everywhere
// before they answer; LOG and WHOAMI are this node's, as Redis's are its
// server's; SAVE and LOAD answer that no ACL file is used (etcd keeps
// the users).

const aclNoFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

var aclHelp = []string{
	"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CAT [<category>]",
	"    List all commands that belong to <category>, or all command categories",
	"    when no category is specified.",
	"DELUSER <username> [<username> ...]",
	"    Delete a list of users.",
	"DRYRUN <username> <command> [<arg> ...]",
	"    Returns whether the user can execute the given command without executing the command.",
	"GETUSER <username>",
	"    Get the user's details.",
	"GENPASS [<bits>]",
	"    Generate a secure 256-bit user password. The optional `bits` argument can",
	"    be used to specify a different size.",
	"LIST",
	"    Show users details in config file format.",
	"LOAD",
	"    Reload users from the ACL file.",
	"LOG [<count> | RESET]",
	"    Show the ACL log entries.",
	"SAVE",
	"    Save the current config to the ACL file.",
	"SETUSER <username> <attribute> [<attribute> ...]",
	"    Create or modify a user with the specified attributes.",
	"USERS",
	"    List all the registered usernames.",
	"WHOAMI",
	"    Return the current connection username.",
	"HELP",
	"    Prints this help.",
}

// aclArity is each subcommand's arity (Redis's command table), counting
// "ACL" and the subcommand.
var aclArity = map[string]int{
	"cat": -2, "deluser": -3, "dryrun": -4, "getuser": 3, "genpass": -2, "list": 2, "load": 2,
	"log": -2, "save": 2, "setuser": -3, "users": 2, "whoami": 2, "help": 2,
}

const defaultUser = "default"

func (n *Node) cmdACL(c *command.Ctx) error {
	sub := strings.ToLower(string(c.Args[1]))
	arity, ok := aclArity[sub]
	if !ok {
		return command.Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try ACL HELP.")
	}
	if (arity > 0 && len(c.Args) != arity) || (arity < 0 && len(c.Args) < -arity) {
		return command.WrongArgs("acl|" + sub)
	}
	switch sub {
	case "cat":
		return n.aclCat(c)
	case "whoami":
		c.R.BulkString(connOf(c).ident.Load().user)
	case "users":
		names := n.users.set().names()
		c.R.Array(len(names))
		for _, name := range names {
			c.R.BulkString(name)
		}
	case "list":
		set := n.users.set()
		names := set.names()
		c.R.Array(len(names))
		for _, name := range names {
			c.R.BulkString("user " + name + " " + set.byName[name].Describe())
		}
	case "getuser":
		usr, ok := n.users.set().byName[string(c.Args[2])]
		if !ok {
			c.R.Null()
			return nil
		}
		getuserReply(c, usr)
	case "log":
		return n.aclLogCmd(c)
	case "genpass":
		return aclGenpass(c)
	case "save", "load":
		return command.Error(aclNoFile)
	case "deluser":
		return n.aclDeluser(c)
	case "setuser":
		return n.aclSetuser(c)
	case "dryrun":
		return n.aclDryrun(c)
	case "help":
		c.R.Array(len(aclHelp))
		for _, l := range aclHelp {
			c.R.Simple(l)
		}
	}
	return nil
}

// names lists the users' names, sorted (as Redis's rax keeps them).
func (s *userSet) names() []string {
	names := slices.Collect(maps.Keys(s.byName))
	slices.Sort(names)
	return names
}

// getuserReply answers ACL GETUSER for usr, as redis-server 7.0 does.
func getuserReply(c *command.Ctx, usr *acl.User) {
	c.R.Map(6)
	c.R.BulkString("flags")
	flags := usr.Flags()
	c.R.Set(len(flags))
	for _, f := range flags {
		c.R.BulkString(f)
	}
	c.R.BulkString("passwords")
	pws := usr.Passwords()
	c.R.Array(len(pws))
	for _, p := range pws {
		c.R.BulkString(p)
	}
	sels := usr.Selectors()
	selectorFields(c, sels[0])
	c.R.BulkString("selectors")
	c.R.Array(len(sels) - 1)
	for _, sel := range sels[1:] {
		c.R.Map(3)
		selectorFields(c, sel)
	}
}

// selectorFields appends a selector's commands, keys and channels, as
// GETUSER shows them (for the root selector, among the user's fields).
func selectorFields(c *command.Ctx, sel acl.SelectorInfo) {
	c.R.BulkString("commands")
	c.R.BulkString(sel.Commands)
	c.R.BulkString("keys")
	c.R.BulkString(sel.Keys)
	c.R.BulkString("channels")
	c.R.BulkString(sel.Channels)
}

// aclSetuser is ACL SETUSER: the rules apply on top of the user's stored
// ones (a new user starts as Redis's), all or none.
func (n *Node) aclSetuser(c *command.Ctx) error {
	name := string(c.Args[2])
	if err := acl.CheckName(name); err != nil {
		return command.Error(err.Error())
	}
	if name == adminUser {
		return command.Error("ERR '" + adminUser + "' is pika-node's built-in administrator (its password is the cluster's admin token) and cannot be changed")
	}
	if _, ok := n.proxy.Routing().TableNamed(name); ok && name != defaultUser {
		return command.Error("ERR '" + name + "' is the name of a table (AUTH " + name + " <password> opens it): an ACL user cannot have it")
	}
	rules := make([]string, 0, len(c.Args)-3)
	for _, a := range c.Args[3:] {
		rules = append(rules, string(a))
	}
	err := n.writeUsers(func(users meta.ACLUsers) (meta.ACLUsers, error) {
		usr := acl.NewDefaultUser()
		if rec, ok := users[name]; ok {
			var err error
			if usr, err = buildUser(name, rec, n.users.hasher); err != nil {
				return nil, err
			}
		} else if name != defaultUser {
			usr = acl.NewUser(name)
		}
		if err := usr.SetRules(rules, n.users.hasher); err != nil {
			return nil, command.Error(err.Error())
		}
		users[name] = recordOf(usr)
		return users, nil
	})
	if err != nil {
		return err
	}
	c.R.OK()
	return nil
}

// aclDeluser is ACL DELUSER: the number of users deleted; their
// connections, on every node, are closed.
func (n *Node) aclDeluser(c *command.Ctx) error {
	for _, name := range c.Args[2:] {
		if string(name) == defaultUser {
			return command.Error("ERR The 'default' user cannot be removed")
		}
	}
	deleted := 0
	err := n.writeUsers(func(users meta.ACLUsers) (meta.ACLUsers, error) {
		deleted = 0
		for _, name := range c.Args[2:] {
			if _, ok := users[string(name)]; ok {
				delete(users, string(name))
				deleted++
			}
		}
		if deleted == 0 {
			return nil, errNothingToDelete
		}
		return users, nil
	})
	if err != nil && err != errNothingToDelete {
		return err
	}
	c.R.Int(int64(deleted))
	return nil
}

// errNothingToDelete ends a DELUSER of no existing user without a write.
var errNothingToDelete = errors.New("no such user")

// aclCat lists the categories, or the commands and subcommands of one
// that this node has.
func (n *Node) aclCat(c *command.Ctx) error {
	if len(c.Args) > 3 {
		return command.Error("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")
	}
	if len(c.Args) == 2 {
		names := command.CategoryNames()
		c.R.Array(len(names))
		for _, name := range names {
			c.R.BulkString(name)
		}
		return nil
	}
	cat, ok := command.CategoryNamed(string(c.Args[2]))
	if !ok {
		return command.Error("ERR Unknown category '" + string(c.Args[2]) + "'")
	}
	names := command.CommandsIn(cat, func(name string) bool { return n.tbl.Lookup([]byte(name)) != nil })
	c.R.Array(len(names))
	for _, name := range names {
		c.R.BulkString(name)
	}
	return nil
}

// aclLogCmd answers ACL LOG [count | RESET].
func (n *Node) aclLogCmd(c *command.Ctx) error {
	count := 10
	switch {
	case len(c.Args) > 3:
		return command.Error("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
	case len(c.Args) == 3 && strings.EqualFold(string(c.Args[2]), "reset"):
		n.aclLog.reset()
		c.R.Simple("OK")
		return nil
	case len(c.Args) == 3:
		v, err := parseLogCount(c.Args[2])
		if err != nil {
			return err
		}
		count = v
	}
	n.aclLog.reply(c, count)
	return nil
}

// aclGenpass answers bits (256 by default) random bits in hex.
func aclGenpass(c *command.Ctx) error {
	if len(c.Args) > 3 {
		return command.Error("ERR unknown subcommand or wrong number of arguments for 'GENPASS'. Try ACL HELP.")
	}
	bits := int64(256)
	if len(c.Args) == 3 {
		v, err := strconv.ParseInt(string(c.Args[2]), 10, 64)
		if err != nil {
			return command.Error("ERR value is not an integer or out of range")
		}
		if v <= 0 || v > 4096 {
			return command.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
		}
		bits = v
	}
	chars := int((bits + 3) / 4)
	b := make([]byte, (chars+1)/2)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	c.R.BulkString(hex.EncodeToString(b)[:chars])
	return nil
}

// aclDryrun answers whether a user may run a command, as its rules say
// here (a table's password is not asked).
func (n *Node) aclDryrun(c *command.Ctx) error {
	usr, ok := n.users.set().byName[string(c.Args[2])]
	if !ok {
		return command.Error("ERR User '" + string(c.Args[2]) + "' not found")
	}
	spec := n.tbl.Lookup(c.Args[3])
	if spec == nil {
		return command.Error("ERR Command '" + string(c.Args[3]) + "' not found")
	}
	if !spec.ArityOK(len(c.Args) - 3) {
		return command.WrongArgs(spec.Name)
	}
	if err := usr.Check(c.Args[3:]); err != nil {
		var d *acl.Denied
		if errors.As(err, &d) {
			c.R.BulkString(d.DryrunText())
			return nil
		}
		return err
	}
	c.R.Simple("OK")
	return nil
}
