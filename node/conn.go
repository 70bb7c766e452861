package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/node/tracking"
	"github.com/pika-node/pika-node/node/txn"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// client is one connection's state. Fields other than the atomics are
// touched only by the connection's goroutine.
type client struct {
	id      uint64
	conn    net.Conn
	addr    string
	laddr   string
	created time.Time
	name    atomic.Pointer[string]
	// table is the connection's table (SELECT; atomic: CLIENT LIST reads
	// it from other connections).
	table atomic.Uint32
	// grants holds the tables AUTH opened, with the password hash it
	// matched (a table is open while its hash is still that one); copied
	// on write, for CLIENT LIST's tenant view.
	grants atomic.Pointer[map[storage.TableID]string]
	// ident is the connection's user (users.go); openedAll says, at
	// routing revision openedAllRev, whether it opened every table that
	// has a password (heldAsTenant; its goroutine only).
	ident        atomic.Pointer[identity]
	openedAllRev int64
	openedAll    bool
	// pending are forwarded commands whose replies are not placed yet,
	// and run runs the proxy's parts of this connection's commands here.
	pending  router.Pending
	run      router.Runner
	lastCmd  atomic.Pointer[string]
	lastUsed atomic.Int64 // unix ns
	// resp3: HELLO 3 chose RESP3 (the connection's replies and its
	// forwards' replies are encoded in it).
	resp3 atomic.Bool
	// tx is the connection's MULTI block and WATCH (package txn).
	tx txn.Transaction
	// w writes the connection's replies, and pub/sub messages to it;
	// out holds the replies not yet sent (the connection's goroutine
	// only).
	w   *resp.Writer
	out *resp.Reply
	// sub is its side of pub/sub, made at its first SUBSCRIBE (atomic:
	// CLIENT LIST reads it from other connections).
	sub atomic.Pointer[pubsub.Sub]
	// events are its commands' keyspace events until published (flush).
	events *command.Events
	// pushes holds its CLIENT TRACKING invalidations behind its replies
	// in flight (trackingcmds.go), made when it tracks or is redirected to.
	pushes atomic.Pointer[tracking.Outbox]
	// in is the connection's input; flush sends the replies so far
	// (a blocking command's wait does, before it waits).
	in    *connReader
	flush func() bool
	quit  bool
	// paused: CLIENT PAUSE holds its command (awaitPause).
	paused atomic.Bool
	// killed is closed by CLIENT KILL (kill), once.
	killed   chan struct{}
	killOnce sync.Once
}

// errMaxClients refuses a connection over maxclients.
var errMaxClients = errors.New("max number of clients reached")

// errClosing refuses a connection accepted as the node began to stop.
var errClosing = errors.New("the node is stopping")

func (n *Node) registerClient(c net.Conn) (*client, error) {
	cl := &client{
		id:      n.nextID.Add(1),
		conn:    c,
		addr:    c.RemoteAddr().String(),
		laddr:   c.LocalAddr().String(),
		created: time.Now(),
		killed:  make(chan struct{}),
	}
	cl.lastUsed.Store(time.Now().UnixNano())
	cl.ident.Store(n.newIdentity())
	cl.openedAllRev = -1
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	if n.closing {
		return nil, errClosing
	}
	if int64(len(n.clients)) >= n.maxClients.Load() {
		return nil, errMaxClients
	}
	n.clients[cl.id] = cl
	return cl, nil
}

// connectedClients is the number of client connections open.
func (n *Node) connectedClients() int {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	return len(n.clients)
}

func (n *Node) unregisterClient(cl *client) {
	n.clientsMu.Lock()
	delete(n.clients, cl.id)
	n.clientsMu.Unlock()
}

// closeAllClients closes every client connection, and those accepted
// later as soon as they register: the node is stopping.
func (n *Node) closeAllClients() {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	n.closing = true
	for _, cl := range n.clients {
		cl.conn.Close()
	}
}

// flushThreshold is how much reply data is buffered before writing even
// when more pipelined commands are waiting.
const flushThreshold = 64 << 10

