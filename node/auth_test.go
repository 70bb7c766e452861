package node

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/config"
)

// Tables, SELECT and per-table passwords, end to end: tables are created
// and dropped through the node's HTTP API, clients are go-redis.

const (
	errNoAuthMsg  = "NOAUTH Authentication required."
	errOutOfRange = "ERR DB index is out of range"
	errNotIntMsg  = "ERR value is not an integer or out of range"
)

// tableAPI is the HTTP API of the node serving RESP on addr (its HTTP
// port is the RESP port + 20000). It waits until the node serves
// clients, which means the cluster has been bootstrapped (db0 exists and
// a manager is elected), so that table requests can be answered.
func tableAPI(t *testing.T, addr string) *api.Client {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	c := newClient(t, addr, nil)
	// PING answers NOAUTH, not PONG, when db0 has a password: any reply
	// from the node (rather than a network error) means it is serving.
	waitFor(t, "the node to serve clients", func() error {
		err := c.Ping(context.Background()).Err()
		if err != nil && err.Error() == errNoAuthMsg {
			return nil
		}
		return err
	})
	return api.NewClient(net.JoinHostPort(host, strconv.Itoa(port+20000))).WithToken(testproc.AdminToken)
}

func createTable(t *testing.T, ac *api.Client, name, password string) api.Table {
	t.Helper()
	tb, err := ac.CreateTable(context.Background(), api.CreateTable{Name: name, Slots: 16, Replicas: 1, Mode: meta.ModeAsync, Password: password})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	return tb
}

// waitFor polls cond until it returns nil, failing the test with its
// last error after a deadline. The node applies metadata from an etcd
// watch asynchronously; the API waits for the serving node to see its
// own change, so this normally succeeds at once.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	if err := testproc.Poll(15*time.Second, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// stickyConn is one connection of a go-redis client: SELECT and AUTH are
// per connection, so tests of them must not use the pool.
func stickyConn(t *testing.T, addr string) *redis.Conn {
	t.Helper()
	cn := newClient(t, addr, &redis.Options{PoolSize: 1}).Conn()
	t.Cleanup(func() { cn.Close() })
	return cn
}

// wantReply runs a command on cn and checks its reply (an error reply is
// matched by its full text; want "" means any successful reply).
func wantReply(t *testing.T, cn *redis.Conn, want string, args ...any) {
	t.Helper()
	got, err := cn.Do(context.Background(), args...).Result()
	var s string
	switch {
	case err == redis.Nil:
		s = "(nil)"
	case err != nil:
		s = err.Error()
	default:
		s = toString(got)
		if want == "" {
			return
		}
	}
	if s != want {
		t.Fatalf("%v: got %q, want %q", args, s, want)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = toString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return "(nil)"
	}
	return "?"
}

