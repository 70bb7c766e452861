package node

import (
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/node/tracking"
	"github.com/pika-node/pika-node/router"
)

// CLIENT TRACKING through any node (docs/tracking.md): the node's side of
// package tracking. A connection that tracks (or is redirected to) has an
// outbox (client.pushes) that holds its invalidations behind the replies
// of its commands in flight; the node tracks (pubsub.Hub.Track) every
// table its tracking clients use, so the writes of the whole cluster in
// those tables send their keys here (notify.go).

// newTracking makes the node's tracking state.
func (n *Node) newTracking() {
	n.trackMaxKeys.Store(1000000) // tracking-table-max-keys' default
	n.tracking = tracking.New(string(n.id), n.trackingConn, n.trackMaxKeys.Load)
	n.pubsub.SetTrackingHandler(n.tracking.Handle)
}

// setTracking is told whether some node may track a table: while one
// may, commands keep their keyspace events for invalidations
// (command.EventTracking).
func (n *Node) setTracking(on bool) {
	if on {
		n.notifyClasses.Or(uint32(command.EventTracking))
	} else {
		n.notifyClasses.And(^uint32(command.EventTracking))
	}
}

// trackingPeerGone is told that a node left the routing or restarted:
// the invalidations of writes it committed just before may be lost, so
// every tracking client here is sent the invalidation of every key (a
// null, as after a flush).
func (n *Node) trackingPeerGone(string) {
	n.tracking.Flush()
}

// setNotifyClasses applies notify-keyspace-events, keeping the tracking
// bit.
func (n *Node) setNotifyClasses(c command.EventClass) {
	for {
		old := n.notifyClasses.Load()
		v := uint32(c) | old&uint32(command.EventTracking)
		if n.notifyClasses.CompareAndSwap(old, v) {
			return
		}
	}
}

// trackConn is a client as package tracking sees it.
type trackConn struct {
	cl *client
	ob *tracking.Outbox
}

func (t trackConn) ID() uint64       { return t.cl.id }
func (t trackConn) Resp3() bool      { return t.cl.resp3.Load() }
func (t trackConn) Push(b []byte)    { t.ob.Push(b) }
func (t trackConn) Subscribed() bool { s := t.cl.sub.Load(); return s != nil && s.Subscribed() }

// outboxOf returns cl's outbox, made on first use.
func (n *Node) outboxOf(cl *client) *tracking.Outbox {
	if ob := cl.pushes.Load(); ob != nil {
		return ob
	}
	ob := tracking.NewOutbox(func(b []byte) error {
		if cl.w == nil {
			return nil
		}
		_, err := cl.w.Send(b)
		return err
	}, n.cfg.PubsubOutputBytes, func() { cl.conn.Close() })
	if !cl.pushes.CompareAndSwap(nil, ob) {
		return cl.pushes.Load()
	}
	return ob
}

// trackingConn finds a client of this node by id (REDIRECT's target).
func (n *Node) trackingConn(id uint64) tracking.Conn {
	n.clientsMu.Lock()
	cl, ok := n.clients[id]
	n.clientsMu.Unlock()
	if !ok || cl.wasKilled() || cl.w == nil {
		return nil
	}
	return trackConn{cl, n.outboxOf(cl)}
}

// beginCommand marks a command of cl in flight: its invalidations wait
// for its replies (called as the command is read, before any read
// registers its keys).
func (cl *client) beginCommand() {
	if ob := cl.pushes.Load(); ob != nil {
		ob.Begin()
	}
}

// repliesSent releases cl's invalidations held behind the replies just
// sent.
func (n *Node) repliesSent(cl *client) {
	if ob := cl.pushes.Load(); ob != nil {
		n.tracking.OwnWritesDone(cl.id)
		ob.Release()
	}
}

