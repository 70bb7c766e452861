package compat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scripts as go-redis runs them, and the limits of long scripts (docs/scripting.md).

// TestGoRedisScripts runs go-redis's Script (EVALSHA, then EVAL when the server answers
// NOSCRIPT) and its function calls, in its default configuration (RESP3, HELLO first), over
// untagged keys, against redis-server, one pika-node and every node of the cluster and
// haproxy: a script loaded through one node runs by its SHA1 through the others.
func TestGoRedisScripts(t *testing.T) {
	needServers(t)
	transfer := redis.NewScript(`
local from = tonumber(redis.call('get', KEYS[1]) or '0')
if from < tonumber(ARGV[1]) then return redis.error_reply('INSUFFICIENT funds') end
redis.call('decrby', KEYS[1], ARGV[1])
return redis.call('incrby', KEYS[2], ARGV[1])`)
	run := func(t *testing.T, addr string, flush bool) {
		ctx := context.Background()
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		if flush {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.FunctionFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Del(ctx, "gr:alice", "gr:bob").Err(); err != nil {
			t.Fatal(err)
		}
		c.Set(ctx, "gr:alice", 100, 0)
		if got, err := transfer.Run(ctx, c, []string{"gr:alice", "gr:bob"}, 30).Int64(); err != nil || got != 30 {
			t.Fatalf("transfer: %d, %v", got, err)
		}
		if _, err := transfer.Run(ctx, c, []string{"gr:alice", "gr:bob"}, 500).Result(); err == nil || !strings.HasPrefix(err.Error(), "INSUFFICIENT") {
			t.Fatalf("transfer beyond the balance: %v", err)
		}
		if got, err := c.MGet(ctx, "gr:alice", "gr:bob").Result(); err != nil || got[0] != "70" || got[1] != "30" {
			t.Fatalf("balances %v, %v", got, err)
		}
		if ok, err := transfer.Exists(ctx, c).Result(); err != nil || len(ok) != 1 || !ok[0] {
			t.Fatalf("SCRIPT EXISTS %v, %v", ok, err)
		}
		if flush {
			lib := "#!lua name=grlib\nredis.register_function('gr_bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)"
			if name, err := c.FunctionLoad(ctx, lib).Result(); err != nil || name != "grlib" {
				t.Fatalf("FUNCTION LOAD %q, %v", name, err)
			}
		}
		if got, err := c.FCall(ctx, "gr_bump", []string{"gr:bob"}, 5).Int64(); err != nil || got != 35 {
			t.Fatalf("FCALL %d, %v", got, err)
		}
	}
	t.Run("redis", func(t *testing.T) { run(t, redisSrv.addr, true) })
	t.Run("pika", func(t *testing.T) { run(t, pikaSrv.addr, true) })
	if pikaBin == "" {
		return
	}
	for i, target := range clusterTargets() {
		t.Run("cluster/"+target.Name, func(t *testing.T) {
			needCluster(t)
			run(t, target.addr, i == 0) // loaded through node1, run by SHA1 through every node
		})
	}
}

// TestScriptBusyAndKill runs a script longer than busy-reply-threshold on one pika-node:
// commands on its slots are answered BUSY, others are served throughout, SCRIPT KILL stops
// it with Redis's error, and a script that wrote is UNKILLABLE (it ends on its own).
func TestScriptBusyAndKill(t *testing.T) {
	needServers(t)
	if pikaBin == "" {
		t.Skip("COMPAT_TARGET=redis: redis-server answers BUSY to everyone")
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: pikaSrv.addr})
	defer c.Close()
	if err := c.ConfigSet(ctx, "busy-reply-threshold", "200").Err(); err != nil {
		t.Fatal(err)
	}
	defer c.ConfigSet(ctx, "busy-reply-threshold", "5000")
	spinner := redis.NewClient(&redis.Options{Addr: pikaSrv.addr, ReadTimeout: 30 * time.Second})
	defer spinner.Close()
	spin := "local i = 0 while true do i = i + 1 end"
	done := make(chan error, 1)
	go func() { done <- spinner.Eval(ctx, spin, []string{"busy:{k}"}).Err() }()
	// Its slot answers BUSY once the threshold passed; until then its commands wait.
	other := redis.NewClient(&redis.Options{Addr: pikaSrv.addr, ReadTimeout: 30 * time.Second})
	defer other.Close()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for {
		err = other.Get(ctx, "busy:{k}").Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") || time.Now().After(deadline) {
			break
		}
	}
	if want := "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."; err == nil || err.Error() != want {
		t.Fatalf("a command on the script's slot: %v, want %q", err, want)
	}
	if err := other.Set(ctx, "elsewhere:{j}", "v", 0).Err(); err != nil {
		t.Fatalf("a command on another slot while the script runs: %v", err)
	}
	if err := other.Do(ctx, "FUNCTION", "KILL").Err(); err == nil || !strings.HasPrefix(err.Error(), "BUSY") {
		t.Fatalf("FUNCTION KILL of a script: %v", err)
	}
	if err := other.ScriptKill(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT KILL: %v", err)
	}
	err = <-done
	want := "ERR Script killed by user with SCRIPT KILL... script: " + redis.NewScript(spin).Hash() + ", on @user_script:1."
	if err == nil || err.Error() != want {
		t.Fatalf("the killed script's client got %v, want %q", err, want)
	}
	if err := other.ScriptKill(ctx).Err(); err == nil || err.Error() != errNotBusyText {
		t.Fatalf("SCRIPT KILL with nothing running: %v", err)
	}
	if err := other.Get(ctx, "busy:{k}").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("its slot after the kill: %v", err)
	}

	// A script that wrote cannot be killed; this one ends after a second of its own.
	wrote := `redis.call('set', KEYS[1], 'x')
local t0 = tonumber(redis.call('time')[1])
while tonumber(redis.call('time')[1]) < t0 + 2 do end
return 'done'`
	go func() { done <- spinner.Eval(ctx, wrote, []string{"busy:{k}"}).Err() }()
	for {
		err = other.Get(ctx, "busy:{k}").Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY") || time.Now().After(deadline) {
			break
		}
	}
	if err == nil || !strings.HasPrefix(err.Error(), "BUSY") {
		t.Fatalf("a command on the writing script's slot: %v", err)
	}
	if err := other.ScriptKill(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "UNKILLABLE") {
		t.Fatalf("SCRIPT KILL of a script that wrote: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the writing script: %v", err)
	}
	if got, err := other.Get(ctx, "busy:{k}").Result(); err != nil || got != "x" {
		t.Fatalf("its write: %q, %v", got, err)
	}
}

