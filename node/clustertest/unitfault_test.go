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
	"github.com/pika-node/pika-node/unit"
)

// TestUnitFaults kills a node of a unit across nodes while the unit is at
// each of its steps, and checks that it ends whole. The unit is an MSET
// of two keys whose slots two nodes lead (the home, which leads the
// lower slot and records the decision, and the other participant), sent
// through the third node (the coordinator), in an async table of one
// replica. The nodes run with --unit-step-pause: the coordinator logs each
// step after the locks (prepare, decide, apply, forget) and waits, the
// test sees the line and kills the victim with kill -9 then, and restarts
// it. Afterwards, once MSET has answered and both slots take writes again
// (no slot is left locked), the two keys hold both new values or both old
// ones: both new when MSET answered OK or the commit was recorded before
// the kill (steps apply and forget). `make test` walks each step with one
// victim (rotating); PIKA_UNIT_FAULTS=all (make chaos) walks every pair.
// Table modes: async of one replica (the killed node's slots wait for its
// restart), async of two ("async-followers": the killed node's slots fail
// over to their followers before it restarts; the parts and the decision
// it recorded were acknowledged by them, so the new leaders end the unit
// whole) and raft of three (the killed node's groups elect other leaders,
// which end the parts it led from their records).
func TestUnitFaults(t *testing.T) {
	for _, mode := range []string{"async", "async-followers", "raft"} {
		t.Run(mode, func(t *testing.T) { testUnitFaults(t, mode) })
	}
}

func testUnitFaults(t *testing.T, mode string) {
	needSetup(t)
	_, nodes := startNodes(t, "unitfault"+mode, 3, "--unit-step-pause", "1s")
	replicas := map[string]int{"async": 1, "async-followers": 2, "raft": 3}[mode]
	tableMode := strings.TrimSuffix(mode, "-followers")
	tb := createModeTable(t, nodes, "uf", tableMode, 8, replicas)
	ctx := context.Background()
	// leaders are the slots' leaders now (a raft table's change when a
	// node is killed).
	leaders := func() map[uint32]string {
		// Asked of any node that answers (one may be killed).
		var slots []api.Slot
		var err error
		for _, nd := range nodes {
			if slots, err = api.NewClient(nd.HTTPAddr()).Slots(ctx, tb.Name); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		leaderOf := map[uint32]string{}
		for _, sl := range slots {
			leaderOf[uint32(sl.Slot)] = string(sl.Leader)
		}
		return leaderOf
	}
	// The node ids by index (node names are n1.., ids are what the
	// routing names).
	idOf := make([]string, len(nodes))
	for id, nd := range nodesByID(t, nodes) {
		for i := range nodes {
			if nodes[i].Name == nd.Name {
				idOf[i] = string(id)
			}
		}
	}
	client := func(i int) *redis.Client {
		return redisClient(t, nodes[i], &redis.Options{DB: int(tb.ID), MaxRetries: -1, ReadTimeout: 30 * time.Second})
	}

	faults := faultWalk([]string{unit.StepPrepare, unit.StepDecide, unit.StepApply, unit.StepForget},
		[]string{"coordinator", "home", "participant"}, os.Getenv("PIKA_UNIT_FAULTS") == "all")

	for round, f := range faults {
		// Roles: the coordinator rotates (among the nodes whose two
		// others lead slots: a raft table's killed node leads none for a
		// while); the home leads the lower of two slots the other two
		// nodes lead.
		if mode != "async" {
			spreadLeaders(t, nodes, tb, idOf, leaders)
		}
		leaderOf := leaders()
		co, tagA, tagB, home, other := -1, "", "", -1, -1
		for i := range nodes {
			c := (round + i) % len(nodes)
			if tagA, tagB, home, other = unitFaultTags(tb, leaderOf, idOf, c, round); other >= 0 {
				co = c
				break
			}
		}
		if co < 0 {
			t.Fatalf("round %d: no two nodes lead slots: %v", round, leaderOf)
		}
		a, b := "{"+tagA+"}v", "{"+tagB+"}v"
		victim := map[string]int{"coordinator": co, "home": home, "participant": other}[f.victim]
		t.Logf("round %d: MSET %s %s through %s (home %s, participant %s); kill the %s (%s) before step %s",
			round, a, b, nodes[co].Name, nodes[home].Name, nodes[other].Name, f.victim, nodes[victim].Name, f.step)

		oldV, newV := fmt.Sprintf("old%d", round), fmt.Sprintf("new%d", round)
		setup := client(co)
		if err := setup.Set(ctx, a, oldV, 0).Err(); err != nil {
			t.Fatalf("round %d: SET %s: %v", round, a, err)
		}
		if err := setup.Set(ctx, b, oldV, 0).Err(); err != nil {
			t.Fatalf("round %d: SET %s: %v", round, b, err)
		}
		setup.Close()

		marker := "step=" + f.step
		before := strings.Count(nodes[co].Log(), marker)
		c := client(co)
		answered := make(chan error, 1)
		go func() { answered <- c.MSet(ctx, a, newV, b, newV).Err() }()
		testproc.WaitFor(t, fmt.Sprintf("round %d: the unit at step %s", round, f.step), 30*time.Second, func() bool {
			return strings.Count(nodes[co].Log(), marker) > before
		})
		nodes[victim].Kill()
		if mode == "async-followers" {
			// Its slots fail over to their followers first (its lease
			// runs out): the unit's records must be there.
			testproc.WaitFor(t, fmt.Sprintf("round %d: failover of %s's slots", round, nodes[victim].Name), 60*time.Second, func() bool {
				for _, l := range leaders() {
					if l == idOf[victim] {
						return false
					}
				}
				return true
			})
		}
		restarted := testproc.StartNode(t, nodes[victim].Spec)
		restarted.WaitHealthy(t)
		nodes[victim] = restarted

		var reply error
		select {
		case reply = <-answered:
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: MSET did not answer within 60 s", round)
		}
		c.Close()
		t.Logf("round %d: MSET answered %v", round, reply)

		// Both slots take writes again: no hold is left (a held slot's
		// writes wait; the client times out and tries again).
		probe := redisClient(t, nodes[co], &redis.Options{DB: int(tb.ID), MaxRetries: -1, ReadTimeout: 2 * time.Second})
		for _, tag := range []string{tagA, tagB} {
			k := "{" + tag + "}probe"
			testproc.WaitFor(t, fmt.Sprintf("round %d: slot of %s to take writes", round, k), 60*time.Second, func() bool {
				return probe.Set(ctx, k, round, 0).Err() == nil
			})
		}
		va, errA := probe.Get(ctx, a).Result()
		vb, errB := probe.Get(ctx, b).Result()
		probe.Close()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: GET %s, %s: %v, %v", round, a, b, errA, errB)
		}
		committed := reply == nil || f.step == unit.StepApply || f.step == unit.StepForget
		switch {
		case va != vb:
			t.Fatalf("round %d: half a unit: %s = %q, %s = %q", round, a, va, b, vb)
		case va != oldV && va != newV:
			t.Fatalf("round %d: %s = %q, want %q or %q", round, a, va, oldV, newV)
		case committed && va != newV:
			t.Fatalf("round %d: the unit committed (MSET answered %v, killed before %s) but %s = %q", round, reply, f.step, a, va)
		}
		t.Logf("round %d: the keys hold %q", round, va)
	}
}