// SELECT picks a table by id or by name; each table is its own keyspace.
func TestSelectTables(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ac := tableAPI(t, addr)
	if tb := createTable(t, ac, "orders", ""); tb.ID != 1 {
		t.Fatalf("first table created got id %d, want 1", tb.ID)
	}
	if tb := createTable(t, ac, "users", ""); tb.ID != 2 {
		t.Fatalf("second table created got id %d, want 2", tb.ID)
	}
	cn := stickyConn(t, addr)
	waitFor(t, "table users to be served", func() error { return cn.Do(context.Background(), "SELECT", "users").Err() })

	wantReply(t, cn, "OK", "SELECT", "0")
	wantReply(t, cn, "OK", "SET", "k", "db0")
	wantReply(t, cn, "OK", "SELECT", "1")
	wantReply(t, cn, "(nil)", "GET", "k")
	wantReply(t, cn, "OK", "SET", "k", "orders")
	wantReply(t, cn, "1", "RPUSH", "only-in-orders", "x")
	wantReply(t, cn, "OK", "SELECT", "users")
	wantReply(t, cn, "(nil)", "GET", "k")
	wantReply(t, cn, "OK", "MSET", "k", "users", "u1", "a", "u2", "b")
	wantReply(t, cn, "3", "DBSIZE")
	wantReply(t, cn, "0", "EXISTS", "only-in-orders")
	wantReply(t, cn, "none", "TYPE", "only-in-orders")
	// A failed SELECT leaves the connection where it was.
	wantReply(t, cn, errOutOfRange, "SELECT", "3")
	wantReply(t, cn, errOutOfRange, "SELECT", "-1")
	wantReply(t, cn, errNotIntMsg, "SELECT", "nosuchtable")
	wantReply(t, cn, errNotIntMsg, "SELECT", "01")
	wantReply(t, cn, "ERR value is out of range, value must between -2147483648 and 2147483647", "SELECT", "4294967296")
	wantReply(t, cn, "users", "GET", "k")
	// SELECT by id and by name reach the same table.
	wantReply(t, cn, "OK", "SELECT", "orders")
	wantReply(t, cn, "orders", "GET", "k")
	wantReply(t, cn, "2", "DBSIZE")
	wantReply(t, cn, "OK", "SELECT", "2")
	wantReply(t, cn, "users", "GET", "k")
	// FLUSHDB empties the selected table only.
	wantReply(t, cn, "OK", "FLUSHDB")
	wantReply(t, cn, "0", "DBSIZE")
	wantReply(t, cn, "OK", "SELECT", "1")
	wantReply(t, cn, "orders", "GET", "k")
	wantReply(t, cn, "OK", "SELECT", "0")
	wantReply(t, cn, "db0", "GET", "k")
	wantReply(t, cn, "1", "DBSIZE")
	// DEL in one table leaves the same key of another.
	wantReply(t, cn, "1", "DEL", "k")
	wantReply(t, cn, "OK", "SELECT", "orders")
	wantReply(t, cn, "1", "EXISTS", "k")

	// CLIENT LIST and INFO keyspace name tables by id, as Redis's dbN.
	wantReply(t, cn, "OK", "SELECT", "2")
	info, err := cn.ClientInfo(context.Background()).Result()
	if err != nil || info.DB != 2 {
		t.Fatalf("CLIENT INFO after SELECT 2: db=%v, %v", info, err)
	}
	ks := newClient(t, addr, nil).Info(context.Background(), "keyspace").Val()
	if !strings.Contains(ks, "db1:keys=2,") || strings.Contains(ks, "db2:") || strings.Contains(ks, "db0:") {
		t.Fatalf("INFO keyspace = %q, want db1 with 2 keys and no empty db0, db2", ks)
	}

	// go-redis's DB option SELECTs on every new connection.
	c1 := newClient(t, addr, &redis.Options{DB: 1})
	if v := c1.Get(context.Background(), "k").Val(); v != "orders" {
		t.Fatalf("client with DB 1: GET k = %q", v)
	}
}

