package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// TestScriptsAcrossRestarts checks the cluster's one script cache and its
// FUNCTION libraries over restarts (docs/scripting.md): a script loaded
// through node 1 runs by its SHA1 through node 2 after node 2 was killed
// with kill -9 and restarted (node 2 fetches it from node 1); a library
// loaded through node 1 is called through both after both were killed and
// restarted (the libraries are in etcd); once every node that had the
// script restarted, EVALSHA answers NOSCRIPT, as after a restart of one
// redis-server.
func TestScriptsAcrossRestarts(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "scripts", 2)
	ctx := context.Background()
	sc := redis.NewScript("return redis.call('incrby', KEYS[1], ARGV[1])")
	c1 := redisClient(t, nodes[0], nil)
	if err := sc.Load(ctx, c1).Err(); err != nil {
		t.Fatal(err)
	}
	lib := "#!lua name=rl\nredis.register_function('rl_get', function(keys) return redis.call('get', keys[1]) end)"
	if err := c1.FunctionLoad(ctx, lib).Err(); err != nil {
		t.Fatal(err)
	}
	restart := func(i int) {
		t.Helper()
		nodes[i].Kill()
		nodes[i] = testproc.StartNode(t, nodes[i].Spec)
		nodes[i].WaitHealthy(t)
	}
	restart(1)
	c2 := redisClient(t, nodes[1], nil)
	if n, err := sc.EvalSha(ctx, c2, []string{"counter"}, 5).Int(); err != nil || n != 5 {
		t.Fatalf("EVALSHA through the restarted node 2: %d, %v", n, err)
	}
	restart(0)
	c1 = redisClient(t, nodes[0], nil)
	for i, c := range []*redis.Client{c1, c2} {
		if v, err := c.FCall(ctx, "rl_get", []string{"counter"}).Text(); err != nil || v != "5" {
			t.Fatalf("FCALL through node %d after the restarts: %q, %v", i+1, v, err)
		}
	}
	// Node 2 cached the script when it fetched it; once it restarts too,
	// no node has it.
	restart(1)
	c2 = redisClient(t, nodes[1], nil)
	if err := sc.EvalSha(ctx, c2, []string{"counter"}, 1).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
		t.Fatalf("EVALSHA once every node that had the script restarted: %v", err)
	}
	if n, err := sc.Run(ctx, c2, []string{"counter"}, 1).Int(); err != nil || n != 6 {
		t.Fatalf("go-redis's Script.Run after NOSCRIPT: %d, %v", n, err)
	}
}

// TestShutdownStopsAScript runs, on one node, a script that wrote and
// then never ends: SCRIPT KILL answers UNKILLABLE, and SHUTDOWN NOSAVE,
// Redis's way out, stops the script and the node (the node exits well
// within its shutdown timeout), which then restarts and serves.
func TestShutdownStopsAScript(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "shutdown", 1)
	ctx := context.Background()
	c := redisClient(t, nodes[0], nil)
	if err := c.ConfigSet(ctx, "busy-reply-threshold", "100").Err(); err != nil {
		t.Fatal(err)
	}
	spinner := redisClient(t, nodes[0], &redis.Options{ReadTimeout: time.Minute})
	done := make(chan error, 1)
	go func() {
		done <- spinner.Eval(ctx, "redis.call('set', KEYS[1], 'x') while true do end", []string{"spin"}).Err()
	}()
	testproc.WaitFor(t, "BUSY on the script's key", 20*time.Second, func() bool {
		err := c.Get(ctx, "spin").Err()
		return err != nil && strings.HasPrefix(err.Error(), "BUSY")
	})
	if err := c.ScriptKill(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "UNKILLABLE") {
		t.Fatalf("SCRIPT KILL of a script that wrote: %v", err)
	}
	// (go-redis answers nil for the connection closed, as redis-server
	// closes it.)
	if err := c.Shutdown(ctx).Err(); err != nil && strings.HasPrefix(err.Error(), "ERR") {
		t.Fatalf("SHUTDOWN answered %v, want its connection closed", err)
	}
	select {
	case <-nodes[0].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the node did not exit after SHUTDOWN")
	}
	if err := <-done; err == nil {
		t.Fatal("the script's client got a reply after SHUTDOWN")
	}
	n := testproc.StartNode(t, nodes[0].Spec)
	n.WaitHealthy(t)
	if err := redisClient(t, n, nil).Ping(ctx).Err(); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}
