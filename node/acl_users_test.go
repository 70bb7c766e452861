package node

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/node/config"
)

// ACL users on a cluster of two nodes (docs/acl.md): a user made through
// one node is usable through the other as soon as ACL SETUSER answers;
// ACL DELUSER closes its connections on both; go-redis authenticates
// with a username in RESP2 (AUTH) and RESP3 (HELLO 3 AUTH); refusals go
// to ACL LOG.
func TestACLUsersAcrossNodes(t *testing.T) {
	n1, addr1, _ := startNodeN(t, t.TempDir(), nil)
	tableAPI(t, addr1)
	_, addr2, _ := startNodeN(t, t.TempDir(), func(c *config.Config) { c.Cluster = n1.cfg.Cluster })
	tableAPI(t, addr2)
	ctx := context.Background()

	admin := stickyConn(t, addr1)
	wantReply(t, admin, "OK", "ACL", "SETUSER", "alice", "on", ">wonderland", "~app:*", "&news", "+@all", "-@dangerous")
	for _, proto := range []int{2, 3} {
		c := newClient(t, addr2, &redis.Options{Username: "alice", Password: "wonderland", Protocol: proto})
		if err := c.Set(ctx, "app:1", "v", 0).Err(); err != nil {
			t.Fatalf("RESP%d: SET as alice through the other node: %v", proto, err)
		}
		if got, err := c.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || got != "alice" {
			t.Fatalf("RESP%d: ACL WHOAMI: %q, %v", proto, got, err)
		}
		err := c.Set(ctx, "other", "v", 0).Err()
		if err == nil || err.Error() != "NOPERM this user has no permissions to access one of the keys used as arguments" {
			t.Fatalf("RESP%d: SET of a key outside ~app:*: %v", proto, err)
		}
		err = c.Do(ctx, "KEYS", "*").Err()
		if err == nil || err.Error() != "NOPERM this user has no permissions to run the 'keys' command" {
			t.Fatalf("RESP%d: KEYS (@dangerous): %v", proto, err)
		}
	}
	wrong := newClient(t, addr2, &redis.Options{Username: "alice", Password: "rabbit", MaxRetries: -1})
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("a wrong password: %v", err)
	}

	// The refusals are in the ACL LOG of the node that saw them.
	log2 := stickyConn(t, addr2)
	entries, err := log2.Do(ctx, "ACL", "LOG").Slice()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		m := logEntry(e)
		seen[m["reason"]+" "+m["object"]+" "+m["username"]] = true
	}
	for _, want := range []string{"key other alice", "command keys alice", "auth AUTH alice"} {
		if !seen[want] {
			t.Errorf("ACL LOG on the node that refused: no %q in %v", want, seen)
		}
	}

	// Taking a channel away closes alice's subscriptions to it, as Redis
	// 7.0 does; a connection that subscribes to nothing stays.
	sub := newClient(t, addr2, &redis.Options{Username: "alice", Password: "wonderland"}).Subscribe(ctx, "news")
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("alice subscribes to news: %v", err)
	}
	wantReply(t, admin, "OK", "ACL", "SETUSER", "alice", "resetchannels", "&sports")
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := sub.Receive(rctx); !closedConn(err) {
		t.Fatalf("alice's subscription to news after SETUSER resetchannels: %v, want the connection closed", err)
	}
	sub.Close()

	// DELUSER through node 1 closes alice's connections on node 2.
	held := stickyConn(t, addr2)
	wantReply(t, held, "OK", "AUTH", "alice", "wonderland")
	wantReply(t, admin, "1", "ACL", "DELUSER", "alice")
	if err := held.Ping(ctx).Err(); !closedConn(err) {
		t.Fatalf("alice's connection after DELUSER: %v, want it closed", err)
	}
	wantReply(t, stickyConn(t, addr2), "WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "alice", "wonderland")
}

// logEntry reads one ACL LOG entry (a RESP2 array of pairs or a RESP3
// map) into its string fields.
func logEntry(e any) map[string]string {
	m := map[string]string{}
	switch x := e.(type) {
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			m[toString(x[i])] = toString(x[i+1])
		}
	case map[any]any:
		for k, v := range x {
			m[toString(k)] = toString(v)
		}
	}
	return m
}

