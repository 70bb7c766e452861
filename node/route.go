package node

import (
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The node's side of the embedded proxy (router.Proxy): what routing needs
// of a command, and running the parts the proxy routes here.

// newProxy builds the node's proxy; its links exist from New on.
func (n *Node) newProxy() *router.Proxy {
	return router.NewProxy(router.ProxyConfig{
		Self:           n.id,
		Links:          n.links,
		ForwardTimeout: n.cfg.ForwardTimeout,
		Classify: func(args [][]byte) router.Command {
			return routedCommand(n.tbl.Lookup(args[0]), args)
		},
		Raft:       n.raftView,
		CursorSlot: command.ScanCursorSlot,
	})
}

// routedCommand is what routing needs of a command: its class and keys,
// and for one that may be split, how.
func routedCommand(spec *command.Spec, args [][]byte) router.Command {
	cmd := router.Command{Class: spec.Cluster, Name: spec.Name, Merge: spec.Merge, Writes: spec.Flags&command.Write != 0}
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

// runner runs a connection's commands here for the proxy (router.Runner).
type runner struct {
	n  *Node
	cl *client
}

// Run runs a command routed here: a read of a raft slot after its read
// barrier; moved when the slot's raft leader moved (nothing ran).
func (r runner) Run(tb *router.Table, args [][]byte) ([]byte, bool) {
	n := r.n
	spec := n.tbl.Lookup(args[0])
	msg, moved := n.linearizable(tb, spec, args)
	if moved {
		return nil, true
	}
	if msg != "" {
		return []byte("-" + msg + "\r\n"), false
	}
	tmp := resp.Reply{Resp3: r.Resp3(), Max: n.cfg.MaxOutputBytes}
	c := command.Ctx{Config: n.configValue, R: &tmp, Engine: n.eng, Cursors: n.cursors, Conn: r.cl, Table: tb.ID, Slots: tb.Slots, Args: args, Reroute: true, Commits: n.commits, OtherTable: n.otherTable(r.cl), Events: r.cl.events}
	command.Run(spec, &c)
	if tmp.Over {
		r.cl.out.Over = true // cut off at its next flush, as RunPart
	}
	return tmp.B, c.Rerouted
}

// RunPart runs a table-wide command's part here.
func (r runner) RunPart(tb *router.Table, args [][]byte, owned bool) []byte {
	n := r.n
	tmp := resp.Reply{Resp3: r.Resp3(), Max: n.cfg.MaxOutputBytes}
	c := command.Ctx{Config: n.configValue, R: &tmp, Engine: n.eng, Cursors: n.cursors, Conn: r.cl, Table: tb.ID, Slots: tb.Slots, Args: args, Commits: n.commits, Events: r.cl.events}
	if owned {
		c.OwnsSlot = ownedBy(tb, n.id)
	}
	command.Run(n.tbl.Lookup(args[0]), &c)
	if tmp.Over {
		// Past the client's output limit (KEYS over millions of keys):
		// the client is cut off at its next flush (its goroutine runs
		// this part).
		r.cl.out.Over = true
	}
	return tmp.B
}

// Resp3 reports whether the connection chose RESP3 (HELLO 3).
func (r runner) Resp3() bool { return r.cl.resp3.Load() }

// ownedBy returns the OwnsSlot filter of node id for table tb.
func ownedBy(tb *router.Table, id meta.NodeID) func(storage.SlotID) bool {
	return func(s storage.SlotID) bool { return tb.Leads(id, s) }
}
