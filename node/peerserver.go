package node

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/node/txn"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
)

// The peer port (port+10000) serves other nodes only: the requests of
// package peer's protocol, after PEERAUTH with the cluster secret
// (peer.Authenticate), dispatched by the request table (newPeerMux) to the handlers here, of
// node/txn (UNIT, U*), of replication.Follower (REPLICATE, SYNC*) and of
// replication.Raft (RAFT*). Anything else is refused, logged, and the
// connection closed. Run accepts its connections (Node.accept, with a
// listen.Loop) and serves each with servePeer.

func (n *Node) servePeer(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	remote := c.RemoteAddr().String()
	// Until PEERAUTH passes, a connection is one of a bounded number, and
	// its first command is small (resp.Limits.Unauthenticated).
	if n.peerUnauthed.Add(1) > maxUnauthedPeers {
		n.peerUnauthed.Add(-1)
		n.peerRejects.log(n.log, remote, "too many connections waiting for PEERAUTH")
		return
	}
	authed := false
	defer func() {
		if !authed {
			n.peerUnauthed.Add(-1)
		}
	}()
	rd := resp.NewReader(c, resp.Limits{MaxBulk: n.cfg.MaxBulkBytes, MaxQuery: n.cfg.MaxQueryBytes, Budget: n.queries,
		Unauthenticated: func() bool { return !authed }})
	defer rd.Release()
	reject := func(msg string) {
		n.peerRejects.log(n.log, remote, msg)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write([]byte("-ERR " + msg + "\r\n"))
	}
	c.SetReadDeadline(time.Now().Add(peer.AuthTimeout))
	args, err := rd.ReadCommand()
	if err != nil {
		var pe *resp.ProtocolError
		if errors.As(err, &pe) {
			reject("protocol error before PEERAUTH: " + pe.Msg)
		} else {
			n.peerRejects.log(n.log, remote, "connection closed before PEERAUTH: "+err.Error())
		}
		return
	}
	var secret string
	snap := n.proxy.Routing()
	if snap != nil {
		secret = snap.Secret
	}
	auth, err := peer.Authenticate(args, secret, snap == nil)
	if err != nil {
		reject(err.Error())
		return
	}
	peerID := auth.Node
	authed = true
	n.peerUnauthed.Add(-1)
	c.SetReadDeadline(time.Time{})
	c.Write([]byte("+OK\r\n"))
	rd.Release()

	var out resp.Reply
	// The keyspace events of the commands run here for other nodes'
	// clients are published here, before their replies go back.
	events := command.NewEvents(&n.notifyClasses)
	defer n.publishEvents(events) // after the last commit (deferred below)
	cctx := command.Ctx{Config: n.configValue, R: &out, Engine: n.eng, Cursors: n.cursors, Reroute: true, Commits: n.commits, OtherTable: n.otherTable(nil), Events: events}
	// Forwarded point writes of a pipeline share one commit, as a
	// client's do (conn.go): a peer link carries many clients' commands.
	pb := command.NewPipeline(n.eng.NewBatch(n.commits), &out, rd.Release, func([][]byte) []byte { return []byte("-" + refuseMoved + "\r\n") })
	defer pb.Commit()
	for {
		args, err := rd.ReadCommand()
		if err != nil {
			pb.Commit()
			n.publishEvents(events)
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				n.log.Warn("peer port: protocol error", "peer", peerID, "remote", remote, "err", pe.Msg)
				out.Error("ERR " + pe.Error())
			}
			c.Write(out.B)
			return
		}
		if len(args) > 0 {
			n.peerMux.Serve(peerCall{c: &cctx, pb: pb}, args)
			cctx.Args, cctx.OwnsSlot, out.Resp3 = nil, nil, false
		}
		if !pb.Holding() {
			rd.Release()
		}
		if !rd.CompleteBuffered() || pb.Full() {
			pb.Commit()
		}
		if rd.Buffered() == 0 || out.Len() >= flushThreshold {
			pb.Commit()
			n.publishEvents(events)
			c.SetWriteDeadline(time.Now().Add(n.cfg.ClientWriteTimeout))
			if _, err := c.Write(out.B); err != nil {
				return
			}
			out.Reset()
		}
	}
}

