package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// tlsHandshakeTimeout bounds a TLS client's handshake: a connection that
// does not finish it holds no client slot for longer.
const tlsHandshakeTimeout = 10 * time.Second

// serveTLS serves a connection of the TLS port: the handshake first
// (the client's certificate checked as tls-auth-clients says), then the
// same RESP service as the plain port.
func (n *Node) serveTLS(ctx context.Context, c net.Conn) {
	tc := tls.Server(c, n.tls.Config())
	hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		n.log.Debug("TLS handshake failed", "client", c.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	n.serveConn(ctx, tc)
}

// ReloadTLS reads the TLS port's certificate, key and CA files again
// (SIGHUP): new connections get them, established ones keep theirs. On an
// error the files in use stay.
func (n *Node) ReloadTLS() error {
	if n.tls == nil {
		return errors.New("no TLS port (--tls-port)")
	}
	if err := n.tls.Reload(); err != nil {
		return err
	}
	if c := n.tls.Certificate(); c != nil {
		n.log.Info("TLS files reloaded", "subject", c.Subject.String(), "serial", c.SerialNumber.String(), "not_after", c.NotAfter)
	}
	return nil
}
