package compat

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/router"
	"github.com/redis/go-redis/v9"
)

// CLIENT TRACKING (docs/tracking.md): the same sessions against redis-server, one pika-node,
// and the cluster with the tracking clients on node1 and the writer on node3 or behind
// haproxy (so the keys read and written are led by other nodes than the tracking one, and
// every invalidation travels between nodes); their transcripts (replies and pushes) must be
// equal.

// trackSession runs connections by name against the addresses where(name) gives, and writes
// what each command answers and each push it reads into a transcript. Client ids are
// written as <id:name>.
type trackSession struct {
	t     *testing.T
	where func(name string) string
	conns map[string]*Conn
	ids   map[string]string
	out   strings.Builder
}

func newTrackSession(t *testing.T, where func(string) string) *trackSession {
	return &trackSession{t: t, where: where, conns: map[string]*Conn{}, ids: map[string]string{}}
}

func (s *trackSession) conn(name string) *Conn {
	c := s.conns[name]
	if c == nil {
		var err error
		c, err = Dial(s.where(name), 5*time.Second)
		if err != nil {
			s.t.Fatal(err)
		}
		s.conns[name] = c
		r, err := c.Do("CLIENT", "ID")
		if err != nil {
			s.t.Fatal(err)
		}
		s.ids[name] = strconv.FormatInt(r.Int, 10)
	}
	return c
}

func (s *trackSession) close() {
	for _, c := range s.conns {
		c.Close()
	}
}

// norm writes client ids as <id:name>.
func (s *trackSession) norm(text string) string {
	for name, id := range s.ids {
		text = strings.ReplaceAll(text, ":"+id+" ", ":<id:"+name+"> ")
		text = strings.ReplaceAll(text, ":"+id+"]", ":<id:"+name+">]")
		if strings.HasSuffix(text, ":"+id) {
			text = strings.TrimSuffix(text, ":"+id) + ":<id:" + name + ">"
		}
	}
	return text
}

// do runs a command on name's connection (an argument "$x" is the id of connection x) and
// records its reply.
func (s *trackSession) do(name string, args ...string) Reply {
	s.t.Helper()
	c := s.conn(name)
	shown := strings.Join(args, " ")
	for i, a := range args {
		if strings.HasPrefix(a, "$") {
			s.conn(a[1:])
			args[i] = s.ids[a[1:]]
		}
	}
	r, err := c.Do(args...)
	if err != nil {
		s.t.Fatalf("%s %v: %v", name, args, err)
	}
	fmt.Fprintf(&s.out, "%s> %s\n  %s\n", name, shown, s.norm(r.String()))
	return r
}

// quiet runs a command whose reply differs between servers (HELLO).
func (s *trackSession) quiet(name string, args ...string) {
	s.t.Helper()
	if _, err := s.conn(name).Do(args...); err != nil {
		s.t.Fatalf("%s %v: %v", name, args, err)
	}
}

// push reads the next push (or message) of name's connection.
func (s *trackSession) push(name string) {
	s.t.Helper()
	r, err := s.conn(name).Read()
	if err != nil {
		s.t.Fatalf("%s: reading a push: %v\n%s", name, err, s.out.String())
	}
	fmt.Fprintf(&s.out, "%s< %s\n", name, s.norm(r.String()))
}

// nothing checks that no push waits on name's connection: the reply of a PING comes first.
func (s *trackSession) nothing(name string) {
	s.t.Helper()
	s.do(name, "PING", "nothing-before")
}

