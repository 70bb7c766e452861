package node

import (
	"context"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
)

// catchUpWait bounds how long a command that names a table this node does
// not know (SELECT, AUTH table password) waits for the node to catch up
// with etcd before it is refused.
const catchUpWait = 2 * time.Second

// caughtUp returns the routing snapshot after making sure, for at most
// limit, that it holds every table etcd holds now
// (manager.Member.CatchUpTables: one coalesced etcd read, then the node's
// own watch). It is for a command that names a table the snapshot does
// not have, just before refusing it: a table created through another node
// may not have reached this one yet. A table the snapshot has never costs
// this round trip.
func (n *Node) caughtUp(limit time.Duration) *router.Snapshot {
	if n.member != nil {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		if err := n.member.CatchUpTables(ctx); err != nil {
			n.log.Debug("catching up with etcd before refusing an unknown table", "err", err)
		}
		cancel()
	}
	return n.proxy.Routing()
}

// peerCatchUpWait bounds a catch-up on the peer port: well within the
// asker's forward timeout, which it holds the peer connection for.
func (n *Node) peerCatchUpWait() time.Duration {
	return min(catchUpWait, n.cfg.ForwardTimeout/2)
}

// catchUp waits, at most limit, until this node's routing is as new as
// the asker's in what b names: for an unknown table, a catch-up with etcd
// (the asker may also be the stale one: a dropped table); for a newer
// epoch, until the node's own watch delivers it (the asker read it from
// etcd, so it is there).
func (n *Node) catchUp(b *router.Behind, limit time.Duration) {
	if b.UnknownTable {
		n.caughtUp(limit)
		return
	}
	if n.member == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_, _ = n.member.WaitState(ctx, func(st *meta.State) bool {
		si, ok := st.Slots[b.T][b.S]
		return ok && si.Epoch >= b.Epoch
	})
}
