package compat

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// A multi-key command over keys of several slots runs on pika-node as one unit, on the node
// that leads every slot it names (always on a single node) or across the nodes that lead them
// (an async table), or across the records of its slots (a raft table, db<raftDB>, on one node
// too; an async table whose slots have followers, db<followedDB> in a cluster, when it writes:
// docs/transactions.md), exactly as on redis-server. So these tests are purely
// differential, on one node and through a cluster; through a cluster they also check that some
// lines do have keys whose slots several nodes lead.

// crossSlotDBs are the databases the tests run in, with their slot counts: db0 and each of the
// tables createTables makes. TestCrossSlotCases checks that the scripts below have, for every
// multi-key command, a line whose keys are in different slots of both; k and r are the keys
// that share a slot of 16 but not of 1024.
var crossSlotDBs = []struct {
	db    int
	slots uint32
}{{0, storage.DefaultSlots}, {1, extraTableSlots}, {followedDB, extraTableSlots}, {raftDB, extraTableSlots}}

// crossSlotKeys are the key names of crossSlotScript; hashTagged gives them all one hash tag.
var crossSlotKeys = []string{"s1", "s2", "l1", "l2", "set1", "set2", "z1", "z2", "d", "n1", "n2", "nokey", "k", "r", "h1", "h2", "hd", "g1", "g2", "x1", "x2"}

// crossSlotScript has a line for every multi-key command of pika-node's command table other
// than the fan-out ones (TestCrossSlotCases checks it), with keys in different slots, between
// lines that set the keys up and lines that show they did not change.
const crossSlotScript = `
SET s1 v1
SET s2 v2
RPUSH l1 a b c
RPUSH l2 x
SADD set1 m n o
SADD set2 n p
ZADD z1 1 a 2 b
ZADD z2 5 b 6 c
PFADD h1 a b c
PFADD h2 c d
GEOADD g1 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
RENAME s1 s2
RENAMENX s1 s2
RENAME nokey s2
COPY s1 s2
COPY s1 s2 REPLACE
MSETNX n1 1 n2 2
MSETNX s1 x nokey y
RPOPLPUSH l1 l2
LMOVE l1 l2 LEFT RIGHT
LMPOP 2 l1 l2 LEFT
LMPOP 2 nokey l2 RIGHT COUNT 2
SMOVE set1 set2 m
!sort
SINTER set1 set2
SINTERCARD 2 set1 set2
SINTERCARD 2 set1 set2 LIMIT 1
SINTERSTORE d set1 set2
SINTERSTORE d set1
!sort
SUNION set1 set2
SUNIONSTORE d set1 set2
!sort
SDIFF set1 set2
SDIFFSTORE d set1 set2
ZUNIONSTORE d 2 z1 z2
ZUNIONSTORE d 1 z1
ZINTERSTORE d 2 z1 z2 WEIGHTS 1 2
ZDIFFSTORE d 2 z1 z2
ZUNION 2 z1 z2
ZUNION 2 z1 z2 WITHSCORES
ZINTER 2 z1 z2 WEIGHTS 1 2 WITHSCORES
ZDIFF 2 z1 z2
ZINTERCARD 2 z1 z2
ZRANGESTORE d z1 0 -1
ZRANGESTORE d z2 0 (6 BYSCORE
ZMPOP 2 z1 z2 MIN
ZMPOP 2 nokey z2 MAX COUNT 5
PFCOUNT h1 h2
PFCOUNT h1 nokey h2
PFMERGE hd h1 h2
PFMERGE h1 h2 nokey
GEORADIUS g1 15 37 200 km STORE d
GEORADIUS g1 15 37 200 km STOREDIST g2 COUNT 1
GEORADIUS g1 15 37 200 km STORE nokey WITHDIST
GEORADIUSBYMEMBER g1 Palermo 200 km STOREDIST d
GEORADIUSBYMEMBER nokey Palermo 200 km STORE g2
GEOSEARCHSTORE d g1 FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE g2 g1 FROMMEMBER Palermo BYBOX 400 400 km STOREDIST
GEOSEARCHSTORE g2 g1 FROMMEMBER Palermo BYRADIUS 1 m
GEOSEARCHSTORE d nokey FROMLONLAT 15 37 BYRADIUS 1 km
XADD x1 1-1 a 1
XADD x2 2-1 b 2
XGROUP CREATE x1 grp 0
XGROUP CREATE x2 grp 0
XREAD STREAMS x1 x2 0 0
XREAD COUNT 1 STREAMS x1 nokey x2 0 0 0
XREADGROUP GROUP grp c STREAMS x1 x2 > >
XREADGROUP GROUP grp c STREAMS x1 x2 0 0
XREADGROUP GROUP grp c STREAMS x1 nokey > >
XREAD STREAMS x1 s1 0 0
XPENDING x1 grp
XPENDING x2 grp
BITOP OR d s1 s2
BITOP AND s2 s1 nokey
BITOP XOR d nokey n1
LCS s1 s2
LCS s1 nokey IDX WITHMATCHLEN
SORT l1 ALPHA BY *2 GET # GET *1 STORE d
SORT l1 ALPHA DESC LIMIT 0 2 STORE l2
SORT set1 BY nosort GET s* STORE d
SORT_RO l1 ALPHA BY nosort GET *1 GET s*
# the slot check comes before the type check
SINTER s1 set2
ZUNIONSTORE d 2 s1 z2
RPOPLPUSH set1 l2
ZUNION 2 s1 z2
LMPOP 2 s1 l2 LEFT
PFCOUNT h1 s1
PFMERGE h2 set1
GEOSEARCHSTORE g2 s1 FROMLONLAT 15 37 BYRADIUS 1 km
GEORADIUS s1 15 37 1 km STORE g2
BITOP OR d set1 s2
LCS s1 set2
SORT s1 STORE l2
# errors found before the keys are placed (arity, key count) are redis-server's
RENAME s1 s2 s3
SINTERCARD 3 set1 set2
ZUNIONSTORE d 3 z1 z2
ZUNIONSTORE d 0 z1
ZINTER 3 z1 z2
LMPOP 2 l1 l2
ZMPOP 0 z1 z2 MIN
COPY s1
`