// trackBefore is what tracking does before a command of cl runs: the
// table is tracked here (the first time: once every live node knows it),
// a read registers its keys, a write of a NOLOOP client its own keys. It
// reports whether the command flushes the table (FLUSHDB, FLUSHALL, an
// EXEC of a block with one).
func (n *Node) trackBefore(cl *client, c *command.Ctx, spec *command.Spec, cmd router.Command) (flushes bool) {
	flushes = isFlush(spec) || spec.Name == "exec" && cl.tx.Open() && cl.tx.AnyQueued(isFlush)
	// An atomic load for a connection that never tracked.
	if cl.pushes.Load() == nil || !n.tracking.Tracking(cl.id) {
		return flushes
	}
	n.pubsub.Track(c.Table)
	switch {
	case spec.Name == "exec" && cl.tx.Open():
		cl.tx.EachQueued(func(spec *command.Spec, args [][]byte) {
			n.trackKeys(cl, c, spec, routedCommand(spec, args))
		})
	default:
		n.trackKeys(cl, c, spec, cmd)
	}
	return flushes
}

func isFlush(spec *command.Spec) bool { return spec.Name == "flushdb" || spec.Name == "flushall" }

func (n *Node) trackKeys(cl *client, c *command.Ctx, spec *command.Spec, cmd router.Command) {
	if len(cmd.Keys) == 0 || cmd.BadKeys {
		return
	}
	switch {
	case spec.Flags&command.ReadOnly != 0 && !strings.HasSuffix(spec.Name, "_ro"):
		n.tracking.Remember(c.Table, cl.id, cmd.Keys)
	case spec.Flags&command.Write != 0:
		n.tracking.OwnWrites(cl.id, cmd.Keys)
	}
}

// trackAfter is what tracking does once a command of cl ran (its reply
// at mark): CLIENT CACHING lasts one command (not a CLIENT command, nor
// one queued by MULTI); a flush invalidates every key of the table on
// every node tracking it (an EXEC's whatever its outcome: one more
// invalidation is harmless).
func (n *Node) trackAfter(cl *client, c *command.Ctx, spec *command.Spec, mark int, flushes bool) {
	if cl.pushes.Load() != nil && spec.Name != "client" && !cl.tx.Open() {
		n.tracking.EndCommand(cl.id)
	}
	if flushes && (spec.Name == "exec" || mark <= len(c.R.B) && strings.HasPrefix(string(c.R.B[mark:]), "+OK")) {
		n.trackFlush(c)
	}
}

// trackFlush sends a flush's invalidation (every key) to the nodes
// tracking the table, before the flush's reply.
func (n *Node) trackFlush(c *command.Ctx) {
	if command.EventClass(n.notifyClasses.Load())&command.EventTracking == 0 || !n.pubsubCluster.Tracked(c.Table) {
		return
	}
	n.pubsubCluster.PublishAll(pubsubTrackingFlush(c.Table))
}

// dropTracking ends cl's tracking: its connection is closing.
func (n *Node) dropTracking(cl *client) {
	if n.tracking.Tracking(cl.id) && n.tracking.Disable(cl.id) {
		n.pubsub.UntrackAll(func() bool { return n.tracking.Clients() == 0 })
	}
}

