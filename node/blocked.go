package node

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/blocking"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/router"
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

// block makes cl wait for the blocking command in c, whose try found
// nothing, and appends its reply.
func (n *Node) block(cl *client, c *command.Ctx, spec *command.Spec, cmd router.Command) {
	timeout, err := spec.Timeout(c.Args)
	if err != nil { // the try answered the error already; not reached
		c.R.Error(err.Error())
		return
	}
	tb, ok := n.proxy.Routing().Table(cl.table)
	if !ok {
		c.R.Error(router.DroppedTable(cl.table))
		return
	}
	w := n.blocked.Register(cl.id, tb, cmd.Keys)
	defer n.blocked.Done(w)
	// Once registered, a write is signalled: try again, as one may have
	// come since the first try.
	if n.tryBlocked(cl, c, spec, cmd) {
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
			if n.tryBlocked(cl, c, spec, cmd) {
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

// tryBlocked runs the blocking command once more, routed with the current
// routing, and reports whether it answered (took something, or failed);
// when it found nothing its reply is dropped.
func (n *Node) tryBlocked(cl *client, c *command.Ctx, spec *command.Spec, cmd router.Command) bool {
	mark := c.R.Len()
	snap := n.proxy.Routing()
	tb, _ := snap.Table(cl.table)
	if tb == nil {
		c.R.Error(router.DroppedTable(cl.table))
		return true
	}
	r := n.proxy.Decide(snap, tb, cmd)
	if r.Kind == router.Wait {
		snap, tb, r = n.proxy.WaitHandover(snap, cl.table, c.Args)
		if tb == nil {
			c.R.Error(router.DroppedTable(cl.table))
			return true
		}
	}
	c.Table, c.Slots = tb.ID, tb.Slots
	n.dispatch(cl, c, spec, snap, tb, r, cmd, false, nil)
	if nothingFor(c.R.B[mark:]) {
		c.R.B = c.R.B[:mark]
		return false
	}
	return true
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
