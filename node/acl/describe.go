package acl

import (
	"math"
	"strings"

	"github.com/pika-node/pika-node/node/command"
)

// Flags are the user's flags as ACL GETUSER lists them, in Redis's order:
// "on" or "off", then "nopass", "skip-sanitize-payload" or
// "sanitize-payload" when set (a new user has neither of the last two;
// "reset" sets sanitize-payload).
func (u *User) Flags() []string {
	out := []string{"off"}
	if u.enabled {
		out[0] = "on"
	}
	if u.nopass {
		out = append(out, "nopass")
	}
	switch u.sanitize {
	case sanitizeSkip:
		out = append(out, "skip-sanitize-payload")
	case sanitizeOn:
		out = append(out, "sanitize-payload")
	}
	return out
}

// Passwords are the password records as ACL GETUSER lists them (where
// Redis lists SHA-256 hex, these are the Hasher's records).
func (u *User) Passwords() []string { return u.PasswordRecords() }

// SelectorInfo is one selector as ACL GETUSER shows it.
type SelectorInfo struct {
	// Commands are the command rules, "+@all" or "-@all" first.
	Commands string
	// Keys are the key patterns, "~*" for allkeys, else each as a rule
	// ("~k* %R~r*"), separated by spaces; "" for none.
	Keys string
	// Channels are "&*" for allchannels, else each pattern with its "&",
	// separated by spaces; "" for none.
	Channels string
}

// Selectors describes the user's selectors as ACL GETUSER does: the root
// selector first (GETUSER's top-level commands, keys and channels), then
// the "(...)" selectors in order (its "selectors").
func (u *User) Selectors() []SelectorInfo {
	out := make([]SelectorInfo, 0, 1+len(u.selectors))
	for _, s := range u.all() {
		info := SelectorInfo{Commands: strings.Join(s.describeCommands(), " ")}
		if s.allKeys {
			info.Keys = "~*"
		} else {
			keys := make([]string, len(s.keys))
			for i, k := range s.keys {
				keys[i] = k.String()
			}
			info.Keys = strings.Join(keys, " ")
		}
		if s.allChannels {
			info.Channels = "&*"
		} else {
			chans := make([]string, len(s.channels))
			for i, c := range s.channels {
				chans[i] = "&" + c
			}
			info.Channels = strings.Join(chans, " ")
		}
		out = append(out, info)
	}
	return out
}

// all is the root selector, then the others.
func (u *User) all() []*selector {
	return append([]*selector{u.root}, u.selectors...)
}