// A table with a password is closed (NOAUTH) until AUTH opens it; AUTH
// password opens every table with that password, AUTH table password
// that one table.
func TestTablePasswords(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ac := tableAPI(t, addr)
	ctx := context.Background()

	// No table has a password yet: Redis's answers for a server without requirepass.
	cn := stickyConn(t, addr)
	wantReply(t, cn, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", "AUTH", "anything")
	wantReply(t, cn, "OK", "AUTH", "default", "anything")
	wantReply(t, cn, "", "HELLO", "2", "AUTH", "default", "anything")
	wantReply(t, cn, "ERR syntax error", "AUTH", "a", "b", "c")

	createTable(t, ac, "a", "pa")  // 1
	createTable(t, ac, "b", "pa")  // 2
	createTable(t, ac, "c", "pc")  // 3
	createTable(t, ac, "open", "") // 4
	waitFor(t, "table open to be served", func() error { return cn.Do(ctx, "SELECT", "open").Err() })

	// The same connection, now that passwords exist: AUTH of a wrong
	// password is refused instead of answering "no password configured".
	wantReply(t, cn, "WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "anything")

	const wrongPass = "WRONGPASS invalid username-password pair or user is disabled."
	const helloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"

	x := stickyConn(t, addr)
	// SELECT works before AUTH (tables, not connections, are closed).
	wantReply(t, x, "OK", "SELECT", "a")
	for _, cmd := range [][]any{{"GET", "k"}, {"SET", "k", "v"}, {"DBSIZE"}, {"PING"}, {"FLUSHDB"}, {"KEYS", "*"}} {
		wantReply(t, x, errNoAuthMsg, cmd...)
	}
	wantReply(t, x, helloNoAuth, "HELLO", "2")
	wantReply(t, x, wrongPass, "AUTH", "wrong")
	wantReply(t, x, wrongPass, "AUTH", "default", "wrong")
	wantReply(t, x, errNoAuthMsg, "GET", "k")
	wantReply(t, x, wrongPass, "AUTH", "a", "pc")
	wantReply(t, x, wrongPass, "AUTH", "nosuchtable", "pa")
	wantReply(t, x, wrongPass, "HELLO", "2", "AUTH", "a", "wrong")
	wantReply(t, x, errNoAuthMsg, "GET", "k")
	// The open table and db0 (no password) need no AUTH.
	wantReply(t, x, "OK", "SELECT", "open")
	wantReply(t, x, "OK", "SET", "k", "open")
	wantReply(t, x, "OK", "SELECT", "0")
	wantReply(t, x, "(nil)", "GET", "k")

	// AUTH pa opens a and b, which share that password, and not c.
	wantReply(t, x, "OK", "AUTH", "pa")
	wantReply(t, x, "OK", "SELECT", "a")
	wantReply(t, x, "OK", "SET", "k", "a")
	wantReply(t, x, "OK", "SELECT", "2")
	wantReply(t, x, "(nil)", "GET", "k")
	wantReply(t, x, "OK", "SET", "k", "b")
	wantReply(t, x, "OK", "SELECT", "c")
	wantReply(t, x, errNoAuthMsg, "GET", "k")
	// Failed AUTHs keep what was opened and open nothing.
	wantReply(t, x, wrongPass, "AUTH", "c", "pa")
	wantReply(t, x, wrongPass, "AUTH", "wrong")
	wantReply(t, x, errNoAuthMsg, "GET", "k")
	wantReply(t, x, "OK", "SELECT", "a")
	wantReply(t, x, "a", "GET", "k")
	// AUTH table password opens that table.
	wantReply(t, x, "OK", "AUTH", "c", "pc")
	wantReply(t, x, "OK", "SELECT", "c")
	wantReply(t, x, "OK", "SET", "k", "c")
	wantReply(t, x, "c", "GET", "k")

	// Another table's password opens that table, not the selected one.
	w := stickyConn(t, addr)
	wantReply(t, w, "OK", "SELECT", "a")
	wantReply(t, w, "OK", "AUTH", "pc")
	wantReply(t, w, errNoAuthMsg, "GET", "k")
	wantReply(t, w, "OK", "SELECT", "c")
	wantReply(t, w, "c", "GET", "k")

	// AUTH table password opens just that table, even when another
	// table has the same password.
	y := stickyConn(t, addr)
	wantReply(t, y, "OK", "AUTH", "b", "pa")
	wantReply(t, y, "OK", "SELECT", "b")
	wantReply(t, y, "b", "GET", "k")
	wantReply(t, y, "OK", "SELECT", "a")
	wantReply(t, y, errNoAuthMsg, "GET", "k")
	wantReply(t, y, "OK", "AUTH", "open", "whatever") // a table without password opens with any
	wantReply(t, y, wrongPass, "AUTH", "default", "pb")
	wantReply(t, y, errNoAuthMsg, "GET", "k")

	// HELLO 2 AUTH table password authenticates as AUTH does and
	// answers Redis's HELLO map.
	z := stickyConn(t, addr)
	wantReply(t, z, "OK", "SELECT", "c")
	wantReply(t, z, helloNoAuth, "HELLO", "2", "SETNAME", "zz")
	hello, err := z.Do(ctx, "HELLO", "2", "AUTH", "c", "pc", "SETNAME", "zz").Slice()
	if err != nil || len(hello) != 14 || hello[0] != "server" || hello[4] != "proto" || hello[5] != int64(2) {
		t.Fatalf("HELLO 2 AUTH c pc: %v, %v", hello, err)
	}
	wantReply(t, z, "c", "GET", "k")
	wantReply(t, z, "zz", "CLIENT", "GETNAME")
	wantReply(t, z, "OK", "SELECT", "a")
	wantReply(t, z, errNoAuthMsg, "GET", "k")
	wantReply(t, z, "", "HELLO", "2", "AUTH", "default", "pa")
	wantReply(t, z, "a", "GET", "k")

	// go-redis's Username/Password/DB options: it tries HELLO 3 AUTH,
	// is refused with NOPROTO, and falls back to AUTH and SELECT.
	for _, o := range []*redis.Options{
		{Password: "pa", DB: 2},
		{Username: "c", Password: "pc", DB: 3},
		{Username: "default", Password: "pa", DB: 1},
	} {
		gr := newClient(t, addr, o)
		want := map[int]string{1: "a", 2: "b", 3: "c"}[o.DB]
		if v, err := gr.Get(ctx, "k").Result(); err != nil || v != want {
			t.Fatalf("client %s/%s on db %d: GET k = %q, %v", o.Username, o.Password, o.DB, v, err)
		}
	}
	bad := newClient(t, addr, &redis.Options{Username: "c", Password: "pa", DB: 3})
	if err := bad.Get(ctx, "k").Err(); err == nil || err.Error() != wrongPass {
		t.Fatalf("client c/pa: %v, want WRONGPASS", err)
	}
}

// With --requirepass only db0 is closed: SELECT works before AUTH and
// a table without password can be used without it.
func TestRequirePassClosesOnlyDB0(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.RequirePass = "s3cret" })
	ac := tableAPI(t, addr)
	createTable(t, ac, "free", "")
	cn := stickyConn(t, addr)
	waitFor(t, "table free to be served", func() error { return cn.Do(context.Background(), "SELECT", "free").Err() })
	wantReply(t, cn, "OK", "SELECT", "0")
	wantReply(t, cn, errNoAuthMsg, "GET", "k")
	wantReply(t, cn, "OK", "SELECT", "1")
	wantReply(t, cn, "OK", "SET", "k", "free")
	wantReply(t, cn, "PONG", "PING")
	wantReply(t, cn, "OK", "SELECT", "0")
	wantReply(t, cn, errNoAuthMsg, "PING")
	wantReply(t, cn, "OK", "AUTH", "db0", "s3cret")
	wantReply(t, cn, "(nil)", "GET", "k")
}

