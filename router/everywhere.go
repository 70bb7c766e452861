package router

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// Everywhere runs cmd, a TableWide command with arguments args that
// Decide said to run everywhere (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB,
// FLUSHALL), over every node that leads slots of tb, here through run, and
// merges the replies into out.
func (p *Proxy) Everywhere(run Runner, out *resp.Reply, snap *Snapshot, tb *Table, cmd Command, args [][]byte) {
	if cmd.Merge == MergeScan {
		p.scan(run, out, snap, tb, args)
		return
	}
	// Every leader must be up before anything runs (a FLUSHDB must not
	// empty some nodes and not others).
	var others []meta.NodeID
	for _, id := range tb.Leaders() {
		if id == "" {
			out.Error(fmt.Sprintf("CLUSTERDOWN table %s has slots without a leader", tb.Name))
			return
		}
		if id == p.cfg.Self {
			continue
		}
		if _, ok := snap.Node(id); !ok {
			out.Error(fmt.Sprintf("CLUSTERDOWN table %s is not fully served: node %s is down", tb.Name, id))
			return
		}
		others = append(others, id)
	}
	// Run here first: a syntax error is answered before anything is sent.
	local := run.RunPart(tb, args, true)
	if peer.IsError(local) {
		out.Raw(local)
		return
	}
	if cmd.Merge == MergeRandom {
		p.random(run, out, snap, tb, args, local, others)
		return
	}
	futs := make([]*peer.Future, len(others))
	args = CopyArgs(args)
	for i, id := range others {
		futs[i] = p.send(snap, id, tb, nil, args, out.Resp3)
	}
	for _, f := range futs {
		f.Flush()
	}
	replies := [][]byte{local}
	for i, id := range others {
		raw, _ := p.wait(futs[i], id)
		if refused(raw) {
			raw = refusedTableWide(id, tb)
		}
		if peer.IsError(raw) {
			out.Raw(raw)
			return
		}
		replies = append(replies, raw)
	}
	switch cmd.Merge {
	case MergeSum:
		var total int64
		for _, raw := range replies {
			v, err := peer.Int(raw)
			if err != nil {
				out.Error(fmt.Sprintf("ERR bad %s reply from a peer", strings.ToUpper(cmd.Name)))
				return
			}
			total += v
		}
		out.Int(total)
	case MergeConcat:
		var all [][]byte
		for _, raw := range replies {
			elems, err := peer.Elems(raw)
			if err != nil {
				out.Error(fmt.Sprintf("ERR bad %s reply from a peer", strings.ToUpper(cmd.Name)))
				return
			}
			all = append(all, elems...)
		}
		out.Array(len(all))
		for _, e := range all {
			out.Raw(e)
		}
	default: // MergeOK
		out.OK()
	}
}

