package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// CONFIG GET and CONFIG SET against redis-server, parameter by parameter: pika-node must know
// every parameter redis-server lists, show the same value, and answer CONFIG SET of every probe
// value (valid or not) with the same reply, showing the same value afterwards. The exceptions
// are listed below, each with its reason; everything else must be byte-identical.

// configEnvValues are the parameters whose value legitimately differs: the environment of each
// server, or the node's own settings that CONFIG GET reports from its real state.
var configEnvValues = map[string]string{
	"port":       "each server listens on its own port",
	"bind":       "redis-server is started with --bind 127.0.0.1, pika-node with its own --bind",
	"dir":        "each server has its own directory",
	"databases":  "redis-server has 16 databases; pika-node reports 1 (its databases are tables, which SELECT picks)",
	"maxclients": "both fit 10000 into their open file limit, pika-node after reserving descriptors for storage, etcd and peers",
}

// configEnv says why name's value may differ between the two servers ("": it may not).
func configEnv(name string) string {
	if name == "client-output-buffer-limit" && pikaBin == "" {
		return "with COMPAT_TARGET=redis the second redis-server bounds normal clients (see startServers)"
	}
	return configEnvValues[name]
}

// configMayDiffer says, for a parameter, whether replies r (redis-server) and p (pika-node) to
// the same CONFIG SET may differ, and why.
var configMayDiffer = map[string]func(r, p Reply) bool{
	// Redis without jemalloc (Debian's build) cannot defragment; pika-node only remembers it.
	"activedefrag": func(r, p Reply) bool {
		return r.Kind == '-' && strings.Contains(r.Str, "Active defragmentation cannot be enabled") && p.String() == "+OK"
	},
	// Both raise the open file limit for more clients, and say so with their own numbers.
	"maxclients": func(r, p Reply) bool {
		const os = "The operating system is not able to handle the specified number of clients"
		return strings.Contains(r.Str, os) || strings.Contains(p.Str, os)
	},
	// The node's settings and passwords: pika-node takes their current value only.
	"client-query-buffer-limit": pikaRefuses("pika-node can't change client-query-buffer-limit while running"),
	"proto-max-bulk-len":        pikaRefuses("pika-node can't change proto-max-bulk-len while running"),
	"requirepass":               pikaRefuses("pika-node keeps passwords per table"),
	// Redis checks an address by binding it; pika-node cannot rebind, whatever the address.
	"bind": func(r, p Reply) bool {
		return r.Str == "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses." &&
			strings.Contains(p.Str, "pika-node can't change bind while running")
	},
	// 0 means "do not wait for replicas" in Redis; pika-node would give up closing storage.
	"shutdown-timeout": pikaRefuses("pika-node needs a positive shutdown-timeout"),
}

// pikaRefuses: redis-server took the value, pika-node refused it with reason.
func pikaRefuses(reason string) func(r, p Reply) bool {
	return func(r, p Reply) bool { return r.String() == "+OK" && p.Kind == '-' && strings.Contains(p.Str, reason) }
}

// configProbes are the values CONFIG SET tries on every parameter: valid and invalid yes/no,
// integers, memory values and percentages at and past every bound the table has, strings.
func configProbes() []string {
	return []string{"not-a-valid-value!", "yes", "no", "YES", "No", "y", "1", "true", "", " yes", "yes ", "yes no",
		"0", "-1", "01", "-0", "+1", " 1", "1 ", "2", "7", "100", "1000", "65535", "65536", "2147483647",
		"2147483648", "4294967295", "4294967296", "9223372036854775807", "9223372036854775808",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "-2147483648", "-2147483649",
		"-9223372036854775808", "-9223372036854775809", "1k", "1K", "1kb", "1KB", "1b", "1B", "k", "kb", "1m", "1mb",
		"1g", "1gb", "1GB", "3gb", "99999999999999999999gb", "1.5mb", "0x10", "1tb", "16383", "16384",
		strings.Repeat("1", 127), strings.Repeat("1", 128), "1%", "100%", "0%", "101%", "-1%", "01%", "%", "50%",
		"1kb%", "a b", "x", "pika-test"}
}