// A connection whose table is dropped gets an error naming it for data
// commands, keeps PING and SELECT, and the id is never given out again.
func TestDroppedTable(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ac := tableAPI(t, addr)
	ctx := context.Background()
	createTable(t, ac, "tmp", "pw")
	cn := stickyConn(t, addr)
	waitFor(t, "table tmp to be served", func() error { return cn.Do(ctx, "SELECT", "1").Err() })
	wantReply(t, cn, "OK", "AUTH", "pw")
	wantReply(t, cn, "OK", "SET", "k", "v")
	wantReply(t, cn, "OK", "SELECT", "0")
	wantReply(t, cn, "OK", "SET", "k", "db0")
	wantReply(t, cn, "OK", "SELECT", "tmp")
	other := stickyConn(t, addr) // selected the table and never authenticated
	wantReply(t, other, "OK", "SELECT", "tmp")
	wantReply(t, other, errNoAuthMsg, "GET", "k")

	if _, err := ac.DropTable(ctx, "tmp"); err != nil {
		t.Fatal(err)
	}
	const gone = "ERR table 1 no longer exists (it was dropped); SELECT another"
	waitFor(t, "the drop to reach the connection", func() error {
		if err := cn.Get(ctx, "k").Err(); err == nil || err.Error() != gone {
			return err
		}
		return nil
	})
	for _, c := range []*redis.Conn{cn, other} {
		wantReply(t, c, gone, "GET", "k")
		wantReply(t, c, gone, "SET", "k", "v")
		wantReply(t, c, gone, "DBSIZE")
		wantReply(t, c, "PONG", "PING")
		wantReply(t, c, "hi", "ECHO", "hi")
		wantReply(t, c, errOutOfRange, "SELECT", "1")
		wantReply(t, c, errNotIntMsg, "SELECT", "tmp")
		wantReply(t, c, gone, "GET", "k") // a failed SELECT keeps the dropped table
		wantReply(t, c, "OK", "SELECT", "0")
		wantReply(t, c, "db0", "GET", "k")
	}

	// A new table of the same name gets a new id and none of the old keys.
	if tb := createTable(t, ac, "tmp", ""); tb.ID != 2 {
		t.Fatalf("re-created table got id %d, want 2 (ids are never reused)", tb.ID)
	}
	waitFor(t, "the new table tmp to be served", func() error { return cn.Do(ctx, "SELECT", "2").Err() })
	wantReply(t, cn, "(nil)", "GET", "k")
	wantReply(t, cn, "0", "DBSIZE")
	wantReply(t, cn, errOutOfRange, "SELECT", "1")
	wantReply(t, cn, "OK", "SELECT", "tmp")
	wantReply(t, cn, "0", "DBSIZE")
}

