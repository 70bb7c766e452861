package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
)

// ClientAuth is redis.conf's tls-auth-clients: whether clients must show
// a certificate signed by the CA.
type ClientAuth string

// The values of tls-auth-clients.
const (
	ClientAuthYes      ClientAuth = "yes" // required (Redis's default)
	ClientAuthOptional ClientAuth = "optional"
	ClientAuthNo       ClientAuth = "no"
)

// Files names what Load reads.
type Files struct {
	Cert, Key string // the server's certificate chain and key (PEM)
	// CA verifies client certificates (PEM); required unless
	// AuthClients is ClientAuthNo.
	CA          string
	AuthClients ClientAuth
}

// Check reports what is missing or contradictory in f.
func (f Files) Check() error {
	switch f.AuthClients {
	case ClientAuthYes, ClientAuthOptional, ClientAuthNo:
	default:
		return fmt.Errorf("tls-auth-clients %q: must be yes, optional or no", f.AuthClients)
	}
	if f.Cert == "" || f.Key == "" {
		return fmt.Errorf("tls-cert-file and tls-key-file are required with a TLS port")
	}
	if f.CA == "" && f.AuthClients != ClientAuthNo {
		return fmt.Errorf("tls-ca-cert-file is required to verify clients (or tls-auth-clients no)")
	}
	return nil
}

// Server serves the TLS configuration of the files, reloaded by Reload.
type Server struct {
	files Files
	cur   atomic.Pointer[tls.Config]
}

// NewServer loads the files once; they must be valid.
func NewServer(f Files) (*Server, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	s := &Server{files: f}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again; on an error the previous configuration
// stays in use. Connections already made keep theirs.
func (s *Server) Reload() error {
	cfg, err := load(s.files)
	if err != nil {
		return err
	}
	s.cur.Store(cfg)
	return nil
}

// Config is the tls.Config to listen with: each handshake takes the
// configuration loaded last.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load(), nil
		},
	}
}

// Certificate is the leaf certificate in use (for logs and tests).
func (s *Server) Certificate() *x509.Certificate {
	c := s.cur.Load()
	if c == nil || len(c.Certificates) == 0 {
		return nil
	}
	return c.Certificates[0].Leaf
}

func load(f Files) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls-cert-file %s, tls-key-file %s: %w", f.Cert, f.Key, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	switch f.AuthClients {
	case ClientAuthYes:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthOptional:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca-cert-file %s: no PEM certificate in it", f.CA)
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}
