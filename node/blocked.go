package node

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/blocking"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// A client in a blocking command (BLPOP, BZPOPMIN, BLMOVE, ...) waits on
// its connection's goroutine, as a blocked client of Redis stops reading
// its connection: the command tried once and found nothing; the keys are
// registered (package blocking), and each wake-up tries the command again,
// routed anew (its keys' leaders may have changed), until it takes
// something, its timeout passes, CLIENT UNBLOCK ends it or the client
// goes away (docs/blocking.md).

// nothingFor reports whether reply is a blocking command's "nothing was
// there" (a null, in either protocol).
func nothingFor(reply []byte) bool {
	switch string(reply) {
	case "*-1\r\n", "$-1\r\n", "_\r\n":
		return true
	}
	return false
}

// transient reports whether reply is an error that says nothing ran
// and trying again later may work: the slots were busy with other units,
// a node did not answer before a unit's decision, a leader is down, the
// leader could not be reached (its connection did not open: nothing was
// sent). A waiting client does not get it: it keeps waiting, and tries
// again soon.
func transient(reply []byte) bool {
	s := string(reply)
	switch {
	case !strings.HasPrefix(s, "-CLUSTERDOWN "):
		return false
	case strings.Contains(s, " stayed busy; retry"), strings.Contains(s, "(nothing ran)"), strings.Contains(s, " is not served: its leader "),
		strings.Contains(s, "(the command may have run): connect to peer "):
		return true
	}
	return false
}

// retryPause is how long a waiter pauses before it tries again after a
// transient error: random, so that waiters that met do not meet again.
func retryPause() time.Duration { return time.Duration(10+rand.IntN(90)) * time.Millisecond }

// waitedKeys are the keys a blocking command waits on: BLMOVE and
// BRPOPLPUSH wait on their source only.
func waitedKeys(spec *command.Spec, keys [][]byte) [][]byte {
	if (spec.Name == "blmove" || spec.Name == "brpoplpush") && len(keys) > 0 {
		return keys[:1]
	}
	return keys
}