// unitFaultTags picks two hash tags whose slots (of tb) the two nodes
// other than co lead, the first's the lower slot, different in each
// round; it returns them with the index of the node leading the first
// (the unit's home) and of the one leading the second (-1 when the two
// do not both lead slots).
func unitFaultTags(tb api.Table, leaderOf map[uint32]string, idOf []string, co, round int) (tagA, tagB string, home, other int) {
	index := map[string]int{}
	for i, id := range idOf {
		index[id] = i
	}
	// The lowest slot led by a node other than co, then a higher slot led
	// by the remaining node.
	home, other = -1, -1
	sa := uint32(0)
	for s := uint32(0); s < tb.Slots && other < 0; s++ {
		i, ok := index[leaderOf[s]]
		switch {
		case !ok || i == co:
		case home < 0:
			home, sa = i, s
		case i != home:
			other = i
			tagA = unitFaultTag(tb, sa, round)
			tagB = unitFaultTag(tb, s, round)
		}
	}
	return tagA, tagB, home, other
}

// unitFaultTag is a hash tag whose keys hash to slot s, new in each round.
func unitFaultTag(tb api.Table, s uint32, round int) string {
	for i := 0; ; i++ {
		tag := fmt.Sprintf("r%d-%d", round, i)
		if uint32(router.SlotOf([]byte("{"+tag+"}"), tb.Slots)) == s {
			return tag
		}
	}
}

// spreadLeaders hands a slot's leadership to each node that leads none of
// tb's slots (a killed node's slots failed over, or its groups elected
// other leaders), from the node that leads the most, of a slot the node
// holds a replica of, and waits until the routing says so.
func spreadLeaders(t *testing.T, nodes []*testproc.Node, tb api.Table, idOf []string, leaders func() map[uint32]string) {
	t.Helper()
	cli := api.NewClient(nodes[0].HTTPAddr()).WithToken(testproc.AdminToken)
	for _, id := range idOf {
		slots, err := cli.Slots(context.Background(), tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		led := map[string][]uint32{}
		for _, sl := range slots {
			if slices.Contains(sl.Replicas, meta.NodeID(id)) {
				led[string(sl.Leader)] = append(led[string(sl.Leader)], uint32(sl.Slot))
			}
		}
		if len(led[id]) > 0 {
			continue
		}
		most := ""
		for l, ss := range led {
			if most == "" || len(ss) > len(led[most]) {
				most = l
			}
		}
		if most == "" {
			t.Fatalf("%s holds no replica of %s's slots", id, tb.Name)
		}
		s := led[most][0]
		// Asked of a node that was the manager moments ago, the API
		// answers 503 (the role moved): ask again.
		testproc.WaitFor(t, fmt.Sprintf("failover of slot %d to %s accepted", s, id), 30*time.Second, func() bool {
			_, err := cli.Failover(context.Background(), tb.Name, meta.SlotID(s), meta.NodeID(id))
			return err == nil
		})
		testproc.WaitFor(t, fmt.Sprintf("slot %d led by %s", s, id), 30*time.Second, func() bool { return leaders()[s] == id })
	}
}