// trackingScenario is the session compared between servers: trackers t, b, o, p and a RESP2
// one r2 redirecting to the subscribed x2, all in db 1; the writer w.
func trackingScenario(s *trackSession) {
	for _, n := range []string{"t", "b", "o", "p", "w", "r2", "x2", "x3", "d"} {
		s.conn(n)
		s.quiet(n, "SELECT", "1")
	}
	s.do("w", "DEL", "k1", "k2", "k3", "h1", "b:1", "b:2", "b:9", "e:1", "e:2", "q", "c:1", "o1", "o2", "o3", "o4", "e1", "k9", "s1")
	for _, n := range []string{"t", "b", "o", "p", "d", "x3"} {
		s.quiet(n, "HELLO", "3")
	}
	// Default mode, RESP3: keys read are invalidated once.
	s.do("t", "CLIENT", "TRACKING", "ON")
	s.do("t", "CLIENT", "TRACKINGINFO")
	s.do("t", "CLIENT", "GETREDIR")
	s.do("t", "GET", "k1")
	s.do("t", "MGET", "k2", "k3")
	s.do("t", "HGETALL", "h1")
	s.do("w", "SET", "k1", "v")
	s.push("t")
	s.do("w", "MSET", "k2", "a", "k3", "b")
	s.push("t")
	s.push("t")
	s.do("w", "SET", "k1", "again")
	s.nothing("t")
	s.do("w", "HSET", "h1", "f", "v")
	s.push("t")
	s.do("t", "XLEN", "s1")
	s.quiet("w", "XADD", "s1", "*", "f", "v") // its id differs between servers
	s.push("t")
	s.do("t", "GET", "k1")
	s.do("t", "SET", "k1", "mine") // its own write: after the reply
	s.push("t")
	s.do("t", "GET", "k1")
	s.do("w", "DEL", "k1")
	s.push("t")
	// Expiry.
	s.do("w", "SET", "e1", "v", "PX", "50")
	s.do("t", "GET", "e1")
	s.push("t")
	// BCAST with a prefix, NOLOOP.
	s.do("b", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b:", "NOLOOP")
	s.do("b", "CLIENT", "TRACKINGINFO")
	s.do("w", "SET", "b:1", "x")
	s.push("b")
	s.do("w", "SET", "c:1", "x")
	s.do("b", "SET", "b:2", "own")
	s.nothing("b")
	s.do("w", "SET", "b:2", "theirs")
	s.push("b")
	// A command's keys in one push per prefix, sorted.
	s.do("b", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "e:")
	s.do("b", "CLIENT", "TRACKINGINFO")
	s.do("w", "MSET", "e:2", "x", "b:9", "y", "e:1", "z", "q", "1")
	s.push("b")
	s.push("b")
	s.nothing("b")
	// OPTIN and OPTOUT.
	s.do("o", "CLIENT", "TRACKING", "ON", "OPTIN")
	s.do("o", "GET", "o1")
	s.do("o", "CLIENT", "CACHING", "YES")
	s.do("o", "CLIENT", "TRACKINGINFO")
	s.do("o", "GET", "o2")
	s.do("p", "CLIENT", "TRACKING", "ON", "OPTOUT")
	s.do("p", "CLIENT", "CACHING", "NO")
	s.do("p", "GET", "o3")
	s.do("p", "GET", "o4")
	s.do("w", "MSET", "o1", "1", "o2", "2", "o3", "3", "o4", "4")
	s.push("o")
	s.nothing("o")
	s.push("p")
	s.nothing("p")
	// REDIRECT: to a RESP2 subscriber of __redis__:invalidate, to a RESP3 client, to a client
	// gone.
	s.do("x2", "SUBSCRIBE", "__redis__:invalidate")
	s.do("r2", "CLIENT", "TRACKING", "ON", "REDIRECT", "$x2")
	s.do("r2", "CLIENT", "GETREDIR")
	s.do("r2", "GET", "k9")
	s.do("w", "SET", "k9", "x")
	s.push("x2")
	s.do("r2", "CLIENT", "TRACKING", "ON", "REDIRECT", "$x3")
	s.do("r2", "GET", "k9")
	s.do("w", "SET", "k9", "y")
	s.push("x3")
	s.do("d", "CLIENT", "TRACKING", "ON", "REDIRECT", "$x3")
	s.do("d", "GET", "k9")
	s.conns["x3"].Close()
	delete(s.conns, "x3")
	waitGone(s, "x3")
	s.do("w", "SET", "k9", "z")
	s.push("d")
	s.do("d", "CLIENT", "TRACKINGINFO")
	// A flush: every tracking client is sent a null.
	s.do("t", "GET", "k2")
	s.do("w", "FLUSHDB")
	s.push("t")
	s.push("b")
	s.push("o")
	s.push("p")
	s.push("d")
	s.nothing("t")
	// A flush in a MULTI block.
	s.do("w", "MULTI")
	s.do("w", "SET", "k2", "x")
	s.do("w", "FLUSHDB")
	s.do("w", "EXEC")
	for _, n := range []string{"t", "b", "o", "p", "d"} {
		s.push(n)
	}
	s.nothing("t")
	// Errors.
	for _, args := range [][]string{
		{"CLIENT", "TRACKING", "ON", "PREFIX", "a"},
		{"CLIENT", "TRACKING", "ON", "BCAST"},
		{"CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"},
		{"CLIENT", "TRACKING", "ON", "OPTIN"},
		{"CLIENT", "TRACKING", "ON", "REDIRECT", "999999"},
		{"CLIENT", "TRACKING", "ON", "REDIRECT", "x"},
		{"CLIENT", "TRACKING", "ON", "REDIRECT", "$t", "REDIRECT", "$t"},
		{"CLIENT", "TRACKING", "ON", "FOO"},
		{"CLIENT", "TRACKING", "MAYBE"},
		{"CLIENT", "TRACKING"},
		{"CLIENT", "CACHING"},
		{"CLIENT", "CACHING", "maybe"},
		{"CLIENT", "CACHING", "YES"},
		{"CLIENT", "GETREDIR", "x"},
	} {
		s.do("p", args...)
	}
	s.do("b", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b:x")
	s.do("b", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "z", "PREFIX", "zz")
	s.do("t", "CLIENT", "TRACKING", "OFF")
	s.do("t", "CLIENT", "TRACKINGINFO")
	s.do("t", "CLIENT", "GETREDIR")
	s.do("t", "CLIENT", "CACHING", "YES")
}

// waitGone waits until the server no longer lists connection name (closed by the client).
func waitGone(s *trackSession, name string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r, err := s.conn("r2").Do("CLIENT", "LIST", "ID", s.ids[name]) // on name's node
		if err == nil && r.Str == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("client %s still listed", name)
}

func runTrackingScenario(t *testing.T, where func(string) string) string {
	s := newTrackSession(t, where)
	defer s.close()
	trackingScenario(s)
	return s.out.String()
}

func TestTrackingCompat(t *testing.T) {
	needServers(t)
	want := runTrackingScenario(t, func(string) string { return redisSrv.addr })
	check := func(t *testing.T, where func(string) string) {
		got := runTrackingScenario(t, where)
		if got != want {
			t.Fatalf("transcripts differ\n%s", diffLines(want, got))
		}
	}
	t.Run("pika", func(t *testing.T) { check(t, func(string) string { return pikaSrv.addr }) })
	if pikaBin == "" {
		return
	}
	for _, writer := range []func() *server{func() *server { return clusterNodes[2] }, func() *server { return clusterProxy }} {
		t.Run("cluster/writer-"+writer().Name, func(t *testing.T) {
			needCluster(t)
			read := []string{"k1", "k2", "k3", "h1", "s1", "e1", "o1", "o2", "o3", "o4", "k9"}
			if n := ledElsewhere(t, "db1", read); n < len(read)/2 {
				t.Fatalf("only %d of the keys read are led by other nodes than node1", n)
			}
			check(t, func(name string) string {
				if name == "w" {
					return writer().addr
				}
				return clusterNodes[0].addr
			})
		})
	}
}

// diffLines shows the first lines where two transcripts differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			lo := max(0, i-6)
			return fmt.Sprintf("line %d\nredis-server:\n%s\npika-node:\n%s", i+1,
				strings.Join(w[lo:min(len(w), i+4)], "\n"), strings.Join(g[lo:min(len(g), i+4)], "\n"))
		}
	}
	return ""
}

