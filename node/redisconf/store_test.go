package redisconf

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// set sets one pair and returns the reply text: "OK" or the error.
func set(s *Store, name, v string) string {
	if err := s.Set(Pair{Name: name, Value: v}); err != nil {
		return err.Error()
	}
	return "OK"
}

func get(t *testing.T, s *Store, name string) string {
	t.Helper()
	ps := s.Get(name)
	if len(ps) != 1 {
		t.Fatalf("Get(%q) = %v", name, ps)
	}
	return ps[0].Value
}

func failed(name, reason string) string {
	return "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + reason
}

// The table has every parameter of redis-server 7.0.15's CONFIG GET *, 192 names (aliases
// included), plus 6 hidden ones; defaults are valid values of their parameters.
func TestTable(t *testing.T) {
	s := NewStore()
	if n := len(s.Get("*")); n != 192 {
		t.Errorf("CONFIG GET * shows %d parameters, want 192", n)
	}
	names := map[string]bool{}
	hidden := 0
	for _, p := range s.Params() {
		for _, name := range []string{p.Name, p.Alias} {
			if name == "" {
				continue
			}
			if names[name] || name != strings.ToLower(name) {
				t.Errorf("%q: duplicate or not lowercase", name)
			}
			names[name] = true
			if p.Is(Hidden) {
				hidden++
			}
		}
		if p.Is(Immutable) {
			continue
		}
		if p.Kind == Int || p.Kind == Memory {
			if p.Min > p.Max {
				t.Errorf("%s: bounds %d > %d", p.Name, p.Min, p.Max)
			}
		}
		if v, err := p.normalize(p.Default, p.Default); err != nil || v != p.Default {
			t.Errorf("%s: default %q reads as %q, %v", p.Name, p.Default, v, err)
		}
	}
	if len(names) != 198 || hidden != 6 {
		t.Errorf("%d names, %d hidden; want 198, 6", len(names), hidden)
	}
	for _, name := range []string{"hash-max-listpack-entries", "appendonly", "save", "list-compress-depth",
		"maxmemory-clients", "client-output-buffer-limit", "key-load-delay", "slaveof"} {
		if _, ok := s.Param(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestBool(t *testing.T) {
	s := NewStore()
	for _, v := range []string{"YES", "yes", "Yes", "NO", "no"} {
		if r := set(s, "appendonly", v); r != "OK" {
			t.Fatalf("appendonly %q: %s", v, r)
		}
		if got, want := get(t, s, "appendonly"), strings.ToLower(v); got != want {
			t.Errorf("appendonly %q shows %q", v, got)
		}
	}
	for _, v := range []string{"", "1", "true", "y", " yes", "yes ", "yes no"} {
		if r, want := set(s, "appendonly", v), failed("appendonly", "argument must be 'yes' or 'no'"); r != want {
			t.Errorf("appendonly %q: %s", v, r)
		}
	}
}

func TestInt(t *testing.T) {
	s := NewStore()
	for v, want := range map[string]string{
		"0": "OK", "2147483647": "OK", "-1": failed("list-compress-depth", "argument must be between 0 and 2147483647 inclusive"),
		"2147483648":          failed("list-compress-depth", "argument must be between 0 and 2147483647 inclusive"),
		"01":                  failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		"-0":                  failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		"+1":                  failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		" 1":                  failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		"1k":                  failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		"":                    failed("list-compress-depth", "argument couldn't be parsed into an integer"),
		"9223372036854775808": failed("list-compress-depth", "argument couldn't be parsed into an integer"),
	} {
		if r := set(s, "LIST-COMPRESS-DEPTH", v); r != want {
			t.Errorf("list-compress-depth %q: %s, want %s", v, r, want)
		}
	}
	if r := set(s, "slowlog-log-slower-than", "-1"); r != "OK" || get(t, s, "slowlog-log-slower-than") != "-1" {
		t.Errorf("slowlog-log-slower-than -1: %s", r)
	}
	// hz is kept within 1..500 once accepted; repl-backlog-size at least 16 KiB.
	for v, want := range map[string]string{"0": "1", "501": "500", "42": "42"} {
		if set(s, "hz", v); get(t, s, "hz") != want {
			t.Errorf("hz %s shows %s, want %s", v, get(t, s, "hz"), want)
		}
	}
	if set(s, "repl-backlog-size", "1kb"); get(t, s, "repl-backlog-size") != "16384" {
		t.Errorf("repl-backlog-size 1kb shows %s", get(t, s, "repl-backlog-size"))
	}
}

func TestMemory(t *testing.T) {
	s := NewStore()
	for v, want := range map[string]string{
		"1gb": "1073741824", "1g": "1000000000", "1GB": "1073741824", "1kb": "1024", "1k": "1000", "1mb": "1048576",
		"1m": "1000000", "3b": "3", "": "0", "k": "0", "01": "1",
		"99999999999999999999": "18446744073709551615", // clamped, unsigned
		"17179869184gb":        "0",                    // 2^34 GiB wraps to 0
	} {
		if r := set(s, "maxmemory", v); r != "OK" || get(t, s, "maxmemory") != want {
			t.Errorf("maxmemory %q: %s, shows %s, want %s", v, r, get(t, s, "maxmemory"), want)
		}
	}
	for _, v := range []string{"-1", "1.5mb", "0x10", "1tb", "+1", " 1", "1%", strings.Repeat("1", 128)} {
		if r := set(s, "maxmemory", v); r != failed("maxmemory", "argument must be a memory value") {
			t.Errorf("maxmemory %q: %s", v, r)
		}
	}
	// Signed: 2^64-1 is -1, below the minimum.
	between := failed("proto-max-bulk-len", "argument must be between 1048576 and 9223372036854775807 inclusive")
	for _, v := range []string{"18446744073709551615", "1k", "0", "9223372036854775808"} {
		if r := set(s, "proto-max-bulk-len", v); r != between {
			t.Errorf("proto-max-bulk-len %q: %s", v, r)
		}
	}
	// Percent: N% for 0..100, shown as N% (0% as 0); 2^64-1 reads as -1, 1%.
	for v, want := range map[string]string{"10%": "10%", "100%": "100%", "0%": "0", "1mb": "1048576", "18446744073709551615": "1%"} {
		if r := set(s, "maxmemory-clients", v); r != "OK" || get(t, s, "maxmemory-clients") != want {
			t.Errorf("maxmemory-clients %q: %s, shows %s, want %s", v, r, get(t, s, "maxmemory-clients"), want)
		}
	}
	for v, want := range map[string]string{
		"101%": "percentage argument must be less or equal to 100", "9223372036854775808": "percentage argument must be less or equal to 100",
		"-1%": "argument must be a memory or percent value", "01%": "argument must be a memory or percent value",
		"x": "argument must be a memory or percent value",
	} {
		if r := set(s, "maxmemory-clients", v); r != failed("maxmemory-clients", want) {
			t.Errorf("maxmemory-clients %q: %s", v, r)
		}
	}
}

func TestEnum(t *testing.T) {
	s := NewStore()
	if r := set(s, "maxmemory-policy", "ALLKEYS-LRU"); r != "OK" || get(t, s, "maxmemory-policy") != "allkeys-lru" {
		t.Errorf("maxmemory-policy ALLKEYS-LRU: %s, %s", r, get(t, s, "maxmemory-policy"))
	}
	want := failed("maxmemory-policy", "argument(s) must be one of the following: volatile-lru, volatile-lfu, "+
		"volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
	for _, v := range []string{"lru", "", "allkeys-lru noeviction", " allkeys-lru"} {
		if r := set(s, "maxmemory-policy", v); r != want {
			t.Errorf("maxmemory-policy %q: %s", v, r)
		}
	}
	if set(s, "oom-score-adj", "relative"); get(t, s, "oom-score-adj") != "yes" {
		t.Errorf("oom-score-adj relative shows %s, want yes", get(t, s, "oom-score-adj"))
	}
	for v, want := range map[string]string{"now save": "save now", "force NOSAVE now": "nosave now force", "default": "default", "default now": "now"} {
		if r := set(s, "shutdown-on-sigterm", v); r != "OK" || get(t, s, "shutdown-on-sigterm") != want {
			t.Errorf("shutdown-on-sigterm %q: %s, shows %s, want %s", v, r, get(t, s, "shutdown-on-sigterm"), want)
		}
	}
	if r := set(s, "shutdown-on-sigint", "save nosave"); r != failed("shutdown-on-sigint", "shutdown options SAVE and NOSAVE can't be used simultaneously") {
		t.Errorf("shutdown-on-sigint save nosave: %s", r)
	}
}

func TestString(t *testing.T) {
	s := NewStore()
	for _, v := range []string{"a b", "", "not-a-valid-value!"} {
		if r := set(s, "masterauth", v); r != "OK" || get(t, s, "masterauth") != v {
			t.Errorf("masterauth %q: %s", v, r)
		}
	}
	if r := set(s, "cluster-announce-hostname", "a_b"); r != failed("cluster-announce-hostname", "Hostnames may only contain alphanumeric characters, hyphens or dots") {
		t.Errorf("cluster-announce-hostname a_b: %s", r)
	}
	if r := set(s, "cluster-announce-hostname", strings.Repeat("a", 256)); r != failed("cluster-announce-hostname", "Hostnames must be less than 256 characters") {
		t.Errorf("cluster-announce-hostname 256 chars: %s", r)
	}
	for v, ok := range map[string]bool{"{title}": false, "{title} x": true, "{port}": true, "{server-mode}": false,
		"{bad}": false, "{title": false, "}": true, "{{": true, "{config-file}": true} {
		if r := set(s, "proc-title-template", v); (r == "OK") != ok {
			t.Errorf("proc-title-template %q: %s", v, r)
		}
	}
}

func TestSpecial(t *testing.T) {
	s := NewStore()
	for _, c := range []struct{ name, v, want string }{
		{"save", "3600 1 300 100", "3600 1 300 100"},
		{"save", "", ""},
		{"save", "+10 010", "10 10"},
		{"save", "1 ", "1 0"},
		{"save", "1 4294967297", "1 1"},
		{"save", "99999999999999999999 1", "9223372036854775807 1"},
		{"notify-keyspace-events", "KEA", "AKE"},
		{"notify-keyspace-events", "Eg", "gE"},
		{"notify-keyspace-events", "mnKE", "nKEm"},
		{"oom-score-adj-values", "+1 -0 2000", "1 0 2000"},
		{"latency-tracking-info-percentiles", "50.0 99.9999995 0x10 1e1 -0", "50 100 16 10 -0"},
		{"client-output-buffer-limit", "replica 1mb 2kb 3 pubsub 1 2 4294967297",
			"normal 0 0 0 slave 1048576 2048 3 pubsub 1 2 1"},
		{"client-output-buffer-limit", "NORMAL 1 2 3", "normal 1 2 3 slave 1048576 2048 3 pubsub 1 2 1"},
	} {
		if r := set(s, c.name, c.v); r != "OK" || get(t, s, c.name) != c.want {
			t.Errorf("%s %q: %s, shows %q, want %q", c.name, c.v, r, get(t, s, c.name), c.want)
		}
	}
	for _, c := range []struct{ name, v, want string }{
		{"save", "3600", "Invalid save parameters"},
		{"save", "0 1", "Invalid save parameters"},
		{"save", "1 -1", "Invalid save parameters"},
		{"save", "1k 1", "Invalid save parameters"},
		{"notify-keyspace-events", "kea", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."},
		{"oom-score-adj-values", "0 200", "wrong number of arguments"},
		{"oom-score-adj-values", "0 200 2001", "Invalid oom-score-adj-values, elements must be between -2000 and 2000."},
		{"latency-tracking-info-percentiles", "nan", "Invalid latency-tracking-info-percentiles parameters"},
		{"latency-tracking-info-percentiles", "1e-400", "Invalid latency-tracking-info-percentiles parameters"},
		{"latency-tracking-info-percentiles", "inf", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"},
		{"client-output-buffer-limit", "normal 1 2", "Wrong number of arguments in buffer limit configuration."},
		{"client-output-buffer-limit", "master 1 2 3", "Invalid client class specified in buffer limit configuration."},
		{"client-output-buffer-limit", "normal 1 2 2147483648", "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
	} {
		before := get(t, s, c.name)
		if r := set(s, c.name, c.v); r != failed(c.name, c.want) {
			t.Errorf("%s %q: %s, want %s", c.name, c.v, r, c.want)
		}
		if after := get(t, s, c.name); after != before {
			t.Errorf("%s %q refused but changed %q to %q", c.name, c.v, before, after)
		}
	}
}

func TestStrtoll(t *testing.T) {
	for s, want := range map[string]int64{"": 0, " \t+7": 7, "-0": 0, "9223372036854775807": math.MaxInt64,
		"9223372036854775808": math.MaxInt64, "-9223372036854775808": math.MinInt64, "-99999999999999999999": math.MinInt64} {
		if x, ok := cInt(s); !ok || x != want {
			t.Errorf("cInt(%q) = %d, %v; want %d", s, x, ok, want)
		}
	}
	for _, s := range []string{"-", "+", " ", "1 ", "1x", "0x1"} {
		if _, ok := cInt(s); ok {
			t.Errorf("cInt(%q) accepted", s)
		}
	}
}

// Setting either name of an alias pair sets both; each name is its own parameter for the
// duplicate check and the error message.
func TestAliases(t *testing.T) {
	s := NewStore()
	pairs := 0
	for _, p := range s.Params() {
		if p.Alias == "" {
			continue
		}
		pairs++
		if p.Is(Immutable) {
			for _, name := range []string{p.Name, p.Alias} {
				if r := set(s, name, p.Default); r != failed(name, ReasonImmutable) {
					t.Errorf("%s: %s", name, r)
				}
			}
			continue
		}
		for i, name := range []string{p.Alias, p.Name} {
			v := aliasProbe(p, i)
			if r := set(s, name, v); r != "OK" {
				t.Fatalf("%s %s: %s", name, v, r)
			}
			ps := s.Get(p.Name, p.Alias)
			if len(ps) != 2 || ps[0].Value != v || ps[1].Value != v {
				t.Errorf("after %s %s: %v", name, v, ps)
			}
		}
		if r := set(s, strings.ToUpper(p.Alias), "not-a-valid-value!"); p.Kind != String && !strings.HasPrefix(r, "ERR CONFIG SET failed (possibly related to argument '"+p.Alias+"')") {
			t.Errorf("%s: %s", p.Alias, r)
		}
		if err := s.Set(Pair{p.Name, p.Default}, Pair{p.Alias, p.Default}); err != nil {
			t.Errorf("%s and %s in one CONFIG SET: %v", p.Name, p.Alias, err)
		}
	}
	if pairs != 19 {
		t.Errorf("%d alias pairs, want 19", pairs)
	}
}

// aliasProbe is a valid value of p other than its default (a different one for i = 0, 1).
func aliasProbe(p Param, i int) string {
	switch p.Kind {
	case Bool:
		if (p.Default == "yes") == (i == 0) {
			return "no"
		}
		return "yes"
	case Int, Memory:
		return strconv.Itoa(7 + i)
	}
	return fmt.Sprintf("10.0.0.%d", i+1)
}

// CONFIG SET refuses the first bad name in order (unknown, immutable, protected, given twice)
// before reading any value, then the first bad value, and sets nothing unless all are good.
func TestSetOrder(t *testing.T) {
	s := NewStore()
	for _, c := range []struct {
		pairs []string
		want  string
	}{
		{[]string{"maxmemory", "x", "NoSuch", "1"}, "ERR Unknown option or number of arguments for CONFIG SET - 'NoSuch'"},
		{[]string{"DAEMONIZE", "no", "nosuch", "1"}, failed("DAEMONIZE", ReasonImmutable)},
		{[]string{"nosuch", "1", "daemonize", "no"}, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"},
		{[]string{"Dir", "/tmp"}, failed("Dir", ReasonProtected)},
		{[]string{"dbfilename", "x.rdb"}, failed("dbfilename", ReasonProtected)},
		{[]string{"maxmemory", "1", "maxmemory-policy", "bad", "MAXMEMORY", "2"}, failed("MAXMEMORY", ReasonDuplicate)},
		{[]string{"maxmemory", "1", "MAXMEMORY-POLICY", "bad"}, failed("maxmemory-policy",
			"argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")},
		{[]string{"maxmemory", "1", "SLAVE-PRIORITY", "x"}, failed("slave-priority", "argument couldn't be parsed into an integer")},
	} {
		var pairs []Pair
		for i := 0; i < len(c.pairs); i += 2 {
			pairs = append(pairs, Pair{c.pairs[i], c.pairs[i+1]})
		}
		err := s.Set(pairs...)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: %v, want %s", c.pairs, err, c.want)
		}
		if v := get(t, s, "maxmemory"); v != "0" {
			t.Fatalf("%v refused, yet maxmemory is %s", c.pairs, v)
		}
	}
	var unknown *UnknownError
	var refused *SetError
	if err := s.Set(Pair{"x", "1"}); !errors.As(err, &unknown) || unknown.Name != "x" {
		t.Errorf("unknown: %#v", err)
	}
	if err := s.Set(Pair{"daemonize", "1"}); !errors.As(err, &refused) || refused.Reason != ReasonImmutable {
		t.Errorf("immutable: %#v", err)
	}
	if err := s.Set(Pair{"maxmemory", "1mb"}, Pair{"maxmemory-policy", "allkeys-lru"}); err != nil {
		t.Fatal(err)
	}
	if ps := s.Get("maxmemory", "maxmemory-policy"); ps[0].Value != "1048576" || ps[1].Value != "allkeys-lru" {
		t.Errorf("after a good CONFIG SET: %v", ps)
	}
}

// Hooks: Get shows the real state, Set applies it (only when it changes); a refusal puts the
// hooks already applied back and sets nothing.
func TestHooks(t *testing.T) {
	s := NewStore()
	real := map[string]string{"timeout": "5", "maxclients": "100"}
	var calls []string
	for _, name := range []string{"timeout", "maxclients"} {
		err := s.Hook(name, Hook{
			Get: func() string { return real[name] },
			Set: func(v string) error {
				calls = append(calls, name+"="+v)
				if v == "13" {
					return errors.New("thirteen is unlucky")
				}
				real[name] = v
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Hook("nosuch", Hook{}); err == nil {
		t.Error("Hook of an unknown parameter accepted")
	}
	if v := get(t, s, "timeout"); v != "5" {
		t.Errorf("timeout shows %s, want the hook's 5", v)
	}
	if err := s.Set(Pair{"timeout", "5"}, Pair{"maxclients", "200"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []string{"timeout=5", "maxclients=200"}) || real["maxclients"] != "200" {
		t.Errorf("calls %v, real %v: want both applied in order", calls, real)
	}
	calls = nil
	err := s.Set(Pair{"timeout", "6"}, Pair{"maxmemory", "1mb"}, Pair{"maxclients", "13"})
	if err == nil || err.Error() != failed("maxclients", "thirteen is unlucky") {
		t.Errorf("refused by a hook: %v", err)
	}
	if !slices.Equal(calls, []string{"timeout=6", "maxclients=13", "timeout=5"}) {
		t.Errorf("calls %v: want timeout applied then put back", calls)
	}
	if real["timeout"] != "5" || get(t, s, "maxmemory") != "0" {
		t.Errorf("after a refusal: real %v, maxmemory %s", real, get(t, s, "maxmemory"))
	}
	// An invalid value never reaches a hook.
	calls = nil
	if r := set(s, "timeout", "-1"); r != failed("timeout", "argument must be between 0 and 2147483647 inclusive") || calls != nil {
		t.Errorf("timeout -1: %s, calls %v", r, calls)
	}
}

func TestSetInitial(t *testing.T) {
	s := NewStore()
	for name, v := range map[string]string{"save": "", "databases": "1", "appendonly": "YES"} {
		if err := s.SetInitial(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if ps := s.Get("save", "databases", "appendonly"); ps[0].Value != "" || ps[1].Value != "1" || ps[2].Value != "yes" {
		t.Errorf("after SetInitial: %v", ps)
	}
	if err := s.SetInitial("hz", "x"); err == nil {
		t.Error("SetInitial hz x accepted")
	}
}

func TestGet(t *testing.T) {
	s := NewStore()
	names := func(ps []Pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"maxmemory"}, []string{"maxmemory"}},
		{[]string{"MAXMEMORY", "maxmemory"}, []string{"MAXMEMORY"}}, // exact: as typed, once
		{[]string{"Max*"}, []string{"maxclients", "maxmemory", "maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy", "maxmemory-samples"}},
		{[]string{"maxmemory", "max*"}, []string{"maxclients", "maxmemory", "maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy", "maxmemory-samples"}},
		{[]string{"*priority*"}, []string{"replica-priority", "slave-priority"}},
		{[]string{"maxmemor[x-z]", "hz"}, []string{"hz", "maxmemory"}},
		{[]string{"maxmemor[^y]"}, nil},
		{[]string{"maxmemor?"}, []string{"maxmemory"}},
		{[]string{"nosuch", "no*such"}, nil},
		{[]string{"key-load*"}, nil},                             // hidden: exact names only
		{[]string{"KEY-LOAD-DELAY"}, []string{"KEY-LOAD-DELAY"}}, // hidden, exact
		{[]string{`maxmemory\`}, nil},                            // no glob character: exact, no such name
		{[]string{`max\memory`, `max\*`}, nil},                   // an escaped * is a literal
		{[]string{"*-ziplist-*"}, []string{"hash-max-ziplist-entries", "hash-max-ziplist-value", "list-max-ziplist-size", "zset-max-ziplist-entries", "zset-max-ziplist-value"}},
	} {
		if got := names(s.Get(c.patterns...)); !slices.Equal(got, c.want) {
			t.Errorf("Get%q = %v, want %v", c.patterns, got, c.want)
		}
	}
}

// A Store is safe for concurrent use (go test -race checks the claim).
func TestConcurrent(t *testing.T) {
	s := NewStore()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				v := strconv.Itoa(i*1000 + j)
				if err := s.Set(Pair{"hash-max-listpack-entries", v}, Pair{"list-compress-depth", v}); err != nil {
					t.Error(err)
					return
				}
				ps := s.Get("hash-max-*-entries", "list-compress-depth")
				if len(ps) != 3 {
					t.Errorf("Get: %v", ps)
					return
				}
			}
		}()
	}
	wg.Wait()
	ps := s.Get("hash-max-listpack-entries", "hash-max-ziplist-entries", "list-compress-depth")
	if ps[0].Value != ps[1].Value || ps[0].Value != ps[2].Value {
		t.Errorf("not set together: %v", ps)
	}
}
