package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/peer"
)

// Proxy is one node's embedded proxy: it holds the routing the node
// publishes, and carries out what Decide decides. A slot this node leads
// runs here (through the connection's Runner); another node's slot is
// forwarded to it over the peer links and its reply relayed in order (a
// command over several leaders' slots is a unit the node runs across them:
// Across); a table-wide command runs on every leader of the table; a command refused
// because the routing changed is routed again.
type Proxy struct {
	cfg  ProxyConfig
	snap atomic.Pointer[Snapshot]
	// next is closed when a snapshot newer than snap's is published
	// (Publish), and replaced by a fresh channel.
	next atomic.Pointer[chan struct{}]
}

// ProxyConfig is what a Proxy needs of its node.
type ProxyConfig struct {
	// Self is this node.
	Self meta.NodeID
	// Links carry forwards to the other nodes.
	Links *peer.Links
	// ForwardTimeout bounds the wait for a forwarded command's reply.
	ForwardTimeout time.Duration
	// Classify returns what routing needs of a known command (args[0]
	// names it).
	Classify func(args [][]byte) Command
	// Raft returns this node's view of its raft groups, nil when it runs
	// none.
	Raft func() RaftView
	// CursorSlot returns the slot a SCAN cursor resumes in, or the
	// invalid-cursor error.
	CursorSlot func(cursor []byte) (SlotID, error)
}

// Runner runs commands of one connection on this node.
type Runner interface {
	// Run runs args, a command of table tb routed here, and returns its
	// reply; moved reports that nothing ran because a raft slot's leader
	// moved meanwhile (the proxy routes it again).
	Run(tb *Table, args [][]byte) (reply []byte, moved bool)
	// RunPart runs a table-wide command's part here and returns
	// its reply; owned limits it to the slots of tb this node leads.
	RunPart(tb *Table, args [][]byte, owned bool) []byte
	// Resp3 reports the connection's protocol (HELLO 3): a forward asks
	// the peer to answer in it.
	Resp3() bool
}

// NewProxy returns a proxy without routing yet (Routing returns nil until
// the first Publish).
func NewProxy(cfg ProxyConfig) *Proxy {
	p := &Proxy{cfg: cfg}
	next := make(chan struct{})
	p.next.Store(&next)
	return p
}

// Routing returns the current routing snapshot, nil before the first.
func (p *Proxy) Routing() *Snapshot { return p.snap.Load() }

// Publish makes snap the routing and wakes the commands waiting for newer
// routing; it returns the snapshot it replaced.
func (p *Proxy) Publish(snap *Snapshot) *Snapshot {
	prev := p.snap.Swap(snap)
	next := make(chan struct{})
	if old := p.next.Swap(&next); old != nil {
		close(*old)
	}
	return prev
}

// AwaitNewer waits up to limit for a routing snapshot newer than rev.
func (p *Proxy) AwaitNewer(rev int64, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		// The channel is taken before the revision is read: a snapshot
		// published in between closes it.
		next := p.next.Load()
		if s := p.snap.Load(); s != nil && s.Revision > rev {
			return
		}
		select {
		case <-*next:
		case <-timer.C:
			return
		}
	}
}

// Decide routes cmd, a command of table tb, under snap (Decide with this
// node's raft groups).
func (p *Proxy) Decide(snap *Snapshot, tb *Table, cmd Command) Decision {
	var raft RaftView
	if p.cfg.Raft != nil {
		raft = p.cfg.Raft()
	}
	return Decide(snap, tb, cmd, raft)
}

// DroppedTable answers a command on a connection whose table was dropped.
func DroppedTable(t meta.TableID) string {
	return fmt.Sprintf("ERR table %d no longer exists (it was dropped); SELECT another", t)
}

// Client errors of routing changes the client retries through.
const (
	errLeadershipChanging = "CLUSTERDOWN the slot's leadership is changing; retry"
	errPartMoved          = "CLUSTERDOWN a slot's leadership is changing; retry"
	errHandoverSlow       = "CLUSTERDOWN a slot's leadership handover did not finish in time; retry"
)

// errorReply is msg as a raw RESP error.
func errorReply(msg string) []byte { return []byte("-" + msg + "\r\n") }

// forwardReq is the FWD request for args on the given slots, each at its
// epoch in tb, answered in RESP3 if resp3.
func forwardReq(tb *Table, slots []SlotID, args [][]byte, resp3 bool) peer.Forward {
	req := peer.Forward{Table: tb.ID, Resp3: resp3, Slots: make([]peer.SlotEpoch, len(slots)), Command: args}
	for i, s := range slots {
		req.Slots[i] = peer.SlotEpoch{Slot: s, Epoch: tb.Route(s).Epoch}
	}
	return req
}

// slotsOf is the slots a Remote decision's forward names: its slot, or
// for a unit every slot of its keys.
func (p *Proxy) slotsOf(tb *Table, d Decision, args [][]byte) []SlotID {
	if !d.Unit {
		return []SlotID{d.Slot}
	}
	var slots []SlotID
	for _, k := range p.cfg.Classify(args).Keys {
		if s := SlotOf(k, tb.Slots); !slices.Contains(slots, s) {
			slots = append(slots, s)
		}
	}
	return slots
}

