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
	if tc := n.handshake(ctx, c, n.tls.Config()); tc != nil {
		n.serveConn(ctx, tc)
	}
}

// handshake runs a TLS server handshake on c, within
// tlsHandshakeTimeout; on a failure it closes c and returns nil.
func (n *Node) handshake(ctx context.Context, c net.Conn, cfg *tls.Config) net.Conn {
	tc := tls.Server(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		n.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		tc.Close()
		return nil
	}
	return tc
}

// ReloadTLS reads the TLS certificate, key and CA files again (SIGHUP):
// new connections, the TLS port's and the peer port's both ways, get
// them; established ones keep theirs. On an error the files in use stay.
func (n *Node) ReloadTLS() error {
	if n.tls == nil {
		return errors.New("no TLS (--tls-port, --tls-cluster)")
	}
	if err := n.tls.Reload(); err != nil {
		return err
	}
	if c := n.tls.Certificate(); c != nil {
		n.log.Info("TLS files reloaded", "subject", c.Subject.String(), "serial", c.SerialNumber.String(), "not_after", c.NotAfter)
	}
	return nil
}
