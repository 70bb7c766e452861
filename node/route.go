package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The embedded proxy: every command is routed by its keys' slots. A slot
// this node leads runs here; another node's slot is forwarded to it over
// the peer link and its reply relayed in order; a slot without a live
// leader answers CLUSTERDOWN at once.

// errDroppedTable answers a command on a connection whose table was dropped.
func errDroppedTable(t storage.TableID) string {
	return fmt.Sprintf("ERR table %d no longer exists (it was dropped); SELECT another", t)
}

// decide routes one command of table tb under snapshot snap
// (router.Decide, with this node's raft groups).
func (n *Node) decide(spec *command.Spec, args [][]byte, tb *router.Table, snap *router.Snapshot) router.Decision {
	return router.Decide(snap, tb, routedCommand(spec, args), n.raftView())
}

// routedCommand is what routing needs of a command: its class and keys.
func routedCommand(spec *command.Spec, args [][]byte) router.Command {
	cmd := router.Command{Class: spec.Cluster}
	if cmd.Class == router.Server {
		return cmd
	}
	if spec.Keys == nil && spec.FirstKey > 0 && spec.LastKey == spec.FirstKey && spec.FirstKey < len(args) {
		// One key position (most commands): no allocation.
		cmd.Keys = args[spec.FirstKey : spec.FirstKey+1]
		return cmd
	}
	keys, err := spec.KeysOf(args)
	cmd.Keys, cmd.BadKeys = keys, err != nil
	return cmd
}

// forwardReq is the FWD request for args on the given slots, each at
// its epoch in tb.
func forwardReq(tb *router.Table, slots []storage.SlotID, args [][]byte) peer.Forward {
	req := peer.Forward{Table: tb.ID, Slots: make([]peer.SlotEpoch, len(slots)), Command: args}
	for i, s := range slots {
		req.Slots[i] = peer.SlotEpoch{Slot: s, Epoch: tb.Route(s).Epoch}
	}
	return req
}

// send forwards args (on slots, of table tb) to node id, on the
// connection of its first slot.
func (n *Node) send(snap *router.Snapshot, id meta.NodeID, tb *router.Table, slots []storage.SlotID, args [][]byte) *peer.Future {
	info, _ := snap.Node(id)
	key := uint32(0)
	if len(slots) > 0 {
		key = uint32(slots[0])
	}
	return n.links.Do(info.Peer, peer.ClassForward, key, forwardReq(tb, slots, args))
}

// refused reports whether a raw reply is a peer's refusal
// (peer.RefusedError): the routing changed, nothing ran.
func refused(raw []byte) bool {
	var re *peer.RefusedError
	return errors.As(peer.ReplyErr(raw), &re)
}

// waitReply waits for a forwarded reply; a failure becomes CLUSTERDOWN.
func (n *Node) waitReply(f *peer.Future, leader meta.NodeID) ([]byte, bool) {
	raw, err := f.Wait(context.Background(), n.cfg.ForwardTimeout)
	if err != nil {
		return []byte(fmt.Sprintf("-CLUSTERDOWN the leader %s did not answer: %v\r\n", leader, err)), false
	}
	return raw, true
}

// pendingReply is a forwarded command's reply that belongs at offset at
// of the connection's reply buffer.
type pendingReply struct {
	at     int
	fut    *peer.Future
	leader meta.NodeID
	args   [][]byte // a copy, to run again after a refusal
	table  storage.TableID
}

// pendingReplies are a connection's forwarded commands whose replies
// have not been placed yet, all routed with the snapshot of revision rev.
type pendingReplies struct {
	list []pendingReply
	rev  int64
}

// copyArgs copies args out of the reader's buffer, which is reused.
func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a):]
	}
	return out
}

// resolvePending waits for every pending reply and splices them into out
// in order. A refused one (the routing changed) is routed again with a
// newer snapshot and run once more.
func (n *Node) resolvePending(cl *client, out *resp.Reply) {
	p := &cl.pending
	if len(p.list) == 0 {
		return
	}
	for _, pr := range p.list {
		pr.fut.Flush() // every peer gets its requests before we wait on one
	}
	var b []byte
	prev := 0
	waited := false
	for _, pr := range p.list {
		raw, _ := n.waitReply(pr.fut, pr.leader)
		if refused(raw) {
			// Once for the batch: when the refusals come from a peer
			// whose routing lags, this node's never gets newer, and
			// each refused forward would wait the whole second.
			// reroute retries on its own.
			if !waited {
				n.awaitNewerSnapshot(p.rev, time.Second)
				waited = true
			}
			raw = n.reroute(cl, pr.table, pr.args)
		}
		b = append(b, out.B[prev:pr.at]...)
		b = append(b, raw...)
		prev = pr.at
	}
	b = append(b, out.B[prev:]...)
	out.B = b
	p.list = p.list[:0]
}