// crossSlotLater are lines for multi-key commands redis-server has and pika-node does not
// implement yet: a line joins crossSlotScript once pika-node's command table has its command.
var crossSlotLater = []string{
	"BLPOP l1 l2 0.01",
	"BRPOP l1 l2 0.01",
	"BRPOPLPUSH l1 l2 0.01",
	"BLMOVE l1 l2 LEFT RIGHT 0.01",
	"BLMPOP 0.01 2 l1 l2 LEFT",
	"BZMPOP 0.01 2 z1 z2 MIN",
	"BZPOPMIN z1 z2 0.01",
	"BZPOPMAX z1 z2 0.01",
}

// crossSlotCheck shows the keys after the multi-key commands, as redis-server has them.
const crossSlotCheck = `
GET s1
GET s2
LRANGE l1 0 -1
LRANGE l2 0 -1
!sort
SMEMBERS set1
!sort
SMEMBERS set2
ZRANGE z1 0 -1 WITHSCORES
ZRANGE z2 0 -1 WITHSCORES
GET h1
GET h2
GET hd
PFCOUNT hd
ZRANGE g1 0 -1 WITHSCORES
EXISTS g2
EXISTS d n1 n2 nokey
DBSIZE
# the slot is the table's: k and r share a slot of 16 (db1) but not of 1024 (db0)
SET k v
RENAME k r
GET k
GET r
`