// closedConn reports whether err says the server closed the connection
// (not that a read timed out).
func closedConn(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.As(err, &op)
}

// A tenant (a connection let in by a table's password) cannot change the
// node for the others, and sees only its tables' clients; so is anyone
// as the nopass default user while some table has a password, until it
// opened every such table. The cluster's administrator (AUTH pika-admin
// <admin token>) can, and can make the first ACL user.
func TestTenantsAndAdmin(t *testing.T) {
	addr, _ := startNode(t, t.TempDir(), nil)
	ac := tableAPI(t, addr)
	ctx := context.Background()

	before := stickyConn(t, addr)
	wantReply(t, before, "OK", "CONFIG", "SET", "maxclients", "1000")
	tb := createTable(t, ac, "tenant", "tpw")
	createTable(t, ac, "other", "opw")

	tenant := stickyConn(t, addr)
	wantReply(t, tenant, "OK", "AUTH", "tenant", "tpw")
	wantReply(t, tenant, "OK", "SELECT", "tenant")
	wantReply(t, tenant, "OK", "SET", "k", "v")
	wantReply(t, tenant, "NOPERM this user has no permissions to run the 'config|set' command", "CONFIG", "SET", "maxclients", "5")
	wantReply(t, tenant, "NOPERM this user has no permissions to run the 'shutdown' command", "SHUTDOWN")
	wantReply(t, tenant, "NOPERM this user has no permissions to run the 'acl|setuser' command", "ACL", "SETUSER", "x", "on")
	wantReply(t, before, "NOPERM this user has no permissions to run the 'config|set' command", "CONFIG", "SET", "maxclients", "5")

	neighbour := stickyConn(t, addr)
	wantReply(t, neighbour, "OK", "AUTH", "other", "opw")
	wantReply(t, neighbour, "OK", "SELECT", "other")
	neighbourID, err := neighbour.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	list, err := tenant.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	tenantID, _ := tenant.ClientID(ctx).Result()
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if !strings.Contains(line, " db="+strconv.Itoa(int(tb.ID))+" ") {
			t.Errorf("the tenant's CLIENT LIST shows another table's client: %s", line)
		}
	}
	if !strings.Contains(list, "id="+strconv.FormatInt(tenantID, 10)+" ") {
		t.Errorf("the tenant's CLIENT LIST lacks itself: %s", list)
	}
	wantReply(t, tenant, "0", "CLIENT", "KILL", "ID", strconv.FormatInt(neighbourID, 10))
	wantReply(t, neighbour, "PONG", "PING")

	// Knowing every table's password makes the default user whole again
	// (a cluster bootstrapped with --requirepass has one: db0's).
	wantReply(t, before, "OK", "AUTH", "tenant", "tpw")
	wantReply(t, before, "OK", "AUTH", "other", "opw")
	wantReply(t, before, "OK", "CONFIG", "SET", "maxclients", "1000")

	root := stickyConn(t, addr)
	wantReply(t, root, "WRONGPASS invalid username-password pair or user is disabled.", "AUTH", adminUser, "guess")
	wantReply(t, root, "OK", "AUTH", adminUser, testproc.AdminToken)
	wantReply(t, root, "OK", "CONFIG", "SET", "maxclients", "1000")
	wantReply(t, root, "OK", "ACL", "SETUSER", "ops", "on", ">opspw", "~*", "&*", "+@all")
	ops := stickyConn(t, addr)
	wantReply(t, ops, "OK", "AUTH", "ops", "opspw")
	wantReply(t, ops, "OK", "SELECT", "tenant")
	wantReply(t, ops, "v", "GET", "k")
	wantReply(t, ops, "OK", "CONFIG", "SET", "maxclients", "1000")
	wantReply(t, root, "ERR '"+adminUser+"' is pika-node's built-in administrator (its password is the cluster's admin token) and cannot be changed", "ACL", "SETUSER", adminUser, "off")
	wantReply(t, root, "ERR 'tenant' is the name of a table (AUTH tenant <password> opens it): an ACL user cannot have it", "ACL", "SETUSER", "tenant", "on")
}
