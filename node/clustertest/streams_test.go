package clustertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

// TestStreamSlotMove moves the slot of a stream with consumer groups,
// consumers and pending entries to another node and back, in async and
// raft tables: what every stream command shows is the same before and
// after, through another node, and the replicas agree (slot check).
func TestStreamSlotMove(t *testing.T) {
	for _, mode := range []string{"async", "raft"} {
		t.Run(mode, func(t *testing.T) { testStreamSlotMove(t, mode) })
	}
}

func testStreamSlotMove(t *testing.T, mode string) {
	needSetup(t)
	replicas := 2
	if mode == "raft" {
		replicas = 3
	}
	_, nodes := startNodes(t, "xs"+mode, replicas+1)
	tb := createModeTable(t, nodes, "xs", mode, 8, replicas)
	ctx := context.Background()
	c1 := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	c2 := redisClient(t, nodes[1], &redis.Options{DB: int(tb.ID)})
	keys := []string{"xs-a", "xs-b", "xs-c"}
	for _, k := range keys {
		for i := 1; i <= 250; i++ {
			if err := c1.Do(ctx, "XADD", k, fmt.Sprintf("%d-1", i), "f", i).Err(); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range [][]any{
			{"XDEL", k, "7-1", "120-1"},
			{"XGROUP", "CREATE", k, "g", "0"},
			{"XGROUP", "CREATE", k, "g2", "100-1", "ENTRIESREAD", "100"},
			{"XREADGROUP", "GROUP", "g", "alice", "COUNT", "20", "STREAMS", k, ">"},
			{"XREADGROUP", "GROUP", "g", "bob", "COUNT", "5", "STREAMS", k, ">"},
			{"XACK", k, "g", "2-1", "3-1"},
			{"XGROUP", "CREATECONSUMER", k, "g2", "carol"},
			{"XTRIM", k, "MAXLEN", "~", "200"},
		} {
			if err := c1.Do(ctx, args...).Err(); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
		}
	}
	views := func() []string {
		var out []string
		for _, k := range keys {
			for _, args := range [][]any{
				{"XRANGE", k, "-", "+"},
				{"XPENDING", k, "g"},
				{"XINFO", "GROUPS", k},
				{"EVAL", "local r = redis.call('xinfo', 'stream', KEYS[1], 'full', 'count', 0) for i, gr in ipairs(r[18]) do for j, p in ipairs(gr[12]) do p[3] = 0 end for j, c in ipairs(gr[14]) do c[4] = 0 for k, p in ipairs(c[8]) do p[2] = 0 end end end return r", 1, k},
			} {
				v, err := c2.Do(ctx, args...).Result()
				if err != nil {
					t.Fatalf("%v: %v", args, err)
				}
				out = append(out, fmt.Sprint(v))
			}
		}
		return out
	}
	before := views()
	cli := liveAPI(t, nodes, -1)
	ids := nodesByID(t, nodes)
	s := meta.SlotID(router.SlotOf([]byte(keys[0]), uint32(tb.Slots)))
	sl, err := cli.Slot(ctx, "xs", s)
	if err != nil {
		t.Fatal(err)
	}
	var to meta.NodeID
	for id := range ids {
		if id != sl.Leader && !slices.Contains(sl.Replicas, id) {
			to = id
			break
		}
	}
	moveAndWait(t, cli, "xs", s, sl.Leader, to)
	if after := views(); !slices.Equal(before, after) {
		t.Fatalf("after the move:\n%v\nbefore:\n%v", after, before)
	}
	moveAndWait(t, cli, "xs", s, to, sl.Leader)
	if after := views(); !slices.Equal(before, after) {
		t.Fatalf("after the move back:\n%v\nbefore:\n%v", after, before)
	}
	// The stream still takes writes and groups still deliver.
	if err := c2.Do(ctx, "XADD", keys[0], "1000-1", "f", "new").Err(); err != nil {
		t.Fatal(err)
	}
	v, err := c2.Do(ctx, "XREADGROUP", "GROUP", "g2", "carol", "COUNT", "1", "STREAMS", keys[0], ">").Result()
	if err != nil || !strings.Contains(fmt.Sprint(v), "xs-a:[[101-1 [f 101]]]") {
		t.Fatalf("XREADGROUP after the moves: %v %v", v, err)
	}
	checkTableEqual(t, nodes[0], "xs", replicas)
}
