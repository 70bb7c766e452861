package command

import "testing"

// eventCase is one command and the events it should emit, after setup.
type eventCase struct {
	name  string
	setup [][]string
	cmd   []string
	want  string
}

func runEventCases(t *testing.T, cases []eventCase) {
	t.Helper()
	for _, tc := range cases {
		checkEvents(t, tc.name, tc.setup, 0, tc.cmd, tc.want)
	}
}

func TestEventsLists(t *testing.T) {
	l3 := [][]string{{"RPUSH", "l", "a", "b", "c"}}
	l1 := [][]string{{"RPUSH", "l", "a"}}
	str := [][]string{{"SET", "s", "x"}}
	runEventCases(t, []eventCase{
		{"lpush one event", nil, []string{"LPUSH", "l", "a", "b", "c"}, "lpush l"},
		{"rpush", l1, []string{"RPUSH", "l", "b", "c"}, "rpush l"},
		{"lpush wrongtype", str, []string{"LPUSH", "s", "a"}, ""},
		{"lpushx", l1, []string{"LPUSHX", "l", "b", "c"}, "lpush l"},
		{"rpushx", l1, []string{"RPUSHX", "l", "b"}, "rpush l"},
		{"lpushx missing", nil, []string{"LPUSHX", "l", "b"}, ""},
		{"rpushx missing", nil, []string{"RPUSHX", "l", "b"}, ""},

		{"lpop", l3, []string{"LPOP", "l"}, "lpop l"},
		{"rpop", l3, []string{"RPOP", "l"}, "rpop l"},
		{"lpop last", l1, []string{"LPOP", "l"}, "lpop l, del l"},
		{"rpop last", l1, []string{"RPOP", "l"}, "rpop l, del l"},
		{"lpop missing", nil, []string{"LPOP", "l"}, ""},
		{"lpop count", l3, []string{"LPOP", "l", "2"}, "lpop l"},
		{"rpop count all", l3, []string{"RPOP", "l", "5"}, "rpop l, del l"},
		{"lpop count 0", l3, []string{"LPOP", "l", "0"}, ""},
		{"lpop count missing", nil, []string{"LPOP", "l", "2"}, ""},
		{"lpop bad count", l3, []string{"LPOP", "l", "-1"}, ""},
		{"lpop wrongtype", str, []string{"LPOP", "s"}, ""},

		{"lset", l3, []string{"LSET", "l", "1", "x"}, "lset l"},
		{"lset out of range", l3, []string{"LSET", "l", "5", "x"}, ""},
		{"lset missing", nil, []string{"LSET", "l", "0", "x"}, ""},

		{"lrem some", [][]string{{"RPUSH", "l", "a", "b", "a"}}, []string{"LREM", "l", "0", "a"}, "lrem l"},
		{"lrem all", [][]string{{"RPUSH", "l", "a", "a"}}, []string{"LREM", "l", "-1", "a"}, "lrem l"},
		{"lrem emptied", [][]string{{"RPUSH", "l", "a", "a"}}, []string{"LREM", "l", "0", "a"}, "lrem l, del l"},
		{"lrem none", l3, []string{"LREM", "l", "0", "x"}, ""},
		{"lrem missing", nil, []string{"LREM", "l", "0", "a"}, ""},

		{"ltrim", l3, []string{"LTRIM", "l", "0", "1"}, "ltrim l"},
		{"ltrim keeps all", l3, []string{"LTRIM", "l", "0", "-1"}, "ltrim l"},
		{"ltrim empties", l3, []string{"LTRIM", "l", "5", "10"}, "ltrim l, del l"},
		{"ltrim missing", nil, []string{"LTRIM", "l", "0", "1"}, ""},
		{"ltrim wrongtype", str, []string{"LTRIM", "s", "0", "1"}, ""},

		{"linsert", l3, []string{"LINSERT", "l", "BEFORE", "b", "x"}, "linsert l"},
		{"linsert after", l3, []string{"LINSERT", "l", "AFTER", "c", "x"}, "linsert l"},
		{"linsert no pivot", l3, []string{"LINSERT", "l", "BEFORE", "z", "x"}, ""},
		{"linsert missing", nil, []string{"LINSERT", "l", "BEFORE", "b", "x"}, ""},

		{"rpoplpush", l3, []string{"RPOPLPUSH", "l", "d"}, "lpush d, rpop l"},
		{"rpoplpush empties", l1, []string{"RPOPLPUSH", "l", "d"}, "lpush d, rpop l, del l"},
		{"rpoplpush same key", l1, []string{"RPOPLPUSH", "l", "l"}, "lpush l, rpop l"},
		{"rpoplpush missing", nil, []string{"RPOPLPUSH", "l", "d"}, ""},
		{"rpoplpush dst wrongtype", append(l3, str...), []string{"RPOPLPUSH", "l", "s"}, ""},
		{"lmove", l3, []string{"LMOVE", "l", "d", "LEFT", "RIGHT"}, "rpush d, lpop l"},
		{"lmove empties", l1, []string{"LMOVE", "l", "d", "RIGHT", "LEFT"}, "lpush d, rpop l, del l"},
		{"lmove same key", l3, []string{"LMOVE", "l", "l", "LEFT", "RIGHT"}, "rpush l, lpop l"},
		{"lmove missing", nil, []string{"LMOVE", "l", "d", "LEFT", "LEFT"}, ""},

		{"lmpop", l3, []string{"LMPOP", "2", "x", "l", "LEFT"}, "lpop l"},
		{"lmpop count", l3, []string{"LMPOP", "1", "l", "RIGHT", "COUNT", "2"}, "rpop l"},
		{"lmpop empties", l3, []string{"LMPOP", "1", "l", "RIGHT", "COUNT", "3"}, "rpop l, del l"},
		{"lmpop missing", nil, []string{"LMPOP", "2", "x", "l", "LEFT"}, ""},
	})
}