// TestTrackingRace races a tracking client's reads with writes of the same key through
// another node, as a client-side cache does (a read's value is cached unless an
// invalidation of the key came after it was asked for), and checks the cache never ends
// stale: an invalidation must never overtake the reply of a read in flight.
func TestTrackingRace(t *testing.T) {
	needServers(t)
	targets := map[string][2]string{"redis": {redisSrv.addr, redisSrv.addr}, "pika": {pikaSrv.addr, pikaSrv.addr}}
	if pikaBin != "" {
		needCluster(t)
		targets["cluster"] = [2]string{clusterNodes[0].addr, clusterNodes[1].addr}
	}
	for name, addrs := range targets {
		t.Run(name, func(t *testing.T) { trackingRace(t, addrs[0], addrs[1]) })
	}
}

func trackingRace(t *testing.T, readAddr, writeAddr string) {
	reader, err := Dial(readAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	writer, err := Dial(writeAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	for _, args := range [][]string{{"HELLO", "3"}, {"CLIENT", "TRACKING", "ON"}} {
		if _, err := reader.Do(args...); err != nil {
			t.Fatal(err)
		}
	}
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = "race:" + strconv.Itoa(i)
	}
	stale := 0
	for round := 0; round < 30; round++ {
		cache := map[string]string{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cmds := make([][]string, 10)
				for j := range cmds {
					cmds[j] = []string{"SET", keys[rand.Intn(len(keys))], strconv.Itoa(round*1000000 + i*10 + j)}
				}
				if _, err := writer.DoPipeline(cmds); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		// The reader: a GET of each key not cached, pipelined; pushes drop cached keys.
		deadline := time.Now().Add(150 * time.Millisecond)
		for time.Now().Before(deadline) {
			var asked []string
			for _, k := range keys {
				if _, ok := cache[k]; !ok {
					asked = append(asked, k)
					if err := reader.Send("GET", k); err != nil {
						t.Fatal(err)
					}
				}
			}
			readRaceReplies(t, reader, cache, asked)
		}
		close(stop)
		wg.Wait()
		// Every write answered: its invalidation was queued for the reader before; a PING's
		// reply comes after it.
		if err := reader.Send("PING"); err != nil {
			t.Fatal(err)
		}
		readRaceReplies(t, reader, cache, []string{""})
		for _, k := range keys {
			v, ok := cache[k]
			if !ok {
				continue
			}
			r, err := writer.Do("GET", k)
			if err != nil {
				t.Fatal(err)
			}
			if r.Str != v {
				stale++
				t.Errorf("round %d: %s cached %q, is %q", round, k, v, r.Str)
			}
		}
	}
	if stale > 0 {
		t.Fatalf("%d stale cache entries", stale)
	}
}

// readRaceReplies reads the replies to asked (a key per GET, "" for a PING), applying the
// pushes read meanwhile: a reply is cached unless its key was invalidated after it was asked.
func readRaceReplies(t *testing.T, c *Conn, cache map[string]string, asked []string) {
	t.Helper()
	for i := 0; i < len(asked); {
		r, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind == '>' {
			if len(r.Elems) == 2 && r.Elems[0].Str == "invalidate" {
				if r.Elems[1].Kind == '_' || r.Elems[1].Null {
					clear(cache)
					continue
				}
				for _, k := range r.Elems[1].Elems {
					delete(cache, k.Str)
				}
			}
			continue
		}
		k := asked[i]
		i++
		if k == "" {
			continue
		}
		// Cached as client libraries do: an invalidation of a write committed after this
		// GET registered the key comes after this reply.
		if r.Kind == '$' || r.Kind == '+' {
			cache[k] = r.Str
		}
	}
}

// TestTrackingGoRedisCache runs go-redis's client-side cache (RESP3, CLIENT TRACKING, its
// invalidate pushes) against redis-server, one pika-node and node1 of the cluster with the
// writes through node3: after each write is answered, a read through the cache sees it
// (at once or, as go-redis handles pushes when it next uses the connection, within a
// second), and the cache serves repeated reads.
func TestTrackingGoRedisCache(t *testing.T) {
	needServers(t)
	targets := map[string][2]string{"redis": {redisSrv.addr, redisSrv.addr}, "pika": {pikaSrv.addr, pikaSrv.addr}}
	if pikaBin != "" {
		needCluster(t)
		targets["cluster"] = [2]string{clusterNodes[0].addr, clusterNodes[2].addr}
	}
	for name, addrs := range targets {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cached := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 3, ClientSideCacheConfig: &redis.ClientSideCacheConfig{}})
			defer cached.Close()
			plain := redis.NewClient(&redis.Options{Addr: addrs[1]})
			defer plain.Close()
			keys := []string{"csc:a", "csc:b", "csc:c", "csc:d"}
			for i := 0; i < 100; i++ {
				k := keys[i%len(keys)]
				want := strconv.Itoa(i)
				if err := plain.Set(ctx, k, want, 0).Err(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(time.Second)
				for {
					got, err := cached.Get(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					if got == want {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: the cache still answers %q, not %q", k, got, want)
					}
					time.Sleep(5 * time.Millisecond)
				}
				for j := 0; j < 3; j++ {
					if got, err := cached.Get(ctx, k).Result(); err != nil || got != want {
						t.Fatalf("%s: %q, %v; want %q", k, got, err, want)
					}
				}
			}
			st := cached.CSCStats()
			if st.Hits < 200 {
				t.Fatalf("the cache served %d reads (misses %d)", st.Hits, st.Misses)
			}
			t.Logf("hits %d misses %d", st.Hits, st.Misses)
		})
	}
}