// maxPendingForwards bounds the forwarded commands of one connection
// whose replies are awaited: a long pipeline of remote keys is answered
// in chunks, so what it holds (arguments, replies) stays bounded.
const maxPendingForwards = 1024

// serveConn reads commands, runs them in order and writes their replies;
// replies to a pipeline are written together once its commands are read.
func (n *Node) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	n.connsTotal.Add(1)
	if n.protectedRefusal(c.RemoteAddr()) {
		n.rejected.Add(1)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c, protectedModeDenied)
		return
	}
	cl, err := n.registerClient(c)
	if err == errMaxClients {
		n.rejected.Add(1)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c, "-ERR max number of clients reached\r\n")
	}
	if err != nil {
		return
	}
	defer n.unregisterClient(cl)
	defer n.txns.End(cl)   // its watches leave the registry
	cl.run = runner{n, cl} // one interface value for the connection's life

	cl.in = &connReader{c: c, n: &n.netIn}
	rd := resp.NewReader(cl.in, resp.Limits{MaxBulk: n.cfg.MaxBulkBytes, MaxQuery: n.cfg.MaxQueryBytes, Budget: n.queries,
		Unauthenticated: func() bool {
			tb, _ := n.proxy.Routing().Table(cl.tableID())
			return !tableOpen(cl, tb)
		}})
	defer rd.Release()
	// A reply past the client's output limit is not built whole: the
	// client is cut off at the next flush (resp.Reply.Max).
	out := resp.Reply{Max: n.cfg.MaxOutputBytes}
	cl.events = command.NewEvents(&n.notifyClasses)
	cl.events.Client = cl.id
	defer n.dropTracking(cl)
	defer n.publishEvents(cl.events) // after the last commit (deferred below)
	cctx := command.Ctx{Config: n.configValue, R: &out, Engine: n.eng, Cursors: n.cursors, Conn: cl, Reroute: true, Commits: n.commits, OtherTable: n.otherTable(cl), Events: cl.events}
	pb := command.NewPipeline(n.eng.NewBatch(n.commits), &out, rd.Release, func(args [][]byte) []byte {
		if args == nil {
			return nil // not kept: the client gets the error
		}
		return n.proxy.Reroute(cl.run, cl.tableID(), args)
	})
	pb.OnFailedCommit(func(spec *command.Spec) { n.stats.Of(spec).Failed.Add(1) })
	defer pb.Commit()
	w := resp.NewWriter(c, n.cfg.ClientWriteTimeout, n.cfg.MaxOutputBytes, n.outputs, &n.netOut)
	defer w.Stop() // before c.Close: lets queued replies go out
	cl.w, cl.out = w, &out
	defer func() {
		if s := cl.sub.Load(); s != nil {
			n.pubsub.Drop(s) // before the writer stops: no message after
		}
	}()
	flush := func() bool {
		pb.Commit()
		n.proxy.Resolve(&cl.pending, cl.run, &out)
		n.publishEvents(cl.events) // before the replies of their commands
		if out.Over {
			n.log.Warn("closing client over its output buffer limit (a reply too large to build)", "client", cl.addr, "limit", out.Max)
			return false
		}
		if out.Len() == 0 {
			n.repliesSent(cl)
			return true
		}
		queued, err := w.Send(out.B)
		if s := cl.sub.Load(); s != nil {
			s.Release() // messages held back behind a confirmation sent now
		}
		n.repliesSent(cl) // invalidations held back behind these replies
		if queued || cap(out.B) > 1<<20 {
			out.B = nil // the writer owns it now, or it is too big to keep
		} else {
			out.Reset()
		}
		if err != nil && errors.Is(err, resp.ErrOutputLimit) {
			n.log.Warn("closing client over its output buffer limit", "client", cl.addr)
		}
		return err == nil
	}
	cl.flush = flush

	idleDeadline := false
	for ctx.Err() == nil {
		if t := time.Duration(n.timeout.Load()); t > 0 && rd.Buffered() == 0 {
			c.SetReadDeadline(time.Now().Add(t))
			idleDeadline = true
		} else if t == 0 && idleDeadline { // CONFIG SET timeout 0
			c.SetReadDeadline(time.Time{})
			idleDeadline = false
		}
		args, err := rd.ReadCommand()
		if err != nil {
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				out.Error("ERR " + pe.Error())
				flush()
				n.log.Debug("protocol error", "client", cl.addr, "err", pe.Msg)
			} else if errors.Is(err, resp.ErrQueryLimit) {
				n.log.Warn("closing client over query buffer limit", "client", cl.addr)
			}
			return
		}
		if len(args) > 0 {
			cl.lastUsed.Store(time.Now().UnixNano())
			cl.beginCommand()
			cctx.Args = args
			n.exec(cl, &cctx, pb)
			cctx.Args = nil
			if !pb.Holding() {
				rd.Release() // nothing pending refers to the arguments
			}
		}
		// Never wait on the network with slot locks held.
		if !rd.CompleteBuffered() || pb.Full() {
			pb.Commit()
		}
		if cl.quit {
			flush()
			return
		}
		if rd.Buffered() == 0 || out.Len() >= flushThreshold || cl.pending.Len() >= maxPendingForwards {
			if !flush() {
				return
			}
		}
	}
}