func TestEventsListsReadOnly(t *testing.T) {
	n := newTestNode(t)
	n.do("RPUSH", "l", "a", "b")
	for _, cmd := range [][]string{{"LLEN", "l"}, {"LRANGE", "l", "0", "-1"}, {"LINDEX", "l", "0"}, {"LPOS", "l", "a"}} {
		n.expectEvents("", cmd...)
	}
}

func TestEventsSets(t *testing.T) {
	s3 := [][]string{{"SADD", "s", "a", "b", "c"}}
	s1 := [][]string{{"SADD", "s", "a"}}
	str := [][]string{{"SET", "x", "v"}}
	runEventCases(t, []eventCase{
		{"sadd", nil, []string{"SADD", "s", "a", "b"}, "sadd s"},
		{"sadd some new", s3, []string{"SADD", "s", "a", "d"}, "sadd s"},
		{"sadd none new", s3, []string{"SADD", "s", "a", "b"}, ""},
		{"sadd wrongtype", str, []string{"SADD", "x", "a"}, ""},

		{"srem", s3, []string{"SREM", "s", "a", "z"}, "srem s"},
		{"srem empties", s1, []string{"SREM", "s", "a", "a"}, "srem s, del s"},
		{"srem none", s3, []string{"SREM", "s", "z"}, ""},
		{"srem missing", nil, []string{"SREM", "s", "a"}, ""},

		{"spop", s3, []string{"SPOP", "s"}, "spop s"},
		{"spop last", s1, []string{"SPOP", "s"}, "spop s, del s"},
		{"spop missing", nil, []string{"SPOP", "s"}, ""},
		{"spop count some", s3, []string{"SPOP", "s", "2"}, "spop s"},
		{"spop count all", s3, []string{"SPOP", "s", "3"}, "spop s, del s"},
		{"spop count more", s3, []string{"SPOP", "s", "10"}, "spop s, del s"},
		{"spop count 0", s3, []string{"SPOP", "s", "0"}, ""},
		{"spop count missing", nil, []string{"SPOP", "s", "2"}, ""},
		{"spop bad count", s3, []string{"SPOP", "s", "-1"}, ""},

		{"smove", s3, []string{"SMOVE", "s", "d", "a"}, "srem s, sadd d"},
		{"smove empties", s1, []string{"SMOVE", "s", "d", "a"}, "srem s, del s, sadd d"},
		{"smove already in dst", append(s3, []string{"SADD", "d", "a"}), []string{"SMOVE", "s", "d", "a"}, "srem s"},
		{"smove not member", s3, []string{"SMOVE", "s", "d", "z"}, ""},
		{"smove same key", s3, []string{"SMOVE", "s", "s", "a"}, ""},
		{"smove missing", nil, []string{"SMOVE", "s", "d", "a"}, ""},
		{"smove dst wrongtype", append(s3, str...), []string{"SMOVE", "s", "x", "a"}, ""},

		{"sinterstore", append(s3, []string{"SADD", "t", "a"}), []string{"SINTERSTORE", "d", "s", "t"}, "sinterstore d"},
		{"sinterstore empty, dst existed", append(s3, []string{"SADD", "d", "z"}), []string{"SINTERSTORE", "d", "s", "t"}, "del d"},
		{"sinterstore empty over string", append(s3, str...), []string{"SINTERSTORE", "x", "s", "t"}, "del x"},
		{"sinterstore empty, no dst", s3, []string{"SINTERSTORE", "d", "s", "t"}, ""},
		{"sunionstore", s3, []string{"SUNIONSTORE", "d", "s", "t"}, "sunionstore d"},
		{"sunionstore over itself", s3, []string{"SUNIONSTORE", "s", "s"}, "sunionstore s"},
		{"sunionstore empty, dst existed", [][]string{{"SADD", "d", "z"}}, []string{"SUNIONSTORE", "d", "s", "t"}, "del d"},
		{"sunionstore empty, no dst", nil, []string{"SUNIONSTORE", "d", "s"}, ""},
		{"sdiffstore", append(s3, []string{"SADD", "t", "a"}), []string{"SDIFFSTORE", "d", "s", "t"}, "sdiffstore d"},
		{"sdiffstore empty, dst existed", append(s3, []string{"SADD", "d", "z"}), []string{"SDIFFSTORE", "d", "s", "s"}, "del d"},
		{"sdiffstore empty, no dst", s3, []string{"SDIFFSTORE", "d", "t", "s"}, ""},
		{"sdiffstore wrongtype source", append(s3, str...), []string{"SDIFFSTORE", "d", "s", "x"}, ""},
	})
}

