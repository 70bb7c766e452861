package acl

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// saltedHasher makes a different record each time, as bcrypt does, so
// that only Match can tell a password's records.
type saltedHasher struct{ n int }

func (h *saltedHasher) Hash(hex string) string {
	h.n++
	return fmt.Sprintf("salt%d:%s", h.n, hex)
}

func (h *saltedHasher) Match(record, hex string) bool { return strings.HasSuffix(record, ":"+hex) }

func args(line string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(line) {
		out = append(out, []byte(f))
	}
	return out
}

func mustRules(t *testing.T, u *User, h Hasher, rules ...string) {
	t.Helper()
	if err := u.SetRules(rules, h); err != nil {
		t.Fatalf("SetRules(%q): %v", rules, err)
	}
}

func TestNewUsers(t *testing.T) {
	if got := NewUser("u").Describe(); got != "off resetchannels -@all" {
		t.Errorf("NewUser: %q", got)
	}
	d := NewDefaultUser()
	if got := d.Describe(); got != "on nopass ~* &* +@all" {
		t.Errorf("NewDefaultUser: %q", got)
	}
	if !d.Enabled() || !d.NoPass() || d.Name() != "default" {
		t.Error("default user flags")
	}
	if err := d.Check(args("flushall")); err != nil {
		t.Errorf("default user: %v", err)
	}
}

func TestPasswordRecords(t *testing.T) {
	h := &saltedHasher{}
	u := NewUser("u")
	mustRules(t, u, h, ">a", ">b", ">a", "#"+sha256Hex("b"))
	recs := u.PasswordRecords()
	if len(recs) != 2 || !h.Match(recs[0], sha256Hex("a")) || !h.Match(recs[1], sha256Hex("b")) {
		t.Fatalf("records %q", recs)
	}
	if want := "off #" + recs[0] + " #" + recs[1] + " resetchannels -@all"; u.Describe() != want {
		t.Errorf("Describe %q, want %q", u.Describe(), want)
	}
	mustRules(t, u, h, "<a")
	if got := u.PasswordRecords(); !slices.Equal(got, recs[1:]) {
		t.Errorf("after <a: %q", got)
	}
	err := u.SetRules([]string{"!" + sha256Hex("a")}, h)
	if !errors.Is(err, ErrNoSuchPassword) {
		t.Errorf("removing an absent password: %v", err)
	}
	mustRules(t, u, h, "nopass")
	if !u.NoPass() || len(u.PasswordRecords()) != 0 {
		t.Error("nopass keeps no records")
	}
	mustRules(t, u, h, ">c")
	if u.NoPass() {
		t.Error(">c ends nopass")
	}
	// Loading: the records as stored, the rules without passwords.
	l := NewUser("u")
	mustRules(t, l, h, u.Rules()...)
	l.SetPasswordRecords(u.PasswordRecords())
	if l.Describe() != u.Describe() {
		t.Errorf("loaded %q, want %q", l.Describe(), u.Describe())
	}
	// A nil Hasher keeps Redis's SHA-256 hex.
	p := NewUser("p")
	mustRules(t, p, nil, ">1")
	if got := p.PasswordRecords(); !slices.Equal(got, []string{hashA}) {
		t.Errorf("nil Hasher: %q", got)
	}
}

