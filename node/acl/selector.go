package acl

import (
	"slices"
	"strings"

	"github.com/pika-node/pika-node/node/command"
)

// perm is what a key pattern allows: %R~ reads, %W~ writes, ~ both.
type perm uint8

const (
	permRead perm = 1 << iota
	permWrite
	permAll = permRead | permWrite
)

type keyPattern struct {
	pattern string
	perm    perm
}

// String is the pattern as a rule, as Redis writes it.
func (p keyPattern) String() string {
	switch p.perm {
	case permRead:
		return "%R~" + p.pattern
	case permWrite:
		return "%W~" + p.pattern
	}
	return "~" + p.pattern
}

// selector is one set of permissions of a user (Redis's aclSelector): the
// root one, written outside parentheses, or one of the "(...)" ones. A
// user may run a command when any of its selectors allows the command and
// all its keys and channels.
type selector struct {
	// allKeys (~* or allkeys), allChannels (&* or allchannels) and
	// allCommands (+@all or allcommands, until a command is taken away)
	// are Redis's selector flags.
	allKeys, allChannels, allCommands bool
	// allowed has a bit per command of the table, and table.future for
	// the commands Redis 7.0 does not have.
	allowed bits
	// firstArgs are the first arguments +cmd|arg allowed for a command
	// whose bit is off (by command number, in the order added, without
	// case-insensitive duplicates); nil when there are none.
	firstArgs map[int][]string
	keys      []keyPattern
	channels  []string
}

// newSelector is an empty selector: no keys, no channels (Redis 7.0's
// acl-pubsub-default is resetchannels), no commands.
func newSelector() *selector { return &selector{allowed: newBits(commands())} }

func (s *selector) clone() *selector {
	c := *s
	c.allowed = slices.Clone(s.allowed)
	c.keys = slices.Clone(s.keys)
	c.channels = slices.Clone(s.channels)
	if s.firstArgs != nil {
		c.firstArgs = make(map[int][]string, len(s.firstArgs))
		for id, args := range s.firstArgs {
			c.firstArgs[id] = slices.Clone(args)
		}
	}
	return &c
}

// setBit allows or denies one command; denying one ends allCommands, as
// in Redis (the future bit stays: "+@all -get" still runs new commands).
func (s *selector) setBit(id int, v bool) {
	s.allowed.set(id, v)
	if !v {
		s.allCommands = false
	}
}

// changePerm allows or denies a command and, for a container, all its
// subcommands, and forgets the command's allowed first arguments
// (Redis's ACLChangeSelectorPerm).
func (s *selector) changePerm(t *table, id int, allow bool) {
	s.setBit(id, allow)
	delete(s.firstArgs, id)
	for _, sub := range t.subs[id] {
		s.setBit(sub, allow)
	}
}

// setCategory allows or denies every command and subcommand of the
// category, a container's subcommands with it (Redis's
// ACLSetSelectorCommandBitsForCategory).
func (s *selector) setCategory(t *table, cat command.Category, allow bool) {
	for id, c := range t.cats {
		if c&cat != 0 {
			s.changePerm(t, id, allow)
		}
	}
}

// setAll is +@all (allow) or -@all.
func (s *selector) setAll(allow bool) {
	s.allowed.fill(allow)
	s.allCommands = allow
	s.firstArgs = nil
}

func (s *selector) addFirstArg(id int, arg string) {
	for _, a := range s.firstArgs[id] {
		if command.EqualFoldASCII(cstr(a), cstr(arg)) {
			return
		}
	}
	if s.firstArgs == nil {
		s.firstArgs = map[int][]string{}
	}
	s.firstArgs[id] = append(s.firstArgs[id], arg)
}

