package acl

import (
	"fmt"

	"github.com/pika-node/pika-node/node/command"
)

// Reason is why an ACL refused something, numbered as Redis numbers them
// (ACL_DENIED_*): when every selector refuses a command, Redis reports the
// highest reason among them.
type Reason int

const (
	ReasonCommand Reason = 1 // the command (or subcommand) is not allowed
	ReasonKey     Reason = 2 // a key is not allowed
	ReasonAuth    Reason = 3 // a failed AUTH (for ACL LOG only; Check never returns it)
	ReasonChannel Reason = 4 // a Pub/Sub channel is not allowed
)

// String is the reason as ACL LOG shows it.
func (r Reason) String() string {
	switch r {
	case ReasonCommand:
		return "command"
	case ReasonKey:
		return "key"
	case ReasonAuth:
		return "auth"
	case ReasonChannel:
		return "channel"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Denied is a command an ACL refused.
type Denied struct {
	Reason Reason
	// Object is what ACL LOG shows as the entry's object: the command's
	// Redis name ("get", "config|get") for ReasonCommand, the key or the
	// channel for the others.
	Object string
	// Command is the command's Redis name, as in Object for ReasonCommand.
	Command string
	// Index is the refused key's or channel's index in the command line.
	Index int
}

// Error is redis-server 7.0's reply to the refused command.
func (d *Denied) Error() string {
	switch d.Reason {
	case ReasonKey:
		return "NOPERM this user has no permissions to access one of the keys used as arguments"
	case ReasonChannel:
		return "NOPERM this user has no permissions to access one of the channels used as arguments"
	case ReasonAuth:
		return "WRONGPASS invalid username-password pair or user is disabled."
	}
	return fmt.Sprintf("NOPERM this user has no permissions to run the '%s' command", d.Command)
}

// DryrunText is ACL DRYRUN's reply for the refusal (a bulk string, where
// Redis names the key or channel, unlike the NOPERM error).
func (d *Denied) DryrunText() string {
	switch d.Reason {
	case ReasonKey:
		return fmt.Sprintf("This user has no permissions to access the '%s' key", d.Object)
	case ReasonChannel:
		return fmt.Sprintf("This user has no permissions to access the '%s' channel", d.Object)
	}
	return fmt.Sprintf("This user has no permissions to run the '%s' command", d.Command)
}

// Check decides whether the user may run the command line args (args[0]
// is the command as sent), as redis-server 7.0's ACLCheckAllUserCommandPerm
// does: it may when one of its selectors (the root one or any other)
// allows the command, every key the command names with the access it
// needs (command.KeysForACL), and every channel it publishes or
// subscribes to. Otherwise Check returns a *Denied with Redis's choice
// among the selectors' refusals: the highest reason (channel over key over
// command), and among equal ones the refused argument furthest right.
//
// The command is found as Redis finds it ("config get" is config|get);
// one Redis 7.0 does not have (a command, or a container's subcommand) is
// allowed only by a selector that runs future commands ("+@all ..."). The
// arity is not checked: Redis checks it first and answers its own error.
// AUTH, HELLO, QUIT and RESET (no_auth) are allowed to every user.
func (u *User) Check(args [][]byte) error {
	if len(args) == 0 {
		return nil
	}
	c := newCall(args)
	reason, idx := ReasonCommand, 0
	for _, s := range u.all() {
		r, i := s.check(c)
		if r == 0 {
			return nil
		}
		if r > reason || r == reason && i > idx {
			reason, idx = r, i
		}
	}
	d := &Denied{Reason: reason, Object: c.name, Command: c.name, Index: idx}
	if reason != ReasonCommand {
		d.Object = string(args[idx])
	}
	return d
}

// call is a command line being checked, with what the selectors share:
// its command and, found once when first needed, its keys.
type call struct {
	args   [][]byte
	name   string // Redis's name for it
	id     int    // in the table; -1 for a command Redis 7.0 does not have
	noAuth bool
	keys   []command.KeyRef
	gotKey bool
}

func newCall(args [][]byte) *call {
	name, known := command.RedisCommandName(args)
	c := &call{args: args, name: name, id: -1}
	if known {
		c.id = commands().lookup(name)
		c.noAuth = command.NoAuthCommand(name)
	}
	return c
}

func (c *call) keyRefs() []command.KeyRef {
	if !c.gotKey {
		c.keys, c.gotKey = command.KeysForACL(c.name, c.args), true
	}
	return c.keys
}

// check is one selector's decision (Redis's ACLSelectorCheckCmd): 0, or
// the reason and the index of the refused argument.
func (s *selector) check(c *call) (Reason, int) {
	t := commands()
	if !s.allCommands && !c.noAuth {
		switch {
		case c.id < 0:
			if !s.allowed.has(t.future) {
				return ReasonCommand, 0
			}
		case !s.allowed.has(c.id):
			if !s.firstArgAllowed(t, c) {
				return ReasonCommand, 0
			}
		}
	}
	if !s.allKeys && c.id >= 0 {
		for _, k := range c.keyRefs() {
			if !s.keyAllowed(c.args[k.Index], k) {
				return ReasonKey, k.Index
			}
		}
	}
	if !s.allChannels {
		first, last, pattern := channelArgs(c.name, len(c.args))
		for i := first; i < last; i++ {
			if !channelAllowed(s.channels, c.args[i], pattern) {
				return ReasonChannel, i
			}
		}
	}
	return 0, 0
}

// firstArgAllowed is the +cmd|arg check: the first argument (after the
// subcommand, for a subcommand, though Redis allows no first arguments
// for those) is one the selector allows, ASCII case-insensitively.
func (s *selector) firstArgAllowed(t *table, c *call) bool {
	allowed := s.firstArgs[c.id]
	if len(c.args) < 2 || len(allowed) == 0 {
		return false
	}
	i := 1
	if t.parent[c.id] >= 0 {
		i = 2
	}
	if i >= len(c.args) {
		return false
	}
	arg := cstr(string(c.args[i]))
	for _, a := range allowed {
		if command.EqualFoldASCII(arg, cstr(a)) {
			return true
		}
	}
	return false
}

// keyAllowed is Redis's ACLSelectorCheckKey: a pattern whose permissions
// cover the access the key needs and that matches the key.
func (s *selector) keyAllowed(key []byte, k command.KeyRef) bool {
	var need perm
	if k.Read {
		need |= permRead
	}
	if k.Write {
		need |= permWrite
	}
	for _, p := range s.keys {
		if p.perm&need == need && command.GlobMatch([]byte(p.pattern), key) {
			return true
		}
	}
	return false
}

// channelArgs are the arguments [first, last) of the command line that
// Redis 7.0's ACLs check as channels, and whether they are patterns:
// PUBLISH's and SPUBLISH's channel, every channel of SUBSCRIBE and
// SSUBSCRIBE, every pattern of PSUBSCRIBE. The unsubscribe commands are
// not checked.
func channelArgs(name string, argc int) (first, last int, pattern bool) {
	switch name {
	case "publish", "spublish":
		return 1, min(2, argc), false
	case "subscribe", "ssubscribe":
		return 1, argc, false
	case "psubscribe":
		return 1, argc, true
	}
	return 0, 0, false
}

// channelAllowed is Redis's ACLCheckChannelAgainstList: a channel must
// match one of the patterns; a pattern (PSUBSCRIBE's) must equal one,
// as a string, since a pattern could match more than the ACL's pattern.
func channelAllowed(patterns []string, ch []byte, isPattern bool) bool {
	for _, p := range patterns {
		if isPattern && p == cstr(string(ch)) || !isPattern && command.GlobMatch([]byte(p), ch) {
			return true
		}
	}
	return false
}

// AllowsChannel reports whether the user may use the channel (a pattern,
// for PSUBSCRIBE's) as Redis's ACLUserCheckChannelPerm decides: some
// selector has allchannels or a pattern for it. The node asks it of a
// subscribed connection's channels when its user changes, as Redis kills
// the subscribers whose channels a new ACL revokes.
func (u *User) AllowsChannel(ch []byte, isPattern bool) bool {
	for _, s := range u.all() {
		if s.allChannels || channelAllowed(s.channels, ch, isPattern) {
			return true
		}
	}
	return false
}

// UnrestrictedKeys reports whether one of the user's selectors allows the
// command line args and reads every key (allkeys, or a "*" pattern with
// read access), as redis-server 7.0's
// ACLUserCheckCmdWithUnrestrictedKeyAccess: SORT's BY and GET patterns,
// which read keys computed from the data, need it.
func (u *User) UnrestrictedKeys(args [][]byte) bool {
	c := newCall(args)
	for _, s := range u.all() {
		if r, _ := s.check(c); r != 0 {
			continue
		}
		if s.allKeys {
			return true
		}
		for _, p := range s.keys {
			if p.pattern == "*" && p.perm&permRead != 0 {
				return true
			}
		}
	}
	return false
}
