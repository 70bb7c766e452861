package acl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/pika-node/pika-node/node/command"
)

// Hasher makes and checks password records. A record is what a User keeps
// and what is stored for a password; it never holds the cleartext. Both
// methods take the password as Redis names it in its rules: the SHA-256 of
// the cleartext in lowercase hex (">pw" hashes it first, "#<hex>" gives
// it). The node's Hasher is bcrypt of that hex (manager/meta's
// HashPrehashed and CheckPrehashed).
type Hasher interface {
	// Hash returns a new record for the password.
	Hash(sha256Hex string) string
	// Match reports whether record is one of the password's.
	Match(record, sha256Hex string) bool
}

// plainHasher keeps the SHA-256 hex itself as the record, as redis-server
// does; SetRules uses it for a nil Hasher.
type plainHasher struct{}

func (plainHasher) Hash(h string) string        { return h }
func (plainHasher) Match(record, h string) bool { return record == h }

func orPlain(h Hasher) Hasher {
	if h == nil {
		return plainHasher{}
	}
	return h
}

// sha256Hex is how Redis names a password: its SHA-256 in lowercase hex.
func sha256Hex(pw string) string {
	d := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(d[:])
}

// sanitize is the user's sanitize-payload flag: Redis 7.0 has two flags,
// at most one set, and a new user has neither.
type sanitize uint8

const (
	sanitizeUnset sanitize = iota
	sanitizeSkip           // skip-sanitize-payload
	sanitizeOn             // sanitize-payload
)

// User is an ACL user of Redis 7.0 as data: its flags, password records
// and selectors. A User is not safe for concurrent use while SetRules or
// SetPasswordRecords run; the node replaces a user with a modified Clone
// instead, so readers may share one.
type User struct {
	name     string
	enabled  bool // "on"; a new user is "off"
	nopass   bool
	sanitize sanitize
	// passwords are the records, in the order added, none matching the
	// same password twice (when added by rules).
	passwords []string
	// root is the selector of the rules outside parentheses; selectors
	// are the "(...)" ones, in the order added.
	root      *selector
	selectors []*selector
}

// NewUser returns the user ACL SETUSER creates for a new name in Redis
// 7.0's default configuration (acl-pubsub-default resetchannels): off, no
// passwords (and not nopass), no keys, no channels, no commands
// ("off resetchannels -@all").
func NewUser(name string) *User { return &User{name: name, root: newSelector()} }

// NewDefaultUser returns Redis's "default" user as it starts: on, nopass,
// every key, channel and command ("on nopass ~* &* +@all").
func NewDefaultUser() *User {
	u := NewUser("default")
	u.enabled, u.nopass = true, true
	u.root.allKeys, u.root.allChannels = true, true
	u.root.setAll(true)
	return u
}

// ErrBadName is Redis's refusal of a user name with a space or NUL.
var ErrBadName = errors.New("ERR Usernames can't contain spaces or null characters")

// CheckName returns ErrBadName for a name ACL SETUSER refuses.
func CheckName(name string) error {
	if hasSpaces(name) {
		return ErrBadName
	}
	return nil
}

// Clone returns a deep copy.
func (u *User) Clone() *User {
	c := *u
	c.passwords = slices.Clone(u.passwords)
	c.root = u.root.clone()
	c.selectors = make([]*selector, len(u.selectors))
	for i, s := range u.selectors {
		c.selectors[i] = s.clone()
	}
	return &c
}

// Name is the user's name.
func (u *User) Name() string { return u.name }

// Enabled reports whether the user is "on": a disabled user cannot
// authenticate (connections already authenticated as it keep working).
func (u *User) Enabled() bool { return u.enabled }

// NoPass reports whether any password authenticates the user.
func (u *User) NoPass() bool { return u.nopass }

// PasswordRecords returns the user's password records (a copy), in the
// order they were added.
func (u *User) PasswordRecords() []string { return slices.Clone(u.passwords) }

// SetPasswordRecords replaces the password records, as stored: for
// loading a user (Rules leaves the passwords out). It does not change
// nopass: a stored nopass user has no records.
func (u *User) SetPasswordRecords(recs []string) { u.passwords = slices.Clone(recs) }

// SetRules applies ACL SETUSER rules left to right, as Redis 7.0 does: on
// a copy, kept only if every rule succeeds, so a failed SetRules changes
// nothing. A selector may be given as one rule "(~k* +get)" or spread
// over several ("(~k*", "+get)"), as Redis merges them. The error is a
// *RuleError whose Error is Redis's reply. Passwords are hashed by h; a
// nil h keeps the SHA-256 hex as the record, as redis-server does.
func (u *User) SetRules(rules []string, h Hasher) error {
	h = orPlain(h)
	merged, err := mergeSelectors(rules)
	if err != nil {
		return err
	}
	tmp := u.Clone()
	for _, op := range merged {
		if err := tmp.apply(op, h); err != nil {
			var f Fault
			errors.As(err, &f)
			return &RuleError{Rule: cstr(op), Fault: f}
		}
	}
	*u = *tmp
	return nil
}

// apply is one rule (Redis's ACLSetUser).
func (u *User) apply(op string, h Hasher) error {
	word := cstr(op)
	switch {
	case op == "":
		// Redis ignores an empty rule.
	case command.EqualFoldASCII(word, "on"):
		u.enabled = true
	case command.EqualFoldASCII(word, "off"):
		u.enabled = false
	case command.EqualFoldASCII(word, "skip-sanitize-payload"):
		u.sanitize = sanitizeSkip
	case command.EqualFoldASCII(word, "sanitize-payload"):
		u.sanitize = sanitizeOn
	case command.EqualFoldASCII(word, "nopass"):
		u.nopass, u.passwords = true, nil
	case command.EqualFoldASCII(word, "resetpass"):
		u.nopass, u.passwords = false, nil
	case op[0] == '>' || op[0] == '#':
		pw := op[1:]
		if op[0] == '>' {
			pw = sha256Hex(pw)
		} else if !validHash(pw) {
			return ErrBadHash
		}
		if !slices.ContainsFunc(u.passwords, func(r string) bool { return h.Match(r, pw) }) {
			u.passwords = append(u.passwords, h.Hash(pw))
		}
		u.nopass = false
	case op[0] == '<' || op[0] == '!':
		pw := op[1:]
		if op[0] == '<' {
			pw = sha256Hex(pw)
		} else if !validHash(pw) {
			return ErrBadHash
		}
		n := len(u.passwords)
		u.passwords = slices.DeleteFunc(u.passwords, func(r string) bool { return h.Match(r, pw) })
		if len(u.passwords) == n {
			return ErrNoSuchPassword
		}
		if len(u.passwords) == 0 {
			u.passwords = nil
		}
	case op[0] == '(' && op[len(op)-1] == ')':
		s := newSelector()
		for _, sop := range splitArgs(op[1 : len(op)-1]) {
			if err := s.apply(sop); err != nil {
				return err
			}
		}
		u.selectors = append(u.selectors, s)
	case command.EqualFoldASCII(word, "clearselectors"):
		u.selectors = nil
	case command.EqualFoldASCII(word, "reset"):
		u.nopass, u.passwords = false, nil
		u.root.allKeys, u.root.keys = false, nil
		u.root.allChannels, u.root.channels = false, nil
		u.enabled = false
		u.sanitize = sanitizeOn
		u.selectors = nil
		u.root.setAll(false)
	default:
		return u.root.apply(op)
	}
	return nil
}

// validHash reports whether s is a SHA-256 in lowercase hex, as "#" and
// "!" need.
func validHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