const errNotBusyText = "NOTBUSY No scripts in execution right now."

// TestScriptMemoryBound runs scripts that allocate without end on one pika-node: each is
// stopped with an error, and the node keeps serving.
func TestScriptMemoryBound(t *testing.T) {
	needServers(t)
	if pikaBin == "" {
		t.Skip("COMPAT_TARGET=redis: redis-server has no such bound")
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: pikaSrv.addr, ReadTimeout: time.Minute})
	defer c.Close()
	for _, body := range []string{
		"local t = {} while true do t[#t + 1] = string.rep('x', 1000000) end",
		"local s = 'x' while true do s = s .. s end",
		"return string.rep('x', 2^40)", // one allocation no heap holds: refused before it is made
		"return ('ab'):rep(2^33)",      // the same through the strings' metatable
		"return string.format('%99999999999d', 1)",
	} {
		err := c.Eval(ctx, body, nil).Err()
		want := "ERR not enough memory script: " + redis.NewScript(body).Hash() + ", on @user_script:1."
		if strings.Contains(body, "format") {
			want = "ERR user_script:1: invalid format (width or precision too long) script: " + redis.NewScript(body).Hash() + ", on @user_script:1."
		}
		if err == nil || err.Error() != want {
			t.Fatalf("%s: %v, want %q", body, err, want)
		}
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after it: %v", err)
		}
	}
}

