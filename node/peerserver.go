package node

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The peer port (port+10000) serves other nodes only: the forwarded
// commands of package router/forward's protocol, after PEERAUTH with the
// cluster secret. Anything else is refused, logged, and the connection
// closed. Run accepts its connections (acceptLoop) and serves each with
// servePeer.

// peerAuthTimeout bounds how long an unauthenticated peer connection may
// stay open.
const peerAuthTimeout = 5 * time.Second

func (n *Node) servePeer(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	remote := c.RemoteAddr().String()
	rd := resp.NewReader(c, resp.Limits{MaxBulk: n.cfg.MaxBulkBytes, MaxQuery: n.cfg.MaxQueryBytes, Budget: n.queries})
	defer rd.Release()
	reject := func(msg string) {
		n.log.Warn("peer port: rejected a connection", "remote", remote, "reason", msg)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write([]byte("-ERR " + msg + "\r\n"))
	}
	c.SetReadDeadline(time.Now().Add(peerAuthTimeout))
	args, err := rd.ReadCommand()
	if err != nil {
		var pe *resp.ProtocolError
		if errors.As(err, &pe) {
			reject("protocol error before PEERAUTH: " + pe.Msg)
		} else {
			n.log.Warn("peer port: connection closed before PEERAUTH", "remote", remote, "err", err)
		}
		return
	}
	if len(args) != 3 || !strings.EqualFold(string(args[0]), "peerauth") {
		reject("PEERAUTH <secret> <node-id> must come first")
		return
	}
	snap := n.snap.Load()
	if snap == nil { // starting: no metadata, no secret to check against yet
		reject("this node is starting; retry")
		return
	}
	secret := snap.Secret
	if secret == "" || subtle.ConstantTimeCompare(args[1], []byte(secret)) != 1 {
		reject("invalid cluster secret")
		return
	}
	peerID := string(args[2])
	c.SetReadDeadline(time.Time{})
	c.Write([]byte("+OK\r\n"))
	rd.Release()

	var out resp.Reply
	cctx := command.Ctx{R: &out, Engine: n.eng, Cursors: n.cursors, Reroute: true, Commits: n.commits}
	// Forwarded point writes of a pipeline share one commit, as a
	// client's do (conn.go): a peer link carries many clients' commands.
	pb := pipelineBatch{b: n.eng.NewBatch(n.commits), out: &out, release: rd.Release}
	pb.reroute = func([][]byte) []byte { return []byte("-" + refuseMoved + "\r\n") }
	defer pb.commit()
	for {
		args, err := rd.ReadCommand()
		if err != nil {
			pb.commit()
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				n.log.Warn("peer port: protocol error", "peer", peerID, "remote", remote, "err", pe.Msg)
				out.Error("ERR " + pe.Error())
			}
			c.Write(out.B)
			return
		}
		if len(args) > 0 {
			n.execForwarded(&cctx, args, &pb)
			cctx.Args, cctx.OwnsSlot = nil, nil
		}
		if pb.replies == 0 {
			rd.Release()
		}
		if !rd.CompleteBuffered() || pb.full() {
			pb.commit()
		}
		if rd.Buffered() == 0 || out.Len() >= flushThreshold {
			pb.commit()
			c.SetWriteDeadline(time.Now().Add(n.cfg.ClientWriteTimeout))
			if _, err := c.Write(out.B); err != nil {
				return
			}
			out.Reset()
		}
	}
}

const refusePrefix = "PIKAREFUSE "

