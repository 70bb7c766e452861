package clustertest

import (
	"context"
	"testing"

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