// reroute runs a command of table again, here or on its slot's new
// leader: its forward was refused (the routing changed), or it had no
// effect here because its raft slot's leader moved. Refused again (the
// other node's routing lags, or a handover is still running), it waits a
// little and tries again, for at most handoverWait: a routing change costs
// the client time, not an error. args are not kept after it returns.
func (n *Node) reroute(cl *client, table storage.TableID, args [][]byte) []byte {
	deadline := time.Now().Add(handoverWait)
	spec := n.tbl.Lookup(args[0])
	for {
		snap := n.snap.Load()
		tb, ok := snap.Table(table)
		if !ok {
			return []byte("-" + errDroppedTable(table) + "\r\n")
		}
		r := n.decide(spec, args, tb, snap)
		if r.Kind == router.Wait { // a dropped table comes back as router.Refuse
			snap, tb, r = n.waitHandover(snap, table, spec, args)
		}
		switch r.Kind {
		case router.Local:
			var tmp resp.Reply
			c := command.Ctx{R: &tmp, Engine: n.eng, Cursors: n.cursors, Conn: cl, Table: tb.ID, Slots: tb.Slots, Args: args, Reroute: true, Commits: n.commits}
			msg, moved := n.linearizable(tb, spec, args)
			if msg != "" && !moved {
				return []byte("-" + msg + "\r\n")
			}
			if !moved {
				command.Run(spec, &c)
				if !c.Rerouted {
					return tmp.B
				}
			}
			// The slot's raft leader moved meanwhile: route again.
			if time.Now().After(deadline) {
				return []byte("-CLUSTERDOWN the slot's leadership is changing; retry\r\n")
			}
			n.awaitNewerSnapshot(snap.Revision, 50*time.Millisecond)
		case router.Remote:
			raw, _ := n.waitReply(n.send(snap, r.Leader, tb, []storage.SlotID{r.Slot}, args), r.Leader)
			if !refused(raw) {
				return raw
			}
			if time.Now().After(deadline) {
				return []byte("-CLUSTERDOWN the slot's leadership is changing; retry\r\n")
			}
			n.awaitNewerSnapshot(snap.Revision, 50*time.Millisecond)
		case router.Refuse:
			return []byte("-" + r.Err + "\r\n")
		default:
			return []byte("-CLUSTERDOWN the slot's leadership is changing; retry\r\n")
		}
	}
}

// publishSnapshot makes snap the routing and wakes the commands waiting
// for newer routing; it returns the snapshot it replaced.
func (n *Node) publishSnapshot(snap *router.Snapshot) *router.Snapshot {
	prev := n.snap.Swap(snap)
	next := make(chan struct{})
	if old := n.snapNext.Swap(&next); old != nil {
		close(*old)
	}
	return prev
}

// awaitNewerSnapshot waits up to limit for a routing snapshot newer than rev.
func (n *Node) awaitNewerSnapshot(rev int64, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		// The channel is taken before the revision is read: a snapshot
		// published in between closes it.
		next := n.snapNext.Load()
		if s := n.snap.Load(); s != nil && s.Revision > rev {
			return
		}
		if next == nil {
			return // no routing yet: nothing will close it
		}
		select {
		case <-*next:
		case <-timer.C:
			return
		}
	}
}

// forwardOne queues a single-slot command for its leader; its reply is
// placed when the connection flushes.
func (n *Node) forwardOne(cl *client, c *command.Ctx, tb *router.Table, snap *router.Snapshot, r router.Decision) {
	if len(cl.pending.list) == 0 {
		cl.pending.rev = snap.Revision
	}
	args := copyArgs(c.Args)
	cl.pending.list = append(cl.pending.list, pendingReply{
		at:     c.R.Len(),
		fut:    n.send(snap, r.Leader, tb, []storage.SlotID{r.Slot}, args),
		leader: r.Leader,
		args:   args,
		table:  tb.ID,
	})
}

