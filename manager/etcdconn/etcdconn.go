package etcdconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options are how to reach and authenticate to etcd.
type Options struct {
	Endpoints []string
	// CertFile and KeyFile are a client certificate (etcd's
	// --client-cert-auth); CAFile verifies etcd's certificate. Any of
	// them turns TLS on.
	CertFile, KeyFile, CAFile string
	// User is "name:password" for etcd's authentication, "" for none.
	User string
}

// Apply sets cfg's endpoints, TLS and credentials from o.
func (o Options) Apply(cfg *clientv3.Config) error {
	cfg.Endpoints = o.Endpoints
	if o.User != "" {
		name, pw, ok := strings.Cut(o.User, ":")
		if !ok || name == "" {
			return errors.New("etcd user: want name:password")
		}
		cfg.Username, cfg.Password = name, pw
	}
	if o.CertFile == "" && o.KeyFile == "" && o.CAFile == "" {
		return nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("etcd client certificate: give both the certificate and the key")
	}
	if o.CertFile != "" {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("etcd client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("etcd CA %s: no PEM certificate in it", o.CAFile)
		}
		tc.RootCAs = pool
	}
	cfg.TLS = tc
	return nil
}

// Split parses a comma-separated endpoint list, dropping empty items.
func Split(s string) []string {
	var eps []string
	for ep := range strings.SplitSeq(s, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}
