package router

import (
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// Pending are a connection's forwarded commands whose replies have not
// been placed in its reply buffer yet, all routed with the snapshot of
// one revision. The connection's goroutine owns it.
type Pending struct {
	list []pendingReply
	rev  int64
}

// pendingReply is a forwarded command's reply that belongs at offset at
// of the connection's reply buffer.
type pendingReply struct {
	at     int
	fut    *peer.Future
	leader meta.NodeID
	args   [][]byte // a copy, to run again after a refusal
	table  meta.TableID
}

// Len is how many replies are pending.
func (pd *Pending) Len() int { return len(pd.list) }

// Revision is the routing revision the pending forwards were routed with.
func (pd *Pending) Revision() int64 { return pd.rev }

// Forward sends args, a command of table tb that Decide sent to another
// node (d is Remote), to that node; its reply is placed at out's current
// end when the connection resolves its pending replies.
func (p *Proxy) Forward(pd *Pending, out *resp.Reply, snap *Snapshot, tb *Table, d Decision, args [][]byte) {
	if len(pd.list) == 0 {
		pd.rev = snap.Revision
	}
	args = CopyArgs(args)
	pd.list = append(pd.list, pendingReply{
		at:     out.Len(),
		fut:    p.send(snap, d.Leader, tb, p.slotsOf(tb, d, args), args, out.Resp3),
		leader: d.Leader,
		args:   args,
		table:  tb.ID,
	})
}

// Resolve waits for every pending reply and splices them into out in
// order. A refused one (the routing changed) is routed again with newer
// routing and run once more (Reroute).
func (p *Proxy) Resolve(pd *Pending, run Runner, out *resp.Reply) {
	if len(pd.list) == 0 {
		return
	}
	for _, pr := range pd.list {
		pr.fut.Flush() // every peer gets its requests before we wait on one
	}
	var b []byte
	prev := 0
	waited := false
	for _, pr := range pd.list {
		raw, _ := p.wait(pr.fut, pr.leader)
		if refused(raw) {
			// Once for the batch: when the refusals come from a peer
			// whose routing lags, this node's never gets newer, and
			// each refused forward would wait the whole second.
			// Reroute retries on its own.
			if !waited {
				p.AwaitNewer(pd.rev, time.Second)
				waited = true
			}
			raw = p.Reroute(run, pr.table, pr.args)
		}
		b = append(b, out.B[prev:pr.at]...)
		b = append(b, raw...)
		prev = pr.at
	}
	b = append(b, out.B[prev:]...)
	out.B = b
	pd.list = pd.list[:0]
}