// execForwarded answers one peer request:
//
//	FWD <table> <n> (<slot> <epoch>){n} <command> <args>...
//
// or one of the requests of peerRequest. FWD runs after checking that this
// node leads every slot named at that epoch (n > 0), or, with n = 0, runs
// a table-wide command over this node's slots. Point writes join the
// link's pipeline batch.
func (n *Node) execForwarded(c *command.Ctx, args [][]byte, pb *pipelineBatch) {
	if handle := n.peerRequest(strings.ToLower(string(args[0]))); handle != nil {
		pb.commit() // a batch's replies stay contiguous
		handle(c, args)
		return
	}
	spec, errReply, stale := n.prepareForwarded(c, args)
	if stale != nil {
		// The asker's routing may be newer than this node's (a table just
		// created, a slot just moved here): catch up, then check again,
		// rather than send the asker into retries. Never wait with the
		// batch's slot locks held.
		pb.commit()
		n.catchUp(stale, n.peerCatchUpWait())
		spec, errReply, _ = n.prepareForwarded(c, args)
	}
	if errReply != "" {
		pb.commit() // a batch's replies stay contiguous
		c.R.Error(errReply)
		return
	}
	if c.OwnsSlot == nil && spec.Batchable != nil && spec.Batchable(c.Args) {
		pb.run(spec, c, false) // a refusal needs no arguments
		return
	}
	pb.commit()
	if tb, ok := n.snap.Load().Table(c.Table); ok {
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
const refuseMoved = refusePrefix + "the slot's raft leader moved"

// peerRequest returns the handler of a peer request other than FWD, nil
// for FWD (or an unknown name, which FWD's checks answer):
//
//	COUNTS <table>                 [keys, TTL keys] of this node's slots (INFO keyspace)
//	POSITIONS <table> <slot>...    [epoch, last index] of each slot's log (failover, switchover)
//	CHECKSUM <table> <slot>        [index, epoch, sum, keys] (slot check)
//	SLOTSIZE <table> <slot>        the slot's estimated size in bytes (slot moves)
//	REPLICATE, SYNCBEGIN, SYNCDATA, SYNCEND   replication (applyReplicated, applyFullSync)
func (n *Node) peerRequest(name string) func(*command.Ctx, [][]byte) {
	switch name {
	case "raft":
		return n.peerRaft
	case "rafttransfer":
		return n.peerRaftTransfer
	case "raftsnapbegin", "raftsnapdata":
		return func(c *command.Ctx, args [][]byte) { n.peerRaftSnapshot(c, name, args) }
	case "counts":
		return n.peerCounts
	case "positions":
		return n.peerPositions
	case "checksum":
		return n.peerChecksum
	case "slotsize":
		return n.peerSlotSize
	case "replicate":
		return n.applyReplicated
	case "syncbegin", "syncdata", "syncend":
		return func(c *command.Ctx, args [][]byte) { n.applyFullSync(c, name, args) }
	}
	return nil
}

// parseTableSlot reads a request's table and slot arguments.
func parseTableSlot(table, slot []byte) (storage.TableID, storage.SlotID, bool) {
	t, err1 := strconv.ParseUint(string(table), 10, 32)
	s, err2 := strconv.ParseUint(string(slot), 10, 32)
	return storage.TableID(t), storage.SlotID(s), err1 == nil && err2 == nil
}

func (n *Node) peerCounts(c *command.Ctx, args [][]byte) {
	id, err := strconv.ParseUint(string(args[len(args)-1]), 10, 32)
	tb, ok := n.snap.Load().Table(storage.TableID(id))
	if !ok && len(args) == 2 && err == nil {
		tb, ok = n.caughtUp(n.peerCatchUpWait()).Table(storage.TableID(id))
	}
	if len(args) != 2 || err != nil || !ok {
		c.R.Error(refusePrefix + "no table " + string(args[len(args)-1]))
		return
	}
	keys, expires := n.ownedCounts(tb)
	c.R.Array(2)
	c.R.Int(keys)
	c.R.Int(expires)
}

func (n *Node) peerPositions(c *command.Ctx, args [][]byte) {
	if len(args) < 2 {
		c.R.Error("ERR malformed POSITIONS")
		return
	}
	id, err := strconv.ParseUint(string(args[1]), 10, 32)
	if err != nil {
		c.R.Error("ERR malformed POSITIONS")
		return
	}
	c.R.Array(len(args) - 2)
	for _, a := range args[2:] {
		s, err := strconv.ParseUint(string(a), 10, 32)
		_, last, epoch := n.eng.LogBounds(storage.TableID(id), storage.SlotID(s))
		if err != nil {
			last, epoch = 0, 0
		}
		c.R.Array(2)
		c.R.Int(int64(epoch))
		c.R.Int(int64(last))
	}
}

// slotRequest reads the arguments of a request that names one slot,
// NAME <table> <slot>; a malformed one is answered and ok is false.
func slotRequest(c *command.Ctx, args [][]byte) (t storage.TableID, s storage.SlotID, ok bool) {
	if len(args) == 3 {
		t, s, ok = parseTableSlot(args[1], args[2])
	}
	if !ok {
		c.R.Error("ERR malformed " + strings.ToUpper(string(args[0])))
	}
	return t, s, ok
}

func (n *Node) peerSlotSize(c *command.Ctx, args [][]byte) {
	t, s, ok := slotRequest(c, args)
	if !ok {
		return
	}
	size, err := n.eng.SlotSize(t, s)
	if err != nil {
		c.R.Error("ERR slot size: " + err.Error())
		return
	}
	c.R.Int(size)
}

func (n *Node) peerChecksum(c *command.Ctx, args [][]byte) {
	t, s, ok := slotRequest(c, args)
	if !ok {
		return
	}
	sum, err := n.eng.SlotChecksum(t, s)
	if err != nil {
		c.R.Error("ERR checksum: " + err.Error())
		return
	}
	c.R.Array(4)
	c.R.Int(int64(sum.Index))
	c.R.Int(int64(sum.Epoch))
	c.R.BulkString(strconv.FormatUint(sum.Sum, 10))
	c.R.Int(sum.Keys)
}

// prepareForwarded checks a FWD request and sets c up to run it; it
// returns the error reply instead when it must not run, and with it what
// this node may be behind on when the refusal could be its own stale
// routing (an unknown table, an older epoch) rather than the asker's.
func (n *Node) prepareForwarded(c *command.Ctx, args [][]byte) (*command.Spec, string, *behind) {
	if !strings.EqualFold(string(args[0]), "fwd") || len(args) < 4 {
		return nil, "ERR unknown peer request", nil
	}
	table, err1 := strconv.ParseUint(string(args[1]), 10, 32)
	count, err2 := strconv.ParseUint(string(args[2]), 10, 16)
	if err1 != nil || err2 != nil || len(args) < 3+2*int(count)+1 {
		return nil, "ERR malformed FWD", nil
	}
	snap := n.snap.Load()
	tb, ok := snap.Table(storage.TableID(table))
	if !ok {
		return nil, refusePrefix + (&router.UnknownTableError{Table: storage.TableID(table)}).Error(), &behind{table: true, t: storage.TableID(table)}
	}
	slots := make([]storage.SlotID, count)
	for i := range slots {
		s, err1 := strconv.ParseUint(string(args[3+2*i]), 10, 32)
		e, err2 := strconv.ParseUint(string(args[4+2*i]), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, "ERR malformed FWD", nil
		}
		raftLeader := tb.Mode == meta.ModeRaft && n.raftLeads(tb.ID, storage.SlotID(s))
		if err := snap.CheckLeader(tb.ID, storage.SlotID(s), meta.Epoch(e)); err != nil && !raftLeader {
			// (A raft slot's own group is the authority: its leader
			// serves before the routing names it.)
			var b *behind
			if ee, ok := err.(*router.EpochError); ok && ee.Asked > ee.Known {
				b = &behind{t: tb.ID, s: storage.SlotID(s), epoch: ee.Asked}
			}
			return nil, refusePrefix + err.Error(), b
		}
		if tb.Mode == meta.ModeRaft && n.raftLeaderElsewhere(tb.ID, storage.SlotID(s)) {
			// The asker waits for the routing to follow raft and retries.
			return nil, refusePrefix + fmt.Sprintf("slot %d: raft elected another leader", s), nil
		}
		slots[i] = storage.SlotID(s)
	}
	cmd := args[3+2*count:]
	spec := n.tbl.Lookup(cmd[0])
	if spec == nil || spec.Cluster == router.Server {
		return nil, "ERR command not forwardable: " + string(cmd[0]), nil
	}
	if !spec.ArityOK(len(cmd)) {
		return nil, string(command.WrongArgs(spec.Name)), nil
	}
	c.Args, c.Table, c.Slots = cmd, tb.ID, tb.Slots
	if count == 0 {
		if spec.Cluster != router.TableWide {
			return nil, "ERR not a table-wide command: " + spec.Name, nil
		}
		c.OwnsSlot = ownedBy(tb, n.id)
		return spec, "", nil
	}
	// The keys must be in the slots the asker named (and this node leads).
	if keys, err := spec.KeysOf(cmd); err == nil {
		for _, k := range keys {
			if s := router.SlotOf(k, tb.Slots); !containsSlot(slots, s) {
				return nil, refusePrefix + fmt.Sprintf("key in slot %d, not in the slots named", s), nil
			}
		}
	}
	if spec.Name == "scan" {
		c.OwnsSlot = ownedBy(tb, n.id)
	}
	return spec, "", nil
}

func containsSlot(slots []storage.SlotID, s storage.SlotID) bool {
	for _, x := range slots {
		if x == s {
			return true
		}
	}
	return false
}

// ownedCounts sums the key and TTL counts of the slots of tb this node leads.
func (n *Node) ownedCounts(tb *router.Table) (keys, expires int64) {
	if tb.AllLocal() {
		return n.eng.Counts(tb.ID)
	}
	return n.eng.CountsWhere(tb.ID, ownedBy(tb, n.id))
}

// applyReplicated applies a leader's log entries for a slot this node
// follows (package replication sends them):
//
//	REPLICATE <table> <slot> <epoch> <entry>...
//
// Entries this node already has are skipped; the first missing one must
// follow its last ("-REPLGAP <last>" otherwise, so the leader resends from
// there). The answer is the slot's position here: [last index, its epoch].
func (n *Node) applyReplicated(c *command.Ctx, args [][]byte) {
	if len(args) < 4 {
		c.R.Error("ERR malformed REPLICATE")
		return
	}
	t, s, ok := parseTableSlot(args[1], args[2])
	epoch, err := strconv.ParseUint(string(args[3]), 10, 64)
	if !ok || err != nil {
		c.R.Error("ERR malformed REPLICATE")
		return
	}
	if msg := n.followerCheck(t, s, meta.Epoch(epoch)); msg != "" {
		c.R.Error(msg)
		return
	}
	_, last, _ := n.eng.LogBounds(t, s)
	for _, raw := range args[4:] {
		en, err := storage.DecodeLogEntry(raw)
		if err != nil {
			c.R.Error("ERR " + err.Error())
			return
		}
		if en.Index <= last {
			continue
		}
		if en.Index != last+1 {
			c.R.Error(fmt.Sprintf("REPLGAP %d", last))
			return
		}
		if err := n.eng.ApplyLogEntry(t, s, en); err != nil {
			if errors.Is(err, storage.ErrLogGap) {
				_, last, _ = n.eng.LogBounds(t, s)
				c.R.Error(fmt.Sprintf("REPLGAP %d", last))
				return
			}
			c.R.Error("ERR apply: " + err.Error())
			return
		}
		last = en.Index
	}
	_, _, lastEpoch := n.eng.LogBounds(t, s)
	c.R.Array(2)
	c.R.Int(int64(last))
	c.R.Int(int64(lastEpoch))
}

// followerCheck explains why this node must not take its leader's data for
// slot s of table t at epoch, "" when it may.
func (n *Node) followerCheck(t storage.TableID, s storage.SlotID, epoch meta.Epoch) string {
	tb, ok := n.snap.Load().Table(t)
	if !ok || uint32(s) >= tb.Slots {
		return refusePrefix + fmt.Sprintf("no table %d slot %d here", t, s)
	}
	r := tb.Route(s)
	if r.Leader == n.id || !slices.Contains(r.Replicas, n.id) || r.Epoch != epoch {
		return refusePrefix + fmt.Sprintf("not a follower of table %d slot %d at epoch %d (leader %s, epoch %d)", t, s, epoch, r.Leader, r.Epoch)
	}
	return ""
}

// applyFullSync loads a full sync of a slot this node follows:
//
//	SYNCBEGIN <table> <slot> <epoch>                          drop the slot's data and log
//	SYNCDATA  <table> <slot> <epoch> <encoded puts>           load a chunk
//	SYNCEND   <table> <slot> <epoch> <index> <entry epoch> <keys> <expires>
//
// SYNCEND sets the slot's counts and log position; the leader's log
// continues from there. Its answer is the position, as REPLICATE's.
func (n *Node) applyFullSync(c *command.Ctx, name string, args [][]byte) {
	nums := make([]uint64, 0, 7)
	for _, a := range args[1:] {
		v, err := strconv.ParseUint(string(a), 10, 64)
		if err != nil {
			break
		}
		nums = append(nums, v)
	}
	want := map[string]int{"syncbegin": 4, "syncdata": 5, "syncend": 8}[name]
	if len(args) != want || len(nums) < 3 || nums[0] > math.MaxUint32 || nums[1] > math.MaxUint32 {
		c.R.Error("ERR malformed " + strings.ToUpper(name))
		return
	}
	t, s := storage.TableID(nums[0]), storage.SlotID(nums[1])
	if msg := n.followerCheck(t, s, meta.Epoch(nums[2])); msg != "" {
		c.R.Error(msg)
		return
	}
	var err error
	key := loadKey{t, s}
	n.loadsMu.Lock()
	load := n.loads[key]
	if name != "syncdata" && load != nil {
		delete(n.loads, key) // a new full sync replaces it, SYNCEND ends it
	}
	n.loadsMu.Unlock()
	switch name {
	case "syncbegin":
		if load != nil {
			load.Abort()
		}
		n.log.Info("full sync of a slot from its leader", "table", t, "slot", s)
		if load, err = n.eng.BeginSlotLoad(t, s); err == nil {
			n.loadsMu.Lock()
			if n.loads == nil {
				n.loads = map[loadKey]*storage.SlotLoad{}
			}
			n.loads[key] = load
			n.loadsMu.Unlock()
		}
	case "syncdata":
		if load == nil {
			c.R.Error(refusePrefix + "no full sync of this slot in progress here")
			return
		}
		var eff storage.Effect
		if eff, err = storage.DecodeEffect(args[4]); err == nil {
			err = load.Add(eff.Ops)
		}
	case "syncend":
		if load == nil || len(nums) != 7 {
			if load == nil {
				c.R.Error(refusePrefix + "no full sync of this slot in progress here")
			} else {
				load.Abort()
				c.R.Error("ERR malformed SYNCEND")
			}
			return
		}
		err = load.Finish(storage.LogIndex(nums[3]), storage.Epoch(nums[4]), int64(nums[5]), int64(nums[6]))
		if err == nil {
			c.R.Array(2)
			c.R.Int(int64(nums[3]))
			c.R.Int(int64(nums[4]))
			return
		}
	}
	if err != nil {
		c.R.Error("ERR full sync: " + err.Error())
		return
	}
	c.R.OK()
}
