package node

import (
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/txn"
	"github.com/pika-node/pika-node/replication"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The node's side of package txn: what its MULTI blocks and multi-slot
// units use of the node, and the client connection as a txn.Conn.

// newTxns builds the node's transactions and its unit participant and
// coordinator; raft mode and the shipper, which Run makes, are read when
// used.
func (n *Node) newTxns() *txn.Txns {
	return txn.New(txn.Services{
		Self:          n.id,
		Engine:        n.eng,
		Commits:       n.commits,
		Proxy:         n.proxy,
		Links:         n.links,
		Raft:          func() *replication.Raft { return n.raft },
		Shipper:       func() *replication.Shipper { return n.shipper },
		Commands:      n.tbl,
		Logger:        n.log,
		MaxQueryBytes: n.cfg.MaxQueryBytes,
		UnitStepPause: n.cfg.UnitStepPause,
		ScriptMemory:  n.cfg.ScriptMemoryLimit,
		CatchUp:       func(b *router.Behind) { n.catchUp(b, n.peerCatchUpWait()) },
		Ready:         n.waitReady,
		// n.stats is made once every command is registered, these too.
		Account: func(spec *command.Spec, began time.Time, c *command.Ctx, mark int) {
			n.account(spec, began, c, mark)
		},
		UnknownCommand: func(args [][]byte) string {
			msg := unknownCommand(args)
			n.stats.Unknown.Add(1)
			n.stats.CountError(msg)
			return msg
		},
		Classify:  routedCommand,
		Functions: functionStore{n},
		ScriptACL: n.scriptACL,
	})
}

// Transaction is the connection's MULTI block and WATCH (txn.Conn).
func (cl *client) Transaction() *txn.Transaction { return &cl.tx }

// Table is the connection's current table (txn.Conn).
func (cl *client) Table() storage.TableID { return cl.tableID() }

// Runner runs the proxy's parts of the connection's commands here
// (txn.Conn).
func (cl *client) Runner() router.Runner { return cl.run }

// ID is the connection's id (txn.Conn).
func (cl *client) ID() uint64 { return cl.id }
