package command

import (
	"strings"
	"testing"
)

// hzEventCase runs setup (each a command, space separated), then cmd, and
// expects cmd's events.
type hzEventCase struct {
	name  string
	setup []string
	cmd   string
	want  string
}

func runHZEventCases(t *testing.T, cases []hzEventCase) {
	t.Helper()
	for _, tc := range cases {
		var setup [][]string
		for _, s := range tc.setup {
			setup = append(setup, strings.Fields(s))
		}
		checkEvents(t, tc.name, setup, 0, strings.Fields(tc.cmd), tc.want)
	}
}

func TestEventsHashes(t *testing.T) {
	runHZEventCases(t, []hzEventCase{
		{"hset new", nil, "HSET h a 1 b 2", "hset h"},
		{"hset unchanged", []string{"HSET h a 1"}, "HSET h a 1", "hset h"},
		{"hset wrongtype", []string{"SET h x"}, "HSET h a 1", ""},
		{"hset odd args", nil, "HSET h a 1 b", ""},
		{"hmset", nil, "HMSET h a 1 b 2", "hset h"},
		{"hsetnx new", nil, "HSETNX h a 1", "hset h"},
		{"hsetnx exists", []string{"HSET h a 1"}, "HSETNX h a 2", ""},
		{"hdel", []string{"HSET h a 1 b 2"}, "HDEL h a", "hdel h"},
		{"hdel empties", []string{"HSET h a 1 b 2"}, "HDEL h a b c", "hdel h, del h"},
		{"hdel none", []string{"HSET h a 1"}, "HDEL h x", ""},
		{"hdel missing key", nil, "HDEL h a", ""},
		{"hincrby", nil, "HINCRBY h a 5", "hincrby h"},
		{"hincrby not int", []string{"HSET h a x"}, "HINCRBY h a 5", ""},
		{"hincrby overflow", []string{"HSET h a 9223372036854775807"}, "HINCRBY h a 1", ""},
		{"hincrbyfloat", []string{"HSET h a 1"}, "HINCRBYFLOAT h a 1.5", "hincrbyfloat h"},
		{"hincrbyfloat not float", []string{"HSET h a x"}, "HINCRBYFLOAT h a 1.5", ""},
		{"hget", []string{"HSET h a 1"}, "HGET h a", ""},
	})
}

func TestEventsZsetsAdd(t *testing.T) {
	runHZEventCases(t, []hzEventCase{
		{"zadd new", nil, "ZADD z 1 a 2 b", "zadd z"},
		{"zadd update", []string{"ZADD z 1 a"}, "ZADD z 2 a", "zadd z"},
		{"zadd same score", []string{"ZADD z 1 a"}, "ZADD z 1 a", ""},
		{"zadd xx missing key", nil, "ZADD z XX 1 a", ""},
		{"zadd xx missing member", []string{"ZADD z 1 a"}, "ZADD z XX 1 b", ""},
		{"zadd nx existing", []string{"ZADD z 1 a"}, "ZADD z NX 2 a", ""},
		{"zadd gt not greater", []string{"ZADD z 5 a"}, "ZADD z GT 2 a", ""},
		{"zadd lt", []string{"ZADD z 5 a"}, "ZADD z LT 2 a", "zadd z"},
		{"zadd incr", []string{"ZADD z 1 a"}, "ZADD z INCR 2 a", "zincr z"},
		{"zadd incr new", nil, "ZADD z INCR 2 a", "zincr z"},
		{"zadd incr nop", []string{"ZADD z 1 a"}, "ZADD z NX INCR 2 a", ""},
		{"zadd incr zero", []string{"ZADD z 1 a"}, "ZADD z INCR 0 a", ""},
		{"zadd nan", []string{"ZADD z inf a"}, "ZADD z INCR -inf a", ""},
		{"zadd syntax", nil, "ZADD z 1", ""},
		{"zadd wrongtype", []string{"SET z x"}, "ZADD z 1 a", ""},
		{"zincrby", []string{"ZADD z 1 a"}, "ZINCRBY z 2 a", "zincr z"},
		{"zincrby new", nil, "ZINCRBY z 2 a", "zincr z"},
		{"zincrby zero", []string{"ZADD z 1 a"}, "ZINCRBY z 0 a", ""},
		{"zscore", []string{"ZADD z 1 a"}, "ZSCORE z a", ""},
	})
}

func TestEventsZsetsRemove(t *testing.T) {
	runHZEventCases(t, []hzEventCase{
		{"zrem", []string{"ZADD z 1 a 2 b"}, "ZREM z a", "zrem z"},
		{"zrem empties", []string{"ZADD z 1 a 2 b"}, "ZREM z a b c", "zrem z, del z"},
		{"zrem none", []string{"ZADD z 1 a"}, "ZREM z x", ""},
		{"zrem missing key", nil, "ZREM z a", ""},
		{"zremrangebyrank", []string{"ZADD z 1 a 2 b"}, "ZREMRANGEBYRANK z 0 0", "zremrangebyrank z"},
		{"zremrangebyrank empties", []string{"ZADD z 1 a 2 b"}, "ZREMRANGEBYRANK z 0 -1", "zremrangebyrank z, del z"},
		{"zremrangebyrank none", []string{"ZADD z 1 a"}, "ZREMRANGEBYRANK z 5 10", ""},
		{"zremrangebyscore", []string{"ZADD z 1 a 2 b"}, "ZREMRANGEBYSCORE z 1 1", "zremrangebyscore z"},
		{"zremrangebyscore empties", []string{"ZADD z 1 a 2 b"}, "ZREMRANGEBYSCORE z -inf +inf", "zremrangebyscore z, del z"},
		{"zremrangebyscore none", []string{"ZADD z 1 a"}, "ZREMRANGEBYSCORE z 5 10", ""},
		{"zremrangebyscore bad range", []string{"ZADD z 1 a"}, "ZREMRANGEBYSCORE z x 10", ""},
		{"zremrangebylex", []string{"ZADD z 0 a 0 b"}, "ZREMRANGEBYLEX z [a [a", "zremrangebylex z"},
		{"zremrangebylex empties", []string{"ZADD z 0 a 0 b"}, "ZREMRANGEBYLEX z - +", "zremrangebylex z, del z"},
		{"zremrangebylex none", []string{"ZADD z 0 a"}, "ZREMRANGEBYLEX z [x [y", ""},
		{"zremrangebylex missing key", nil, "ZREMRANGEBYLEX z - +", ""},
	})
}