// ownedBy returns the OwnsSlot filter of node id for table tb.
func ownedBy(tb *router.Table, id meta.NodeID) func(storage.SlotID) bool {
	return func(s storage.SlotID) bool { return tb.Leads(id, s) }
}

// runLocal runs args here on the slots this node leads, into a fresh reply.
func (n *Node) runLocal(cl *client, tb *router.Table, args [][]byte, owned bool) []byte {
	spec := n.tbl.Lookup(args[0])
	var tmp resp.Reply
	c := command.Ctx{R: &tmp, Engine: n.eng, Cursors: n.cursors, Conn: cl, Table: tb.ID, Slots: tb.Slots, Args: args, Commits: n.commits}
	if owned {
		c.OwnsSlot = ownedBy(tb, n.id)
	}
	command.Run(spec, &c)
	return tmp.B
}

// fanOutCommand splits MGET/MSET/DEL/UNLINK/EXISTS/TOUCH by leader, runs
// the parts (here and on peers) and merges their replies in key order.
func (n *Node) fanOutCommand(cl *client, c *command.Ctx, spec *command.Spec, tb *router.Table, snap *router.Snapshot) {
	step := 1
	if spec.Name == "mset" {
		step = 2
		if (len(c.Args)-1)%2 != 0 {
			c.R.Error(string(command.WrongArgs(spec.Name)))
			return
		}
	}
	type part struct {
		leader meta.NodeID
		slots  []storage.SlotID
		args   [][]byte
		index  []int // positions of the part's keys in the command
	}
	var parts []*part
	byLeader := map[meta.NodeID]*part{}
	for i, k := 1, 0; i < len(c.Args); i, k = i+step, k+1 {
		s := router.SlotOf(c.Args[i], tb.Slots)
		if msg := router.LeaderDown(snap, tb, s); msg != "" {
			c.R.Error(msg)
			return
		}
		leader := tb.Route(s).Leader
		p := byLeader[leader]
		if p == nil {
			p = &part{leader: leader, args: [][]byte{c.Args[0]}}
			byLeader[leader] = p
			parts = append(parts, p)
		}
		if !slices.Contains(p.slots, s) {
			p.slots = append(p.slots, s)
		}
		p.args = append(p.args, c.Args[i:i+step]...)
		p.index = append(p.index, k)
	}
	futs := make([]*peer.Future, len(parts))
	for i, p := range parts {
		if p.leader != n.id {
			futs[i] = n.send(snap, p.leader, tb, p.slots, copyArgs(p.args))
		}
	}
	for _, f := range futs {
		if f != nil {
			f.Flush()
		}
	}
	replies := make([][]byte, len(parts))
	for i, p := range parts {
		if p.leader == n.id {
			replies[i] = n.runLocal(cl, tb, p.args, false)
			continue
		}
		raw, ok := n.waitReply(futs[i], p.leader)
		if ok && refused(raw) {
			raw = []byte("-CLUSTERDOWN a slot's leadership is changing; retry\r\n")
		}
		replies[i] = raw
	}
	for _, raw := range replies {
		if peer.IsError(raw) {
			c.R.B = append(c.R.B, raw...)
			return
		}
	}
	switch spec.Name {
	case "mset":
		c.R.OK()
	case "mget":
		vals := make([][]byte, (len(c.Args)-1)/step)
		for i, p := range parts {
			elems, err := peer.Elems(replies[i])
			if err != nil || len(elems) != len(p.index) {
				c.R.Error(fmt.Sprintf("ERR bad reply from %s: %v", p.leader, err))
				return
			}
			for j, e := range elems {
				vals[p.index[j]] = e
			}
		}
		c.R.Array(len(vals))
		for _, v := range vals {
			c.R.B = append(c.R.B, v...)
		}
	default: // del unlink exists touch: counts
		var total int64
		for i, p := range parts {
			v, err := peer.Int(replies[i])
			if err != nil {
				c.R.Error(fmt.Sprintf("ERR bad reply from %s: %v", p.leader, err))
				return
			}
			total += v
		}
		c.R.Int(total)
	}
}