// apply applies one selector rule (Redis's ACLSetSelector): keys,
// channels and commands. Rules are case-insensitive where Redis's are.
func (s *selector) apply(op string) error {
	t := commands()
	word := cstr(op) // Redis compares the rule words as C strings
	switch {
	case command.EqualFoldASCII(word, "allkeys") || word == "~*":
		s.allKeys, s.keys = true, nil
	case command.EqualFoldASCII(word, "resetkeys"):
		s.allKeys, s.keys = false, nil
	case command.EqualFoldASCII(word, "allchannels") || word == "&*":
		s.allChannels, s.channels = true, nil
	case command.EqualFoldASCII(word, "resetchannels"):
		s.allChannels, s.channels = false, nil
	case command.EqualFoldASCII(word, "allcommands") || command.EqualFoldASCII(word, "+@all"):
		s.setAll(true)
	case command.EqualFoldASCII(word, "nocommands") || command.EqualFoldASCII(word, "-@all"):
		s.setAll(false)
	case op != "" && (op[0] == '~' || op[0] == '%'):
		return s.addKeyPattern(op)
	case op != "" && op[0] == '&':
		if s.allChannels {
			return ErrChannelAfterAll
		}
		pat := op[1:]
		if hasSpaces(pat) {
			return ErrSyntax
		}
		if !slices.Contains(s.channels, pat) {
			s.channels = append(s.channels, pat)
		}
		s.allChannels = false
	case len(word) >= 2 && (word[0] == '+' || word[0] == '-') && word[1] == '@':
		cat, ok := categoryNamed(word[2:])
		if !ok {
			return ErrUnknownCommand
		}
		s.setCategory(t, cat, word[0] == '+')
	case word != "" && word[0] == '+':
		return s.allowCommand(t, word[1:])
	case word != "" && word[0] == '-':
		id := t.lookup(word[1:])
		if id < 0 {
			return ErrUnknownCommand
		}
		s.changePerm(t, id, false)
	default:
		return ErrSyntax
	}
	return nil
}

// addKeyPattern is ~pattern, or %R~, %W~, %RW~ (each letter once, in any
// order and case; at least one).
func (s *selector) addKeyPattern(op string) error {
	if s.allKeys {
		return ErrKeyAfterAll
	}
	p, rest := permAll, op[1:]
	if op[0] == '%' {
		p = 0
		for rest != "" {
			c := rest[0]
			rest = rest[1:]
			switch {
			case (c == 'R' || c == 'r') && p&permRead == 0:
				p |= permRead
			case (c == 'W' || c == 'w') && p&permWrite == 0:
				p |= permWrite
			case c == '~' && p != 0:
				goto parsed
			default:
				return ErrSyntax
			}
		}
		// Redis 7.0.15 with its security fixes (as Debian ships it) also
		// refuses a bare "%" ; "%R" is the empty pattern, read only.
		if p == 0 {
			return ErrSyntax
		}
	}
parsed:
	if hasSpaces(rest) {
		return ErrSyntax
	}
	for i := range s.keys {
		if s.keys[i].pattern == rest {
			s.keys[i].perm |= p
			return nil
		}
	}
	s.keys = append(s.keys, keyPattern{pattern: rest, perm: p})
	s.allKeys = false
	return nil
}

// allowCommand is +cmd, +container|sub, or +cmd|firstarg for a command
// without subcommands (Redis deprecates the last but keeps it).
func (s *selector) allowCommand(t *table, name string) error {
	bar := strings.LastIndexByte(name, '|')
	if bar < 0 {
		id := t.lookup(name)
		if id < 0 {
			return ErrUnknownCommand
		}
		s.changePerm(t, id, true)
		return nil
	}
	id := t.lookup(name[:bar])
	switch {
	case id < 0:
		return ErrUnknownCommand
	case t.parent[id] >= 0:
		return ErrFirstArgOfSubcommand
	case bar == len(name)-1:
		return ErrSyntax
	case len(t.subs[id]) > 0:
		sub := t.lookup(name)
		if sub < 0 {
			return ErrUnknownCommand
		}
		s.changePerm(t, sub, true)
	default:
		s.addFirstArg(id, name[bar+1:])
	}
	return nil
}

// categoryNamed finds a category as Redis does, ASCII case-insensitively.
func categoryNamed(name string) (command.Category, bool) {
	for i, n := range command.CategoryNames() {
		if command.EqualFoldASCII(n, name) {
			return 1 << i, true
		}
	}
	return 0, false
}

// hasSpaces is Redis's ACLStringHasSpaces: C's isspace or a NUL byte,
// refused in names and patterns.
func hasSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r', 0:
			return true
		}
	}
	return false
}

// cstr is s up to its first NUL byte, as Redis's string compares see it.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
