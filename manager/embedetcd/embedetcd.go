package embedetcd

import (
	"fmt"
	"net/url"
	"os"
	"time"

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
}

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	endpoint string
}

// Start starts the member and returns once it serves.
func Start(cfg Config) (*Server, error) {
	curl, err := url.Parse("http://" + cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("etcd client address %q: %w", cfg.ClientAddr, err)
	}
	purl, err := url.Parse("http://" + cfg.PeerAddr)
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
	return &Server{etcd: e, endpoint: curl.Host}, nil
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