// configSpecialProbes are further values for the parameters with a format of their own.
func configSpecialProbes(name string) []string {
	shutdown := []string{"save now", "now save", "nosave force now", "save nosave", "SAVE NOW", "now", "force now",
		"default now", "now default", "save save", "now now", "nosave save", "save nosave bogus", "bogus save nosave",
		"now  now", "default", "force"}
	switch name {
	case "shutdown-on-sigint", "shutdown-on-sigterm":
		return shutdown
	case "save":
		return []string{"3600 1", "3600 1 300 100", "3600 1 300", "3600 x", "-1 1", "1 -1", "0 0", "01 1", "3600  1",
			" 3600 1", "3600 1 ", "3600\t1", "9999999999999999999 1", "1 9999999999999999999", "2147483648 1",
			"1 2147483648", `""`, "3600 1 3600 1", "1k 1", "60 10000 300 10 900 1", "+1 1", "1 2 3 4 5 6 7 8", "0 1",
			"1 ", "1 0", "\t1 1", "1 \t2", "-0 1", "1 -0", "3600  1 2", "1 4294967297", "1 +2", "1 2 3 4 ", "1e3 1",
			"0x10 1", "010 1", "1 010", " ", "1 -4294967296", "1 9223372036854775807", "1 -9223372036854775808", "-",
			"1 -", "\v1 1", "1\n 1"}
	case "notify-keyspace-events":
		return []string{"K", "E", "A", "KEA", "AKE", "g$lshzxetd", "KA", "Eg", "KEg$lshzxetdmn", "KEm", "KEn", "KE",
			"Ag", "AKEmn", "gggg", "Kd", "Kt", "kea", "$", "n", "m", " ", "KEA ", "$lshzxetdn", "g$lshzxet", "AK", "AE",
			"Am", "An", "nm", "mnKE", "EK"}
	case "oom-score-adj-values":
		return []string{"0 200 800", "0 200", "0 200 800 1", "-2000 0 2000", "-2001 0 0", "0 0 2001", "1 2 3", "3 2 1",
			"a b c", "0  200 800", "01 200 800", "0 200 800 ", "1.5 2 3", "+1 2 3", "0 200 ", "\t1 2 3", "1 2 \t3",
			"0x10 1 2", "-0 1 2", "99999999999999999999 1 2", " 1 2", "- 1 2"}
	case "latency-tracking-info-percentiles":
		return []string{"50", "50 99", "50 99 99.9", "101", "abc", "99.99", "99.999", "50.0", "1e1", "50 50", "99 50",
			" 50", "50 ", "0.0001", "1.23456789", "inf", "nan", "100.0000001", "0.0000001", "1e-400", "0x1p3", "INF",
			"50  99", "Infinity", "100.0", "1.5e1", "99.99999949", "99.9999995", "1e2", ".5", "5.", "+5", "0x", "0x1p",
			"0x.8", "1_0", "4.9e-324", "2e-324", "1e400", "-inf", "nan(1)", "0X1P3", "1e", "e1", ".", "+", "abc 101",
			"101 abc", "1,5"}
	case "proc-title-template":
		return []string{"{title}", "{bad}", "x {title} y", "{title", "title}",
			"{server-mode} {port} {tls-port} {unixsocket} {config-file} {listen-addr}", "{{title}}", "{}", " {title} ",
			"{server-mode}", "{port}", "{unixsocket}", "{config-file}", "{tls-port}", "{listen-addr}", " {server-mode} ",
			"{title}x", "{TITLE} x", "}", "}}", "{", "{{", "{{}", "x{", "{title}{", "{{title}", "a}b", "{title}}}",
			"{listen-addr", "{ title}", "   ", "{title} {server-mode}", "{title}\t"}
	case "cluster-announce-hostname":
		return []string{"a.b-c", "a_b", "A1", "-a", ".", strings.Repeat("x", 300), "a_" + strings.Repeat("x", 300),
			strings.Repeat("x", 255), strings.Repeat("x", 256), "\xc3\xa9"}
	case "maxmemory-clients":
		return []string{"-1%", "1.5%", "-0%", "+1%", "1%%", " 1%", "9223372036854775807%", "-100%", "9223372036854775808%"}
	case "client-output-buffer-limit":
		// Valid values limit the slave and pubsub classes, never normal clients (the test's).
		return []string{"normal 0 0 0", "slave 1 2 3", "replica 1 2 3", "pubsub 1mb 2mb 3", "REPLICA 1 2 3",
			"master 1 2 3", "normal 1 2", "pubsub 1 2 3 slave 4 5 6", "normal a 2 3", "normal 1 2 -3", "normal -1 2 3",
			"normal 1 2 x", "pubsub 1 2 3 pubsub 4 5 6", "pubsub 1kb 2KB 3", "normal 1 2 3 slave",
			"replica 1 2 3 slave 4 5 6", "pubsub 1 2 99999999999999999999", "pubsub 1 2 9223372036854775808",
			"normal 1.5 2 3", "normal 1 2 0x10", "pubsub 5 3 0", "pubsub 1 2 +3", "pubsub 1 2 ", "master a b c",
			"normal a 2 3 master 1 2 3", "pubsub 1 2 3 master 1 2 3", "pubsub 99999999999999999999 2 3", "pubsub 1 2 3 ",
			"pubsub  1 2 3", " pubsub 1 2 3", "pubsub 1 2 03", "pubsub 1 2 -0", "pubsub 1 2 9223372036854775807",
			"normal -1kb 1 1", "pubsub 1 2 3 bogus 1 2 3", "Pubsub 1 2 3", "pubsub 1 2 \t3", "pubsub 1 2 3\t",
			"normal 1 2 1.0", "pubsub 1 2 2147483647", "pubsub 1 2 2147483648", "pubsub 1 2 4294967296",
			"pubsub 1 2 4294967297", "pubsub 1 2 -1", "pubsub 1 2 9223372036854775806", "pubsub 1 2 -9223372036854775808",
			"pubsub 1 2 -4294967296", "normal 1 2 -"}
	}
	return nil
}