// Passwords (and their hashes) never appear in INFO, CLIENT, CONFIG GET
// or the HTTP API.
func TestPasswordsNotExposed(t *testing.T) {
	const pw0, pw1 = "db0-secret-Xq7", "tbl-secret-Zr9"
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.RequirePass = pw0 })
	ac := tableAPI(t, addr)
	createTable(t, ac, "sec", pw1)
	ctx := context.Background()
	c := newClient(t, addr, &redis.Options{Password: pw0, ClientName: "watcher"})
	cn := stickyConn(t, addr)
	waitFor(t, "table sec to be served", func() error { return cn.Do(ctx, "SELECT", "sec").Err() })
	wantReply(t, cn, "OK", "AUTH", "sec", pw1)
	wantReply(t, cn, "OK", "SET", "k", "v")
	wantReply(t, cn, "OK", "AUTH", pw0)

	check := func(what, out string) {
		t.Helper()
		for _, bad := range []string{pw0, pw1, "sha256:"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s shows %q: %q", what, bad, out)
			}
		}
	}
	for _, args := range [][]any{
		{"INFO"}, {"INFO", "all"}, {"INFO", "everything"}, {"INFO", "keyspace"},
		{"CLIENT", "LIST"}, {"CLIENT", "INFO"},
		{"CONFIG", "GET", "*"}, {"CONFIG", "GET", "requirepass"},
	} {
		v, err := c.Do(ctx, args...).Result()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		check(toString(args[0])+" "+toString(args[len(args)-1]), toString(v))
	}
	if v := c.ConfigGet(ctx, "requirepass").Val()["requirepass"]; v != "" {
		t.Errorf("CONFIG GET requirepass = %q, want empty", v)
	}
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(port+20000))
	for _, path := range []string{"/api/v1/tables", "/api/v1/tables/sec", "/api/v1/tables/db0", "/api/v1/status", "/healthz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		check("GET "+path, string(body))
	}
	tables, err := ac.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if want := tb.Name == "sec" || tb.Name == "db0"; tb.HasPassword != want {
			t.Errorf("table %s: has_password = %v, want %v", tb.Name, tb.HasPassword, want)
		}
	}
}