// peerCall is what a peer request's handler is given: the command
// context (its reply buffer) and the link's pipeline batch.
type peerCall struct {
	c  *command.Ctx
	pb *command.Pipeline
}

// newPeerMux builds the peer port's request table (package peer lists
// the protocol). FWD may join the link's pipeline batch; every other
// request commits the batch first, so that a batch's replies stay
// contiguous.
func (n *Node) newPeerMux() *peer.Mux[peerCall] {
	m := peer.NewMux(func(pc peerCall, reply string) {
		pc.pb.Commit()
		pc.c.R.Error(reply)
	})
	peer.Handle(m, peer.ParseForward, n.execForwarded)
	peer.Handle(m, peer.ParseCounts, committed(n.peerCounts))
	peer.Handle(m, peer.ParsePositions, replying(n.slots.HandlePositions))
	peer.Handle(m, peer.ParseChecksum, replying(n.slots.HandleChecksum))
	peer.Handle(m, peer.ParseSlotSize, replying(n.slots.HandleSlotSize))
	peer.Handle(m, peer.ParseReplicate, replying(n.follower.Replicate))
	peer.Handle(m, peer.ParseSyncBegin, replying(n.follower.SyncBegin))
	peer.Handle(m, peer.ParseSyncData, replying(n.follower.SyncData))
	peer.Handle(m, peer.ParseSyncEnd, replying(n.follower.SyncEnd))
	peer.Handle(m, peer.ParseRaft, replying(n.raft.HandleRaft))
	peer.Handle(m, peer.ParseRaftTransfer, replying(n.raft.HandleTransfer))
	peer.Handle(m, peer.ParseRaftSnapBegin, replying(n.raft.HandleSnapBegin))
	peer.Handle(m, peer.ParseRaftSnapData, replying(n.raft.HandleSnapData))
	peer.Handle(m, peer.ParsePubsubPublish, replying(n.pubsubCluster.HandlePublish))
	peer.Handle(m, peer.ParsePubsubInterest, replying(n.pubsubCluster.HandleInterest))
	peer.Handle(m, peer.ParsePubsubState, replying(n.pubsubCluster.HandleState))
	peer.Handle(m, peer.ParsePubsubQuery, replying(n.pubsubCluster.HandleQuery))
	peer.Handle(m, peer.ParseBlockWait, replying(n.blocked.HandleWait))
	peer.Handle(m, peer.ParseBlockReady, replying(n.blocked.HandleReady))
	peer.Handle(m, peer.ParseBlockSynced, replying(n.blocked.HandleSynced))
	peer.Handle(m, peer.ParseConfigSet, replying(n.handleConfigSet))
	peer.Handle(m, peer.ParseReplicasWait, replying(n.handleReplicasWait))
	peer.Handle(m, peer.ParseClientPause, replying(n.handleClientPause))
	txn.RegisterPeer(m, n.txns, func(pc peerCall) *command.Ctx { // UNIT and the U* requests
		pc.pb.Commit()
		return pc.c
	})
	return m
}

// replying adapts a handler that only writes its reply (replication's):
// the batch is committed first, as for committed.
func replying[R any](h func(*resp.Reply, R)) func(peerCall, R) {
	return committed(func(c *command.Ctx, req R) { h(c.R, req) })
}

// committed adapts the handler of a request that does not join the
// link's pipeline batch: the batch is committed first.
func committed[R any](h func(*command.Ctx, R)) func(peerCall, R) {
	return func(pc peerCall, req R) {
		pc.pb.Commit()
		h(pc.c, req)
	}
}