// configUnsafe are the parameters whose valid values would change what the test runs on.
var configUnsafe = map[string]string{
	"port": "a valid port would move redis-server",
	"bind": "a valid address would rebind redis-server (and Redis checks an address by binding it)",
	// Its valid values limit normal clients, this test's: configSpecialProbes has safe ones.
	"client-output-buffer-limit": "",
}

// configConn is a connection to each server.
type configConn struct {
	t          *testing.T
	redis, pka *Conn
}

func newConfigConn(t *testing.T) *configConn {
	t.Helper()
	needServers(t)
	r, err := Dial(redisSrv.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	p, err := Dial(pikaSrv.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &configConn{t: t, redis: r, pka: p}
}

// do runs args on both servers.
func (c *configConn) do(args ...string) (r, p Reply) {
	c.t.Helper()
	var err error
	if r, err = c.redis.Do(args...); err != nil {
		c.t.Fatalf("redis-server: %q: %v", args, err)
	}
	if p, err = c.pka.Do(args...); err != nil {
		c.t.Fatalf("pika-node: %q: %v", args, err)
	}
	return r, p
}

// same runs args on both servers and fails unless the replies are identical (sorted as pairs
// if pairs).
func (c *configConn) same(pairs bool, args ...string) Reply {
	c.t.Helper()
	r, p := c.do(args...)
	rs, ps := r.String(), p.String()
	if pairs {
		rs, ps = sortedString(r, 2), sortedString(p, 2)
	}
	if rs != ps {
		c.t.Errorf("%q:\n  redis-server: %s\n  pika-node:    %s", args, rs, ps)
	}
	return r
}

// configAll is CONFIG GET * as a map.
func configAll(t *testing.T, c *Conn, who string) map[string]string {
	t.Helper()
	r, err := c.Do("CONFIG", "GET", "*")
	if err != nil || r.Kind != '*' || len(r.Elems)%2 != 0 {
		t.Fatalf("%s: CONFIG GET *: %s, %v", who, r, err)
	}
	m := map[string]string{}
	for i := 0; i < len(r.Elems); i += 2 {
		m[r.Elems[i].Str] = r.Elems[i+1].Str
	}
	return m
}

// configDiff lists the parameters whose values differ between two CONFIG GET *, those of
// configEnvValues excepted.
func configDiff(r, p map[string]string) []string {
	var diff []string
	for name, v := range r {
		if configEnv(name) == "" && p[name] != v {
			diff = append(diff, fmt.Sprintf("%s: redis-server %q, pika-node %q", name, v, p[name]))
		}
	}
	for name := range p {
		if _, ok := r[name]; !ok {
			diff = append(diff, name+": pika-node only")
		}
	}
	sort.Strings(diff)
	return diff
}

// TestConfigParams compares, for every parameter redis-server lists, CONFIG GET and CONFIG SET
// of every probe value, then sets a valid value other than the default and compares the whole
// CONFIG GET * (which shows an alias changing with its parameter, and nothing else changing).
func TestConfigParams(t *testing.T) {
	c := newConfigConn(t)
	rall, pall := configAll(t, c.redis, "redis-server"), configAll(t, c.pka, "pika-node")
	names := make([]string, 0, len(rall))
	for name := range rall {
		names = append(names, name)
		if _, ok := pall[name]; !ok {
			t.Errorf("pika-node does not list %s", name)
		}
	}
	sort.Strings(names)
	if d := configDiff(rall, pall); len(d) > 0 {
		t.Errorf("CONFIG GET * differs:\n  %s", strings.Join(d, "\n  "))
	}
	t.Logf("%d parameters; values allowed to differ: %v", len(names), configEnvValues)

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c := &configConn{t: t, redis: c.redis, pka: c.pka}
			if why := configEnv(name); why != "" {
				if name == "client-output-buffer-limit" {
					t.Skip(why) // its values are the test's subject
				}
			} else {
				c.same(false, "CONFIG", "GET", name)
			}
			if why, ok := configUnsafe[name]; ok && why != "" {
				probes := []string{"not-a-valid-value!", "-1", "65536", "", "01", "x"}
				if name == "bind" {
					probes = probes[:1] // anything else may bind (even "": to nothing)
				}
				for _, v := range probes {
					r, p := c.do("CONFIG", "SET", name, v)
					if r.String() != p.String() && (configMayDiffer[name] == nil || !configMayDiffer[name](r, p)) {
						t.Errorf("CONFIG SET %s %q:\n  redis-server: %s\n  pika-node:    %s", name, v, r, p)
					}
				}
				t.Logf("only invalid values tried: %s", why)
				return
			}
			valid := configSetProbes(c, name, rall[name], pall[name])
			if valid == "" {
				return
			}
			// A valid non-default value: the whole CONFIG GET * must agree, then the default
			// comes back on both.
			c.same(false, "CONFIG", "SET", name, valid)
			if d := configDiff(configAll(t, c.redis, "redis-server"), configAll(t, c.pka, "pika-node")); len(d) > 0 {
				t.Errorf("after CONFIG SET %s %q, CONFIG GET * differs:\n  %s", name, valid, strings.Join(d, "\n  "))
			}
			configRestore(c, name, rall[name], pall[name])
			if d := configDiff(configAll(t, c.redis, "redis-server"), configAll(t, c.pka, "pika-node")); len(d) > 0 {
				t.Errorf("after restoring %s, CONFIG GET * differs:\n  %s", name, strings.Join(d, "\n  "))
			}
		})
	}
}