// Describe is the user as ACL LIST shows it, without "user <name> ": the
// flags, "#<record>" for each password, the root selector's keys,
// channels and command rules, then " (<rules>)" for each other selector,
// as redis-server 7.0 writes it. The records are the Hasher's, so they
// equal Redis's SHA-256 hex only with a nil Hasher; the single-command
// rules are in name order, where Redis's follow its command dictionary's
// order, which changes with each process's hash seed.
func (u *User) Describe() string {
	var b strings.Builder
	for _, f := range u.Flags() {
		b.WriteString(f + " ")
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	b.WriteString(strings.Join(u.root.describe(), " "))
	for _, s := range u.selectors {
		b.WriteString(" (" + strings.Join(s.describe(), " ") + ")")
	}
	return b.String()
}

// Rules returns rules that rebuild the user: SetRules(u.Rules()) on
// NewUser(u.Name()), then SetPasswordRecords(u.PasswordRecords()), gives a
// user equal to u in everything Check, Describe and GETUSER see. The
// passwords are left out (they are records, not rules). The rules are
// Describe's, but for two things Describe cannot say: a key pattern "*"
// that is not allkeys is written "%RW~*" (Redis writes "~*", which reads
// back as allkeys), and a selector's rule with a quote in it is quoted,
// since a selector's rules are split as sdssplitargs splits them.
func (u *User) Rules() []string {
	out := u.Flags()
	out = append(out, u.root.rules()...)
	for _, s := range u.selectors {
		rs := s.rules()
		for i, r := range rs {
			if strings.ContainsAny(r, `"'`) {
				rs[i] = quote(r)
			}
		}
		out = append(out, "("+strings.Join(rs, " ")+")")
	}
	return out
}

// quote writes r in double quotes for sdssplitargs.
func quote(r string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(r) + `"`
}

// describe is the selector's rules as ACL LIST writes them (Redis's
// ACLDescribeSelector).
func (s *selector) describe() []string {
	var out []string
	if s.allKeys {
		out = append(out, "~*")
	} else {
		for _, k := range s.keys {
			out = append(out, k.String())
		}
	}
	if s.allChannels {
		out = append(out, "&*")
	} else {
		out = append(out, "resetchannels")
		for _, c := range s.channels {
			out = append(out, "&"+c)
		}
	}
	return append(out, s.describeCommands()...)
}

// rules is describe, but with "%RW~*" for a "*" pattern that is not
// allkeys.
func (s *selector) rules() []string {
	out := s.describe()
	if !s.allKeys {
		for i, k := range s.keys {
			if k.pattern == "*" && k.perm == permAll {
				out[i] = "%RW~*"
			}
		}
	}
	return out
}

// describeCommands writes the command permissions as rules, the way Redis
// 7.0's ACLDescribeSelectorCommandRules does, so that the text is Redis's
// for the same permissions: "+@all" (when the selector can run future
// commands) or "-@all"; then, greedily, the category that best moves
// toward the permissions (more commands right than wrong, fewest wrong,
// then most right), until none helps; then each command, subcommand and
// allowed first argument that still differs. Redis keeps only the
// permission bits, not the rules given, so "+get +@string" reads back as
// "-@all +@string".
func (s *selector) describeCommands() []string {
	t := commands()
	fake := newSelector()
	additive := !s.allowed.has(t.future)
	var out []string
	if additive {
		out = append(out, "-@all")
		fake.setAll(false)
	} else {
		out = append(out, "+@all")
		fake.setAll(true)
	}
	// temp holds what the categories chosen so far have not explained:
	// each chosen category is undone on it.
	temp := &selector{allowed: append(bits(nil), s.allowed...)}
	names := command.CategoryNames()
	applied := make([]bool, len(names))
	for {
		best, minDiff, maxSame := -1, math.MaxInt32, 0
		for j := range names {
			if applied[j] {
				continue
			}
			on, off := countCategory(t, temp.allowed, 1<<j)
			diff, same := on, off
			if additive {
				diff, same = off, on
			}
			if same > diff && (diff < minDiff || diff == minDiff && same > maxSame) {
				best, minDiff, maxSame = j, diff, same
			}
		}
		if best < 0 {
			break
		}
		cat := command.Category(1) << best
		sign := "-@"
		if additive {
			sign = "+@"
		}
		out = append(out, sign+names[best])
		fake.setCategory(t, cat, additive)
		temp.setCategory(t, cat, !additive)
		applied[best] = true
	}
	for _, id := range t.tops {
		out = s.describeCommand(t, fake, id, out)
	}
	return out
}

// describeCommand adds the rules for one command (then its subcommands)
// whose permission differs between s and fake, applying them to fake.
func (s *selector) describeCommand(t *table, fake *selector, id int, out []string) []string {
	allowed := s.allowed.has(id)
	if allowed != fake.allowed.has(id) {
		sign := "-"
		if allowed {
			sign = "+"
		}
		out = append(out, sign+t.names[id])
		fake.changePerm(t, id, allowed)
	}
	for _, sub := range t.subs[id] {
		out = s.describeCommand(t, fake, sub, out)
	}
	if !allowed {
		for _, arg := range s.firstArgs[id] {
			out = append(out, "+"+t.names[id]+"|"+arg)
		}
	}
	return out
}

// countCategory counts the commands and subcommands of cat that b allows
// (on) and denies (off).
func countCategory(t *table, b bits, cat command.Category) (on, off int) {
	for id, c := range t.cats {
		if c&cat == 0 {
			continue
		}
		if b.has(id) {
			on++
		} else {
			off++
		}
	}
	return on, off
}