// tableWideCommand runs DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL
// over every node that leads slots of the table and merges the replies.
func (n *Node) tableWideCommand(cl *client, c *command.Ctx, spec *command.Spec, tb *router.Table, snap *router.Snapshot) {
	if spec.Name == "scan" {
		n.scanCluster(cl, c, tb, snap)
		return
	}
	// Every leader must be up before anything runs (a FLUSHDB must not
	// empty some nodes and not others).
	var others []meta.NodeID
	for _, id := range tb.Leaders() {
		if id == "" {
			c.R.Error(fmt.Sprintf("CLUSTERDOWN table %s has slots without a leader", tb.Name))
			return
		}
		if id == n.id {
			continue
		}
		if _, ok := snap.Node(id); !ok {
			c.R.Error(fmt.Sprintf("CLUSTERDOWN table %s is not fully served: node %s is down", tb.Name, id))
			return
		}
		others = append(others, id)
	}
	// Run here first: a syntax error is answered before anything is sent.
	local := n.runLocal(cl, tb, c.Args, true)
	if peer.IsError(local) {
		c.R.B = append(c.R.B, local...)
		return
	}
	if spec.Name == "randomkey" {
		if string(local) != "$-1\r\n" {
			c.R.B = append(c.R.B, local...)
			return
		}
		rand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		for _, id := range others {
			raw, ok := n.waitReply(n.send(snap, id, tb, nil, c.Args), id)
			if ok && refused(raw) {
				raw = refusedTableWide(id, tb)
			}
			if !ok || peer.IsError(raw) || string(raw) != "$-1\r\n" {
				c.R.B = append(c.R.B, raw...)
				return
			}
		}
		c.R.Null()
		return
	}
	futs := make([]*peer.Future, len(others))
	args := copyArgs(c.Args)
	for i, id := range others {
		futs[i] = n.send(snap, id, tb, nil, args)
	}
	for _, f := range futs {
		f.Flush()
	}
	replies := [][]byte{local}
	for i, id := range others {
		raw, _ := n.waitReply(futs[i], id)
		if refused(raw) {
			raw = refusedTableWide(id, tb)
		}
		if peer.IsError(raw) {
			c.R.B = append(c.R.B, raw...)
			return
		}
		replies = append(replies, raw)
	}
	switch spec.Name {
	case "dbsize":
		var total int64
		for _, raw := range replies {
			v, err := peer.Int(raw)
			if err != nil {
				c.R.Error("ERR bad DBSIZE reply from a peer")
				return
			}
			total += v
		}
		c.R.Int(total)
	case "keys":
		var all [][]byte
		for _, raw := range replies {
			elems, err := peer.Elems(raw)
			if err != nil {
				c.R.Error("ERR bad KEYS reply from a peer")
				return
			}
			all = append(all, elems...)
		}
		c.R.Array(len(all))
		for _, e := range all {
			c.R.B = append(c.R.B, e...)
		}
	default: // flushdb, flushall
		c.R.OK()
	}
}

// refusedTableWide is the client's error for a table-wide command's part
// that node id refused: it does not serve the table (even after catching
// up with etcd), a routing change the client retries through. The peer
// protocol's refusal is never handed to a client.
func refusedTableWide(id meta.NodeID, tb *router.Table) []byte {
	return []byte(fmt.Sprintf("-CLUSTERDOWN node %s does not serve table %s (the routing is changing); retry\r\n", id, tb.Name))
}

// scanMaxSteps bounds the peer calls one client SCAN makes.
const scanMaxSteps = 64