// tableOpen reports whether the connection may use table tb: it is let
// in (users.go), and tb has no password, or AUTH matched its current one,
// or the connection's user opens every table. A table that no longer
// exists (nil) is open: commands that need it fail with errNoTable.
func tableOpen(cl *client, tb *router.Table) bool {
	id := cl.ident.Load()
	if !id.authed {
		return false
	}
	if tb == nil || !tb.HasPassword() || id.allTables {
		return true
	}
	g := cl.grants.Load()
	if g == nil {
		return false
	}
	h, ok := (*g)[tb.ID]
	return ok && h == tb.PasswordHash
}

// tableID is the connection's table, read from any goroutine.
func (cl *client) tableID() storage.TableID { return storage.TableID(cl.table.Load()) }

// setTable selects the connection's table.
func (cl *client) setTable(t storage.TableID) { cl.table.Store(uint32(t)) }

// grantsCopy is the tables AUTH opened (not to be changed).
func (cl *client) grantsCopy() map[storage.TableID]string {
	if g := cl.grants.Load(); g != nil {
		return *g
	}
	return nil
}

// otherTable is command.Ctx.OtherTable for cl's commands: a table of the
// routing that cl has opened (AUTH), whose slot of key this node leads.
// cl nil is a command another node forwarded: that node checked its
// client's access to the command's own table only, so an existing other
// table is refused (CROSSSLOT, as when its slot is led elsewhere).
func (n *Node) otherTable(cl *client) func(storage.TableID, []byte) (uint32, error) {
	return func(t storage.TableID, key []byte) (uint32, error) {
		snap := n.proxy.Routing()
		tb, ok := snap.Table(t)
		if !ok {
			return 0, command.Error("ERR DB index is out of range")
		}
		if cl == nil {
			return 0, command.Error(router.ErrCrossSlot)
		}
		if !tableOpen(cl, tb) {
			return 0, command.Error("NOAUTH Authentication required.")
		}
		s := router.SlotOf(key, tb.Slots)
		if msg := router.LeaderDown(snap, tb, s); msg != "" {
			return 0, command.Error(msg)
		}
		if r := tb.Route(s); r.Leader != snap.Self || r.Handover {
			return 0, command.Error(router.ErrCrossSlot)
		}
		return tb.Slots, nil
	}
}

// reject answers msg to a command refused before it ran (spec nil: an
// unknown command), counting it.
func (n *Node) reject(c *command.Ctx, spec *command.Spec, msg string) {
	c.R.Error(msg)
	if spec == nil {
		n.stats.Unknown.Add(1)
	} else {
		n.stats.Of(spec).Rejected.Add(1)
	}
	n.stats.CountError(msg)
}