// configSetProbes tries every probe value on name and returns one both servers took that
// changed the value ("" if none), the default put back after each.
func configSetProbes(c *configConn, name, rdef, pdef string) (valid string) {
	t := c.t
	probes := append(configProbes(), configSpecialProbes(name)...)
	// An enum's reply names its values: try each, in any case, and combinations.
	r, _ := c.do("CONFIG", "SET", name, "not-a-valid-value!")
	configRestore(c, name, rdef, pdef)
	if _, opts, ok := strings.Cut(r.Str, "must be one of the following: "); ok {
		names := strings.Split(opts, ", ")
		for _, o := range names {
			probes = append(probes, o, strings.ToUpper(o), o+" "+o, " "+o)
		}
		probes = append(probes, names[0]+" "+names[len(names)-1], strings.Join(names, " "))
	}
	if strings.Contains(r.Str, "can't set") { // immutable or protected: every value alike
		probes = []string{"not-a-valid-value!", rdef, pdef}
	}
	mayDiffer := configMayDiffer[name]
	for _, v := range probes {
		if name == "maxclients" && slices.Contains([]string{"2147483647", "2147483648", "4294967295"}, v) {
			// redis-server lowers the open file limit it asks for 16 at a time until the
			// system grants it: from 2^31, minutes. Both refuse it (see node's TestServerCommands).
			continue
		}
		r, p := c.do("CONFIG", "SET", name, v)
		switch {
		case r.String() == p.String():
		case mayDiffer != nil && mayDiffer(r, p):
			t.Logf("CONFIG SET %s %q: redis-server %s, pika-node %s (allowed)", name, v, r, p)
			configRestore(c, name, rdef, pdef)
			continue
		default:
			t.Errorf("CONFIG SET %s %q:\n  redis-server: %s\n  pika-node:    %s", name, v, r, p)
		}
		if r.String() == "+OK" || p.String() == "+OK" {
			rv := c.same(false, "CONFIG", "GET", name)
			if valid == "" && r.String() == "+OK" && p.String() == "+OK" && len(rv.Elems) == 2 && rv.Elems[1].Str != rdef {
				valid = v
			}
			configRestore(c, name, rdef, pdef)
		}
	}
	return valid
}