// TestFunctionDumpRestore moves FUNCTION DUMP payloads both ways between redis-server and
// pika-node (one node, and through haproxy into the cluster): the libraries restored are
// the ones dumped, code for code, and their functions run.
func TestFunctionDumpRestore(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	libs := []string{
		"#!lua name=dr_a\nredis.register_function('dr_one', function() return 1 end)",
		"#!lua name=dr_b\n-- a longer library, which redis-server stores LZF-compressed in its dump\n" +
			strings.Repeat("local pad = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'\n", 20) +
			"redis.register_function('dr_two', function(keys, args) return 2 end)",
	}
	load := func(t *testing.T, c *redis.Client) {
		if err := c.FunctionFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		for _, l := range libs {
			if err := c.FunctionLoad(ctx, l).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T, c *redis.Client) {
		list, err := c.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Result()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range list {
			got[l.Name] = l.Code
		}
		if len(got) != 2 || got["dr_a"] != libs[0] || got["dr_b"] != libs[1] {
			t.Fatalf("restored libraries %q", got)
		}
		if n, err := c.FCall(ctx, "dr_two", nil).Int(); err != nil || n != 2 {
			t.Fatalf("FCALL dr_two: %d, %v", n, err)
		}
	}
	move := func(t *testing.T, from, to string) {
		src := redis.NewClient(&redis.Options{Addr: from})
		defer src.Close()
		dst := redis.NewClient(&redis.Options{Addr: to})
		defer dst.Close()
		load(t, src)
		payload, err := src.FunctionDump(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.FunctionFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := dst.FunctionRestore(ctx, payload).Err(); err != nil {
			t.Fatalf("FUNCTION RESTORE: %v", err)
		}
		// (Which library a server names first follows its own order.)
		if err := dst.Do(ctx, "FUNCTION", "RESTORE", payload, "APPEND").Err(); err == nil ||
			err.Error() != "ERR Library dr_a already exists" && err.Error() != "ERR Library dr_b already exists" {
			t.Fatalf("FUNCTION RESTORE APPEND over the same libraries: %v", err)
		}
		if err := dst.Do(ctx, "FUNCTION", "RESTORE", payload, "REPLACE").Err(); err != nil {
			t.Fatalf("FUNCTION RESTORE REPLACE: %v", err)
		}
		check(t, dst)
		bad := []byte(payload)
		bad[len(bad)-1] ^= 1
		if err := dst.FunctionRestore(ctx, string(bad)).Err(); err == nil || err.Error() != "ERR DUMP payload version or checksum are wrong" {
			t.Fatalf("a payload with a bad checksum: %v", err)
		}
	}
	t.Run("redis-to-pika", func(t *testing.T) { move(t, redisSrv.addr, pikaSrv.addr) })
	t.Run("pika-to-redis", func(t *testing.T) { move(t, pikaSrv.addr, redisSrv.addr) })
	if pikaBin == "" {
		return
	}
	t.Run("redis-to-cluster", func(t *testing.T) {
		needCluster(t)
		move(t, redisSrv.addr, clusterProxy.addr)
	})
}

// TestClusterLongScript runs, through one node, a script over keys of all three nodes that
// runs longer than the participants' lock lease (5 s): its coordinator renews the lease
// (URENEW) while the script runs, so its writes commit, all of them.
func TestClusterLongScript(t *testing.T) {
	needServers(t)
	if pikaBin == "" {
		t.Skip("COMPAT_TARGET=redis: no cluster")
	}
	needCluster(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: clusterNodes[0].addr, ReadTimeout: time.Minute})
	defer c.Close()
	var keys []string
	for i := range 12 {
		keys = append(keys, "long:"+string(rune('a'+i)))
	}
	body := `for i, k in ipairs(KEYS) do redis.call('set', k, ARGV[1]) end
local t0 = tonumber(redis.call('time')[1])
while tonumber(redis.call('time')[1]) < t0 + 7 do end
return #KEYS`
	if n, err := c.Eval(ctx, body, keys, "v1").Int(); err != nil || n != len(keys) {
		t.Fatalf("a script of 7 s over keys of every node: %d, %v", n, err)
	}
	got, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != "v1" {
			t.Fatalf("%s = %v after the script", keys[i], v)
		}
	}
}