// Failed AUTHs are counted (INFO acl_access_denied_auth) and, past 20 in a
// burst from one address other than loopback, refused without trying the
// password, the right one too.
func TestAuthFailuresLimited(t *testing.T) {
	ip := hostIP(t)
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.RequirePass = "s3cret"; c.Bind = "0.0.0.0" })
	_, port, _ := net.SplitHostPort(addr)
	admin := stickyConn(t, addr) // on loopback: not limited
	cn := stickyConn(t, net.JoinHostPort(ip, port))
	const wrongPass = "WRONGPASS invalid username-password pair or user is disabled."
	// Guesses of a table name that does not exist fail without bcrypt
	// (~65 ms a password, seconds under -race, slower than the limiter's
	// refill of 10 a second), so they outrun the refill; a wrong password
	// of db0 counts the same.
	wantReply(t, cn, wrongPass, "AUTH", "guess")
	failed := 1
	for {
		err := cn.Do(context.Background(), "AUTH", "nosuchtable", "guess").Err()
		if err != nil && err.Error() == errAuthThrottled {
			break
		}
		if err == nil || err.Error() != wrongPass {
			t.Fatalf("AUTH nosuchtable guess: %v", err)
		}
		if failed++; failed > 10*authBurst {
			t.Fatalf("%d failed AUTHs and none refused by the limiter", failed)
		}
	}
	if failed < authBurst {
		t.Fatalf("refused after %d failures, before the burst of %d", failed, authBurst)
	}
	wantReply(t, cn, errAuthThrottled, "AUTH", "s3cret")
	wantReply(t, admin, "OK", "AUTH", "s3cret")
	info, err := admin.Do(context.Background(), "INFO", "stats").Text()
	if err != nil {
		t.Fatal(err)
	}
	if want := "acl_access_denied_auth:" + strconv.Itoa(failed+2) + "\r\n"; !strings.Contains(info, want) {
		t.Fatalf("INFO stats lacks %q", want)
	}
}

// pikactl table set-password: a table's password changes (or goes);
// connections that opened the table with the old one must AUTH again (a
// leaked password stops working everywhere at once); the record in etcd
// is a bcrypt hash, never the password.
func TestSetTablePassword(t *testing.T) {
	dir := t.TempDir()
	n, addr, _ := startNodeN(t, dir, nil)
	ac := tableAPI(t, addr)
	ctx := context.Background()
	tb := createTable(t, ac, "sp", "old-pass")
	in := stickyConn(t, addr)
	wantReply(t, in, "OK", "AUTH", "sp", "old-pass")
	wantReply(t, in, "OK", "SELECT", "sp")
	wantReply(t, in, "OK", "SET", "k", "v")

	if _, err := api.NewClient(httpAddrOf(t, addr)).SetTablePassword(ctx, "sp", "x"); !isHTTP(err, http.StatusUnauthorized) {
		t.Fatalf("set-password without the admin token: %v", err)
	}
	got, err := ac.SetTablePassword(ctx, "sp", "new-pass")
	if err != nil || !got.HasPassword || got.ID != tb.ID {
		t.Fatalf("set-password: %+v, %v", got, err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdEndpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rec, err := cli.Get(ctx, meta.Layout{Cluster: n.cfg.Cluster}.Table("sp"))
	if err != nil || len(rec.Kvs) != 1 || !strings.Contains(string(rec.Kvs[0].Value), `bcrypt:$2a$`) || strings.Contains(string(rec.Kvs[0].Value), "new-pass") {
		t.Fatalf("table record: %v %s", err, rec.Kvs)
	}
	wantReply(t, in, "NOAUTH Authentication required.", "GET", "k")
	wantReply(t, in, "OK", "AUTH", "sp", "new-pass")
	wantReply(t, in, "v", "GET", "k")
	fresh := stickyConn(t, addr)
	wantReply(t, fresh, "WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "sp", "old-pass")
	wantReply(t, fresh, "OK", "AUTH", "sp", "new-pass")
	wantReply(t, fresh, "OK", "SELECT", "sp")
	wantReply(t, fresh, "v", "GET", "k")

	if got, err := ac.SetTablePassword(ctx, "sp", ""); err != nil || got.HasPassword {
		t.Fatalf("remove the password: %+v, %v", got, err)
	}
	open := stickyConn(t, addr)
	wantReply(t, open, "OK", "SELECT", "sp")
	wantReply(t, open, "v", "GET", "k")
	if _, err := ac.SetTablePassword(ctx, "nope", "x"); !isHTTP(err, http.StatusNotFound) {
		t.Fatalf("set-password of no table: %v", err)
	}
}

// httpAddrOf is the HTTP address of the node serving RESP on addr.
func httpAddrOf(t *testing.T, addr string) string {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return net.JoinHostPort(host, strconv.Itoa(port+20000))
}
