package compat

import (
	"os/exec"
	"strings"
	"testing"
)

// pythonClientScript drives redis-py (Debian's python3-redis) in its default configuration: a
// pipeline is a MULTI ... EXEC block, replies are parsed into Python values, scripts are
// registered and called by SHA1. It prints "ok" or
// fails with the assertion. Its keys share the hash tag {py} so that a block is one slot's
// unit, which runs through any node of a cluster; watch=1 adds an optimistic transaction
// (WATCH, GET, MULTI, SET, EXEC, as redis-py's transaction helper runs it) over keys this node
// leads.
const pythonClientScript = `
import sys, redis
host, port, watch = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
r = redis.Redis(host=host, port=port, socket_timeout=10)
r.delete("{py}a", "{py}h", "{py}l", "{py}n")
p = r.pipeline()
p.set("{py}a", 1).incr("{py}a").get("{py}a").hset("{py}h", mapping={"f": "v", "g": "w"})
p.hgetall("{py}h").rpush("{py}l", "x", "y").lrange("{py}l", 0, -1).mget("{py}a", "{py}nokey")
got = p.execute()
want = [True, 2, b"2", 2, {b"f": b"v", b"g": b"w"}, 2, [b"x", b"y"], [b"2", None]]
assert got == want, (got, want)
p = r.pipeline()
p.set("{py}n", "x").incr("{py}n").set("{py}a", 7)
got = p.execute(raise_on_error=False)
assert got[0] is True and isinstance(got[1], redis.ResponseError) and got[2] is True, got
assert r.get("{py}a") == b"7"
if watch:
    def bump(pipe):
        v = int(pipe.get("{py}a"))
        pipe.multi()
        pipe.set("{py}a", v + 1)
    r.transaction(bump, "{py}a")
    assert r.get("{py}a") == b"8"
    with r.pipeline() as pipe:
        pipe.watch("{py}a")
        r.set("{py}a", "changed")
        pipe.multi()
        pipe.set("{py}a", "mine")
        try:
            pipe.execute()
            raise AssertionError("EXEC ran after a watched key changed")
        except redis.WatchError:
            pass
    assert r.get("{py}a") == b"changed"
# Scripts as redis-py runs them: EVALSHA first, EVAL (SCRIPT LOAD in a pipeline) when the
# server answers NOSCRIPT; keys untagged, so through a cluster on several nodes.
r.delete("pyA", "pyB")
incr_both = r.register_script("redis.call('incrby', KEYS[1], ARGV[1]); return redis.call('incrby', KEYS[2], ARGV[1])")
assert incr_both(keys=["pyA", "pyB"], args=[5]) == 5
r.script_flush()
assert incr_both(keys=["pyA", "pyB"], args=[1]) == 6
p = r.pipeline()
incr_both(keys=["pyA", "pyB"], args=[1], client=p)
p.get("pyA")
assert p.execute() == [7, b"7"]
assert r.mget("pyA", "pyB") == [b"7", b"7"]
release = r.register_script("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end")
r.set("pylock", "me")
assert release(keys=["pylock"], args=["other"]) == 0
assert release(keys=["pylock"], args=["me"]) == 1
assert r.exists("pylock") == 0
# Pub/sub as redis-py runs it (its own connection, which through a load balancer may land on
# another node than the publisher's).
ps = r.pubsub()
ps.subscribe("pychan")
m = ps.get_message(timeout=5)
assert m and m["type"] == "subscribe" and m["channel"] == b"pychan", m
assert r.publish("pychan", "hello") == 1
m = ps.get_message(timeout=5)
assert m and m["type"] == "message" and m["data"] == b"hello", m
ps.psubscribe("pych*")
m = ps.get_message(timeout=5)
assert m and m["type"] == "psubscribe", m
assert r.publish("pychan", "again") == 2
got = sorted((m["type"], m["data"]) for m in [ps.get_message(timeout=5), ps.get_message(timeout=5)])
assert got == [("message", b"again"), ("pmessage", b"again")], got
ps.close()
# A blocking pop over untagged keys (through a cluster, on several nodes), served by a push
# from another connection, whether it waits first or not.
import threading
r.delete("pyq1", "pyq2")
res = []
worker = threading.Thread(target=lambda: res.append(redis.Redis(host=host, port=port, socket_timeout=10).brpop(["pyq1", "pyq2"], timeout=5)))
worker.start()
r.rpush("pyq2", "job")
worker.join()
assert res == [(b"pyq2", b"job")], res
assert r.brpop(["pyq1", "pyq2"], timeout=0.05) is None
# Keyspace events as a session store listens for them: a key's expiry and a write, seen on
# the subscriber's own connection whichever node the key's slot is on.
assert r.config_set("notify-keyspace-events", "Eg$x")
ps = r.pubsub()
ps.psubscribe("__keyevent@0__:*")
m = ps.get_message(timeout=5)
assert m and m["type"] == "psubscribe", m
r.set("pysession", "x", px=50)
m = ps.get_message(timeout=5)
assert m and m["channel"] == b"__keyevent@0__:set" and m["data"] == b"pysession", m
m = ps.get_message(timeout=5)
assert m and m["channel"] == b"__keyevent@0__:expire" and m["data"] == b"pysession", m
m = ps.get_message(timeout=5)
assert m and m["channel"] == b"__keyevent@0__:expired" and m["data"] == b"pysession", m
ps.close()
assert r.config_set("notify-keyspace-events", "")
# An ACL user, as an application logs in with one (username and password on each connection
# of its pool), made through this server or node: its pipelines, and a refusal.
r.acl_deluser("pyuser")
assert r.acl_setuser("pyuser", enabled=True, passwords=["+pypass"], keys=["pyu:*"], categories=["+@all", "-@dangerous"])
u = redis.Redis(host=host, port=port, username="pyuser", password="pypass", socket_timeout=10)
assert u.acl_whoami() in ("pyuser", b"pyuser")
p = u.pipeline()
p.set("pyu:k", "v").get("pyu:k")
assert p.execute() == [True, b"v"]
try:
    u.get("pyother")
    raise AssertionError("a key outside the user's patterns was read")
except redis.ResponseError as e:
    assert "no permissions to access one of the keys" in str(e), e
try:
    u.keys("*")
    raise AssertionError("KEYS (@dangerous) ran")
except redis.ResponseError as e:
    assert "no permissions to run the 'keys' command" in str(e), e
assert r.acl_deluser("pyuser") == 1
print("ok")
`