func TestEventsZsetsPop(t *testing.T) {
	runHZEventCases(t, []hzEventCase{
		{"zpopmin", []string{"ZADD z 1 a 2 b"}, "ZPOPMIN z", "zpopmin z"},
		{"zpopmin count", []string{"ZADD z 1 a 2 b 3 c"}, "ZPOPMIN z 2", "zpopmin z"},
		{"zpopmin empties", []string{"ZADD z 1 a 2 b"}, "ZPOPMIN z 5", "zpopmin z, del z"},
		{"zpopmin count 0", []string{"ZADD z 1 a"}, "ZPOPMIN z 0", ""},
		{"zpopmin missing", nil, "ZPOPMIN z", ""},
		{"zpopmin wrongtype", []string{"SET z x"}, "ZPOPMIN z", ""},
		{"zpopmax", []string{"ZADD z 1 a 2 b"}, "ZPOPMAX z", "zpopmax z"},
		{"zpopmax empties", []string{"ZADD z 1 a"}, "ZPOPMAX z", "zpopmax z, del z"},
		{"zmpop min", []string{"ZADD z 1 a 2 b"}, "ZMPOP 2 y z MIN", "zpopmin z"},
		{"zmpop max empties", []string{"ZADD z 1 a 2 b"}, "ZMPOP 1 z MAX COUNT 3", "zpopmax z, del z"},
		{"zmpop first key only", []string{"ZADD y 1 a", "ZADD z 1 a"}, "ZMPOP 2 y z MIN COUNT 5", "zpopmin y, del y"},
		{"zmpop none", nil, "ZMPOP 2 y z MIN", ""},
		{"bzpopmin", []string{"ZADD z 1 a 2 b"}, "BZPOPMIN y z 0", "zpopmin z"},
		{"bzpopmax empties", []string{"ZADD z 1 a"}, "BZPOPMAX z 0", "zpopmax z, del z"},
		{"bzmpop", []string{"ZADD z 1 a 2 b"}, "BZMPOP 0 1 z MAX COUNT 2", "zpopmax z, del z"},
	})
}

func TestEventsZsetsStore(t *testing.T) {
	src := []string{"ZADD a 1 x 2 y", "ZADD b 1 y 2 z"}
	withDst := append([]string{"SET d v"}, src...)
	runHZEventCases(t, []hzEventCase{
		{"zunionstore", src, "ZUNIONSTORE d 2 a b", "zunionstore d"},
		{"zunionstore overwrites", withDst, "ZUNIONSTORE d 2 a b", "zunionstore d"},
		{"zunionstore empty", []string{"SET d v"}, "ZUNIONSTORE d 2 m n", "del d"},
		{"zunionstore empty no dst", nil, "ZUNIONSTORE d 2 m n", ""},
		{"zunionstore syntax", src, "ZUNIONSTORE d 2 a b WITHSCORES", ""},
		{"zinterstore", src, "ZINTERSTORE d 2 a b", "zinterstore d"},
		{"zinterstore empty", append([]string{"ZADD d 1 q"}, src...), "ZINTERSTORE d 2 a m", "del d"},
		{"zinterstore to a source", src, "ZINTERSTORE a 2 a b", "zinterstore a"},
		{"zdiffstore", src, "ZDIFFSTORE d 2 a b", "zdiffstore d"},
		{"zdiffstore empty", withDst, "ZDIFFSTORE d 2 a a", "del d"},
		{"zdiffstore empty no dst", src, "ZDIFFSTORE d 2 a a", ""},
		{"zrangestore", src, "ZRANGESTORE d a 0 -1", "zrangestore d"},
		{"zrangestore byscore", withDst, "ZRANGESTORE d a 2 +inf BYSCORE", "zrangestore d"},
		{"zrangestore empty", withDst, "ZRANGESTORE d a 5 10", "del d"},
		{"zrangestore missing src", withDst, "ZRANGESTORE d m 0 -1", "del d"},
		{"zrangestore empty no dst", src, "ZRANGESTORE d a 5 10", ""},
		{"zrangestore wrongtype", []string{"SET m v", "SET d v"}, "ZRANGESTORE d m 0 -1", ""},
		{"zunion", src, "ZUNION 2 a b", ""},
		{"zinter", src, "ZINTER 2 a b", ""},
		{"zdiff", src, "ZDIFF 2 a b", ""},
		{"zintercard", src, "ZINTERCARD 2 a b", ""},
	})
}