// execForwarded answers a FWD after checking that this node leads every
// slot named at that epoch, or, with no slots, runs a table-wide command
// over this node's slots. Point writes join the link's pipeline batch.
func (n *Node) execForwarded(pc peerCall, req peer.Forward) {
	c, pb := pc.c, pc.pb
	c.R.Resp3 = req.Resp3 // the asker's client's protocol; reset after the request
	spec, errReply, stale := n.prepareForwarded(c, req)
	if stale != nil {
		// The asker's routing may be newer than this node's (a table just
		// created, a slot just moved here): catch up, then check again,
		// rather than send the asker into retries. Never wait with the
		// batch's slot locks held.
		pb.Commit()
		n.catchUp(stale, n.peerCatchUpWait())
		spec, errReply, _ = n.prepareForwarded(c, req)
	}
	if errReply != "" {
		pb.Commit() // a batch's replies stay contiguous
		c.R.Error(errReply)
		return
	}
	if c.OwnsSlot == nil && spec.Batchable != nil && spec.Batchable(c.Args) {
		// A raft table's command keeps its arguments: their keys say
		// which slots' outcome answers it (a refusal needs none).
		pb.Run(spec, c, n.raftTable(c.Table))
		return
	}
	pb.Commit()
	// The reply stops growing past the client output limit (a part of
	// KEYS over millions of keys): an error instead of the reply built
	// whole. Only here: every other request's reply is sent whole.
	mark := c.R.Len()
	c.R.Max = mark + n.cfg.MaxOutputBytes
	defer func() {
		if c.R.Over {
			c.R.B, c.R.Over = c.R.B[:mark], false
			c.R.Error("ERR the reply is larger than the client output buffer limit")
		}
		c.R.Max = 0
	}()
	if tb, ok := n.proxy.Routing().Table(c.Table); ok {
		if msg, moved := n.linearizable(tb, spec, c.Args); moved {
			c.R.Error(refuseMoved)
			return
		} else if msg != "" {
			c.R.Error(msg)
			return
		}
	}
	command.Run(spec, c)
	if c.Rerouted {
		c.Rerouted = false
		c.R.Error(refuseMoved)
	}
}

// refuseMoved refuses a forwarded command that had no effect because its
// raft slot's leader moved: the asker routes it again.
var refuseMoved = peer.Refuse("the slot's raft leader moved")

func (n *Node) peerCounts(c *command.Ctx, req peer.Counts) {
	tb, ok := n.proxy.Routing().Table(req.Table)
	if !ok {
		tb, ok = n.caughtUp(n.peerCatchUpWait()).Table(req.Table)
	}
	if !ok {
		c.R.Error(peer.Refuse("no table " + strconv.FormatUint(uint64(req.Table), 10)))
		return
	}
	keys, expires := n.ownedCounts(tb)
	c.R.Array(2)
	c.R.Int(keys)
	c.R.Int(expires)
}

// prepareForwarded checks a FWD request (the command here, its routing by
// router.Proxy.AdmitForward) and sets c up to run it; it returns the error
// reply instead when it must not run, and with it what this node may be
// behind on when the refusal could be its own stale routing.
func (n *Node) prepareForwarded(c *command.Ctx, req peer.Forward) (*command.Spec, string, *router.Behind) {
	cmd := req.Command
	spec := n.tbl.Lookup(cmd[0])
	if spec == nil || spec.Cluster == router.Server {
		return nil, "ERR command not forwardable: " + string(cmd[0]), nil
	}
	if !spec.ArityOK(len(cmd)) {
		return nil, string(command.WrongArgs(spec.Name)), nil
	}
	adm, errReply, behind := n.proxy.AdmitForward(req)
	if errReply != "" {
		return nil, errReply, behind
	}
	c.Args, c.Table, c.Slots = cmd, adm.Table.ID, adm.Table.Slots
	if adm.Owned {
		c.OwnsSlot = ownedBy(adm.Table, n.id)
	}
	return spec, "", nil
}

// ownedCounts sums the key and TTL counts of the slots of tb this node leads.
func (n *Node) ownedCounts(tb *router.Table) (keys, expires int64) {
	if tb.AllLocal() {
		return n.eng.Counts(tb.ID)
	}
	return n.eng.CountsWhere(tb.ID, ownedBy(tb, n.id))
}
