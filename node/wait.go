package node

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// WAIT numreplicas timeout (docs/replication.md, "WAIT and
// min-replicas-to-write"): it answers once every write answered before it
// on the connection's table (the client's, and anyone's before) is held by
// at least numreplicas followers of its slot, or once timeout passes, with
// the number of followers that hold them (the smallest among the table's
// slots). The leaders of the table's slots are asked (REPLWAIT; this node
// asks its Shipper), at most waitRound at a time, until the answer is
// reached or the time is up. In a raft table a write is answered once a
// majority holds it: WAIT answers that majority's followers at once.

// waitRound bounds one round of WAIT's questions: a leader that died
// while asked costs at most that, and the next round asks the new one.
const waitRound = time.Second

func (n *Node) cmdWait(c *command.Ctx) error {
	want, err := strconv.ParseInt(string(c.Args[1]), 10, 64)
	if err != nil {
		return command.ErrNotInt
	}
	timeout, err := strconv.ParseInt(string(c.Args[2]), 10, 64)
	if err != nil {
		return command.Error("ERR timeout is not an integer or out of range")
	}
	if timeout < 0 {
		return command.Error("ERR timeout is negative")
	}
	cl := connOf(c)
	tb, ok := n.proxy.Routing().Table(cl.tableID())
	if !ok {
		return command.Error(router.DroppedTable(cl.tableID()))
	}
	if tb.Mode == meta.ModeRaft {
		c.R.Int(int64(tb.Replicated() / 2))
		return nil
	}
	if cl.tx.Open() {
		// Inside EXEC, as in Redis: the count now, without waiting.
		c.R.Int(n.replicasOf(tb.ID, want, 0))
		return nil
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	got := n.replicasOf(tb.ID, want, 0) // first without waiting, as Redis
	if got >= want || timeout > 0 && !time.Now().Before(deadline) {
		c.R.Int(got)
		return nil
	}
	// It waits: the replies before it go out now, and a client that goes
	// away ends it.
	if !cl.flush() {
		cl.quit = true
		return nil
	}
	gone, stop := n.watchConn(cl)
	defer stop()
	for {
		round := waitRound
		if timeout > 0 {
			round = min(round, time.Until(deadline))
		}
		began := time.Now()
		got = n.replicasOf(tb.ID, want, round)
		if got >= want || timeout > 0 && !time.Now().Before(deadline) {
			c.R.Int(got)
			return nil
		}
		// A round answered early without enough (a leader down counts 0
		// at once): the rest of it passes before the next.
		rest := time.NewTimer(max(round-time.Since(began), 0))
		select {
		case <-gone:
			rest.Stop()
			cl.quit = true
			return nil
		case <-cl.killed:
			rest.Stop()
			cl.quit = true
			return nil
		case <-rest.C:
		}
	}
}

// replicasOf asks every node leading slots of table t (this one too) how
// many followers hold its slots' writes, waiting up to limit for want:
// the smallest answer (0 for a node that does not answer).
func (n *Node) replicasOf(t storage.TableID, want int64, limit time.Duration) int64 {
	limit = max(limit, 0)
	snap := n.proxy.Routing()
	tb, ok := snap.Table(t)
	if !ok {
		return 0
	}
	leaders := map[meta.NodeID]bool{}
	for i := range tb.Slots {
		leaders[tb.Route(storage.SlotID(i)).Leader] = true
	}
	var mu sync.Mutex
	least := int64(-1)
	note := func(v int64) {
		mu.Lock()
		defer mu.Unlock()
		if v >= 0 && (least < 0 || v < least) {
			least = v
		}
	}
	var wg sync.WaitGroup
	for id := range leaders {
		if id == snap.Self {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), limit)
				defer cancel()
				note(n.localReplicas(ctx, t, want))
			})
			continue
		}
		info, ok := snap.Node(id)
		if !ok {
			note(0) // a leader down: its slots' writes wait for a failover
			continue
		}
		wg.Go(func() {
			req := peer.ReplicasWait{Table: t, Want: uint64(max(want, 0)), TimeoutMS: uint64(limit.Milliseconds())}
			raw, err := n.links.Do(info.Peer, peer.ClassUnitWait, 0, req).Wait(context.Background(), limit+peerWaitSlack)
			v, perr := peer.Int(raw)
			if err != nil || perr != nil {
				note(0)
				return
			}
			note(v)
		})
	}
	wg.Wait()
	return max(least, 0)
}

// peerWaitSlack is how much longer than its wait a REPLWAIT's answer is
// awaited: the network and the asked node's scheduling.
const peerWaitSlack = 2 * time.Second

// localReplicas is this node's answer for table t: its Shipper's count
// over the slots it leads (-1: none).
func (n *Node) localReplicas(ctx context.Context, t storage.TableID, want int64) int64 {
	if n.shipper == nil {
		return -1
	}
	return int64(n.shipper.AwaitReplicas(ctx, t, int(min(want, 1<<30))))
}

// handleReplicasWait answers REPLWAIT.
func (n *Node) handleReplicasWait(r *resp.Reply, req peer.ReplicasWait) {
	limit := min(time.Duration(req.TimeoutMS)*time.Millisecond, waitRound)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	r.Int(n.localReplicas(ctx, req.Table, int64(min(req.Want, 1<<30))))
}
