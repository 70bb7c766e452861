package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Accept backs off while it fails, as net/http's Server.Serve does for
// temporary errors: 5 ms, doubling up to 1 s, back to 5 ms after a
// connection is accepted.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
	// acceptLogEvery is how often a run of failures is logged again.
	acceptLogEvery = 10 * time.Second
)

// acceptLoop accepts connections on ln and serves each in a goroutine of
// its own, counted in n.parts as part ("clients", "peers": Run waits for
// them, and names them if they do not stop in time), until ctx is done. A failed Accept does
// not stop it: out of file descriptors (EMFILE, ENFILE: a flood of
// connections past the process's limit) or of kernel buffers (ENOBUFS,
// ENOMEM), it waits and tries again, and accepts again as soon as
// descriptors are free. It returns an error only if ln is closed while ctx
// is not done (nothing else would ever accept).
func (n *Node) acceptLoop(ctx context.Context, ln net.Listener, part string, serve func(net.Conn)) error {
	var (
		delay    time.Duration
		failures int       // in a row
		logged   time.Time // when the run of failures was last logged
	)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept (%s): %w", part, err)
			}
			delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
			failures++
			if now := time.Now(); now.Sub(logged) >= acceptLogEvery {
				n.log.Warn("accept failed; retrying", "listener", part, "addr", ln.Addr().String(), "err", err,
					"failures", failures, "retry_in", delay)
				logged = now
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		if failures > 0 {
			n.log.Info("accepting again", "listener", part, "failures", failures)
			logged = time.Time{}
		}
		delay, failures = 0, 0
		done := n.parts.start(part)
		go func() {
			defer done()
			serve(c)
		}()
	}
}