// random answers a MergeRandom command: the reply of one node, picked
// with a chance in proportion to the keys it leads (each node's DBSIZE,
// asked of all at once), so that every key of the table is as likely; this
// node's reply is local. When the node picked has no key any more (deleted
// since), the others are tried in random order for a non-nil reply.
func (p *Proxy) random(run Runner, out *resp.Reply, snap *Snapshot, tb *Table, args [][]byte, local []byte, others []meta.NodeID) {
	null := "$-1\r\n"
	if out.Resp3 {
		null = "_\r\n"
	}
	counts := make([]int64, len(others)+1) // others', then this node's
	futs := make([]*peer.Future, len(others))
	dbsize := [][]byte{[]byte("dbsize")}
	for i, id := range others {
		futs[i] = p.send(snap, id, tb, nil, dbsize, out.Resp3)
	}
	for _, f := range futs {
		f.Flush()
	}
	var total int64
	for i, id := range others {
		if raw, ok := p.wait(futs[i], id); ok {
			counts[i], _ = peer.Int(raw) // a refusal counts 0: the fallback below asks it anyway
		}
		total += counts[i]
	}
	if n, err := peer.Int(run.RunPart(tb, dbsize, true)); err == nil {
		counts[len(others)] = n
		total += n
	}
	order := make([]int, 0, len(counts))
	if total > 0 {
		r := rand.Int64N(total)
		for i, n := range counts {
			if r < n {
				order = append(order, i)
				break
			}
			r -= n
		}
	}
	for _, i := range rand.Perm(len(counts)) {
		if len(order) == 0 || i != order[0] {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if i == len(others) {
			if string(local) != null {
				out.Raw(local)
				return
			}
			continue
		}
		id := others[i]
		raw, ok := p.wait(p.send(snap, id, tb, nil, args, out.Resp3), id)
		if ok && refused(raw) {
			raw = refusedTableWide(id, tb)
		}
		if !ok || peer.IsError(raw) || string(raw) != null {
			out.Raw(raw)
			return
		}
	}
	out.Null()
}

// refusedTableWide is the client's error for a table-wide command's part
// that node id refused: it does not serve the table (even after catching
// up with etcd), a routing change the client retries through. The peer
// protocol's refusal is never handed to a client.
func refusedTableWide(id meta.NodeID, tb *Table) []byte {
	return []byte(fmt.Sprintf("-CLUSTERDOWN node %s does not serve table %s (the routing is changing); retry\r\n", id, tb.Name))
}

// scanMaxSteps bounds the peer calls one client SCAN makes.
const scanMaxSteps = 64

// scan serves SCAN across nodes: the cursor names a slot; each step runs
// on that slot's leader, which walks its own slots and stops at the first
// slot another node leads, returning a cursor naming it. Steps are
// chained until COUNT keys are gathered or the table is done, so a
// client's SCAN loop sees every key once (when nothing changes).
func (p *Proxy) scan(run Runner, out *resp.Reply, snap *Snapshot, tb *Table, args [][]byte) {
	want := 10
	for i := 2; i+1 < len(args); i += 2 {
		if strings.EqualFold(string(args[i]), "count") {
			if v, err := strconv.Atoi(string(args[i+1])); err == nil && v > 0 {
				want = v
			}
		}
	}
	slot, err := p.cfg.CursorSlot(args[1])
	if err != nil {
		out.Error(err.Error())
		return
	}
	if uint32(slot) >= tb.Slots {
		slot = 0
	}
	args = CopyArgs(args)
	var keys [][]byte
	cursor := args[1]
	for step := 0; ; step++ {
		args[1] = cursor
		var raw []byte
		leader := tb.Route(slot).Leader
		if leader == p.cfg.Self {
			raw = run.RunPart(tb, args, true)
		} else {
			if msg := LeaderDown(snap, tb, slot); msg != "" {
				out.Error(msg)
				return
			}
			var ok bool
			raw, ok = p.wait(p.send(snap, leader, tb, []SlotID{slot}, args, out.Resp3), leader)
			if ok && refused(raw) {
				raw = errorReply(errLeadershipChanging)
			}
		}
		if peer.IsError(raw) {
			out.Raw(raw)
			return
		}
		elems, err := peer.Elems(raw)
		if err != nil || len(elems) != 2 {
			out.Error("ERR bad SCAN reply")
			return
		}
		next, err1 := peer.Bulk(elems[0])
		ks, err2 := peer.Elems(elems[1])
		if err1 != nil || err2 != nil {
			out.Error("ERR bad SCAN reply")
			return
		}
		keys = append(keys, ks...)
		cursor = next
		if string(next) == "0" || len(keys) >= want || step+1 >= scanMaxSteps {
			break
		}
		if slot, err = p.cfg.CursorSlot(next); err != nil || uint32(slot) >= tb.Slots {
			out.Error("ERR bad SCAN cursor from a peer")
			return
		}
	}
	out.Array(2)
	out.Bulk(cursor)
	out.Array(len(keys))
	for _, k := range keys {
		out.Raw(k)
	}
}

// PeerCounts sums a table's key and TTL counts over the other nodes
// leading its slots (INFO keyspace adds this node's own). A node that
// does not answer counts as empty.
func (p *Proxy) PeerCounts(snap *Snapshot, tb *Table) (keys, expires int64) {
	var futs []*peer.Future
	for _, id := range tb.Leaders() {
		if info, ok := snap.Node(id); ok && id != p.cfg.Self {
			futs = append(futs, p.cfg.Links.Do(info.Peer, peer.ClassForward, 0, peer.Counts{Table: tb.ID}))
		}
	}
	for _, f := range futs {
		raw, err := f.Wait(context.Background(), p.cfg.ForwardTimeout)
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