// configRestore sets name back to each server's own value.
func configRestore(c *configConn, name, rdef, pdef string) {
	c.t.Helper()
	if r, err := c.redis.Do("CONFIG", "SET", name, rdef); err != nil || (r.String() != "+OK" && !strings.Contains(r.Str, "can't set")) {
		c.t.Fatalf("redis-server: CONFIG SET %s %q: %s, %v", name, rdef, r, err)
	}
	if p, err := c.pka.Do("CONFIG", "SET", name, pdef); err != nil || (p.String() != "+OK" && !strings.Contains(p.Str, "can't set")) {
		c.t.Fatalf("pika-node: CONFIG SET %s %q: %s, %v", name, pdef, p, err)
	}
}

// configHidden are redis-server 7.0's parameters that only an exact CONFIG GET shows.
var configHidden = []string{"key-load-delay", "loading-process-events-interval-bytes", "lua-enable-deprecated-api",
	"rdb-key-save-delay", "use-exit-on-panic", "watchdog-period"}

// TestConfigHidden: the hidden parameters answer an exact CONFIG GET and CONFIG SET (invalid
// values only for watchdog-period: a valid one would start Redis's watchdog) and no pattern.
func TestConfigHidden(t *testing.T) {
	c := newConfigConn(t)
	for _, name := range configHidden {
		r := c.same(false, "CONFIG", "GET", name)
		if len(r.Elems) != 2 {
			t.Errorf("redis-server does not have %s: %s", name, r)
			continue
		}
		c.same(false, "CONFIG", "GET", strings.ToUpper(name))
		c.same(false, "CONFIG", "GET", name[:len(name)-1]+"*")
		c.same(true, "CONFIG", "GET", name, "maxmemory")
		if name == "watchdog-period" {
			for _, v := range []string{"not-a-valid-value!", "-1", "2147483648", "0"} {
				c.same(false, "CONFIG", "SET", name, v)
			}
			continue
		}
		def := r.Elems[1].Str
		t.Run(name, func(t *testing.T) {
			configSetProbes(&configConn{t: t, redis: c.redis, pka: c.pka}, name, def, def)
		})
	}
}

