package command

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The expected keys are redis-server 7.0.15's COMMAND GETKEYSANDFLAGS
// answers for the same lines (node/acl's TestKeysMatchRedis compares many
// more with a running redis-server). Each key is written "index:access",
// access being r (ACCESS), w (INSERT, DELETE or UPDATE), rw, or - (none
// of those: a getkeys procedure that gives no flags, or a spec without).
func TestKeysForACL(t *testing.T) {
	cases := []struct {
		line string
		want string
	}{
		{"SET k v", "1:w"},
		{"set k v get", "1:rw"},
		{"set k v nx GET", "1:rw"},
		{"set k", "1:w"}, // incomplete: SET's procedure still names the key
		{"get k", "1:r"},
		{"get", ""}, // incomplete: the range runs past the arguments
		{"mset a 1 b 2", "1:w 3:w"},
		{"mset a 1 b", "1:w 3:w"},
		{"mget a b c", "1:r 2:r 3:r"},
		{"lmove s d left right", "1:rw 2:w"},
		{"zunionstore d 2 a b", "1:w 3:r 4:r"},
		{"zunionstore d 3 a b", ""}, // count past the arguments: the procedure finds none
		{"zunionstore d x a", ""},
		{"zunionstore d 0 a", ""},
		{"zunionstore d", ""}, // incomplete
		{"zinter 2 a b", "2:r 3:r"},
		{"eval s 2 a b arg", "3:rw 4:rw"},
		{"eval s 0", ""},
		{"eval s 01 a", "3:-"}, // not a strict number: the procedure's atoi reads 1
		{"fcall f 1 a", "3:rw"},
		{"sintercard 2 a b", "2:r 3:r"},
		{"lmpop 2 a b left", "2:rw 3:rw"},
		{"blmpop 0 1 a left", "3:rw"},
		{"xread streams a b 0 0", "2:r 3:r"},
		{"xread count 2 streams a 0", "4:r"},
		{"xread streams a b 0", "2:r"}, // odd count: the range with limit 2 rounds down
		{"xreadgroup group g c streams a 0", "5:r"},
		{"georadius k 1 2 3 m store d", "1:r 7:w"},
		{"georadius k 1 2 3 m store", "1:r"}, // the keyword search stops before the last argument
		{"georadius k 1 2 3 m storedist d store e", "1:r 9:w 7:w"},
		{"sort k", "1:r"},
		{"sort k store d", "1:r 3:w"},
		{"sort k by store store d", "1:r 5:w"},
		{"sort k limit 0 1 store d store e", "1:r 8:w"},
		{"sort_ro k by x", "1:r"},
		{"migrate h 1 k 0 5", "3:rw"},
		{"migrate h 1 '' 0 5 keys a b", "7:rw 8:rw"},
		{"migrate h 1 x 0 5 keys a b", ""},
		{"migrate h 1 '' 0 5 auth keys keys a", "9:rw"},
		{"bitfield k get u8 0", "1:r"},
		{"bitfield k set u8 0 1", "1:rw"},
		{"object encoding k", "2:-"}, // its spec is RO without ACCESS
		{"spublish c m", ""},         // a shard channel, not a key
		{"publish c m", ""},
		{"ping", ""},
		{"nosuchcommand a b", ""},
	}
	for _, c := range cases {
		args := splitLine(c.line)
		name, _ := RedisCommandName(args)
		var got []string
		for _, k := range KeysForACL(name, args) {
			got = append(got, fmt.Sprintf("%d:%s", k.Index, access(k)))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: keys %q, want %q", c.line, g, c.want)
		}
	}
}

// splitLine splits on spaces; a lone pair of single quotes is the empty
// argument.
func splitLine(line string) [][]byte {
	var args [][]byte
	for _, f := range strings.Fields(line) {
		if f == "''" {
			f = ""
		}
		args = append(args, []byte(f))
	}
	return args
}

func access(k KeyRef) string {
	switch {
	case k.Read && k.Write:
		return "rw"
	case k.Read:
		return "r"
	case k.Write:
		return "w"
	}
	return "-"
}

func TestRedisCommandName(t *testing.T) {
	cases := []struct {
		line string
		name string
		ok   bool
	}{
		{"GET k", "get", true},
		{"config GET x", "config|get", true},
		{"CONFIG", "config", true},
		{"config nosuch", "config|nosuch", false},
		{"nosuch", "nosuch", false},
		{"select 0", "select", true},
		{"\u212Aeys *", "\u212Aeys", false}, // the Kelvin sign is not a K to Redis
	}
	for _, c := range cases {
		name, ok := RedisCommandName(splitLine(c.line))
		if name != c.name || ok != c.ok {
			t.Errorf("%s: %q %v, want %q %v", c.line, name, ok, c.name, c.ok)
		}
	}
	if !KnownCommand("config|get") || KnownCommand("config|nosuch") || !KnownCommand("get") {
		t.Error("KnownCommand")
	}
	subs := SubcommandsOf("config")
	if !slices.Contains(subs, "config|get") || !slices.IsSorted(subs) || len(SubcommandsOf("get")) != 0 {
		t.Errorf("SubcommandsOf(config) = %q", subs)
	}
	if !NoAuthCommand("auth") || NoAuthCommand("get") {
		t.Error("NoAuthCommand")
	}
	all := RedisCommandNames()
	if !slices.IsSorted(all) || !slices.Contains(all, "get") || !slices.Contains(all, "config|get") {
		t.Errorf("RedisCommandNames: %d names", len(all))
	}
}

func TestAtoiAndString2ll(t *testing.T) {
	for s, want := range map[string]int32{"12": 12, " 7x": 7, "-3": -3, "+4": 4, "x": 0, "": 0,
		"4294967297": 1, "99999999999999999999": -1, "1\x002": 1} {
		if got := atoi([]byte(s)); got != want {
			t.Errorf("atoi(%q) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]bool{"0": true, "12": true, "-12": true, "01": false, "-0": false, "+1": false,
		" 1": false, "": false, "9223372036854775808": false, "-9223372036854775808": true} {
		if _, failed := string2ll([]byte(s)); failed == want {
			t.Errorf("string2ll(%q) ok = %v, want %v", s, !failed, want)
		}
	}
}

// Options compare as Redis's strcasecmp: ASCII letters folded, nothing
// else (Go's EqualFold folds the Kelvin sign to k and the long s to s),
// the argument read up to its first NUL.
func TestIsArgAsStrcasecmp(t *testing.T) {
	for _, c := range []struct {
		arg, name string
		want      bool
	}{
		{"WithScores", "withscores", true},
		{"WITHSCORES\x00x", "withscores", true},
		{"WITH\u017fCORES", "withscores", false},
		{"\u212aEEPTTL", "keepttl", false},
		{"withscore", "withscores", false},
		{"", "nx", false},
	} {
		if got := isArg([]byte(c.arg), c.name); got != c.want {
			t.Errorf("isArg(%q, %q) = %v, want %v", c.arg, c.name, got, c.want)
		}
	}
}
