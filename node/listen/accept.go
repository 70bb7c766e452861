package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Loop accepts the connections of one listener and serves each in a
// goroutine of its own.
type Loop struct {
	// Name names the listener in errors and logs ("clients", "peers"),
	// and is what Track counts its connections' goroutines as.
	Name string
	// Log logs a run of failed Accepts, and accepting again after one.
	Log *slog.Logger
	// Track counts one more goroutine of part (package node's parts: Run
	// waits for them, and names them if they do not stop in time); the
	// goroutine calls done when it returns.
	Track func(part string) (done func())
	// Serve serves one connection, on the goroutine Track counts.
	Serve func(net.Conn)
}

// Run accepts connections on ln and serves each with l.Serve until ctx
// is done. A failed Accept does not stop it: out of file descriptors
// (EMFILE, ENFILE: a flood of connections past the process's limit) or
// of kernel buffers (ENOBUFS, ENOMEM), it waits and tries again, and
// accepts again as soon as descriptors are free. It returns an error
// only if ln is closed while ctx is not done (nothing else would ever
// accept).
func (l Loop) Run(ctx context.Context, ln net.Listener) error {
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
				return fmt.Errorf("accept (%s): %w", l.Name, err)
			}
			delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
			failures++
			if now := time.Now(); now.Sub(logged) >= acceptLogEvery {
				l.Log.Warn("accept failed; retrying", "listener", l.Name, "addr", ln.Addr().String(), "err", err,
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
			l.Log.Info("accepting again", "listener", l.Name, "failures", failures)
			logged = time.Time{}
		}
		delay, failures = 0, 0
		done := l.Track(l.Name)
		go func() {
			defer done()
			l.Serve(c)
		}()
	}
}
