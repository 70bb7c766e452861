package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// Files names what NewServer and Reload read.
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

// Server holds the loaded files, reloaded by Reload, and makes the
// tls.Configs of the ports that serve TLS and of the peer links' dials.
type Server struct {
	files Files
	cur   atomic.Pointer[material]
}

// material is what the files held when last loaded.
type material struct {
	cert tls.Certificate
	cas  *x509.CertPool // nil without a CA file
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

// Reload reads the files again; on an error the previous ones stay in
// use. Connections already made keep theirs.
func (s *Server) Reload() error {
	m, err := load(s.files)
	if err != nil {
		return err
	}
	s.cur.Store(m)
	return nil
}

// Config is the client TLS port's tls.Config, clients checked as
// tls-auth-clients says: each handshake takes the files loaded last.
func (s *Server) Config() *tls.Config { return s.ServerConfig(s.files.AuthClients) }

// ServerConfig is a listening tls.Config that checks client certificates
// as auth says.
func (s *Server) ServerConfig(auth ClientAuth) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.cert}, ClientCAs: m.cas}
			switch auth {
			case ClientAuthYes:
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
			case ClientAuthOptional:
				cfg.ClientAuth = tls.VerifyClientCertIfGiven
			default:
				cfg.ClientAuth = tls.NoClientCert
			}
			return cfg, nil
		},
	}
}

// ClientConfig is the tls.Config a node dials another's peer port with:
// it shows its own certificate and accepts a peer whose certificate the
// CA signed, whatever name it was dialled by (nodes dial addresses that
// certificates seldom name; being signed by the cluster's CA is the
// identity, as between Redis Cluster's nodes).
func (s *Server) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := s.cur.Load().cert
			return &c, nil
		},
		InsecureSkipVerify: true, // the chain is verified below, the name is not
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer showed no certificate")
			}
			opts := x509.VerifyOptions{Roots: s.cur.Load().cas, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}
}

// Certificate is the leaf certificate in use (for logs and tests).
func (s *Server) Certificate() *x509.Certificate {
	return s.cur.Load().cert.Leaf
}

func load(f Files) (*material, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls-cert-file %s, tls-key-file %s: %w", f.Cert, f.Key, err)
	}
	m := &material{cert: cert}
	if f.CA != "" {
		if m.cas, err = LoadCAs(f.CA); err != nil {
			return nil, fmt.Errorf("tls-ca-cert-file: %w", err)
		}
	}
	return m, nil
}

// LoadCAs reads the PEM certificates of a CA file into a pool.
func LoadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}
