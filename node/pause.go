package node

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// CLIENT KILL, PAUSE and UNPAUSE. KILL acts on this node's connections
// (CLIENT LIST shows them): a client connected through another node is
// neither listed nor killed here. PAUSE and UNPAUSE act on every live
// node (CPAUSE): the whole cluster's clients are paused when it answers.

// pauseMode is what CLIENT PAUSE holds up; a stronger mode wins.
type pauseMode uint8

const (
	pauseOff   pauseMode = iota
	pauseWrite           // commands that may write (Redis's write and may-replicate)
	pauseAll             // every command
)

// clientPause is the node's CLIENT PAUSE: the mode and until when.
// changed is closed (and replaced) whenever either changes, waking the
// paused clients to look again.
type clientPause struct {
	// on is set while a pause may hold (the commands' fast path).
	on      atomic.Bool
	mu      sync.Mutex
	mode    pauseMode
	until   time.Time
	changed chan struct{}
}

func newClientPause() *clientPause { return &clientPause{changed: make(chan struct{})} }

// pause extends the pause to until and mode, as Redis does: the later end
// and the stronger mode win.
func (p *clientPause) pause(until time.Time, mode pauseMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == pauseOff || time.Now().After(p.until) {
		p.mode, p.until = mode, until
	} else {
		p.mode = max(p.mode, mode)
		if until.After(p.until) {
			p.until = until
		}
	}
	p.on.Store(true)
	close(p.changed)
	p.changed = make(chan struct{})
}

// unpause ends the pause.
func (p *clientPause) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = pauseOff
	p.on.Store(false)
	close(p.changed)
	p.changed = make(chan struct{})
}

