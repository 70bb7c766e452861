package node

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/node/command"
)

// ACL, as a redis-server 7.0 with no user but the default one answers it
// (docs/acl.md designs the users; they are not built): every connection
// is the default user, on, without a password, allowed every command, key
// and channel. Table passwords are not ACL users. ACL SETUSER is refused
// until users exist; ACL DELUSER deletes nothing, as Redis for unknown
// names.

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
		c.R.BulkString(defaultUser)
	case "users":
		c.R.Array(1)
		c.R.BulkString(defaultUser)
	case "list":
		c.R.Array(1)
		c.R.BulkString("user default on nopass ~* &* +@all")
	case "getuser":
		if string(c.Args[2]) != defaultUser {
			c.R.Null()
			return nil
		}
		c.R.Map(6)
		c.R.BulkString("flags")
		c.R.Set(2)
		c.R.BulkString("on")
		c.R.BulkString("nopass")
		c.R.BulkString("passwords")
		c.R.Array(0)
		c.R.BulkString("commands")
		c.R.BulkString("+@all")
		c.R.BulkString("keys")
		c.R.BulkString("~*")
		c.R.BulkString("channels")
		c.R.BulkString("&*")
		c.R.BulkString("selectors")
		c.R.Array(0)
	case "log":
		return aclLog(c)
	case "genpass":
		return aclGenpass(c)
	case "save", "load":
		return command.Error(aclNoFile)
	case "deluser":
		for _, name := range c.Args[2:] {
			if string(name) == defaultUser {
				return command.Error("ERR The 'default' user cannot be removed")
			}
		}
		c.R.Int(0)
	case "setuser":
		return command.Error("ERR ACL users are not supported by pika-node yet: tables have passwords (pikactl table set-password)")
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

// aclLog answers ACL LOG: nothing is ever refused by an ACL yet.
func aclLog(c *command.Ctx) error {
	switch {
	case len(c.Args) > 3:
		return command.Error("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
	case len(c.Args) == 3 && strings.EqualFold(string(c.Args[2]), "reset"):
		c.R.Simple("OK")
		return nil
	case len(c.Args) == 3:
		if _, err := strconv.ParseInt(string(c.Args[2]), 10, 64); err != nil {
			return command.Error("ERR value is not an integer or out of range")
		}
	}
	c.R.Array(0)
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

// aclDryrun answers whether user may run a command: the default user may
// run every command this node has.
func (n *Node) aclDryrun(c *command.Ctx) error {
	if string(c.Args[2]) != defaultUser {
		return command.Error("ERR User '" + string(c.Args[2]) + "' not found")
	}
	spec := n.tbl.Lookup(c.Args[3])
	if spec == nil {
		return command.Error("ERR Command '" + string(c.Args[3]) + "' not found")
	}
	if !spec.ArityOK(len(c.Args) - 3) {
		return command.WrongArgs(spec.Name)
	}
	c.R.Simple("OK")
	return nil
}
