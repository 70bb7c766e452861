package clustertest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

// TestRaftMoveBackToRevivedReplica kills a replica of a raft slot, moves
// the slot off it while it is down (the group removes it without its
// knowing), restarts it and moves the slot back to it. The move back must
// complete and the node must serve the slot's current data: it must not
// reopen the group with the state it had before it was removed (make chaos
// saw a move back to such a node stay at catch-up for good).
func TestRaftMoveBackToRevivedReplica(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "rmv", 4)
	tb := createModeTable(t, nodes, "rm", "raft", 8, 3)
	ctx := context.Background()
	ids := nodesByID(t, nodes)
	index := nodeIndexes(ids, nodes)
	apiVia := func(not int) *api.Client { return liveAPI(t, nodes, not) }
	acked := map[string]string{}
	write := func(via int, n int, prefix string) {
		c := redisClient(t, nodes[via], &redis.Options{DB: int(tb.ID)})
		defer c.Close()
		for i := range n {
			k, v := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprint(i)
			if err := c.Set(ctx, k, v, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
			acked[k] = v
		}
	}

	st, err := apiVia(-1).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mgr := st.Manager
	// A slot with a follower (the victim) that is not the manager, and
	// the node without a replica (where the slot goes meanwhile).
	var slot meta.SlotID
	var victim, spare meta.NodeID
	for n := range tb.Slots {
		s, err := apiVia(-1).Slot(ctx, "rm", meta.SlotID(n))
		if err != nil {
			t.Fatal(err)
		}
		victim, spare = "", ""
		for id := range ids {
			switch {
			case !slices.Contains(s.Replicas, id):
				spare = id
			case id != s.Leader && id != mgr:
				victim = id
			}
		}
		if victim != "" && spare != "" {
			slot = s.Slot
			break
		}
	}
	if victim == "" || spare == "" {
		t.Fatal("no slot with a follower apart from the manager")
	}
	vi, keep := index[victim], index[mgr]
	write(keep, 400, "before")
	testproc.WaitFor(t, "the victim's copy up to date", 30*time.Second, func() bool {
		_, ok := slotsSettled(t, apiVia(-1), "rm", 3)
		return ok
	})

	nodes[vi].Kill()
	moveAndWait(t, apiVia(vi), "rm", slot, victim, spare)
	write(keep, 400, "between") // the victim's old log falls behind

	old := nodes[vi]
	nodes[vi] = testproc.StartNode(t, old.Spec)
	nodes[vi].WaitHealthy(t)
	// Back, it deletes the group it was removed from while it was down.
	group := fmt.Sprintf("group=%d/%d", tb.ID, slot)
	testproc.WaitFor(t, "the revived node to delete its old copy of the slot", 30*time.Second, func() bool {
		data, err := os.ReadFile(nodes[vi].LogPath)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "deleted a raft slot this node no longer holds") && strings.Contains(line, group+" ") {
				return true
			}
		}
		return false
	})
	moveAndWait(t, apiVia(-1), "rm", slot, spare, victim)
	write(keep, 200, "after")

	testproc.WaitFor(t, "every slot settled", 60*time.Second, func() bool {
		_, ok := slotsSettled(t, apiVia(-1), "rm", 3)
		return ok
	})
	c := redisClient(t, nodes[vi], &redis.Options{DB: int(tb.ID)})
	defer c.Close()
	for k, v := range acked {
		got, err := c.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("GET %s (slot %d) = %q, %v; want %q", k, router.SlotOf([]byte(k), tb.Slots), got, err, v)
		}
	}
	checkTableEqual(t, nodes[keep], "rm", 3)
}
