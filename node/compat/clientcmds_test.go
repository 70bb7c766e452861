package compat

import (
	"fmt"
	"testing"
)

// pauseSides runs fn against redis-server, pika-node, and the cluster with
// the pausing client on one node and the paused one on another: CLIENT
// PAUSE holds the whole cluster's clients.
func pauseSides(t *testing.T, fn func(t *testing.T, pauser, paused *server)) {
	needServers(t)
	for _, srv := range []*server{redisSrv, pikaSrv} {
		t.Run(srv.Name, func(t *testing.T) { fn(t, srv, srv) })
	}
	t.Run("cluster", func(t *testing.T) {
		needCluster(t)
		fn(t, clusterNodes[0], clusterNodes[1])
	})
}

// CLIENT PAUSE WRITE lets reads through and holds writes (the client
// counts as blocked) until CLIENT UNPAUSE; then the write runs.
func TestClientPauseWrite(t *testing.T) {
	pauseSides(t, func(t *testing.T, pauser, paused *server) {
		p, c := dialT(t, pauser), dialT(t, paused)
		mustDo(t, c, ":0", "DEL", "pause:k")
		mustDo(t, p, "+OK", "CLIENT", "PAUSE", "60000", "WRITE")
		unpaused := false
		defer func() {
			if !unpaused {
				p.Do("CLIENT", "UNPAUSE")
			}
		}()
		mustDo(t, c, ":0", "EXISTS", "pause:k")
		if err := c.Send("SET", "pause:k", "v"); err != nil {
			t.Fatal(err)
		}
		if err := awaitBlocked(paused, 1); err != nil {
			t.Fatal(err)
		}
		// A script may write: held too (may-replicate), on another connection.
		c2 := dialT(t, paused)
		if err := c2.Send("EVAL", "return 1", "0"); err != nil {
			t.Fatal(err)
		}
		if err := awaitBlocked(paused, 2); err != nil {
			t.Fatal(err)
		}
		mustDo(t, p, "+OK", "CLIENT", "UNPAUSE")
		unpaused = true
		if r, err := c.Read(); err != nil || r.String() != "+OK" {
			t.Fatalf("the held SET after UNPAUSE: %s, %v", r, err)
		}
		if r, err := c2.Read(); err != nil || r.String() != ":1" {
			t.Fatalf("the held EVAL after UNPAUSE: %s, %v", r, err)
		}
		mustDo(t, c, ":1", "EXISTS", "pause:k")
		if err := awaitBlocked(paused, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// CLIENT KILL ID closes that client's connection and counts it; the
// filters that match nobody count 0, and the old form's miss is an error.
func TestClientKill(t *testing.T) {
	blockingSides(t, func(t *testing.T, srv *server) {
		victim, killer := dialT(t, srv), dialT(t, srv)
		id, err := victim.Do("CLIENT", "ID")
		if err != nil {
			t.Fatal(err)
		}
		sid := fmt.Sprint(id.Int)
		mustDo(t, killer, ":0", "CLIENT", "KILL", "ID", sid, "TYPE", "pubsub")
		mustDo(t, killer, ":1", "CLIENT", "KILL", "ID", sid)
		if r, err := victim.Read(); err == nil {
			t.Fatalf("the killed client read %s, want its connection closed", r)
		}
		mustDo(t, killer, ":0", "CLIENT", "KILL", "ID", sid)
		mustDo(t, killer, "-ERR No such client", "CLIENT", "KILL", "127.0.0.1:1")
		// SKIPME yes (the default) spares the caller; the old form does not.
		self, err := killer.Do("CLIENT", "ID")
		if err != nil {
			t.Fatal(err)
		}
		mustDo(t, killer, ":0", "CLIENT", "KILL", "ID", fmt.Sprint(self.Int))
		mustDo(t, killer, "+PONG", "PING")
		mustDo(t, killer, ":1", "CLIENT", "KILL", "ID", fmt.Sprint(self.Int), "SKIPME", "no")
		if r, err := killer.Read(); err == nil {
			t.Fatalf("the client that killed itself read %s, want its connection closed", r)
		}
	})
}