// scanCluster serves SCAN across nodes: the cursor names a slot; each step
// runs on that slot's leader, which walks its own slots and stops at the
// first slot another node leads, returning a cursor naming it. Steps are
// chained until COUNT keys are gathered or the table is done, so a
// client's SCAN loop sees every key once (when nothing changes).
func (n *Node) scanCluster(cl *client, c *command.Ctx, tb *router.Table, snap *router.Snapshot) {
	want := 10
	for i := 2; i+1 < len(c.Args); i += 2 {
		if strings.EqualFold(string(c.Args[i]), "count") {
			if v, err := strconv.Atoi(string(c.Args[i+1])); err == nil && v > 0 {
				want = v
			}
		}
	}
	slot, err := command.ScanCursorSlot(c.Args[1])
	if err != nil {
		c.R.Error(err.Error())
		return
	}
	if uint32(slot) >= tb.Slots {
		slot = 0
	}
	args := copyArgs(c.Args)
	var keys [][]byte
	cursor := args[1]
	for step := 0; ; step++ {
		args[1] = cursor
		var raw []byte
		leader := tb.Route(slot).Leader
		if leader == n.id {
			raw = n.runLocal(cl, tb, args, true)
		} else {
			if msg := router.LeaderDown(snap, tb, slot); msg != "" {
				c.R.Error(msg)
				return
			}
			var ok bool
			raw, ok = n.waitReply(n.send(snap, leader, tb, []storage.SlotID{slot}, args), leader)
			if ok && refused(raw) {
				raw = []byte("-CLUSTERDOWN the slot's leadership is changing; retry\r\n")
			}
		}
		if peer.IsError(raw) {
			c.R.B = append(c.R.B, raw...)
			return
		}
		elems, err := peer.Elems(raw)
		if err != nil || len(elems) != 2 {
			c.R.Error("ERR bad SCAN reply")
			return
		}
		next, err1 := bulkValue(elems[0])
		ks, err2 := peer.Elems(elems[1])
		if err1 != nil || err2 != nil {
			c.R.Error("ERR bad SCAN reply")
			return
		}
		keys = append(keys, ks...)
		cursor = next
		if string(next) == "0" || len(keys) >= want || step+1 >= scanMaxSteps {
			break
		}
		if slot, err = command.ScanCursorSlot(next); err != nil || uint32(slot) >= tb.Slots {
			c.R.Error("ERR bad SCAN cursor from a peer")
			return
		}
	}
	c.R.Array(2)
	c.R.Bulk(cursor)
	c.R.Array(len(keys))
	for _, k := range keys {
		c.R.B = append(c.R.B, k...)
	}
}

// bulkValue returns the content of a raw bulk string reply.
func bulkValue(raw []byte) ([]byte, error) {
	if len(raw) < 4 || raw[0] != '$' {
		return nil, peer.ErrProtocol
	}
	i := 1
	for i < len(raw) && raw[i] != '\r' {
		i++
	}
	n, err := strconv.Atoi(string(raw[1:i]))
	if err != nil || n < 0 || i+2+n+2 != len(raw) {
		return nil, peer.ErrProtocol
	}
	return raw[i+2 : i+2+n], nil
}

// clusterCounts sums a table's key and TTL counts over the nodes leading
// its slots (INFO keyspace). A node that does not answer counts as empty.
func (n *Node) clusterCounts(snap *router.Snapshot, tb *router.Table) (keys, expires int64) {
	keys, expires = n.ownedCounts(tb)
	var futs []*peer.Future
	for _, id := range tb.Leaders() {
		if info, ok := snap.Node(id); ok && id != n.id {
			futs = append(futs, n.links.Do(info.Peer, peer.ClassForward, 0, peer.Counts{Table: tb.ID}))
		}
	}
	for _, f := range futs {
		raw, err := f.Wait(context.Background(), n.cfg.ForwardTimeout)
		if err != nil {
			continue
		}
		elems, err := peer.Elems(raw)
		if err != nil || len(elems) != 2 {
			continue
		}
		k, err1 := peer.Int(elems[0])
		e, err2 := peer.Int(elems[1])
		if err1 == nil && err2 == nil {
			keys += k
			expires += e
		}
	}
	return keys, expires
}

// handoverWait bounds how long a command waits for a slot's new leader.
const handoverWait = 5 * time.Second

// waitHandover waits, at most handoverWait, until the routing no longer
// holds the command (a slot it needs being handed over), and decides
// again; a route still waiting after that becomes CLUSTERDOWN.
func (n *Node) waitHandover(snap *router.Snapshot, table storage.TableID, spec *command.Spec, args [][]byte) (*router.Snapshot, *router.Table, router.Decision) {
	deadline := time.Now().Add(handoverWait)
	for time.Now().Before(deadline) {
		n.awaitNewerSnapshot(snap.Revision, time.Until(deadline))
		snap = n.snap.Load()
		tb, ok := snap.Table(table)
		if !ok {
			return snap, nil, router.Decision{Kind: router.Refuse, Err: errDroppedTable(table)}
		}
		if r := n.decide(spec, args, tb, snap); r.Kind != router.Wait {
			return snap, tb, r
		}
	}
	tb, _ := snap.Table(table)
	return snap, tb, router.Decision{Kind: router.Refuse, Err: "CLUSTERDOWN a slot's leadership handover did not finish in time; retry"}
}