// TestConfigCommand compares the rest of CONFIG: several patterns, several pairs (all or
// nothing, the order of errors, duplicates and aliases), names in any case, arity, HELP,
// REWRITE, RESETSTAT.
func TestConfigCommand(t *testing.T) {
	c := newConfigConn(t)
	for _, args := range [][]string{
		{"GET", "maxmemory"}, {"GET", "MAXMEMORY"}, {"GET", "MAXMEMORY", "maxmemory"}, {"GET", "nosuch"},
		{"GET", "nosuch", "no*such"}, {"GET", "maxmemor[y]"}, {"GET", `maxmemory\`}, {"GET", `max\*`},
		{"GET", "maxmemory?", "maxmemory"},
		{"SET", "maxmemory"}, {"SET", "maxmemory", "1", "hz"}, {"GET"}, {"foo"}, {"RESETSTAT", "x"}, {"RESETSTAT"},
		{"REWRITE"}, {"REWRITE", "x"}, {"HELP"}, {"help", "x"},
		{"SET", "maxmemory", "1", "maxmemory", "2"}, {"SET", "maxmemory", "1", "MAXMEMORY", "2"},
		{"SET", "maxmemory", "x", "nosuch", "2"}, {"SET", "daemonize", "no", "nosuch", "2"},
		{"SET", "nosuch", "2", "daemonize", "no"}, {"SET", "DAEMONIZE", "no"}, {"SET", "Dir", "x"},
		{"SET", "dbfilename", "x.rdb"}, {"SET", "maxmemory", "5", "maxmemory-policy", "bad", "maxmemory", "6"},
		{"SET", "maxmemory", "5", "maxmemory-policy", "bad", "DIR", "6"}, {"SET", "SLAVE-PRIORITY", "abc"},
		{"SET", "MAXMEMORY", "abc"}, {"SET", "maxmemory", "1mb", "maxmemory-policy", "bad"}, {"GET", "maxmemory"},
		{"SET", "maxmemory", "1mb", "MAXMEMORY-POLICY", "allkeys-lru"}, {"GET", "maxmemory"}, {"GET", "maxmemory-policy"},
		{"SET", "maxmemory", "0", "maxmemory-policy", "noeviction"},
		{"SET", "replica-priority", "1", "SLAVE-priority", "2"}, {"GET", "replica-priority"}, {"GET", "slave-priority"},
		{"SET", "slave-priority", "100"}, {"GET", "replica-priority"},
		{"SET", "hash-max-ziplist-entries", "64", "list-compress-depth", "2", "save", "3600 1", "appendonly", "no"},
		{"GET", "hash-max-listpack-entries"}, {"SET", "hash-max-listpack-entries", "512", "list-compress-depth", "0", "save", ""},
		{"SET", "lua-time-limit", "100"}, {"GET", "busy-reply-threshold"}, {"SET", "busy-reply-threshold", "5000"},
		{"SET", "replica-announce-ip", "10.0.0.9"}, {"GET", "slave-announce-ip"}, {"SET", "slave-announce-ip", ""},
		{"SET", "timeout", "x", "maxmemory", "7"}, {"GET", "maxmemory"},
	} {
		c.same(false, append([]string{"CONFIG"}, args...)...)
	}
	c.same(false, "CONFIG")
	for _, args := range [][]string{
		{"Max*"}, {"maxmemory", "max*"}, {"slave-priority", "replica-priority"}, {"max*", "MAXMEMORY"}, {"*priority*"}, {"*ziplist*", "*listpack*"},
		{"maxmemory", "*-max-*", "hz", "HZ"}, {"[ae]*"}, {"[^a-y]*"}, {"*[0-9]*"}, {"?z"}, {"*-??-*"},
	} {
		c.same(true, append([]string{"CONFIG", "GET"}, args...)...)
	}
}

// TestConfigRESP3 compares CONFIG's replies byte for byte after HELLO 3 (maps), without a RESP3
// parser: each command is followed by an ECHO of a marker, and the bytes before the marker's
// reply are the command's.
func TestConfigRESP3(t *testing.T) {
	needServers(t)
	cmds := [][]string{
		{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "GET", "MAXMEMORY"}, {"CONFIG", "GET", "nosuch"},
		{"CONFIG", "GET", "hash-max-ziplist-entries"}, {"CONFIG", "GET", "key-load-delay"},
		{"CONFIG", "SET", "maxmemory", "x"}, {"CONFIG", "SET", "nosuch", "1"}, {"CONFIG", "SET", "maxmemory", "1mb"},
		{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "SET", "maxmemory", "0"}, {"CONFIG", "HELP"}, {"CONFIG", "REWRITE"},
	}
	r := configRaw(t, redisSrv, cmds)
	p := configRaw(t, pikaSrv, cmds)
	for i := range cmds {
		if r[i] != p[i] {
			t.Errorf("%q after HELLO 3:\n  redis-server: %q\n  pika-node:    %q", cmds[i], r[i], p[i])
		}
	}
	if !strings.HasPrefix(r[0], "%1\r\n") {
		t.Errorf("redis-server's CONFIG GET after HELLO 3 is not a map: %q", r[0])
	}
}

// configRaw sends HELLO 3, then each of cmds, and returns each command's reply bytes.
func configRaw(t *testing.T, s *server, cmds [][]string) []string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(nc)
	const marker = "config-resp3-marker"
	end := []byte("$" + fmt.Sprint(len(marker)) + "\r\n" + marker + "\r\n")
	exchange := func(args []string) string {
		if _, err := nc.Write(append(EncodeCommand(args...), EncodeCommand("ECHO", marker)...)); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		var got []byte
		for !bytes.HasSuffix(got, end) {
			b, err := rd.ReadByte()
			if err != nil {
				t.Fatalf("%s: %q: read %q: %v", s.Name, args, got, err)
			}
			got = append(got, b)
		}
		return string(got[:len(got)-len(end)])
	}
	if h := exchange([]string{"HELLO", "3"}); !strings.HasPrefix(h, "%") {
		t.Fatalf("%s: HELLO 3: %q", s.Name, h)
	}
	out := make([]string, len(cmds))
	for i, args := range cmds {
		out[i] = exchange(args)
	}
	return out
}

// The allowed differences name real parameters.
func TestConfigExceptionsExist(t *testing.T) {
	c := newConfigConn(t)
	all := configAll(t, c.redis, "redis-server")
	for _, m := range []map[string]string{configEnvValues, configUnsafe} {
		for name := range m {
			if _, ok := all[name]; !ok {
				t.Errorf("%s is not a parameter", name)
			}
		}
	}
	for name := range configMayDiffer {
		if _, ok := all[name]; !ok {
			t.Errorf("%s is not a parameter", name)
		}
	}
	if !slices.IsSorted(configHidden) {
		t.Error("configHidden not sorted")
	}
}
