package txn

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
	"github.com/pika-node/pika-node/unit"
)

// MULTI, EXEC, DISCARD, WATCH and UNWATCH, as redis-server 7.0 has them.
// EXEC runs the queued commands as one unit: their slots are held (locked)
// by one storage.Batch for the whole block, so no other client sees part of
// it, every command sees the writes of the ones before it, and their writes
// are committed together (one RocksDB write), when one node leads every
// slot of the block (in an async table, or one raft slot). A block over
// slots of several nodes of an async table, or over several raft groups,
// runs as a unit across them (units.go, docs/transactions.md).

// Transaction is a connection's MULTI state and its WATCH; its zero value
// is a connection that has neither.
type Transaction struct {
	open   bool // between MULTI and EXEC or DISCARD
	failed bool // a command was refused while queued: EXEC aborts
	queued []queuedCommand
	bytes  int // of the queued arguments
	watch  storage.Watch
	// watchTable and watchSlots are where the watched keys are, so that
	// EXEC holds their slots while it checks them.
	watchTable storage.TableID
	watchSlots []storage.SlotID
	// remote are the watched keys' slots other nodes lead, by node: their
	// WATCH is registered there under token (UWATCH), and EXEC then runs
	// as a unit across nodes whose ULOCKs check it.
	remote map[meta.NodeID][]storage.SlotID
	token  string
	tokens uint64 // tokens made so far (each WATCH ... EXEC gets its own)
}

// Open reports whether the connection is between MULTI and EXEC or
// DISCARD: its commands are queued (Queue), but for those RunsInMulti
// names.
func (tx *Transaction) Open() bool { return tx.open }

// AnyQueued reports whether a command queued in the block satisfies f.
func (tx *Transaction) AnyQueued(f func(*command.Spec) bool) bool {
	for _, q := range tx.queued {
		if f(q.spec) {
			return true
		}
	}
	return false
}

// EachQueued calls f with each command queued in the block, in order
// (CLIENT TRACKING registers the keys of its reads before EXEC runs them).
func (tx *Transaction) EachQueued(f func(spec *command.Spec, args [][]byte)) {
	for _, q := range tx.queued {
		f(q.spec, q.args)
	}
}

// queuedCommand is a command MULTI queued, with its arguments copied.
type queuedCommand struct {
	spec *command.Spec
	args [][]byte
}

// errExecAbort is EXEC's reply after a command was refused while queued.
const errExecAbort command.Error = "EXECABORT Transaction discarded because of previous errors."

// Register adds MULTI, EXEC, DISCARD, WATCH and UNWATCH, and the
// scripting commands (scripts.go), to the node's command table (Services.Commands). Their handlers find the connection
// in command.Ctx.Conn, which must be a Conn.
func (t *Txns) Register() {
	flags := command.Loading | command.Stale | command.Fast
	t.cmds.Register(
		command.Spec{Name: "multi", Arity: 1, Flags: flags, Cluster: router.Server, Handler: t.cmdMulti},
		command.Spec{Name: "exec", Arity: 1, Flags: command.Loading | command.Stale, Cluster: router.Server, Handler: t.cmdExec},
		command.Spec{Name: "discard", Arity: 1, Flags: flags, Cluster: router.Server, Handler: t.cmdDiscard},
		command.Spec{Name: "watch", Arity: -2, Flags: flags, FirstKey: 1, LastKey: -1, Step: 1, Cluster: router.Server, Handler: t.cmdWatch},
		command.Spec{Name: "unwatch", Arity: 1, Flags: flags, Cluster: router.Server, Handler: t.cmdUnwatch},
	)
	t.registerScripts()
	t.registerFunctions()
	t.registerSort()
}