// send forwards args (on slots, of table tb) to node id, on the
// connection of its first slot; the reply comes in RESP3 if resp3.
func (p *Proxy) send(snap *Snapshot, id meta.NodeID, tb *Table, slots []SlotID, args [][]byte, resp3 bool) *peer.Future {
	info, _ := snap.Node(id)
	key := uint32(0)
	if len(slots) > 0 {
		key = uint32(slots[0])
	}
	return p.cfg.Links.Do(info.Peer, peer.ClassForward, key, forwardReq(tb, slots, args, resp3))
}

// ForwardUnit runs cmds, the data commands of a MULTI block over slots of
// tb that node leader leads (per snap), there as one unit (UNIT), and
// returns its reply: the array of the commands' replies, or an error.
// moved reports that the leader refused it, its routing differing
// (nothing ran): the caller routes the block again with newer routing.
func (p *Proxy) ForwardUnit(snap *Snapshot, tb *Table, leader meta.NodeID, slots []SlotID, cmds [][][]byte, resp3 bool) (reply []byte, moved bool) {
	req := peer.Unit{Table: tb.ID, Resp3: resp3, Slots: make([]peer.SlotEpoch, len(slots)), Commands: cmds}
	for i, s := range slots {
		req.Slots[i] = peer.SlotEpoch{Slot: s, Epoch: tb.Route(s).Epoch}
	}
	info, _ := snap.Node(leader)
	key := uint32(0)
	if len(slots) > 0 {
		key = uint32(slots[0])
	}
	raw, ok := p.wait(p.cfg.Links.Do(info.Peer, peer.ClassForward, key, req), leader)
	return raw, ok && refused(raw)
}

// wait waits for a forwarded reply; a failure becomes CLUSTERDOWN, which
// says the command may have run (it was sent: the leader may have applied
// it and died, or been cut off, before its reply).
func (p *Proxy) wait(f *peer.Future, leader meta.NodeID) ([]byte, bool) {
	raw, err := f.Wait(context.Background(), p.cfg.ForwardTimeout)
	if err != nil {
		return []byte(fmt.Sprintf("-CLUSTERDOWN the leader %s did not answer (the command may have run): %v\r\n", leader, err)), false
	}
	return raw, true
}

// refused reports whether a raw reply is a peer's refusal
// (peer.RefusedError): the routing changed, nothing ran.
func refused(raw []byte) bool {
	var re *peer.RefusedError
	return errors.As(peer.ReplyErr(raw), &re)
}

// CopyArgs copies a command's arguments out of the reader's buffer, which
// is reused, into one allocation.
func CopyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a):]
	}
	return out
}

// handoverWait bounds how long a command waits for a slot's new leader.
const handoverWait = 5 * time.Second

// WaitHandover waits, at most handoverWait, until the routing no longer
// holds args (a slot it needs being handed over), and decides again; a
// route still waiting after that is refused with CLUSTERDOWN.
func (p *Proxy) WaitHandover(snap *Snapshot, table meta.TableID, args [][]byte) (*Snapshot, *Table, Decision) {
	cmd := p.cfg.Classify(args)
	deadline := time.Now().Add(handoverWait)
	for time.Now().Before(deadline) {
		p.AwaitNewer(snap.Revision, time.Until(deadline))
		snap = p.snap.Load()
		tb, ok := snap.Table(table)
		if !ok {
			return snap, nil, Decision{Kind: Refuse, Err: DroppedTable(table)}
		}
		if d := p.Decide(snap, tb, cmd); d.Kind != Wait {
			return snap, tb, d
		}
	}
	tb, _ := snap.Table(table)
	return snap, tb, Decision{Kind: Refuse, Err: errHandoverSlow}
}

// Reroute runs a command of table again, here or on its slot's new
// leader: its forward was refused (the routing changed), or it had no
// effect here because its raft slot's leader moved. Refused again (the
// other node's routing lags, or a handover is still running), it waits
// for newer routing and tries again, for at most handoverWait: a routing
// change costs the client time, not an error. args are not kept after it
// returns.
func (p *Proxy) Reroute(run Runner, table meta.TableID, args [][]byte) []byte {
	deadline := time.Now().Add(handoverWait)
	cmd := p.cfg.Classify(args)
	for {
		snap := p.snap.Load()
		tb, ok := snap.Table(table)
		if !ok {
			return errorReply(DroppedTable(table))
		}
		d := p.Decide(snap, tb, cmd)
		if d.Kind == Wait { // a dropped table comes back as Refuse
			snap, tb, d = p.WaitHandover(snap, table, args)
		}
		switch d.Kind {
		case Local:
			reply, moved := run.Run(tb, args)
			if !moved {
				return reply
			}
			// The slot's raft leader moved meanwhile: route again.
		case Remote:
			raw, _ := p.wait(p.send(snap, d.Leader, tb, p.slotsOf(tb, d, args), args, run.Resp3()), d.Leader)
			if !refused(raw) {
				return raw
			}
		case Refuse:
			return errorReply(d.Err)
		default:
			return errorReply(errLeadershipChanging)
		}
		if time.Now().After(deadline) {
			return errorReply(errLeadershipChanging)
		}
		p.AwaitNewer(snap.Revision, 50*time.Millisecond)
	}
}
