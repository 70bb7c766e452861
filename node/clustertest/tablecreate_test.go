package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestTableServedWhenCreateAnswers is the report of a new user: on a fresh
// 3-node cluster, `pikactl table create` through one node, then at once
// SELECT and pipelined SETs through another: the SELECT was refused (that
// node had not seen the table yet) and the SETs, answered OK, landed in
// db0. Here, under a background load of SETs on db0 through every node,
// each round creates a table through node i and at once, through every
// other node, SELECTs it and pipelines SETs; every SET must be in the new
// table and none in db0. Then it drops the table through node i, and at
// once every node must refuse it: SELECT fails, and a connection that had
// it selected gets an error for a SET (not an OK for a write into a table
// whose data is being deleted). Before the manager waited for the nodes
// and nodes caught up before refusing, each of 3 runs failed (2, 2 and 8
// rounds in 30).
func TestTableServedWhenCreateAnswers(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "tc", 3)
	ctx := context.Background()
	const (
		rounds  = 30
		perNode = 200 // pipelined SETs through each other node
	)

	// Background load: SETs on db0 through every node until the end.
	stop := make(chan struct{})
	var load sync.WaitGroup
	var loadSets, loadErrs atomic.Int64
	for i, nd := range nodes {
		c := redisClient(t, nd, nil)
		load.Add(1)
		go func() {
			defer load.Done()
			for n := 0; n < 1_000_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					for k := range 20 {
						p.Set(ctx, fmt.Sprintf("bg:%d:%d:%d", i, n, k), "x", 0)
					}
					return nil
				})
				loadSets.Add(20)
				if err != nil {
					loadErrs.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		load.Wait()
	}()

	db0 := make([]*redis.Client, len(nodes))
	for i, nd := range nodes {
		db0[i] = redisClient(t, nd, nil)
	}
	var refusedSelect, landedInDB0, wrongCount, servedAfterDrop, writeAfterDrop, lagging int
	start := time.Now()
	for round := range rounds {
		via := round % len(nodes)
		name := fmt.Sprintf("mv%d", round)
		// Connections to the other nodes, open before the create so that
		// nothing but the commands stands between the answer and them.
		// (Clients of their own: a connection that SELECTed a table must
		// not go back to a pool others use.)
		conns := map[int]*redis.Conn{}
		var scratch []*redis.Client
		for j := range nodes {
			if j == via {
				continue
			}
			sc := redisClient(t, nodes[j], nil)
			scratch = append(scratch, sc)
			cn := sc.Conn()
			if err := cn.Ping(ctx).Err(); err != nil {
				t.Fatalf("round %d: ping %s: %v", round, nodes[j].Name, err)
			}
			conns[j] = cn
		}
		out, errs, code := pikactl(t, "--json", "--server", nodes[via].HTTPAddr(), "table", "create", name, "--slots", "1024", "--replicas", "1")
		if code != 0 {
			t.Fatalf("round %d: create %s through %s: exit %d: %s%s", round, name, nodes[via].Name, code, out, errs)
		}
		// (Decoded by hand, not into api.Table: this test ran unchanged
		// against the code before the fix, which had no lagging field.)
		var tb struct {
			ID      int      `json:"id"`
			Lagging []string `json:"lagging"`
		}
		if err := json.Unmarshal([]byte(out), &tb); err != nil {
			t.Fatalf("round %d: create answer %q: %v", round, out, err)
		}
		if len(tb.Lagging) > 0 {
			lagging++
			t.Logf("round %d: create answered with nodes not serving yet: %v", round, tb.Lagging)
		}
		// At once, through every other node: SELECT it, pipelined SETs.
		var wg sync.WaitGroup
		var mu sync.Mutex
		selected := map[int]bool{}
		for j, cn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmds, _ := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
					p.Do(ctx, "select", name)
					for k := range perNode {
						p.Set(ctx, fmt.Sprintf("%s:%d:%d", name, j, k), "v", 0)
					}
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				selected[j] = cmds[0].Err() == nil
				if err := cmds[0].Err(); err != nil {
					refusedSelect++
					t.Logf("round %d: SELECT %s through %s right after the create answered: %v", round, name, nodes[j].Name, err)
				}
				for _, c := range cmds[1:] {
					if err := c.Err(); err != nil {
						t.Errorf("round %d: SET through %s: %v", round, nodes[j].Name, err)
						break
					}
				}
			}()
		}
		wg.Wait()

		// Every SET is in the new table, none in db0.
		check := redisClient(t, nodes[via], &redis.Options{DB: int(tb.ID)})
		if n, err := check.DBSize(ctx).Result(); err != nil || n != int64(perNode*len(conns)) {
			wrongCount++
			t.Logf("round %d: DBSIZE of %s: %d %v, want %d", round, name, n, err, perNode*len(conns))
		}
		for j := range conns {
			keys := make([]string, perNode)
			for k := range keys {
				keys[k] = fmt.Sprintf("%s:%d:%d", name, j, k)
			}
			if n, err := db0[via].Exists(ctx, keys...).Result(); err != nil || n != 0 {
				landedInDB0++
				t.Logf("round %d: %d keys SET through %s after SELECT %s are in db0 (%v)", round, n, nodes[j].Name, name, err)
			}
		}
		check.Close()

		// Drop through the same node: at once, no node serves it.
		out, errs, code = pikactl(t, "--json", "--server", nodes[via].HTTPAddr(), "table", "drop", name, "--yes")
		if code != 0 {
			t.Fatalf("round %d: drop %s: exit %d: %s%s", round, name, code, out, errs)
		}
		var dropped struct {
			Lagging []string `json:"lagging"`
		}
		if err := json.Unmarshal([]byte(out), &dropped); err != nil {
			t.Fatalf("round %d: drop answer %q: %v", round, out, err)
		}
		if len(dropped.Lagging) > 0 {
			lagging++
			t.Logf("round %d: drop answered with nodes still serving: %v", round, dropped.Lagging)
		}
		for j, cn := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := cn.Set(ctx, name+":after-drop", "v", 0).Err()
				sel := redisClient(t, nodes[j], nil)
				defer sel.Close()
				selErr := sel.Do(ctx, "select", name).Err()
				mu.Lock()
				defer mu.Unlock()
				if selected[j] && (err == nil || !strings.Contains(err.Error(), "no longer exists")) {
					writeAfterDrop++
					t.Logf("round %d: SET on a connection on %s through %s right after the drop answered: %v", round, name, nodes[j].Name, err)
				}
				if selErr == nil {
					servedAfterDrop++
					t.Logf("round %d: SELECT %s through %s right after the drop answered succeeded", round, name, nodes[j].Name)
				}
			}()
		}
		wg.Wait()
		sel := redisClient(t, nodes[via], nil)
		if err := sel.Do(ctx, "select", name).Err(); err == nil {
			servedAfterDrop++
			t.Logf("round %d: SELECT %s through %s (the node the drop went through) succeeded after the drop", round, name, nodes[via].Name)
		}
		sel.Close()
		for _, cn := range conns {
			cn.Close()
		}
		for _, sc := range scratch {
			sc.Close()
		}
	}
	t.Logf("%d rounds in %s; background load: %d SETs on db0, %d failed pipelines", rounds, time.Since(start).Round(time.Millisecond), loadSets.Load(), loadErrs.Load())
	if refusedSelect+landedInDB0+wrongCount+servedAfterDrop+writeAfterDrop > 0 {
		t.Errorf("in %d rounds: %d SELECTs refused right after the create, %d batches of SETs landed in db0, %d tables with the wrong key count, %d SELECTs of a dropped table served, %d SETs accepted on a dropped table",
			rounds, refusedSelect, landedInDB0, wrongCount, servedAfterDrop, writeAfterDrop)
	}
	if lagging > 0 {
		t.Errorf("%d answers listed nodes that had not applied the change (a healthy cluster should not)", lagging)
	}
	if n := loadErrs.Load(); n > 0 {
		t.Errorf("%d background pipelines on db0 failed", n)
	}
}