// RunsInMulti reports whether spec runs at once inside MULTI instead of
// being queued (Redis's list).
func RunsInMulti(spec *command.Spec) bool {
	switch spec.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// Queue answers a command sent inside MULTI on connection cl (spec nil:
// not a command; tb nil: the connection's table is dropped; refusal: why
// the connection may not run it, NOAUTH or an ACL's NOPERM, "" if it
// may; asked once the command's name and arity are found right): the
// errors Redis finds before it would run a command (which make EXEC
// abort), else +QUEUED.
func (t *Txns) Queue(cl Conn, c *command.Ctx, spec *command.Spec, tb *router.Table, refusal func() string) {
	tx := cl.Transaction()
	var why string
	fail := func(msg string) {
		tx.failed = true
		c.R.Error(msg)
	}
	switch {
	case spec == nil:
		fail(t.unknown(c.Args))
	case !spec.ArityOK(len(c.Args)):
		fail(string(command.WrongArgs(spec.Name)))
	case refused(refusal, &why):
		fail(why)
	case tb == nil && spec.Cluster != router.Server:
		fail(router.DroppedTable(cl.Table()))
	case tx.bytes+argBytes(c.Args) > int(t.maxQueryBytes):
		// Bounded as one query is: the block is held until EXEC.
		fail("ERR the queued commands exceed client-query-buffer-limit")
	default:
		tx.bytes += argBytes(c.Args)
		tx.queued = append(tx.queued, queuedCommand{spec: spec, args: router.CopyArgs(c.Args)})
		c.R.Simple("QUEUED")
	}
}

// refused asks refusal, keeping its answer in why.
func refused(refusal func() string, why *string) bool {
	*why = refusal()
	return *why != ""
}

func argBytes(args [][]byte) int {
	n := 0
	for _, a := range args {
		n += len(a) + 16
	}
	return n
}

func (t *Txns) cmdMulti(c *command.Ctx) error {
	tx := connOf(c).Transaction()
	if tx.open {
		return command.Error("ERR MULTI calls can not be nested")
	}
	tx.open = true
	c.R.OK()
	return nil
}

func (t *Txns) cmdDiscard(c *command.Ctx) error {
	cl := connOf(c)
	if !cl.Transaction().open {
		return command.Error("ERR DISCARD without MULTI")
	}
	t.endTransaction(cl)
	c.R.OK()
	return nil
}

// endTransaction forgets the connection's MULTI block and its WATCH.
func (t *Txns) endTransaction(cl Conn) {
	tx := cl.Transaction()
	tx.open, tx.failed, tx.queued, tx.bytes = false, false, nil, 0
	t.unwatch(tx)
}

// unwatch forgets the connection's WATCH, here and on the nodes it was
// registered with (not awaited: a registration not forgotten ends with
// its lease).
func (t *Txns) unwatch(tx *Transaction) {
	t.eng.Unwatch(&tx.watch)
	tx.watchSlots = tx.watchSlots[:0]
	if len(tx.remote) > 0 {
		snap := t.proxy.Routing()
		for node := range tx.remote {
			if info, ok := snap.Node(node); ok {
				t.links.Do(info.Peer, peer.ClassUnit, 0, peer.UnitUnwatch{Token: tx.token}).Flush()
			}
		}
		tx.remote = nil
	}
	tx.token = ""
}

func (t *Txns) cmdWatch(c *command.Ctx) error {
	cl := connOf(c)
	tx := cl.Transaction()
	if tx.open {
		return command.Error("ERR WATCH inside MULTI is not allowed")
	}
	snap := t.proxy.Routing()
	tb, ok := snap.Table(cl.Table())
	if !ok {
		return command.Error(router.DroppedTable(cl.Table()))
	}
	if tx.watch.Watching() && tx.watchTable != tb.ID {
		return command.Error("ERR WATCH of keys of another database than the keys already watched is not supported")
	}
	if tx.watchTable != tb.ID && len(tx.remote) > 0 {
		return command.Error("ERR WATCH of keys of another database than the keys already watched is not supported")
	}
	// Keys other nodes lead are watched there (an async table's).
	var remote []unit.Share
	for _, key := range c.Args[1:] {
		s := router.SlotOf(key, tb.Slots)
		r := tb.Route(s)
		if r.Leader == snap.Self {
			continue
		}
		if msg := router.LeaderDown(snap, tb, s); msg != "" {
			return command.Error(msg)
		}
		i := slices.IndexFunc(remote, func(sh unit.Share) bool { return sh.Node == string(r.Leader) })
		if i < 0 {
			site, ok := t.site(snap, r.Leader, uint32(s))
			if !ok {
				return command.Error("CLUSTERDOWN the leader of a watched key is down")
			}
			remote = append(remote, unit.Share{Node: string(r.Leader), Site: site})
			i = len(remote) - 1
		}
		remote[i].Slots = append(remote[i].Slots, peer.UnitSlot{SlotEpoch: peer.SlotEpoch{Slot: s, Epoch: r.Epoch}, Keys: [][]byte{key}})
	}
	if len(remote) > 0 && tx.token == "" {
		tx.tokens++
		tx.token = fmt.Sprintf("%s.%d.%d", t.self, cl.ID(), tx.tokens)
	}
	for _, sh := range remote {
		ctx, cancel := context.WithTimeout(context.Background(), unitRouteWait)
		err := sh.Site.Watch(ctx, peer.UnitWatch{Table: tb.ID, Token: tx.token, Slots: sh.Slots})
		cancel()
		if err != nil {
			return command.Error("CLUSTERDOWN WATCH on " + sh.Node + ": " + err.Error())
		}
		if tx.remote == nil {
			tx.remote = map[meta.NodeID][]storage.SlotID{}
		}
		node := meta.NodeID(sh.Node)
		for _, us := range sh.Slots {
			if !slices.Contains(tx.remote[node], us.Slot) {
				tx.remote[node] = append(tx.remote[node], us.Slot)
			}
		}
	}
	tx.watchTable = tb.ID
	for _, key := range c.Args[1:] {
		s := router.SlotOf(key, tb.Slots)
		if tb.Route(s).Leader != snap.Self {
			continue
		}
		if err := t.eng.Watch(&tx.watch, tb.ID, s, key); err != nil {
			return err
		}
		if !slices.Contains(tx.watchSlots, s) {
			tx.watchSlots = append(tx.watchSlots, s)
		}
	}
	c.R.OK()
	return nil
}

func (t *Txns) cmdUnwatch(c *command.Ctx) error {
	t.unwatch(connOf(c).Transaction())
	c.R.OK()
	return nil
}

func (t *Txns) cmdExec(c *command.Ctx) error {
	cl := connOf(c)
	tx := cl.Transaction()
	if !tx.open {
		return command.Error("ERR EXEC without MULTI")
	}
	queued, failed := tx.queued, tx.failed
	defer t.endTransaction(cl)
	if failed {
		return errExecAbort
	}
	return t.runUnit(cl, c, queued)
}

// unitSlots is the slots of table tb that cmds name, up to the first that
// changes the connection's table (SELECT).
func unitSlots(tb *router.Table, cmds []queuedCommand) []storage.SlotID {
	var slots []storage.SlotID
	for _, q := range cmds {
		if q.spec.Name == "select" {
			break
		}
		if q.spec.Cluster != router.Keyed && q.spec.Cluster != router.FanOut {
			continue
		}
		keys, err := q.spec.KeysOf(q.args)
		if err != nil {
			continue // its handler answers the error
		}
		for _, k := range keys {
			if s := router.SlotOf(k, tb.Slots); !slices.Contains(slots, s) {
				slots = append(slots, s)
			}
		}
	}
	return slots
}

// watchedSlots adds to slots, those of a unit of table tb, the slots of
// the connection's watched keys of tb (here and on other nodes), which the
// unit holds while EXEC checks them; honoured is false when a watched
// key's slot changed leader since the WATCH: its writes may not have been
// seen, so EXEC must answer nil. Watched keys of another table (SELECT
// since the WATCH) are not the unit's: Redis runs the block.
func watchedSlots(snap *router.Snapshot, tb *router.Table, tx *Transaction, slots []storage.SlotID) (_ []storage.SlotID, honoured bool) {
	if tx.watchTable != tb.ID {
		return slots, true
	}
	add := func(s storage.SlotID, leader meta.NodeID) bool {
		if r := tb.Route(s); r.Leader != leader || r.Handover {
			return false
		}
		if !slices.Contains(slots, s) {
			slots = append(slots, s)
		}
		return true
	}
	for _, s := range tx.watchSlots {
		if !add(s, snap.Self) {
			return nil, false
		}
	}
	for node, ss := range tx.remote {
		for _, s := range ss {
			if !add(s, node) {
				return nil, false
			}
		}
	}
	return slots, true
}

// unitPlace is where a unit over slots of tb runs: the node leading every
// one of them (a raft table's unit of one slot, one raft group), else msg
// says why it cannot run there (ErrCrossSlot: it runs as a unit across
// nodes, or raft groups, or, when it writes, slots with followers);
// wait: a slot is being handed over.
func unitPlace(snap *router.Snapshot, tb *router.Table, slots []storage.SlotID, writes bool) (leader meta.NodeID, msg string, wait bool) {
	if len(slots) > 1 && (tb.Mode == meta.ModeRaft || writes && followed(tb, slots)) {
		return "", router.ErrCrossSlot, false
	}
	leader = snap.Self
	for i, s := range slots {
		if msg := router.LeaderDown(snap, tb, s); msg != "" {
			return "", msg, false
		}
		r := tb.Route(s)
		if r.Handover {
			return "", "", true
		}
		if i == 0 {
			leader = r.Leader
		} else if r.Leader != leader {
			return "", router.ErrCrossSlot, false
		}
	}
	return leader, "", false
}

// followed reports whether a slot of tb among slots has followers (an
// async slot's log ships on its own: a unit that writes several such
// slots needs the protocol's records to stay whole across a failover).
func followed(tb *router.Table, slots []storage.SlotID) bool {
	for _, s := range slots {
		if len(tb.Route(s).Replicas) > 1 {
			return true
		}
	}
	return false
}

// writes reports whether a command of cmds may write.
func writes(cmds []queuedCommand) bool {
	for _, q := range cmds {
		if q.spec.Flags&command.Write != 0 {
			return true
		}
	}
	return false
}

// forwardable reports whether a block may run on another node: its
// commands are data commands of one table, or the connection's own ones
// (PING, ECHO, ...) that this node answers in their place.
func forwardable(cmds []queuedCommand) bool {
	for _, q := range cmds {
		if q.spec.Cluster == router.TableWide || q.spec.Name == "select" {
			return false
		}
	}
	return true
}

// unitRouteWait bounds how long EXEC waits for a slot's handover or for
// routing that agrees with the slots' leader.
const unitRouteWait = 5 * time.Second

// runUnit runs an EXEC's queued commands as one unit and answers their
// replies (or nil when a watched key changed): here when this node leads
// every slot of the block, else on the one node that does.
func (t *Txns) runUnit(cl Conn, c *command.Ctx, cmds []queuedCommand) error {
	deadline := time.Now().Add(unitRouteWait)
	tx := cl.Transaction()
	var busyAt string // where the last try found a slot busy
	for attempt := 0; ; attempt++ {
		snap := t.proxy.Routing()
		tb, ok := snap.Table(cl.Table())
		if !ok {
			return command.Error(router.DroppedTable(cl.Table()))
		}
		slots, honoured := watchedSlots(snap, tb, tx, unitSlots(tb, cmds))
		if !honoured {
			c.R.NullArray()
			return nil
		}
		remoteWatch := len(tx.remote) > 0 && tx.watchTable == tb.ID
		leader, msg, wait := unitPlace(snap, tb, slots, writes(cmds))
		if (msg == router.ErrCrossSlot || remoteWatch && msg == "" && !wait) && forwardable(cmds) && !acrossNodes(snap, tb, slots) {
			// A unit across nodes (or raft groups, or followed slots) one
			// of whose slots is being handed over or has no leader: wait
			// for the routing, as for a unit one node leads.
			if down := unitDown(snap, tb, slots); down != "" {
				return command.Error(down)
			}
			msg, wait = "", true
		}
		switch {
		case !forwardable(cmds) && (!tb.AllLocal() || msg == router.ErrCrossSlot):
			// SELECT or table-wide commands split the block (runUnitHere
			// does the same on one node).
			return t.runBlockAcross(cl, c, cmds)
		case (msg == router.ErrCrossSlot || (remoteWatch && msg == "" && !wait)) && forwardable(cmds) && acrossNodes(snap, tb, slots):
			retry, err := t.runUnitAcross(cl, c, snap, tb, slots, cmds, acrossMode{array: true, watch: true, attempt: attempt, busyAt: &busyAt})
			if !retry {
				return err
			}
			if time.Now().After(deadline) {
				return command.Error("CLUSTERDOWN the slots of the transaction stayed busy; retry")
			}
			continue
		case msg != "":
			return command.Error(msg)
		case wait:
		case leader == snap.Self:
			return t.runUnitHere(cl, c, tb, slots, cmds)
		case !forwardable(cmds):
			return command.Error(router.ErrCrossSlot)
		default:
			var data [][][]byte
			for _, q := range cmds {
				if q.spec.Cluster != router.Server {
					data = append(data, q.args)
				}
			}
			raw, moved := t.proxy.ForwardUnit(snap, tb, leader, slots, data, c.R.Resp3)
			if !moved {
				return placeUnitReply(c, cmds, raw)
			}
		}
		if time.Now().After(deadline) {
			return command.Error("CLUSTERDOWN the slots of the transaction are moving; retry")
		}
		t.proxy.AwaitNewer(snap.Revision, time.Until(deadline))
	}
}

// placeUnitReply answers EXEC with a unit's reply from the node that ran
// it: its replies to the data commands, with this node's to the
// connection's own commands (PING, ECHO, ...) in their places.
func placeUnitReply(c *command.Ctx, cmds []queuedCommand, raw []byte) error {
	if peer.IsError(raw) {
		c.R.Raw(raw)
		return nil
	}
	elems, err := peer.Elems(raw)
	if err != nil {
		return err
	}
	c.R.Array(len(cmds))
	for _, q := range cmds {
		if q.spec.Cluster == router.Server {
			c.Args = q.args
			command.Run(q.spec, c)
			continue
		}
		if len(elems) == 0 {
			return fmt.Errorf("the unit's reply has fewer replies than its %d commands", len(cmds))
		}
		c.R.Raw(elems[0])
		elems = elems[1:]
	}
	return nil
}

// execUnit answers a UNIT: a MULTI block's data commands, run here as one
// unit over the slots named, which this node must lead (as for FWD).
func (t *Txns) execUnit(c *command.Ctx, req peer.Unit) {
	c.R.Resp3 = req.Resp3 // the asker's client's protocol; reset after the request (by the peer server)
	tb, reply, behind := t.proxy.AdmitUnit(req)
	if behind != nil {
		t.catchUp(behind)
		tb, reply, _ = t.proxy.AdmitUnit(req)
	}
	if reply != "" {
		c.R.Error(reply)
		return
	}
	cmds := make([]queuedCommand, len(req.Commands))
	for i, args := range req.Commands {
		spec := t.cmds.Lookup(args[0])
		if spec == nil || !spec.ArityOK(len(args)) {
			c.R.Error("ERR malformed UNIT: " + string(args[0]))
			return
		}
		cmds[i] = queuedCommand{spec: spec, args: args}
	}
	slots := make([]storage.SlotID, len(req.Slots))
	for i, se := range req.Slots {
		slots[i] = se.Slot
	}
	c.Table, c.Slots = tb.ID, tb.Slots
	if err := t.runUnitHere(nil, c, tb, slots, cmds); err != nil {
		msg, _ := command.ErrorReply(err)
		c.R.Error(msg)
	}
}

// runUnitHere runs a unit over slots of tb, which this node leads, for
// connection cl (nil: the data commands of a block another node forwarded,
// UNIT).
func (t *Txns) runUnitHere(cl Conn, c *command.Ctx, tb *router.Table, slots []storage.SlotID, cmds []queuedCommand) error {
	b := t.eng.NewBatch(t.commits)
	if err := b.Hold(tb.ID, slots); err != nil {
		b.Release()
		return err
	}
	if cl != nil && cl.Transaction().watch.Changed(t.eng.NowMS()) {
		b.Release()
		c.R.NullArray()
		return nil
	}
	table := tb.ID
	start := markOf(c)
	c.R.Array(len(cmds))
	reroute := c.Reroute
	c.Reroute = false // a command of the unit is answered, never run again elsewhere
	defer func() { c.Reroute = reroute }()
	for i, q := range cmds {
		began := time.Now()
		mark := c.R.Len()
		c.Args = q.args
		switch {
		case q.spec.Cluster == router.Server:
			command.Run(q.spec, c)
			if cl.Table() != table {
				// SELECT: the rest of the block is a unit of the new
				// table. What ran so far is committed first.
				if err := b.Commit(); err != nil {
					return unitFailed(c, start, err)
				}
				start.events = c.Events.Len() // committed: its events stand
				var msg string
				b, table, msg = t.holdRest(cl, cmds[i+1:])
				if msg != "" {
					return unitFailed(c, start, command.Error(msg))
				}
				c.Table = table
				if next, ok := t.proxy.Routing().Table(table); ok {
					c.Slots = next.Slots
				}
			}
		case q.spec.Cluster == router.TableWide || (q.spec.Elsewhere != nil && q.spec.Elsewhere(q.args, table)):
			// Table-wide commands (DBSIZE, KEYS, FLUSHDB, ...) read or
			// write every slot, and COPY ... DB n writes another table:
			// the unit so far is committed first, so that they see it,
			// they run on their own, and the rest holds its slots again.
			if err := b.Commit(); err != nil {
				return unitFailed(c, start, err)
			}
			start.events = c.Events.Len() // committed: its events stand
			if q.spec.Cluster == router.TableWide {
				t.runTableWide(cl, c, q)
			} else {
				command.Run(q.spec, c)
			}
			var msg string
			b, table, msg = t.holdRest(cl, cmds[i+1:])
			if msg != "" {
				return unitFailed(c, start, command.Error(msg))
			}
		default:
			command.RunInUnit(q.spec, c, b)
		}
		t.account(q.spec, began, c, mark)
	}
	if err := b.Commit(); err != nil {
		return unitFailed(c, start, err)
	}
	return nil
}

// holdRest holds the slots of the rest of a unit on the connection's
// current table, or says why it cannot.
func (t *Txns) holdRest(cl Conn, rest []queuedCommand) (*storage.Batch, storage.TableID, string) {
	b := t.eng.NewBatch(t.commits)
	snap := t.proxy.Routing()
	tb, ok := snap.Table(cl.Table())
	if !ok {
		return b, cl.Table(), router.DroppedTable(cl.Table())
	}
	slots := unitSlots(tb, rest)
	// (A later segment of a block split by SELECT runs under this node's
	// locks even over slots with followers: docs/transactions.md.)
	if leader, msg, wait := unitPlace(snap, tb, slots, false); msg != "" || wait || leader != snap.Self {
		if msg == "" {
			msg = router.ErrCrossSlot
		}
		return b, tb.ID, msg
	}
	if err := b.Hold(tb.ID, slots); err != nil {
		b.Release()
		msg, _ := command.ErrorReply(err)
		return b, tb.ID, msg
	}
	return b, tb.ID, ""
}

// runTableWide runs a table-wide command inside EXEC: here when this node
// leads the whole table, else on every node as outside a transaction.
func (t *Txns) runTableWide(cl Conn, c *command.Ctx, q queuedCommand) {
	snap := t.proxy.Routing()
	tb, ok := snap.Table(cl.Table())
	if !ok {
		c.R.Error(router.DroppedTable(cl.Table()))
		return
	}
	cmd := t.classify(q.spec, q.args)
	switch d := t.proxy.Decide(snap, tb, cmd); d.Kind {
	case router.Everywhere:
		t.proxy.Everywhere(cl.Runner(), c.R, snap, tb, cmd, q.args)
	case router.Refuse:
		c.R.Error(d.Err)
	default:
		command.Run(q.spec, c)
	}
}

// unitFailed answers a unit whose commit failed: nothing of it (since the
// last commit) was written, so its replies give way to the error.
func unitFailed(c *command.Ctx, start replyMark, err error) error {
	start.undo(c)
	return err
}

// replyMark is where a unit's replies and keyspace events start in its
// command context: a unit that did not commit, or is evaluated again,
// takes both back.
type replyMark struct{ reply, events int }

func markOf(c *command.Ctx) replyMark { return replyMark{c.R.Len(), c.Events.Len()} }

func (m replyMark) undo(c *command.Ctx) {
	c.R.B = c.R.B[:m.reply]
	c.Events.Truncate(m.events)
}