// fanOutScript runs the fan-out commands with keys in different slots; fanOutBig adds lines
// over crossSlotBigN keys, which spread over most slots of a small table.
const fanOutScript = `
MSET a 1 b 2 c 3 e 5 f 6 g 7 h 8
MGET a b c e f g h nokey a
MSET a x a y b z
MGET a b
EXISTS a b c nokey a a
TOUCH a b nokey c c
RPUSH l1 x
SADD set1 m
MGET a l1 set1 b nokey
EXISTS l1 set1 a nokey
TOUCH l1 set1
DEL a b nokey a
EXISTS a b c
UNLINK c e l1 nokey
MGET a b c e f
MSET set1 s f 6
TYPE set1
MGET set1 f
DEL f g h set1 nokey
DBSIZE
MSET a 1 b
MSET a 1 b 2 c
MGET a b c
MSET "" empty "k\x00ey" bin
MGET "" "k\x00ey" nokey
EXISTS "" "k\x00ey"
DEL "" "k\x00ey" nokey
SET e1 v PX 50
SET e2 v
!sleep 120
MGET e1 e2 nokey
EXISTS e1 e2
TOUCH e1 e2
DEL e1 e2
`

const crossSlotBigN = 40

func fanOutBig() string {
	var keys, pairs []string
	for i := range crossSlotBigN {
		k := "k" + strconv.Itoa(i)
		keys = append(keys, k)
		pairs = append(pairs, k, strconv.Itoa(i))
	}
	half := crossSlotBigN / 2
	j := strings.Join
	return j([]string{
		"MSET " + j(pairs, " "),
		"MGET " + j(keys, " ") + " nokey",
		"EXISTS nokey " + j(keys, " "),
		"DEL " + j(keys[:half], " ") + " nokey",
		"MGET " + j([]string{keys[0], keys[half-1], keys[half], keys[crossSlotBigN-1]}, " "),
		"TOUCH " + j(keys, " "),
		"UNLINK nokey " + j(keys[half:], " "),
		"DBSIZE",
		"!sort",
		"KEYS *",
	}, "\n")
}

// hashTagged gives every key of crossSlotKeys in text the hash tag {t}.
func hashTagged(t *testing.T, text string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "!") {
			out = append(out, line)
			continue
		}
		args, err := splitArgs(trimmed)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for i, a := range args[1:] {
			if strings.ContainsAny(a, " \"'\\") {
				t.Fatalf("%q: hashTagged cannot requote %q", line, a)
			}
			if slices.Contains(crossSlotKeys, a) {
				args[i+1] = "{t}" + a
			}
		}
		out = append(out, strings.Join(args, " "))
	}
	return strings.Join(out, "\n")
}