// TestPythonClient runs redis-py's default pipelines (MULTI ... EXEC), an optimistic
// transaction, scripts, pub/sub, a blocking pop, keyspace events and an ACL user against redis-server (which checks the script), one pika-node, and, without the
// WATCH part, every cluster node and haproxy.
func TestPythonClient(t *testing.T) {
	needServers(t)
	py := "/usr/bin/python3" // Debian's, which has python3-redis (scripts/install-deps.sh)
	if out, err := exec.Command(py, "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import redis (python3-redis, scripts/install-deps.sh): %v\n%s", py, err, out)
	}
	run := func(t *testing.T, s *server, watch bool) {
		t.Helper()
		host, port, _ := strings.Cut(s.addr, ":")
		w := "0"
		if watch {
			w = "1"
		}
		out, err := exec.Command(py, "-c", pythonClientScript, host, port, w).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("%s: %v\n%s", s.Name, err, out)
		}
	}
	t.Run("redis", func(t *testing.T) { run(t, redisSrv, true) })
	t.Run("pika", func(t *testing.T) { run(t, pikaSrv, true) })
	if pikaBin == "" {
		return
	}
	for _, target := range clusterTargets() {
		t.Run("cluster/"+target.Name, func(t *testing.T) {
			needCluster(t)
			run(t, target, false)
		})
	}
}