func TestEventsSetsReadOnly(t *testing.T) {
	n := newTestNode(t)
	n.do("SADD", "s", "a", "b")
	n.do("SADD", "t", "a")
	for _, cmd := range [][]string{
		{"SCARD", "s"}, {"SISMEMBER", "s", "a"}, {"SMISMEMBER", "s", "a"}, {"SMEMBERS", "s"},
		{"SRANDMEMBER", "s", "2"}, {"SINTER", "s", "t"}, {"SINTERCARD", "2", "s", "t"},
		{"SUNION", "s", "t"}, {"SDIFF", "s", "t"}, {"SSCAN", "s", "0"},
	} {
		n.expectEvents("", cmd...)
	}
}

// The blocking commands run here as their try (what they do inside
// MULTI): they emit what their non-blocking forms do when they take
// something, and nothing otherwise.
func TestEventsBlocking(t *testing.T) {
	l3 := [][]string{{"RPUSH", "l", "a", "b", "c"}}
	l1 := [][]string{{"RPUSH", "l", "a"}}
	runEventCases(t, []eventCase{
		{"blpop", l3, []string{"BLPOP", "x", "l", "0"}, "lpop l"},
		{"brpop", l3, []string{"BRPOP", "l", "0"}, "rpop l"},
		{"blpop empties", l1, []string{"BLPOP", "l", "0"}, "lpop l, del l"},
		{"brpop empties", l1, []string{"BRPOP", "l", "1"}, "rpop l, del l"},
		{"blpop nothing", nil, []string{"BLPOP", "x", "l", "0"}, ""},
		{"blpop bad timeout", l3, []string{"BLPOP", "l", "-1"}, ""},

		{"brpoplpush", l3, []string{"BRPOPLPUSH", "l", "d", "0"}, "lpush d, rpop l"},
		{"brpoplpush empties", l1, []string{"BRPOPLPUSH", "l", "d", "0"}, "lpush d, rpop l, del l"},
		{"brpoplpush nothing", nil, []string{"BRPOPLPUSH", "l", "d", "0"}, ""},
		{"blmove", l3, []string{"BLMOVE", "l", "d", "RIGHT", "RIGHT", "0"}, "rpush d, rpop l"},
		{"blmove empties", l1, []string{"BLMOVE", "l", "d", "LEFT", "LEFT", "0"}, "lpush d, lpop l, del l"},
		{"blmove nothing", nil, []string{"BLMOVE", "l", "d", "LEFT", "LEFT", "0"}, ""},

		{"blmpop", l3, []string{"BLMPOP", "0", "2", "x", "l", "LEFT", "COUNT", "2"}, "lpop l"},
		{"blmpop empties", l3, []string{"BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "5"}, "rpop l, del l"},
		{"blmpop nothing", nil, []string{"BLMPOP", "0", "1", "l", "LEFT"}, ""},

		// popFirst is shared with the sorted sets': a list pop adds no
		// zset event, and a zset pop no list event.
		{"bzpopmin", [][]string{{"ZADD", "z", "1", "a", "2", "b"}}, []string{"BZPOPMIN", "z", "0"}, "zpopmin z"},
	})
}