// exec dispatches one command: lookup, arity, table and auth, routing,
// then the handler here or the forward to the slot's leader.
func (n *Node) exec(cl *client, c *command.Ctx, pb *command.Pipeline) {
	spec := n.tbl.Lookup(c.Args[0])
	snap := n.proxy.Routing()
	tb, _ := snap.Table(cl.tableID())
	open := tableOpen(cl, tb)
	if spec != nil && spec.ArityOK(len(c.Args)) && cl.subscribedResp2() && !allowedSubscribed(spec.Name) {
		pb.Commit()
		n.reject(c, spec, "ERR Can't execute '"+spec.Name+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if spec != nil && spec.ArityOK(len(c.Args)) && !n.awaitPause(cl, spec) {
		cl.quit = true // killed while paused
		return
	}
	if cl.tx.Open() && (spec == nil || !txn.RunsInMulti(spec)) {
		pb.Commit() // a batch's replies stay contiguous
		n.txns.Queue(cl, c, spec, tb, func() string {
			if !open && spec.Flags&command.NoAuth == 0 {
				return "NOAUTH Authentication required."
			}
			return n.aclRefusal(cl, c.Args, "multi")
		})
		return
	}
	if cl.tx.Open() && spec.Name == "exec" && cl.pending.Len() > 0 {
		// The block sees every earlier command's effect.
		pb.Commit()
		n.proxy.Resolve(&cl.pending, cl.run, c.R)
	}
	var r router.Decision
	var cmd router.Command
	routable := spec != nil && tb != nil && spec.ArityOK(len(c.Args)) && (open || spec.Flags&command.NoAuth != 0)
	if routable {
		cmd = routedCommand(spec, c.Args)
		r = n.proxy.Decide(snap, tb, cmd)
	}
	if r.Kind == router.Wait {
		// A slot's leadership is moving: hold this command (and the
		// connection) until the new leader is published. Nothing may be
		// held meanwhile: place pending replies first.
		pb.Commit()
		n.proxy.Resolve(&cl.pending, cl.run, c.R)
		snap, tb, r = n.proxy.WaitHandover(snap, cl.tableID(), c.Args)
		open = tableOpen(cl, tb)
	}
	batched := routable && r.Kind == router.Local && spec.Batchable != nil && spec.Batchable(c.Args)
	if !batched {
		// Replies of a batch are contiguous in out (a failed commit
		// rewrites them): commit before any other reply is appended.
		pb.Commit()
	}
	if cl.pending.Len() > 0 && (cl.pending.Revision() != snap.Revision || r.Kind == router.Everywhere || r.Kind == router.Across || r.Unit || awaitsForwards(spec)) {
		// Forwards routed with an older snapshot are placed (and retried
		// if refused) before anything routed with this one runs. A
		// fan-out, table-wide or multi-slot command waits for parts that
		// may travel on other peer connections than earlier forwards:
		// those are placed first, so that it sees their writes; so do a
		// script (it may touch any key) and a server command that is not
		// a fast one (FUNCTION LOAD must not overtake an FCALL sent
		// before it).
		pb.Commit()
		n.proxy.Resolve(&cl.pending, cl.run, c.R)
	}
	if spec == nil {
		n.reject(c, nil, unknownCommand(c.Args))
		return
	}
	name := spec.Name
	cl.lastCmd.Store(&name)
	if !spec.ArityOK(len(c.Args)) {
		msg := string(command.WrongArgs(spec.Name))
		c.R.Error(msg)
		n.stats.Of(spec).Failed.Add(1)
		n.stats.CountError(msg)
		return
	}
	msg := ""
	if !open && spec.Flags&command.NoAuth == 0 {
		msg = "NOAUTH Authentication required."
	} else {
		msg = n.aclRefusal(cl, c.Args, "toplevel")
	}
	if msg != "" {
		pb.Commit()
		if spec.Name == "exec" {
			// Redis discards the block of a refused EXEC, saying why.
			n.txns.End(cl)
			msg = "EXECABORT Transaction discarded because of: " + msg
		}
		n.reject(c, spec, msg)
		return
	}
	if tb != nil {
		c.Table, c.Slots = tb.ID, tb.Slots
	} else if spec.Cluster != router.Server {
		n.reject(c, spec, router.DroppedTable(cl.tableID()))
		return
	}
	if routable && len(cmd.Keys) > 0 {
		if msg := n.txns.Busy(tb.ID, tb.Slots, cmd.Keys); msg != "" {
			pb.Commit()
			n.reject(c, spec, msg)
			return
		}
	}
	start := time.Now()
	mark := c.R.Len()
	flushes := n.trackBefore(cl, c, spec, cmd)
	if spec.Timeout != nil && (spec.Blocks == nil || spec.Blocks(c.Args)) {
		n.block(cl, c, spec, cmd) // a blocking command: it may wait
	} else {
		n.dispatch(cl, c, spec, snap, tb, r, cmd, batched, pb)
	}
	n.trackAfter(cl, c, spec, mark, flushes)
	n.account(spec, start, c, mark)
}

// dispatch runs a command routed r (exec).
func (n *Node) dispatch(cl *client, c *command.Ctx, spec *command.Spec, snap *router.Snapshot, tb *router.Table, r router.Decision, cmd router.Command, batched bool, pb *command.Pipeline) {
	switch {
	case batched:
		pb.Run(spec, c, tb.Mode == meta.ModeRaft)
	case r.Kind == router.Remote && spec.Flags&command.OwnLocks != 0 && n.aclRestricted(cl):
		// A script of a connection whose ACL may refuse runs from here
		// (across the nodes leading its keys), so that each command it
		// calls is checked against the connection's user: a node that
		// ran it for a forward would not know the user.
		command.Run(spec, c)
	case r.Kind == router.Remote && (r.Unit || spec.Flags&command.OwnLocks != 0 || spec.Timeout != nil):
		// Its reply is awaited now: later commands may travel on the
		// peer connections of its other slots (a script's: of any key it
		// touches), and must not overtake it; a blocking command's
		// reply says whether the client waits.
		c.R.Raw(n.proxy.Reroute(cl.run, tb.ID, c.Args))
	case r.Kind == router.Remote:
		n.proxy.Forward(&cl.pending, c.R, snap, tb, r, c.Args)
	case r.Kind == router.Across:
		if err := n.txns.RunCommandAcross(cl, c, spec); err != nil {
			msg, _ := command.ErrorReply(err)
			c.R.Error(msg)
		}
	case r.Kind == router.Everywhere:
		n.proxy.Everywhere(cl.run, c.R, snap, tb, cmd, c.Args)
	case r.Kind == router.Refuse:
		c.R.Error(r.Err)
	default:
		if msg, moved := n.linearizable(tb, spec, c.Args); moved {
			c.R.Raw(n.proxy.Reroute(cl.run, tb.ID, c.Args))
			break
		} else if msg != "" {
			c.R.Error(msg)
			break
		}
		command.Run(spec, c)
		if c.Rerouted {
			c.Rerouted = false
			c.R.Raw(n.proxy.Reroute(cl.run, tb.ID, c.Args))
		}
	}
}

// awaitsForwards reports whether spec's commands run only after the
// connection's forwards in flight are answered (see exec).
func awaitsForwards(spec *command.Spec) bool {
	return spec != nil && (spec.Flags&command.OwnLocks != 0 || spec.Timeout != nil || spec.Cluster == router.Server && spec.Flags&command.Fast == 0)
}

// unknownCommand words the error as Redis 7 does, quoting up to 128 bytes
// of arguments.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(truncate(args[0], 128))
	b.WriteString("', with args beginning with: ")
	used := 0
	for _, a := range args[1:] {
		if used >= 128 {
			break
		}
		q := truncate(a, 128-used)
		b.WriteByte('\'')
		b.Write(q)
		b.WriteString("' ")
		used += len(q) + 3
	}
	return b.String()
}

// truncate cuts b at n bytes and at its first NUL, as C's "%.*s" does in
// Redis's message.
func truncate(b []byte, n int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > n {
		return b[:n]
	}
	return b
}
