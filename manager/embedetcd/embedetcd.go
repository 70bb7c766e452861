package embedetcd

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config says where the embedded etcd keeps its data and listens.
type Config struct {
	// Dir is its data directory.
	Dir string
	// ClientAddr is host:port for clients (this node, other nodes, pikactl --etcd).
	ClientAddr string
	// PeerAddr is host:port for etcd peers.
	PeerAddr string
	// StartTimeout bounds how long Start waits for the member to be ready.
	StartTimeout time.Duration
	// TLS, when set, makes both ports TLS and take only clients (and
	// peers) that show a certificate its CA signed: what a member
	// reachable from other hosts requires (it holds the cluster secret).
	TLS *TLSFiles
}

// TLSFiles are the PEM files of the member's certificate and key, and
// of the CA that signs its clients' certificates.
type TLSFiles struct {
	Cert, Key, CA string
}

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	endpoint string
}

// Start starts the member and returns once it serves.
func Start(cfg Config) (*Server, error) {
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
	}
	curl, err := url.Parse(scheme + cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("etcd client address %q: %w", cfg.ClientAddr, err)
	}
	purl, err := url.Parse(scheme + cfg.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("etcd peer address %q: %w", cfg.PeerAddr, err)
	}
	ec := embed.NewConfig()
	ec.Name = "pika"
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{*curl}
	ec.AdvertiseClientUrls = []url.URL{*curl}
	ec.ListenPeerUrls = []url.URL{*purl}
	ec.AdvertisePeerUrls = []url.URL{*purl}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	if f := cfg.TLS; f != nil {
		info := transport.TLSInfo{CertFile: f.Cert, KeyFile: f.Key, TrustedCAFile: f.CA, ClientCertAuth: true}
		ec.ClientTLSInfo, ec.PeerTLSInfo = info, info
	}
	// Metadata changes rarely; keep an hour of history for watchers.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "1h"
	// etcd logs a great deal at info, and errors at every shutdown; our
	// node logs what matters. What it says before it panics or exits (a
	// data directory it cannot open: the file and why) goes to stderr:
	// silenced, a damaged directory stopped the node with a bare panic.
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(errorLogger())
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(timeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", cfg.Dir, timeout)
	}
	return &Server{etcd: e, endpoint: dialable(curl.Host)}, nil
}

// dialable is the address this host dials for a listening address:
// loopback for an unspecified host (0.0.0.0, ::), which a certificate
// does not name.
func dialable(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return hostport
}

// Endpoint is the client address to dial.
func (s *Server) Endpoint() string { return s.endpoint }

// Err reports a failure of the running member.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the member.
func (s *Server) Close() { s.etcd.Close() }

// errorLogger logs what etcd says as it panics or exits, to stderr.
func errorLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zapcore.DPanicLevel)
	return zap.New(core).With(zap.String("component", "embedded etcd"))
}