// TestTrackingDisconnect checks that a tracking client that goes away leaves nothing: its
// node counts no tracking client and no prefix (INFO), on one pika-node and on node1.
func TestTrackingDisconnect(t *testing.T) {
	needServers(t)
	addrs := map[string]string{"redis": redisSrv.addr, "pika": pikaSrv.addr}
	if pikaBin != "" {
		needCluster(t)
		addrs["cluster"] = clusterNodes[0].addr
	}
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) {
			info := func(c *Conn) string {
				r, err := c.Do("INFO", "all")
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, l := range strings.Split(r.Str, "\r\n") {
					if strings.HasPrefix(l, "tracking_clients:") || strings.HasPrefix(l, "tracking_total_prefixes:") {
						out = append(out, l)
					}
				}
				return strings.Join(out, " ")
			}
			admin, err := Dial(addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			before := info(admin)
			c, err := Dial(addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"HELLO", "3"}, {"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "gone:"}, {"GET", "gone:1"}} {
				if _, err := c.Do(args...); err != nil {
					t.Fatal(err)
				}
			}
			if got := info(admin); got == before {
				t.Fatalf("INFO shows no tracking client: %s", got)
			}
			c.Close()
			deadline := time.Now().Add(5 * time.Second)
			for info(admin) != before {
				if time.Now().After(deadline) {
					t.Fatalf("after the tracking client left: %s, before it came: %s", info(admin), before)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// ledElsewhere counts the keys of table whose slot leader is not node1 (the tracking clients'
// node): their reads are forwarded, their writes' invalidations travel between nodes.
func ledElsewhere(t *testing.T, table string, keys []string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := api.NewClient(httpAddr(clusterNodes[0]))
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var self string
	for _, n := range nodes {
		if n.RESP == clusterNodes[0].addr {
			self = string(n.ID)
		}
	}
	slots, err := c.Slots(ctx, table)
	if err != nil || self == "" {
		t.Fatalf("slots of %s: %v (node1's id %q)", table, err, self)
	}
	leader := map[uint32]string{}
	for _, sl := range slots {
		leader[uint32(sl.Slot)] = string(sl.Leader)
	}
	n := 0
	for _, k := range keys {
		if leader[uint32(router.SlotOf([]byte(k), uint32(len(slots))))] != self {
			n++
		}
	}
	t.Logf("%d of %d keys read are led by other nodes than node1", n, len(keys))
	return n
}
