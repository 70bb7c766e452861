package node

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/config"
)

// WAIT and min-replicas-to-write on two nodes (docs/replication.md, "WAIT
// and min-replicas-to-write"): WAIT counts the followers holding the
// table's writes, asking both nodes (each leads some of the table's
// slots); it answers at once inside MULTI; min-replicas-to-write set
// through one node holds on the other, and refuses writes of slots with
// too few followers with Redis's NOREPLICAS.
func TestWaitAndMinReplicas(t *testing.T) {
	n1, addr1, _ := startNodeN(t, t.TempDir(), nil)
	ac := tableAPI(t, addr1)
	_, addr2, _ := startNodeN(t, t.TempDir(), func(c *config.Config) { c.Cluster = n1.cfg.Cluster })
	tableAPI(t, addr2)
	ctx := context.Background()
	waitFor(t, "two nodes alive", func() error {
		st, err := ac.Status(ctx)
		if err == nil && len(st.Nodes) == 2 && st.Nodes[0].Alive && st.Nodes[1].Alive {
			return nil
		}
		return fmt.Errorf("status: %+v, %v", st.Nodes, err)
	})
	tb, err := ac.CreateTable(ctx, api.CreateTable{Name: "w", Slots: 8, Replicas: 2, Mode: meta.ModeAsync})
	if err != nil {
		t.Fatal(err)
	}
	db := strconv.Itoa(int(tb.ID))

	cn := stickyConn(t, addr1)
	waitFor(t, "table w served", func() error { return cn.Do(ctx, "SELECT", "w").Err() })
	for i := range 20 {
		wantReply(t, cn, "OK", "SET", "k"+strconv.Itoa(i), "v")
	}
	wantReply(t, cn, "1", "WAIT", "1", "5000")
	wantReply(t, cn, "1", "WAIT", "2", "50") // one follower only: the timeout answers
	wantReply(t, cn, "1", "WAIT", "0", "0")
	wantReply(t, cn, "ERR value is not an integer or out of range", "WAIT", "x", "0")
	wantReply(t, cn, "ERR timeout is negative", "WAIT", "1", "-1")
	wantReply(t, cn, "ERR timeout is not an integer or out of range", "WAIT", "1", "x")
	wantReply(t, cn, "OK", "MULTI")
	wantReply(t, cn, "QUEUED", "SET", "k", "w")
	wantReply(t, cn, "QUEUED", "WAIT", "5", "0") // would wait forever outside a block
	// At once, with the count of now (the block's SET may not be shipped yet).
	if got, err := cn.Do(ctx, "EXEC").Slice(); err != nil || len(got) != 2 || got[0] != "OK" || (got[1] != int64(0) && got[1] != int64(1)) {
		t.Fatalf("EXEC of SET and WAIT 5 0: %v, %v", got, err)
	}

	zero := stickyConn(t, addr2) // db0 has one replica: no follower ever holds a write
	wantReply(t, zero, "OK", "SET", "a", "b")
	wantReply(t, zero, "0", "WAIT", "1", "20")

	wantReply(t, cn, "OK", "CONFIG", "SET", "min-replicas-to-write", "1", "min-replicas-max-lag", "5")
	other := stickyConn(t, addr2)
	if got, err := other.ConfigGet(ctx, "min-replicas-*").Result(); err != nil || got["min-replicas-to-write"] != "1" || got["min-replicas-max-lag"] != "5" {
		t.Fatalf("CONFIG GET min-replicas-* on the other node: %v, %v", got, err)
	}
	wantReply(t, other, "OK", "SELECT", db)
	for i := range 20 { // through n2: its own slots and n1's
		wantReply(t, other, "OK", "SET", "k"+strconv.Itoa(i), "x")
	}
	wantReply(t, zero, "NOREPLICAS Not enough good replicas to write.", "SET", "a", "c")
	wantReply(t, zero, "b", "GET", "a") // reads still served
	wantReply(t, cn, "OK", "CONFIG", "SET", "min-replicas-to-write", "2")
	wantReply(t, other, "NOREPLICAS Not enough good replicas to write.", "SET", "k1", "y")
	wantReply(t, cn, "OK", "CONFIG", "SET", "min-replicas-to-write", "0")
	wantReply(t, zero, "OK", "SET", "a", "c")
}