// cmdClientTracking answers CLIENT TRACKING, CACHING, GETREDIR and
// TRACKINGINFO as Redis 7.0 does.
func (n *Node) cmdClientTracking(c *command.Ctx, cl *client, sub string) error {
	switch sub {
	case "tracking":
		if len(c.Args) < 3 {
			return command.WrongArgs("client|tracking")
		}
		var opts tracking.Options
		for j := 3; j < len(c.Args); j++ {
			more := j+1 < len(c.Args)
			switch a := strings.ToLower(string(c.Args[j])); {
			case a == "redirect" && more:
				j++
				if opts.Redirect != 0 {
					return command.Error(tracking.ErrRedirectTwice)
				}
				id, err := strconv.ParseInt(string(c.Args[j]), 10, 64)
				if err != nil {
					return command.Error("ERR value is not an integer or out of range")
				}
				if id <= 0 || n.trackingConn(uint64(id)) == nil {
					return command.Error(tracking.ErrRedirectAbsent)
				}
				opts.Redirect = uint64(id)
			case a == "bcast":
				opts.BCast = true
			case a == "optin":
				opts.OptIn = true
			case a == "optout":
				opts.OptOut = true
			case a == "noloop":
				opts.NoLoop = true
			case a == "prefix" && more:
				j++
				opts.Prefixes = append(opts.Prefixes, append([]byte(nil), c.Args[j]...))
			default:
				return command.ErrSyntax
			}
		}
		switch strings.ToLower(string(c.Args[2])) {
		case "on":
			if msg := n.tracking.Enable(trackConn{cl, n.outboxOf(cl)}, opts); msg != "" {
				return command.Error(msg)
			}
			// Answered once every live node sends this table's writes
			// here.
			n.pubsub.Track(c.Table)
		case "off":
			n.dropTracking(cl)
		default:
			return command.ErrSyntax
		}
		c.R.OK()
	case "caching":
		if len(c.Args) != 3 {
			return command.WrongArgs("client|caching")
		}
		if !n.tracking.Tracking(cl.id) {
			return command.Error(tracking.ErrCachingNoMode)
		}
		var yes bool
		switch strings.ToLower(string(c.Args[2])) {
		case "yes":
			yes = true
		case "no":
		default:
			return command.ErrSyntax
		}
		if msg := n.tracking.Caching(cl.id, yes); msg != "" {
			return command.Error(msg)
		}
		c.R.OK()
	case "getredir":
		if len(c.Args) != 2 {
			return command.WrongArgs("client|getredir")
		}
		c.R.Int(n.trackingRedir(cl))
	case "trackinginfo":
		if len(c.Args) != 2 {
			return command.WrongArgs("client|trackinginfo")
		}
		writeTrackingInfo(c.R, n.tracking.InfoOf(cl.id))
	}
	return nil
}

// trackingRedir is CLIENT GETREDIR's and CLIENT LIST's redir: -1 when
// not tracking, 0 without REDIRECT.
func (n *Node) trackingRedir(cl *client) int64 {
	if !n.tracking.Tracking(cl.id) {
		return -1
	}
	return int64(n.tracking.InfoOf(cl.id).Options.Redirect)
}

func writeTrackingInfo(r *resp.Reply, in tracking.Info) {
	flags := []string{"off"}
	if in.On {
		flags = []string{"on"}
		o := in.Options
		if o.BCast {
			flags = append(flags, "bcast")
		}
		if o.OptIn {
			flags = append(flags, "optin")
			if in.Caching {
				flags = append(flags, "caching-yes")
			}
		}
		if o.OptOut {
			flags = append(flags, "optout")
			if in.Caching {
				flags = append(flags, "caching-no")
			}
		}
		if o.NoLoop {
			flags = append(flags, "noloop")
		}
		if in.BrokenRedir {
			flags = append(flags, "broken_redirect")
		}
	}
	r.Map(3)
	r.BulkString("flags")
	r.Set(len(flags))
	for _, f := range flags {
		r.BulkString(f)
	}
	r.BulkString("redirect")
	if in.On {
		r.Int(int64(in.Options.Redirect))
	} else {
		r.Int(-1)
	}
	r.BulkString("prefixes")
	r.Array(len(in.Options.Prefixes))
	for _, p := range in.Options.Prefixes {
		r.Bulk(p)
	}
}

// trackingFlags are CLIENT LIST's flags of tracking: t (tracking), R (its
// redirection is broken), B (BCAST).
func (n *Node) trackingFlags(cl *client) string {
	if !n.tracking.Tracking(cl.id) {
		return ""
	}
	in := n.tracking.InfoOf(cl.id)
	f := "t"
	if in.BrokenRedir {
		f += "R"
	}
	if in.Options.BCast {
		f += "B"
	}
	return f
}