func TestSetRulesIsAtomic(t *testing.T) {
	u := NewUser("u")
	mustRules(t, u, nil, "on", "+get", "~a")
	before := u.Describe()
	err := u.SetRules([]string{"+set", "~b", "+nosuch"}, nil)
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != "+nosuch" || !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("error %v", err)
	}
	if want := "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"; err.Error() != want {
		t.Errorf("error text %q", err.Error())
	}
	if u.Describe() != before {
		t.Errorf("a failed SetRules changed the user: %q", u.Describe())
	}
	err = u.SetRules([]string{"(~a", "+get"}, nil)
	if !errors.Is(err, ErrUnmatchedParenthesis) || err.Error() != "ERR Unmatched parenthesis in acl selector starting at '(~a'." {
		t.Errorf("unmatched: %v", err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	u := NewUser("u")
	mustRules(t, u, nil, "~a", "&c", "+select|0", "(~x +get)", ">p")
	c := u.Clone()
	mustRules(t, c, nil, "~b", "&d", "+select|1", "(~y)", ">q", "+set")
	if u.Describe() == c.Describe() {
		t.Fatal("clone not changed")
	}
	want := NewUser("u")
	mustRules(t, want, nil, "~a", "&c", "+select|0", "(~x +get)", ">p")
	if u.Describe() != want.Describe() {
		t.Errorf("changing a clone changed the user: %q", u.Describe())
	}
}

func TestCheck(t *testing.T) {
	u := NewUser("u")
	mustRules(t, u, nil, "on", "%R~r*", "%W~w*", "+get", "+set", "+config|get", "&ch*", "+publish", "+psubscribe")
	cases := []struct {
		line   string
		reason Reason
		object string
		err    string
	}{
		{"get r1", 0, "", ""},
		{"GET w1", ReasonKey, "w1", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"set w1 v", 0, "", ""},
		{"set w1 v get", ReasonKey, "w1", ""},
		{"del r1", ReasonCommand, "del", "NOPERM this user has no permissions to run the 'del' command"},
		{"config get x", 0, "", ""},
		{"config set x y", ReasonCommand, "config|set", "NOPERM this user has no permissions to run the 'config|set' command"},
		{"publish ch1 m", 0, "", ""},
		{"publish x m", ReasonChannel, "x", "NOPERM this user has no permissions to access one of the channels used as arguments"},
		{"psubscribe ch*", 0, "", ""},
		{"psubscribe ch1*", ReasonChannel, "ch1*", ""},
		{"auth a b", 0, "", ""},
		{"pikaonly x", ReasonCommand, "pikaonly", ""},
	}
	for _, c := range cases {
		err := u.Check(args(c.line))
		if c.reason == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.line, err)
			}
			continue
		}
		d, ok := err.(*Denied)
		if !ok || d.Reason != c.reason || d.Object != c.object {
			t.Errorf("%s: %#v, want %v on %q", c.line, err, c.reason, c.object)
			continue
		}
		if c.err != "" && d.Error() != c.err {
			t.Errorf("%s: %q, want %q", c.line, d.Error(), c.err)
		}
	}
	if !u.AllowsChannel([]byte("ch9"), false) || u.AllowsChannel([]byte("ch9"), true) || !u.AllowsChannel([]byte("ch*"), true) {
		t.Error("AllowsChannel")
	}
}

// A command Redis 7.0 does not have is allowed only where the rules start
// with +@all (Redis's future commands).
func TestCommandsRedisDoesNotHave(t *testing.T) {
	for rules, allowed := range map[string]bool{
		"+@all":               true,
		"+@all -get -@admin":  true,
		"allcommands":         true,
		"-@all +@read +@slow": false,
		"+@all -@all +get":    false,
		"reset":               false,
	} {
		u := NewUser("u")
		mustRules(t, u, nil, append(strings.Fields(rules), "~*")...)
		for _, line := range []string{"pikaonly x", "config nosuchsub"} {
			if err := u.Check(args(line)); (err == nil) != allowed {
				t.Errorf("%q: %s: %v", rules, line, err)
			}
		}
	}
}

// Rules rebuilds what Describe cannot say unambiguously.
func TestRulesRoundTrip(t *testing.T) {
	for _, rules := range [][]string{
		{"%RW~*", "~x"},
		{`(~"a\"b" ~'c' &"d'e" +get)`},
		{"on", "skip-sanitize-payload", "nopass", "(~x) resetchannels +@all)"},
		{"+select|0", "+SELECT|Db", "+@all", "-config|set", "(%R~r +@read -get)"},
	} {
		u := NewUser("u")
		mustRules(t, u, nil, rules...)
		r := NewUser("u")
		if err := r.SetRules(u.Rules(), nil); err != nil {
			t.Errorf("%q: rebuilding from %q: %v", rules, u.Rules(), err)
			continue
		}
		if r.Describe() != u.Describe() || fmt.Sprint(r.Selectors()) != fmt.Sprint(u.Selectors()) {
			t.Errorf("%q: rebuilt %q, want %q", rules, r.Describe(), u.Describe())
		}
		// "%RW~*" is not allkeys: a pattern may still be added.
		if rules[0] == "%RW~*" {
			if err := r.SetRules([]string{"~y"}, nil); err != nil {
				t.Errorf("rebuilt %%RW~* became allkeys: %v", err)
			}
		}
	}
}

func TestCheckName(t *testing.T) {
	if CheckName("alice") != nil || !errors.Is(CheckName("a b"), ErrBadName) || CheckName("a\x00") == nil {
		t.Error("CheckName")
	}
}