// holds reports whether a command that may write (write) is held up now,
// and until when, with the channel that says the pause changed.
func (p *clientPause) holds(write bool) (bool, time.Time, <-chan struct{}) {
	if !p.on.Load() {
		return false, time.Time{}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.mode == pauseOff || !now.Before(p.until) {
		p.mode = pauseOff
		p.on.Store(false)
		return false, time.Time{}, nil
	}
	return p.mode == pauseAll || write, p.until, p.changed
}

// mayReplicate is Redis's test for CLIENT PAUSE WRITE: a write command,
// one flagged may-replicate (scripts, PUBLISH, PFCOUNT), or an EXEC whose
// block holds one.
func mayReplicate(cl *client, spec *command.Spec) bool {
	if spec == nil {
		return false
	}
	if spec.Name == "exec" {
		return cl.tx.AnyQueued(func(s *command.Spec) bool { return mayReplicate(nil, s) })
	}
	if spec.Flags&command.Write != 0 {
		return true
	}
	switch spec.Name {
	case "eval", "evalsha", "fcall", "publish", "spublish", "pfcount":
		return true
	}
	return false
}

// awaitPause holds the connection's command while CLIENT PAUSE holds it
// up: the replies so far are sent first; the wait ends when the pause
// does, or the connection is killed (false). A held client counts as
// blocked, as in Redis (INFO blocked_clients, CLIENT LIST flag b).
func (n *Node) awaitPause(cl *client, spec *command.Spec) bool {
	if !n.pause.on.Load() {
		return true // the commands' path: one atomic load
	}
	for counted := false; ; {
		held, until, changed := n.pause.holds(mayReplicate(cl, spec))
		if !held {
			return true
		}
		if !counted {
			counted = true
			cl.paused.Store(true)
			n.pausedClients.Add(1)
			defer func() {
				cl.paused.Store(false)
				n.pausedClients.Add(-1)
			}()
		}
		if !cl.flush() {
			return false
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-t.C:
		case <-changed:
		case <-cl.killed:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// clientPauseCmd is CLIENT PAUSE timeout [WRITE|ALL].
func (n *Node) clientPauseCmd(c *command.Ctx) error {
	mode := pauseAll
	if len(c.Args) == 4 {
		switch strings.ToLower(string(c.Args[3])) {
		case "write":
			mode = pauseWrite
		case "all":
		default:
			return command.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
		}
	}
	ms, err := strconv.ParseInt(string(c.Args[2]), 10, 64)
	if err != nil {
		return command.Error("ERR timeout is not an integer or out of range")
	}
	if ms < 0 {
		return command.Error("ERR timeout is negative")
	}
	until := time.Now().Add(time.Duration(ms) * time.Millisecond)
	n.pause.pause(until, mode)
	wire := peer.PauseAll
	if mode == pauseWrite {
		wire = peer.PauseWrite
	}
	n.tellAll(peer.ClientPause{UntilMS: uint64(until.UnixMilli()), Mode: wire})
	c.R.OK()
	return nil
}

// clientUnpauseCmd is CLIENT UNPAUSE, on every node.
func (n *Node) clientUnpauseCmd(c *command.Ctx) {
	n.pause.unpause()
	n.tellAll(peer.ClientPause{Mode: peer.PauseOff})
	c.R.OK()
}

// handleClientPause applies another node's CLIENT PAUSE or UNPAUSE (CPAUSE).
func (n *Node) handleClientPause(r *resp.Reply, req peer.ClientPause) {
	switch req.Mode {
	case peer.PauseOff:
		n.pause.unpause()
	case peer.PauseWrite:
		n.pause.pause(time.UnixMilli(int64(req.UntilMS)), pauseWrite)
	default:
		n.pause.pause(time.UnixMilli(int64(req.UntilMS)), pauseAll)
	}
	r.OK()
}

// tellAll sends req to every other live node and waits for their answers
// (settingWait at most: a node that does not answer in time applies a
// CONFIG value from etcd, and misses a pause).
func (n *Node) tellAll(req peer.Request) {
	var futures []*peer.Future
	for _, p := range n.livePeers() {
		f := n.links.Do(p.Addr, peer.ClassPubsub, 0, req)
		f.Flush()
		futures = append(futures, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), settingWait)
	defer cancel()
	for _, f := range futures {
		if _, err := f.Wait(ctx, settingWait); err != nil {
			n.log.Warn("a node did not take a cluster-wide setting", "request", req.Name(), "err", err)
		}
	}
}

// settingWait bounds tellAll.
const settingWait = 2 * time.Second

// clientKillCmd is CLIENT KILL addr, or CLIENT KILL with filters (ID,
// TYPE, USER, ADDR, LADDR, SKIPME): the matching connections of this node
// are closed; the caller's own after its reply.
func (n *Node) clientKillCmd(c *command.Ctx) error {
	self := connOf(c)
	var addr, laddr, typ, user *string
	var id uint64
	skipme := true
	args := c.Args[2:]
	if len(args) == 1 {
		a := string(args[0])
		addr, skipme = &a, false // the old form may kill the caller
	} else {
		if len(args)%2 != 0 {
			return command.ErrSyntax
		}
		for i := 0; i < len(args); i += 2 {
			v := string(args[i+1])
			switch strings.ToLower(string(args[i])) {
			case "id":
				x, err := strconv.ParseInt(v, 10, 64)
				if err != nil || x < 1 {
					return command.Error("ERR client-id should be greater than 0")
				}
				id = uint64(x)
			case "type":
				t := strings.ToLower(v)
				switch t {
				case "normal", "pubsub", "master", "replica", "slave":
				default:
					return command.Error("ERR Unknown client type '" + v + "'")
				}
				typ = &t
			case "addr":
				addr = &v
			case "laddr":
				laddr = &v
			case "user":
				if _, ok := n.users.set().byName[v]; !ok && v != adminUser {
					return command.Error("ERR No such user '" + v + "'")
				}
				user = &v
			case "skipme":
				switch strings.ToLower(v) {
				case "yes":
					skipme = true
				case "no":
					skipme = false
				default:
					return command.ErrSyntax
				}
			default:
				return command.ErrSyntax
			}
		}
	}
	killed := 0
	tenant := n.tenantView(self)
	for _, other := range n.clientsSnapshot(nil) {
		switch {
		case tenant && !sameTenant(self, other),
			user != nil && other.ident.Load().user != *user,
			addr != nil && other.addr != *addr,
			laddr != nil && other.laddr != *laddr,
			id != 0 && other.id != id,
			typ != nil && *typ != other.kind(),
			other == self && skipme:
			continue
		}
		if other == self {
			self.quit = true // after the reply
		} else {
			other.kill()
		}
		killed++
	}
	if len(args) == 1 {
		if killed == 0 {
			return command.Error("ERR No such client")
		}
		c.R.OK()
		return nil
	}
	c.R.Int(int64(killed))
	return nil
}

// kind is the client's type for CLIENT KILL TYPE: pubsub while it
// subscribes, normal otherwise (no connection here is a master's or a
// replica's).
func (cl *client) kind() string {
	if s := cl.sub.Load(); s != nil && s.Subscribed() {
		return "pubsub"
	}
	return "normal"
}

// wasKilled reports whether kill closed the client.
func (cl *client) wasKilled() bool {
	select {
	case <-cl.killed:
		return true
	default:
		return false
	}
}

// kill closes the client's connection from another goroutine (CLIENT
// KILL): its goroutine's read fails and it ends; a wait ends at once.
func (cl *client) kill() {
	cl.killOnce.Do(func() {
		close(cl.killed)
		cl.conn.Close()
	})
}