// block runs the blocking command in c: when nothing is there it makes
// cl wait, trying again at each wake-up, and appends the reply.
func (n *Node) block(cl *client, c *command.Ctx, spec *command.Spec, cmd router.Command) {
	timeout, err := spec.Timeout(c.Args)
	if err != nil {
		msg, _ := command.ErrorReply(err)
		c.R.Error(msg)
		return
	}
	keys := waitedKeys(spec, cmd.Keys)
	if spec.Name == "xread" {
		c.Args = n.resolveLastIDs(cl, c.Args)
	}
	var soon <-chan time.Time
	tries := 0
	try := func() bool {
		mark := c.R.Len()
		answered, again := n.tryBlocked(cl, c, spec, keys)
		if again {
			soon = time.After(retryPause())
		}
		if tries++; tries > 1 && answered {
			switch spec.Name {
			case "xreadgroup":
				n.groupGone(cl, c, keys, mark)
			case "xread":
				// A waiting XREAD ignores a key that now holds another
				// type, as Redis's (only the first look answers WRONGTYPE).
				if strings.HasPrefix(string(c.R.B[mark:]), "-WRONGTYPE ") {
					c.R.B = c.R.B[:mark]
					return false
				}
			}
		}
		return answered
	}
	if try() {
		return
	}
	if readsAll(spec) {
		c.Args = command.XReadServedArgs(c.Args)
	}
	tb, ok := n.proxy.Routing().Table(cl.tableID())
	if !ok {
		c.R.Error(router.DroppedTable(cl.tableID()))
		return
	}
	w := n.blocked.Register(cl.id, tb, keys)
	defer n.blocked.Done(w)
	// Once registered, a write is signalled: look again, as one may have
	// come since the first try.
	if try() {
		return
	}
	var deadline <-chan time.Time
	if timeout != command.Forever {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	// The replies before this command go out now.
	if !cl.flush() {
		return
	}
	gone, stop := n.watchConn(cl)
	defer stop()
	for {
		select {
		case <-w.Wake():
			if try() {
				return
			}
		case <-soon:
			soon = nil
			if try() {
				return
			}
		case <-deadline:
			c.R.NullArray()
			return
		case how := <-w.Unblocked():
			if how == blocking.UnblockError {
				c.R.Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			} else {
				c.R.NullArray()
			}
			return
		case <-gone:
			cl.quit = true // no reply: the connection is closed
			return
		}
	}
}

// tryBlocked runs the blocking command once, routed with the current
// routing, and reports whether it answered (took something, or failed for
// good); when it found nothing its reply is dropped, and again says it met
// a transient error. It first looks which of keys exist, in order, one by
// one (a key of another node is asked there), and runs the command over
// the first that exists only: a command of one slot, never a unit over
// the slots of all the keys (under many waiters those units, each holding
// every queue's slot, would take turns on them all). The price, in
// docs/blocking.md: a push to an earlier key that lands between the look
// at it and the pop of a later one is passed over, where Redis would have
// taken it; every element is still taken once. A waiter woken for nothing
// costs no run.
func (n *Node) tryBlocked(cl *client, c *command.Ctx, spec *command.Spec, keys [][]byte) (answered, again bool) {
	if !readsAll(spec) {
		first := n.firstPresent(cl, keys)
		if first < 0 {
			return false, false
		}
		args := c.Args
		c.Args = onlyKey(spec, args, first)
		defer func() { c.Args = args }()
	}
	mark := c.R.Len()
	snap := n.proxy.Routing()
	tb, _ := snap.Table(cl.tableID())
	if tb == nil {
		c.R.Error(router.DroppedTable(cl.tableID()))
		return true, false
	}
	cmd := routedCommand(spec, c.Args)
	r := n.proxy.Decide(snap, tb, cmd)
	if r.Kind == router.Wait {
		snap, tb, r = n.proxy.WaitHandover(snap, cl.tableID(), c.Args)
		if tb == nil {
			c.R.Error(router.DroppedTable(cl.tableID()))
			return true, false
		}
	}
	c.Table, c.Slots = tb.ID, tb.Slots
	n.dispatch(cl, c, spec, snap, tb, r, cmd, false, nil)
	reply := c.R.B[mark:]
	if nothing, again := nothingFor(reply), transient(reply); nothing || again {
		c.R.B = c.R.B[:mark]
		return false, again
	}
	if len(reply) > 0 && reply[0] != '-' {
		// It took something: answered only once the take survives its
		// leader (an async slot's followers have it). Otherwise the take
		// may be undone by a failover and the element taken again: the
		// client gets nothing now and keeps waiting (the element is
		// lost only if the take did survive: at most once).
		if err := n.blocked.Durable(tb, cmd.Keys); err != nil {
			n.log.Warn("a blocking pop's slot did not sync with its followers; the client keeps waiting", "err", err)
			c.R.B = c.R.B[:mark]
			return false, true
		}
	}
	return true, false
}

// slotSynced returns once the followers of slot s of table t, which this
// node leads, acknowledged its log as of now (blocking.Config.Synced).
func (n *Node) slotSynced(ctx context.Context, t storage.TableID, s storage.SlotID) error {
	tb, ok := n.proxy.Routing().Table(t)
	if !ok || int(s) >= int(tb.Slots) || tb.Route(s).Leader != n.id {
		return &peer.RefusedError{Reason: "not the slot's leader"}
	}
	_, last, _ := n.eng.LogBounds(t, s)
	if last == 0 {
		return nil // no log: no followers
	}
	return n.shipper.AwaitAcked(ctx, t, s, last)
}

// groupGone words the error of a waiting XREADGROUP whose stream or
// group went away as Redis 7.0 does: the retry's NOGROUP (or WRONGTYPE)
// becomes "the stream key no longer exists" when one of the keys is no
// longer a stream, else "the consumer group ... no longer exists".
func (n *Node) groupGone(cl *client, c *command.Ctx, keys [][]byte, mark int) {
	reply := string(c.R.B[mark:])
	if !strings.HasPrefix(reply, "-NOGROUP ") && !strings.HasPrefix(reply, "-WRONGTYPE ") {
		return
	}
	msg := "NOGROUP the consumer group this client was blocked on no longer exists"
	for _, k := range keys {
		if string(n.proxy.Reroute(cl.run, cl.tableID(), [][]byte{[]byte("TYPE"), k})) != "+stream\r\n" {
			msg = "UNBLOCKED the stream key no longer exists"
			break
		}
	}
	c.R.B = c.R.B[:mark]
	c.R.Error(msg)
}

// readsAll reports whether a blocking command's try runs over all its
// keys (XREAD and XREADGROUP answer every stream that has something:
// they read, and take nothing another waiter could).
func readsAll(spec *command.Spec) bool { return spec.Name == "xread" || spec.Name == "xreadgroup" }

// resolveLastIDs returns XREAD's arguments with each "$" replaced by its
// stream's last ID now (0-0 for a missing key), as Redis reads it when
// the command arrives: the waits that follow look for entries after it.
func (n *Node) resolveLastIDs(cl *client, args [][]byte) [][]byte {
	first, count, ok := command.XReadStreams(args)
	if !ok {
		return args
	}
	var out [][]byte
	for i := 0; i < count; i++ {
		if string(args[first+count+i]) != "$" {
			continue
		}
		if out == nil {
			out = append([][]byte(nil), args...)
		}
		reply := n.proxy.Reroute(cl.run, cl.tableID(), [][]byte{[]byte("XINFO"), []byte("STREAM"), args[first+i]})
		out[first+count+i] = lastGeneratedID(reply)
	}
	if out == nil {
		return args
	}
	return out
}

// lastGeneratedID reads last-generated-id out of an XINFO STREAM reply
// (it comes before any entry, after three integers); "$" when the reply
// has none (an error: the try answers it).
func lastGeneratedID(reply []byte) []byte {
	const field = "\r\nlast-generated-id\r\n$"
	if strings.HasPrefix(string(reply), "-ERR no such key") {
		return []byte("0-0")
	}
	i := strings.Index(string(reply), field)
	if i < 0 {
		return []byte("$")
	}
	rest := reply[i+len(field):]
	j := strings.Index(string(rest), "\r\n")
	if j < 0 {
		return []byte("$")
	}
	rest = rest[j+2:]
	k := strings.Index(string(rest), "\r\n")
	if k < 0 {
		return []byte("$")
	}
	return append([]byte(nil), rest[:k]...)
}

// onlyKey returns a blocking command's arguments with its i-th key only
// (BLMOVE and BRPOPLPUSH, of one source, as they are).
func onlyKey(spec *command.Spec, args [][]byte, i int) [][]byte {
	switch spec.Name {
	case "blmove", "brpoplpush":
		return args
	case "blmpop", "bzmpop": // timeout numkeys key... rest
		total, _ := strconv.Atoi(string(args[2]))
		out := [][]byte{args[0], args[1], []byte("1"), args[3+i]}
		return append(out, args[3+total:]...)
	}
	return [][]byte{args[0], args[1+i], args[len(args)-1]} // name key timeout
}

// firstPresent returns the position of the first of keys that exists, -1
// if none does, asking each key's leader in turn (not at one instant: a
// key written after it was looked at wakes the waiter, which is
// registered by then, or was looked at in the first try).
func (n *Node) firstPresent(cl *client, keys [][]byte) int {
	for i, k := range keys {
		if string(n.proxy.Reroute(cl.run, cl.tableID(), [][]byte{[]byte("EXISTS"), k})) != ":0\r\n" {
			return i
		}
	}
	return -1
}

// watchConn reads cl's connection while its goroutine waits, keeping what
// the client sends for later (cl.in), so that a client that goes away is
// noticed (gone is closed) and a waiter does not take an element for
// nobody. stop ends the reading and waits for it.
func (n *Node) watchConn(cl *client) (gone <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	done := make(chan struct{})
	cl.conn.SetReadDeadline(time.Time{}) // a blocked client is not idle
	go func() {
		defer close(done)
		buf := make([]byte, 16<<10)
		for {
			m, err := cl.conn.Read(buf)
			if m > 0 {
				n.netIn.Add(int64(m))
				cl.in.pending = append(cl.in.pending, buf[:m]...)
				if int64(len(cl.in.pending)) > n.cfg.MaxQueryBytes {
					close(ch) // over the query buffer limit: cut off
					return
				}
			}
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					close(ch)
				}
				return
			}
		}
	}()
	return ch, func() {
		cl.conn.SetReadDeadline(time.Now())
		<-done
		cl.conn.SetReadDeadline(time.Time{})
	}
}

// connReader is a client connection's input, counted in the node's
// bytes in: what a wait read ahead (pending) comes first.
type connReader struct {
	c       net.Conn
	n       *atomic.Int64
	pending []byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		k := copy(p, r.pending)
		r.pending = r.pending[k:]
		if len(r.pending) == 0 {
			r.pending = nil
		}
		return k, nil
	}
	m, err := r.c.Read(p)
	r.n.Add(int64(m))
	return m, err
}
