package acl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/command"
)

// The differential tests run the same rules and commands on a real
// redis-server (7.0, the contract) and on this package, and compare the
// answers: ACL SETUSER's reply, ACL LIST's line, ACL GETUSER's fields,
// ACL DRYRUN's reply and COMMAND GETKEYSANDFLAGS's keys.

// oracle is a redis-server of the test's own, on a unix socket in a temp
// dir, spoken to with RESP2 over one connection.
type oracle struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// startRedis starts redis-server. Without the binary the test is skipped,
// except under CI, where the binary must be there
// (scripts/install-deps.sh installs it).
func startRedis(t *testing.T) *oracle {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (scripts/install-deps.sh installs it): %v", err)
		}
		t.Skipf("redis-server not found: %v", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--dir", dir, "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Poll for the socket with a deadline: redis-server takes some
	// milliseconds to listen.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			o := &oracle{t: t, conn: conn, r: bufio.NewReader(conn)}
			t.Cleanup(func() { conn.Close() })
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// respError is an error reply.
type respError string

func (e respError) Error() string { return string(e) }

// do sends a command and returns its reply: string (simple or bulk), nil,
// int64, []any, or respError.
func (o *oracle) do(args ...string) any {
	o.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	o.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := o.conn.Write([]byte(b.String())); err != nil {
		o.t.Fatal(err)
	}
	v, err := o.read()
	if err != nil {
		o.t.Fatal(err)
	}
	return v
}

func (o *oracle) read() (any, error) {
	line, err := o.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return respError(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(o.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = o.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// replyText is a reply to ACL SETUSER or DRYRUN as one string: "OK", the
// error's text, or a bulk's text.
func replyText(v any) string {
	switch v := v.(type) {
	case respError:
		return string(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// normalizeRules sorts, in an ACL LIST line or a GETUSER commands field,
// each run of single-command rules ("+get", "-config|set"): Redis writes
// them in its command dictionary's order, which changes with each
// process's hash seed, and this package writes them in name order. The
// rules before them ("+@all", categories, keys, channels) keep their
// order. The parentheses of selectors stay where they are.
func normalizeRules(line string) string {
	toks := strings.Split(line, " ")
	type tok struct {
		open, close bool
		core        string
	}
	ts := make([]tok, len(toks))
	for i, s := range toks {
		ts[i].open = strings.HasPrefix(s, "(")
		ts[i].close = strings.HasSuffix(s, ")")
		s = strings.TrimPrefix(s, "(")
		s = strings.TrimSuffix(s, ")")
		ts[i].core = s
	}
	single := func(s string) bool {
		return len(s) > 1 && (s[0] == '+' || s[0] == '-') && s[1] != '@'
	}
	for i := 0; i < len(ts); {
		if !single(ts[i].core) {
			i++
			continue
		}
		j := i
		var run []string
		for j < len(ts) && single(ts[j].core) && (j == i || !ts[j].open) {
			run = append(run, ts[j].core)
			j++
			if ts[j-1].close {
				break
			}
		}
		slices.Sort(run)
		for k := range run {
			ts[i+k].core = run[k]
		}
		i = j
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		s := t.core
		if t.open {
			s = "(" + s
		}
		if t.close {
			s += ")"
		}
		out[i] = s
	}
	return strings.Join(out, " ")
}

// getuser is ACL GETUSER's reply in the package's terms.
type getuser struct {
	flags, passwords []string
	selectors        []SelectorInfo // root first
}

func parseGetuser(t *testing.T, v any) *getuser {
	t.Helper()
	if v == nil {
		return nil
	}
	fields, ok := v.([]any)
	if !ok {
		t.Fatalf("GETUSER replied %v", v)
	}
	strs := func(v any) []string {
		var out []string
		for _, e := range v.([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	sel := func(kv []any) SelectorInfo {
		var s SelectorInfo
		for i := 0; i+1 < len(kv); i += 2 {
			switch kv[i].(string) {
			case "commands":
				s.Commands = normalizeRules(kv[i+1].(string))
			case "keys":
				s.Keys = kv[i+1].(string)
			case "channels":
				s.Channels = kv[i+1].(string)
			}
		}
		return s
	}
	g := &getuser{selectors: []SelectorInfo{sel(fields)}}
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i].(string) {
		case "flags":
			g.flags = strs(fields[i+1])
		case "passwords":
			g.passwords = strs(fields[i+1])
		case "selectors":
			for _, s := range fields[i+1].([]any) {
				g.selectors = append(g.selectors, sel(s.([]any)))
			}
		}
	}
	return g
}

func ourGetuser(u *User) *getuser {
	if u == nil {
		return nil
	}
	g := &getuser{flags: u.Flags(), passwords: u.Passwords(), selectors: u.Selectors()}
	for i := range g.selectors {
		g.selectors[i].Commands = normalizeRules(g.selectors[i].Commands)
	}
	return g
}

// listLine is ACL LIST's line for name, or "" when there is none.
func (o *oracle) listLine(name string) string {
	for _, l := range o.do("ACL", "LIST").([]any) {
		if s := l.(string); strings.HasPrefix(s, "user "+name+" ") {
			return s
		}
	}
	return ""
}

const (
	hashA = "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b" // sha256("1")
	hashB = "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f86aa0ec6cf7f0c0a81"
)

// setuserCases are rule sequences: each case runs its steps (one ACL
// SETUSER each) on a fresh user "u".
var setuserCases = [][][]string{
	{{}},
	{{"on"}, {"off"}},
	{{"ON", "Off", "on"}},
	{{"on", ">pw1", ">pw2", ">pw1"}},
	{{">pw", "<pw"}},
	{{"<nope"}},
	{{">a"}, {"<b"}},
	{{"#" + hashA, ">1"}},
	{{"#ABC"}},
	{{"#" + strings.ToUpper(hashA)}},
	{{"!" + hashA}},
	{{"#" + hashA, "#" + hashB, "!" + hashA}},
	{{"!xyz"}},
	{{"nopass"}, {">a"}, {"nopass"}, {"resetpass"}},
	{{">a", "nopass", "<a"}},
	{{"~*"}, {"~foo"}},
	{{"allkeys", "resetkeys", "~a", "~b", "~a"}},
	{{"%R~a", "%W~a", "%R~b", "%w~c", "%rW~d", "%WR~e"}},
	{{"%~x"}},
	{{"%"}},
	{{"%R"}, {"%W"}, {"%R~"}},
	{{"%X~a"}},
	{{"%RR~a"}},
	{{"~a b"}},
	{{"~", "~[a-z]*", "~\\*"}},
	{{"%RW~*", "~x"}},
	{{"&*"}, {"&x"}},
	{{"allchannels", "resetchannels", "&a", "&b", "&a"}},
	{{"&a b"}},
	{{"+get"}},
	{{"+@all", "-get", "-SET"}},
	{{"+@read"}, {"-@string"}},
	{{"-@all", "+@string", "-append"}},
	{{"+nosuch"}},
	{{"+@nosuch"}},
	{{"+"}},
	{{"-"}},
	{{"+@"}},
	{{"+config|get"}, {"+config|nosuch"}},
	{{"+config", "-config|set"}},
	{{"+CONFIG|GET", "-config|get"}},
	{{"+select|0", "+select|1", "+SELECT|0"}},
	{{"+select|0", "+select"}},
	{{"+select|0", "-select"}},
	{{"+select|0", "+@connection"}},
	{{"+config|get|x"}},
	{{"+get|"}},
	{{"-select|0"}},
	{{"+@all", "-@dangerous"}},
	{{"allcommands"}, {"nocommands"}, {"+get"}},
	{{"+@all", "-@all", "+get"}},
	{{"+@READ", "+@Write"}},
	{{"+@all", "-config|set", "+@admin"}},
	{{"+client", "-client|kill", "+@dangerous"}},
	{{"+@hash", "+@set", "+@sortedset", "-hgetall"}},
	{{"-@all", "+debug|digest", "+debug|object"}},
	{{"+@scripting", "+@pubsub", "+@transaction"}},
	{{"+@fast", "-@write"}},
	{{"+@slow"}},
	{{"+@slow", "-@admin", "+client|kill"}},
	{{"+@keyspace", "-del", "+get", "+@geo", "-@dangerous"}},
	{{"+get", "+@string"}},
	{{"(~a +get)"}},
	{{"(~a", "+get)"}},
	{{"(~a"}},
	{{"(~a", "+get"}},
	{{"(~a +get)", "(~b"}},
	{{"(+nosuch)"}},
	{{"(~a", "+nosuch", "&b)"}},
	{{"(~a +get)", "(~b +set)"}, {"clearselectors"}},
	{{"()"}},
	{{"(on)"}},
	{{"(\"~a b\")"}},
	{{"(~'x' +get)"}},
	{{"(~\"a\\x41\\n\")"}},
	{{"(~\"unterminated +get)"}},
	{{"(~\"x\"y +get)"}},
	{{"(&ch +publish)", "(%R~r* +@read)"}},
	{{"(allkeys allchannels allcommands)"}},
	{{"(~* ~x)"}},
	{{"(&* &x)"}},
	{{"(", "~a", ")"}},
	{{")"}},
	{{"(>pw)"}},
	{{"on", ">p", "~a", "&b", "+get", "(~x +set)", "reset"}},
	{{"skip-sanitize-payload"}, {"sanitize-payload"}, {"skip-sanitize-payload", "reset"}},
	{{"+get", "~a"}, {"+set", "+nosuch"}},
	{{"", "on"}},
	{{"+@all"}, {"-get"}, {"+get"}},
	{{"foo"}},
	{{"on", "nopass", "~*", "&*", "+@all", "(~x +get)"}},
}

func TestSetUserMatchesRedis(t *testing.T) {
	o := startRedis(t)
	if got, want := o.listLine("default"), "user default "+NewDefaultUser().Describe(); got != want {
		t.Errorf("default user: redis %q, ours %q", got, want)
	}
	for ci, steps := range setuserCases {
		o.do("ACL", "DELUSER", "u")
		var u *User
		for si, rules := range steps {
			name := fmt.Sprintf("case %d step %d %q", ci, si, rules)
			want := replyText(o.do(append([]string{"ACL", "SETUSER", "u"}, rules...)...))
			next := NewUser("u")
			if u != nil {
				next = u.Clone()
			}
			got := "OK"
			if err := next.SetRules(rules, nil); err != nil {
				got = err.Error()
				var re *RuleError
				if !errors.As(err, &re) {
					t.Errorf("%s: error %T is not a *RuleError", name, err)
				}
			} else {
				u = next
			}
			if got != want {
				t.Errorf("%s: SETUSER: redis %q, ours %q", name, want, got)
				continue
			}
			line := o.listLine("u")
			ours := ""
			if u != nil {
				ours = "user u " + u.Describe()
			}
			if normalizeRules(line) != normalizeRules(ours) {
				t.Errorf("%s: ACL LIST:\nredis %q\nours  %q", name, line, ours)
			}
			g, og := parseGetuser(t, o.do("ACL", "GETUSER", "u")), ourGetuser(u)
			if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", og) {
				t.Errorf("%s: ACL GETUSER:\nredis %#v\nours  %#v", name, g, og)
			}
			if u == nil {
				continue
			}
			// Rules rebuilds the user: the same description.
			re := NewUser("u")
			if err := re.SetRules(u.Rules(), nil); err != nil {
				t.Errorf("%s: rebuilding from %q: %v", name, u.Rules(), err)
				continue
			}
			re.SetPasswordRecords(u.PasswordRecords())
			if re.Describe() != u.Describe() {
				t.Errorf("%s: rebuilt from %q:\n%q\nwant %q", name, u.Rules(), re.Describe(), u.Describe())
			}
		}
	}
}

// dryrunUsers are set up on both sides for the DRYRUN comparison.
var dryrunUsers = map[string][]string{
	"none": {},
	"rw":   {"on", "nopass", "%R~r*", "%W~w*", "~rw*", "+@all", "&ch*"},
	"sel": {"on", "nopass", "~k*", "+get", "+set", "+publish",
		"(~other* +@all)", "(&c* %R~k* +publish +subscribe +psubscribe +lmove)"},
	"first": {"-@all", "+select|0", "+config|get", "+client", "-client|kill", "~*", "+object|encoding"},
	"pub":   {"resetchannels", "&news.*", "&lit*", "+@pubsub", "~*"},
	"all":   {"+@all", "-@dangerous", "allkeys", "allchannels"},
	"keys":  {"+@all", "~a", "~b", "%R~c", "%W~d"},
	"multi": {"+get", "+mget", "~a*", "(+mget ~b*)", "(+mget +get ~c* %R~a*)", "(&x* +publish)", "(+publish &y*)"},
}

// dryrunCommands are command lines of valid arity.
var dryrunCommands = [][]string{
	{"get", "k1"}, {"get", "other1"}, {"get", "zzz"}, {"get", "r1"}, {"get", "w1"}, {"get", "rw1"},
	{"set", "r1", "v"}, {"set", "w1", "v"}, {"set", "rw1", "v"}, {"set", "w1", "v", "get"}, {"set", "k1", "v", "GET"},
	{"getdel", "r1"}, {"getdel", "rw1"}, {"append", "w1", "x"},
	{"lmove", "r1", "w1", "left", "right"}, {"lmove", "rw1", "w1", "left", "right"}, {"lmove", "k1", "k2", "left", "left"},
	{"copy", "r1", "w1"}, {"copy", "rw1", "w1"},
	{"mset", "w1", "v", "w2", "v"}, {"mset", "w1", "v", "r2", "v"}, {"mget", "r1", "rw2", "w3"}, {"mget", "a", "b", "c"},
	{"zunionstore", "w", "2", "r1", "r2"}, {"zunionstore", "w", "2", "r1", "w2"}, {"zunionstore", "w", "x", "r1"}, {"zunionstore", "w", "5", "r1"},
	{"eval", "return 1", "1", "r1"}, {"eval", "return 1", "2", "r1", "w1"}, {"eval", "return 1", "0"}, {"eval", "return 1", "-1", "w1"},
	{"fcall", "f", "1", "a"}, {"fcall", "f", "1", "zz"},
	{"sort", "r1"}, {"sort", "r1", "store", "w1"}, {"sort", "r1", "by", "x", "store", "r2"}, {"sort", "r1", "limit", "0", "store", "get", "x"},
	{"sort_ro", "r1"}, {"sort_ro", "w1"},
	{"migrate", "h", "1", "r1", "0", "5"}, {"migrate", "h", "1", "", "0", "5", "keys", "rw1", "w1"}, {"migrate", "h", "1", "", "0", "5", "auth", "keys", "keys", "rw1"},
	{"xread", "streams", "r1", "0"}, {"xread", "count", "1", "streams", "r1", "w1", "0", "0"},
	{"georadius", "r1", "1", "2", "3", "m", "store", "w1"}, {"georadius", "r1", "1", "2", "3", "m", "store"}, {"georadius", "a", "1", "2", "3", "m", "storedist", "c"},
	{"publish", "ch1", "m"}, {"publish", "x", "m"}, {"publish", "c1", "m"}, {"publish", "news.1", "m"},
	{"subscribe", "ch1", "ch2"}, {"subscribe", "ch1", "x"}, {"subscribe", "c1", "news.a"},
	{"psubscribe", "ch*"}, {"psubscribe", "c*"}, {"psubscribe", "news.*"}, {"psubscribe", "lit*", "news.x"},
	{"ssubscribe", "ch1"}, {"spublish", "x", "m"}, {"unsubscribe", "x"}, {"punsubscribe", "x"},
	{"config", "get", "x"}, {"config", "set", "x", "y"}, {"CONFIG", "GET", "x"},
	{"select", "0"}, {"select", "1"}, {"SELECT", "0"},
	{"client", "kill", "x"}, {"client", "list"}, {"client", "id"},
	{"auth", "a", "b"}, {"hello"}, {"ping"}, {"flushall"},
	{"object", "encoding", "k1"}, {"object", "encoding", "r1"}, {"object", "freq", "k1"},
	{"xinfo", "stream", "r1"}, {"memory", "usage", "w1"},
	{"bitfield", "r1", "get", "u8", "0"}, {"bitfield", "r1", "set", "u8", "0", "1"}, {"bitfield", "w1", "incrby", "u8", "0", "1"},
	{"lmpop", "2", "r1", "r2", "left"}, {"sintercard", "2", "c", "a"},
	{"mget", "a1", "b1", "c1"}, {"mget", "b1", "a1"}, {"mget", "c1", "a1"}, {"get", "c1"}, {"get", "d1"}, {"mget", "d1", "e1"},
	{"publish", "z", "m"}, {"publish", "x1", "m"}, {"publish", "y1", "m"},
	{"del", "a", "c"}, {"del", "d"}, {"exists", "c"}, {"exists", "d"}, {"rename", "a", "b"}, {"rename", "c", "d"},
}

func TestDryrunMatchesRedis(t *testing.T) {
	o := startRedis(t)
	for _, name := range slices.Sorted(maps.Keys(dryrunUsers)) {
		rules := dryrunUsers[name]
		if r := replyText(o.do(append([]string{"ACL", "SETUSER", name}, rules...)...)); r != "OK" {
			t.Fatalf("SETUSER %s: %s", name, r)
		}
		u := NewUser(name)
		if err := u.SetRules(rules, nil); err != nil {
			t.Fatalf("SetRules %s: %v", name, err)
		}
		for _, line := range dryrunCommands {
			want := replyText(o.do(append([]string{"ACL", "DRYRUN", name}, line...)...))
			args := make([][]byte, len(line))
			for i, a := range line {
				args[i] = []byte(a)
			}
			got := "OK"
			if err := u.Check(args); err != nil {
				d, ok := err.(*Denied)
				if !ok {
					t.Fatalf("%s %q: error %T is not a *Denied", name, line, err)
				}
				got = d.DryrunText()
			}
			if got != want {
				t.Errorf("user %s %q: redis %q, ours %q", name, line, want, got)
			}
		}
	}
}

// keysLines are command lines for comparing command.KeysForACL with
// redis-server's COMMAND GETKEYSANDFLAGS (which runs the same
// getKeysFromCommandWithSpecs as its ACL check). Keys are distinct names,
// so that names tell the positions.
var keysLines = [][]string{
	{"get", "k"}, {"set", "k", "v"}, {"set", "k", "v", "get"}, {"set", "k", "v", "nx", "Get"}, {"set", "k", "v", "get\x00x"},
	{"mset", "a", "1", "b", "2"}, {"mget", "a", "b", "c"}, {"del", "a", "b"},
	{"lmove", "s", "d", "left", "right"}, {"blmove", "s", "d", "left", "right", "0"}, {"copy", "s", "d"}, {"rename", "s", "d"},
	{"zunionstore", "d", "2", "a", "b"}, {"zunionstore", "d", "3", "a", "b"}, {"zunionstore", "d", "x", "a"},
	{"zunionstore", "d", "0", "a"}, {"zunionstore", "d", "-1", "a"}, {"zunionstore", "d", "01", "a"}, {"zunionstore", "d", " 1", "a"},
	{"zunionstore", "d", "1", "a", "weights", "1"}, {"zinterstore", "d", "2", "a", "b"}, {"zdiffstore", "d", "1", "a"},
	{"zunion", "2", "a", "b"}, {"zinter", "1", "a", "withscores"}, {"zdiff", "9", "a"}, {"zintercard", "2", "a", "b", "limit", "1"},
	{"sintercard", "2", "a", "b"}, {"sintercard", "3", "a", "b"},
	{"eval", "s", "2", "a", "b", "arg"}, {"eval", "s", "0"}, {"eval", "s", "3", "a"}, {"eval", "s", "x", "a"}, {"eval", "s", "4294967297", "a", "b"},
	{"evalsha", "s", "1", "a"}, {"eval_ro", "s", "1", "a"}, {"evalsha_ro", "s", "1", "a"}, {"fcall", "f", "2", "a", "b"}, {"fcall_ro", "f", "1", "a"},
	{"lmpop", "2", "a", "b", "left"}, {"lmpop", "5", "a", "left"}, {"blmpop", "0", "2", "a", "b", "left"}, {"zmpop", "1", "a", "min"}, {"bzmpop", "0", "1", "a", "max"},
	{"sort", "k"}, {"sort", "k", "store", "d"}, {"sort", "k", "store"}, {"sort", "k", "by", "store", "store", "d"}, {"sort", "k", "limit", "0", "1", "store", "d", "store", "e"},
	{"sort", "k", "get", "store", "alpha"}, {"sort_ro", "k", "by", "x"},
	{"migrate", "h", "1", "k", "0", "5"}, {"migrate", "h", "1", "", "0", "5", "keys", "a", "b"}, {"migrate", "h", "1", "x", "0", "5", "keys", "a", "b"},
	{"migrate", "h", "1", "", "0", "5", "copy", "auth", "keys", "keys", "a"}, {"migrate", "h", "1", "", "0", "5", "auth2", "u", "keys", "keys", "a"},
	{"migrate", "h", "1", "", "0", "5", "keys"},
	{"xread", "streams", "a", "b", "0", "0"}, {"xread", "count", "2", "streams", "a", "0"}, {"xread", "streams", "a", "b", "0"}, {"xread", "block", "streams", "streams", "a", "0"},
	{"xread", "count", "1", "a", "streams", "b", "0"},
	{"xreadgroup", "group", "g", "c", "streams", "a", "0"}, {"xreadgroup", "group", "g", "c", "noack", "streams", "a", "b", ">", ">"}, {"xreadgroup", "group", "streams", "c", "streams", "a", "0"},
	{"georadius", "k", "1", "2", "3", "m", "store", "d"}, {"georadius", "k", "1", "2", "3", "m", "store"}, {"georadius", "k", "1", "2", "3", "m", "storedist", "d", "store", "e"},
	{"georadius", "k", "1", "2", "3", "m", "withdist", "store", "d"}, {"georadiusbymember", "k", "m", "3", "km", "store", "d"},
	{"bitfield", "k", "get", "u8", "0"}, {"bitfield", "k", "set", "u8", "0", "1"}, {"bitfield", "k", "overflow", "sat"}, {"bitfield", "k", "get", "u8"}, {"bitfield_ro", "k", "get", "u8", "0"},
	{"object", "encoding", "k"}, {"xinfo", "stream", "k"}, {"memory", "usage", "k"}, {"xgroup", "create", "k", "g", "$"},
	{"spublish", "c", "m"}, {"publish", "c", "m"}, {"ping", "x"}, {"config", "get", "x"},
	{"lcs", "a", "b"}, {"smove", "s", "d", "m"}, {"bitop", "and", "d", "a", "b"}, {"pfmerge", "d", "a", "b"}, {"touch", "a", "b"},
	{"watch", "a", "b"}, {"exists", "a"}, {"getex", "k", "persist"}, {"restore", "k", "0", "x"}, {"geosearchstore", "d", "s", "frommember", "m", "byradius", "1", "m"},
}

func TestKeysMatchRedis(t *testing.T) {
	o := startRedis(t)
	for _, line := range keysLines {
		reply := o.do(append([]string{"COMMAND", "GETKEYSANDFLAGS"}, line...)...)
		var want []string
		switch r := reply.(type) {
		case respError:
			if s := string(r); !strings.Contains(s, "Invalid arguments") && !strings.Contains(s, "has no key arguments") {
				t.Errorf("%q: redis: %s", line, s)
				continue
			}
		case []any:
			for _, e := range r {
				kf := e.([]any)
				flags := kf[1].([]any)
				read, write := false, false
				for _, f := range flags {
					switch f.(string) {
					case "access":
						read = true
					case "insert", "delete", "update":
						write = true
					}
				}
				want = append(want, fmt.Sprintf("%s r=%v w=%v", kf[0], read, write))
			}
		}
		args := make([][]byte, len(line))
		for i, a := range line {
			args[i] = []byte(a)
		}
		name, _ := command.RedisCommandName(args)
		var got []string
		for _, k := range command.KeysForACL(name, args) {
			got = append(got, fmt.Sprintf("%s r=%v w=%v", line[k.Index], k.Read, k.Write))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: redis %q, ours %q", line, want, got)
		}
	}
}
