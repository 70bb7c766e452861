package node

import (
	"strings"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
)

// The pub/sub commands (docs/pubsub.md): a connection's subscriptions are
// its pubsub.Sub, made at its first SUBSCRIBE; channels belong to the
// connection's table.

func (n *Node) registerPubsubCommands() {
	flags := command.Loading | command.Stale
	specs := []command.Spec{
		{Name: "subscribe", Arity: -2, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubChannel, true)},
		{Name: "psubscribe", Arity: -2, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubPattern, true)},
		{Name: "ssubscribe", Arity: -2, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubShard, true)},
		{Name: "unsubscribe", Arity: -1, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubChannel, false)},
		{Name: "punsubscribe", Arity: -1, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubPattern, false)},
		{Name: "sunsubscribe", Arity: -1, Flags: flags, Handler: n.subscriptionCmd(peer.PubsubShard, false)},
		{Name: "publish", Arity: 3, Flags: flags | command.Fast, Handler: n.publishCmd(peer.PubsubChannel)},
		{Name: "spublish", Arity: 3, Flags: flags | command.Fast, Handler: n.publishCmd(peer.PubsubShard)},
		{Name: "pubsub", Arity: -2, Flags: flags, Handler: n.cmdPubsub},
	}
	for i := range specs {
		specs[i].Cluster = router.Server
	}
	n.tbl.Register(specs...)
}

// allowedSubscribed reports whether a RESP2 connection in pub/sub mode
// may run the command (Redis's list; RESP3 connections may run any).
func allowedSubscribed(name string) bool {
	switch name {
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "ping", "quit", "reset":
		return true
	}
	return false
}

// subscribedResp2 reports whether cl is a RESP2 connection in pub/sub mode.
func (cl *client) subscribedResp2() bool {
	s := cl.sub.Load()
	return s != nil && !cl.resp3.Load() && s.Subscribed()
}

// subOf returns cl's side of pub/sub, made on first use; the connection's
// output limit becomes pub/sub's while it subscribes.
func (n *Node) subOf(cl *client) *pubsub.Sub {
	if s := cl.sub.Load(); s != nil {
		return s
	}
	s := pubsub.NewSub(cl.id, cl.resp3.Load, func(b []byte) error {
		_, err := cl.w.Send(b)
		return err
	}, func() { cl.conn.Close() }, n.cfg.PubsubOutputBytes)
	cl.sub.Store(s)
	return s
}

// pubsubLimits sets cl's output limit by whether it subscribes.
func (n *Node) pubsubLimits(cl *client) {
	if s := cl.sub.Load(); s != nil && s.Subscribed() {
		cl.w.SetLimits(n.cfg.PubsubOutputBytes, n.cfg.PubsubOutputSoftBytes, n.cfg.PubsubOutputSoftTime)
	} else {
		cl.w.SetLimits(n.cfg.MaxOutputBytes, 0, 0)
	}
}

// subscriptionCmd is (P|S)SUBSCRIBE (subscribe) or (P|S)UNSUBSCRIBE of
// kind k.
func (n *Node) subscriptionCmd(k peer.PubsubKind, subscribe bool) command.Handler {
	change := n.pubsub.Unsubscribe
	if subscribe {
		change = n.pubsub.Subscribe
	}
	return func(c *command.Ctx) error {
		cl := connOf(c)
		change(n.subOf(cl), cl.tableID(), k, c.Args[1:], c.R)
		n.pubsubLimits(cl)
		return nil
	}
}

func (n *Node) publishCmd(k peer.PubsubKind) command.Handler {
	return func(c *command.Ctx) error {
		// A message to the publishing client itself goes after the
		// replies before it: into them, when the command's reply is the
		// connection's (not a script's redis.call, which would take it
		// for its reply; it is sent at once then, as Redis does).
		var self *pubsub.Sub
		if cl, ok := c.Conn.(*client); ok && c.R == cl.out {
			self = cl.sub.Load()
		}
		c.R.Int(int64(n.pubsubCluster.Publish(c.Table, k, c.Args[1], c.Args[2], self, c.R)))
		return nil
	}
}

// cmdPubsub answers PUBSUB about the whole cluster's subscribers.
func (n *Node) cmdPubsub(c *command.Ctx) error {
	sub := strings.ToLower(string(c.Args[1]))
	rest := c.Args[2:]
	channels := func(k peer.PubsubKind) error {
		if len(rest) > 1 {
			return command.Error("ERR unknown subcommand or wrong number of arguments for '" + string(c.Args[1]) + "'. Try PUBSUB HELP.")
		}
		var pattern []byte
		if len(rest) == 1 {
			pattern = rest[0]
		}
		names := n.pubsubCluster.ClusterChannels(c.Table, k, pattern)
		c.R.Array(len(names))
		for _, name := range names {
			c.R.BulkString(name)
		}
		return nil
	}
	numsub := func(k peer.PubsubKind) error {
		counts := n.pubsubCluster.ClusterNumSub(c.Table, k, rest)
		c.R.Array(2 * len(rest))
		for i, ch := range rest {
			c.R.Bulk(ch)
			c.R.Int(counts[i])
		}
		return nil
	}
	switch sub {
	case "channels":
		return channels(peer.PubsubChannel)
	case "shardchannels":
		return channels(peer.PubsubShard)
	case "numsub":
		return numsub(peer.PubsubChannel)
	case "shardnumsub":
		return numsub(peer.PubsubShard)
	case "numpat":
		if len(rest) != 0 {
			return command.Error("ERR wrong number of arguments for 'pubsub|numpat' command")
		}
		c.R.Int(int64(n.pubsubCluster.ClusterNumPat(c.Table)))
		return nil
	case "help":
		if len(rest) != 0 {
			return command.Error("ERR wrong number of arguments for 'pubsub|help' command")
		}
		c.R.SimpleArray(pubsubHelp)
		return nil
	}
	return command.Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try PUBSUB HELP.")
}

var pubsubHelp = []string{
	"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CHANNELS [<pattern>]",
	"    Return the currently active channels matching a <pattern> (default: '*').",
	"NUMPAT",
	"    Return number of subscriptions to patterns.",
	"NUMSUB [<channel> ...]",
	"    Return the number of subscribers for the specified channels, excluding",
	"    pattern subscriptions(default: no channels).",
	"SHARDCHANNELS [<pattern>]",
	"    Return the currently active shard level channels matching a <pattern> (default: '*').",
	"SHARDNUMSUB [<shardchannel> ...]",
	"    Return the number of subscribers for the specified shard level channel(s)",
	"HELP",
	"    Prints this help.",
}

// livePeers are the other live nodes of the routing, for pub/sub.
func (n *Node) livePeers() []pubsub.Peer {
	snap := n.proxy.Routing()
	if snap == nil {
		return nil
	}
	var out []pubsub.Peer
	for _, info := range snap.Nodes() {
		if info.ID != n.id {
			out = append(out, pubsub.Peer{ID: string(info.ID), Addr: info.Peer})
		}
	}
	return out
}