// crossSlotFull is crossSlotScript with the crossSlotLater lines of the commands tbl has,
// then crossSlotCheck; it also returns the later lines left out.
func crossSlotFull(tbl *command.Table) (text string, skipped []string) {
	lines := []string{crossSlotScript}
	for _, l := range crossSlotLater {
		if tbl.Lookup([]byte(strings.Fields(l)[0])) == nil {
			skipped = append(skipped, strings.Fields(l)[0])
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(append(lines, crossSlotCheck), "\n"), skipped
}

// crossSlotRun replays text on a new connection to each server of p, after
// emptying their databases, in database db (of slots slots; the SELECT replaces the script's
// first line, which must be empty, so line numbers count from the opening backquote): every
// line must get the same reply from both, under the script directives. pipelined sends the
// lines between sleeps as one pipeline. It returns how many lines are multi-key commands (not
// fan-out ones) whose keys' slots have several leaders in p.leaders: units across nodes.
func crossSlotRun(t *testing.T, p pair, name string, db int, slots uint32, text string, pipelined bool) int {
	t.Helper()
	needServers(t)
	if db != 0 {
		// On the script's first line, which is empty, so that line numbers do not move.
		if !strings.HasPrefix(text, "\n") {
			t.Fatalf("%s: the script must start with an empty line", name)
		}
		text = "SELECT " + strconv.Itoa(db) + text
	}
	steps, err := parseScriptText(name, text)
	if err != nil {
		t.Fatal(err)
	}
	tbl := command.NewTable()
	spanning := 0 // lines whose keys' slots several nodes lead: units across nodes
	for _, st := range steps {
		if st.sleep > 0 {
			continue
		}
		if cmd, keys, ok := commandKeys(tbl, st.args); ok && !slices.Contains(fanOutCommands, cmd) {
			if cross, _ := crossSlot(keys, slots); cross && p.leaders.several(db, keys, slots) {
				spanning++
			}
		}
	}
	redis, pika := &side{srv: p.redis}, &side{srv: p.pika}
	for _, s := range []*side{redis, pika} {
		defer s.close()
		if err := p.reset(s.srv); err != nil {
			t.Fatalf("resetting %s: %v", s.srv.Name, err)
		}
	}
	check := func(i int, r, pk Reply, rerr, perr error) {
		st := steps[i]
		if perr != nil {
			t.Fatalf("%s:%d: %s: pika: %v", name, st.line, st.text, perr)
		}
		if rerr != nil {
			t.Fatalf("%s:%d: %s: redis: %v", name, st.line, st.text, rerr)
		}
		if ok, detail := compare(st, r, pk); !ok {
			if detail != "" {
				detail = " (" + detail + ")"
			}
			t.Errorf("%s:%d: %s: redis=%s pika=%s%s", name, st.line, st.text, clip(r.String()), clip(pk.String()), detail)
		}
	}
	for i := 0; i < len(steps); {
		if steps[i].sleep > 0 {
			time.Sleep(steps[i].sleep)
			i++
			continue
		}
		if !pipelined {
			r, rerr := redis.do(steps[i].args...)
			pk, perr := pika.do(steps[i].args...)
			check(i, r, pk, rerr, perr)
			i++
			continue
		}
		j := i
		var all [][]string
		for ; j < len(steps) && steps[j].sleep == 0; j++ {
			all = append(all, steps[j].args)
		}
		rreps, rerr := redis.doPipeline(all)
		preps, perr := pika.doPipeline(all)
		if rerr != nil || perr != nil {
			t.Fatalf("%s: pipeline from line %d: redis: %v; pika: %v", name, steps[i].line, rerr, perr)
		}
		for k := i; k < j; k++ {
			check(k, rreps[k-i], preps[k-i], nil, nil)
		}
		i = j
	}
	return spanning
}

// TestCrossSlot checks multi-key commands with keys in different slots of db0 (1024 slots) and
// db1 (16) on a single node: they run as on redis-server, as do the same commands with
// hash-tagged keys and MGET, MSET, DEL, UNLINK, EXISTS and TOUCH across slots. Each part runs
// one command at a time and pipelined.
func TestCrossSlot(t *testing.T) {
	needServers(t)
	crossSlotTests(t, func(t *testing.T) pair { return mainPair() })
}

// crossSlotTests runs TestCrossSlot's subtests on the pair pairOf returns (it may fail the
// subtest when the pair is not running).
func crossSlotTests(t *testing.T, pairOf func(t *testing.T) pair) {
	text, skipped := crossSlotFull(command.NewTable())
	if len(skipped) > 0 {
		t.Logf("pika-node does not implement %s: their lines are left out", strings.Join(skipped, " "))
	}
	fanOut := fanOutScript + "\n" + fanOutBig()
	for _, d := range crossSlotDBs {
		for _, pipelined := range []bool{false, true} {
			suffix := ""
			if pipelined {
				suffix = "/pipelined"
			}
			t.Run(fmt.Sprintf("db%d/cross-slot%s", d.db, suffix), func(t *testing.T) {
				if pikaBin == "" {
					t.Skip("COMPAT_TARGET=redis: redis-server has no slot rule")
				}
				p := pairOf(t)
				n := crossSlotRun(t, p, "cross-slot", d.db, d.slots, text, pipelined)
				switch {
				case p.leaders == nil && n != 0:
					t.Fatalf("%d lines span leaders on a single node", n)
				case p.leaders != nil && n == 0:
					t.Fatal("no line has keys whose slots have several leaders: no unit across nodes was tried")
				}
			})
			t.Run(fmt.Sprintf("db%d/hash-tagged%s", d.db, suffix), func(t *testing.T) {
				if n := crossSlotRun(t, pairOf(t), "hash-tagged", d.db, d.slots, hashTagged(t, text), pipelined); n != 0 {
					t.Fatalf("%d hash-tagged lines have keys in different slots", n)
				}
			})
			t.Run(fmt.Sprintf("db%d/fan-out%s", d.db, suffix), func(t *testing.T) {
				if n := crossSlotRun(t, pairOf(t), "fan-out", d.db, d.slots, fanOut, pipelined); n != 0 {
					t.Fatalf("%d fan-out lines were to be refused", n)
				}
			})
		}
	}
}

// TestCrossSlotCases checks TestCrossSlot's scripts against pika-node's command table (it needs
// no server): every multi-key command but the fan-out ones has a line with keys in different
// slots of both databases, no line of the hash-tagged version has, and every fan-out command
// runs with keys in different slots of both.
func TestCrossSlotCases(t *testing.T) {
	tbl := command.NewTable()
	text, _ := crossSlotFull(tbl)
	fanOut := fanOutScript + "\n" + fanOutBig()
	// crossIn[name] counts, per database, the lines of name whose keys span slots.
	crossIn := func(name, text string) map[string][]int {
		steps, err := parseScriptText(name, text)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]int{}
		for _, st := range steps {
			cmd, keys, ok := commandKeys(tbl, st.args)
			if !ok {
				continue
			}
			if out[cmd] == nil {
				out[cmd] = make([]int, len(crossSlotDBs))
			}
			for i, d := range crossSlotDBs {
				if cross, _ := crossSlot(keys, d.slots); cross {
					out[cmd][i]++
				}
			}
		}
		return out
	}
	refused := crossIn("refused", text)
	for _, s := range tbl.All() {
		if (s.Keys == nil && s.LastKey == s.FirstKey) || slices.Contains(fanOutCommands, s.Name) || slices.Contains(subcommandKeyCommands, s.Name) {
			continue
		}
		for i, d := range crossSlotDBs {
			if refused[s.Name] == nil || refused[s.Name][i] == 0 {
				t.Errorf("%s is a multi-key command: crossSlotScript needs a line running it with keys in different slots of db%d",
					strings.ToUpper(s.Name), d.db)
			}
		}
	}
	for cmd, n := range crossIn("hash-tagged", hashTagged(t, text)) {
		for i, d := range crossSlotDBs {
			if n[i] != 0 && !slices.Contains(fanOutCommands, cmd) {
				t.Errorf("hash-tagged %s: %d lines with keys in different slots of db%d", strings.ToUpper(cmd), n[i], d.db)
			}
		}
	}
	fan := crossIn("fan-out", fanOut)
	for _, cmd := range fanOutCommands {
		for i, d := range crossSlotDBs {
			if fan[cmd] == nil || fan[cmd][i] == 0 {
				t.Errorf("fanOutScript needs a line running %s with keys in different slots of db%d", strings.ToUpper(cmd), d.db)
			}
		}
	}
	if kr := crossIn("k r", "RENAME k r")["rename"]; kr[0] == 0 || kr[1] != 0 {
		t.Error("k and r must be in different slots of db0 and in one slot of db1")
	}
}

// slotLeaders are the slot leaders of a cluster's tables, by database number (db<n>).
type slotLeaders map[int]map[uint32]string

// several reports whether the slots of keys in database db (of slots slots) have more than one
// leader; nil (a single node) has one.
func (l slotLeaders) several(db int, keys []string, slots uint32) bool {
	if l == nil {
		return false
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[l[db][uint32(router.SlotOf([]byte(k), slots))]] = true
	}
	return len(seen) > 1
}

// clusterLeaders reads the slot leaders of db0..db<extraDBs> from the cluster's API.
func clusterLeaders(s *server) (slotLeaders, error) {
	out := slotLeaders{}
	for db := 0; db <= extraDBs; db++ {
		slots, err := api.NewClient(httpAddr(s)).Slots(context.Background(), "db"+strconv.Itoa(db))
		if err != nil {
			return nil, err
		}
		out[db] = map[uint32]string{}
		for _, sl := range slots {
			out[db][uint32(sl.Slot)] = string(sl.Leader)
		}
	}
	return out, nil
}

// subcommandKeyCommands find their one key by their subcommand (Spec.Keys: OBJECT ENCODING
// key, MEMORY USAGE key): never several keys, so no cross-slot line to have.
var subcommandKeyCommands = []string{"object", "memory"}
