package node

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/node/config"
)

// The TLS port (issue 17, item 3): redis.conf's tls-* options, clients
// checked against the CA, redis-cli --tls and go-redis served as on the
// plain port, and certificates reloaded for new connections.
func TestTLSPort(t *testing.T) {
	dir := t.TempDir()
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := freePort(t)
	n, addr, _ := startNodeN(t, dir, func(c *config.Config) {
		c.TLSPort = tlsPort
		c.TLSCertFile, c.TLSKeyFile, c.TLSCACertFile = files.ServerCert, files.ServerKey, files.CA
	})
	plain := newClient(t, addr, nil)
	ctx := context.Background()
	if err := plain.Set(ctx, "k", "plain", 0).Err(); err != nil {
		t.Fatal(err)
	}
	taddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	withCert, err := files.ClientConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: taddr, TLSConfig: withCert, MaxRetries: -1})
	defer c.Close()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "plain" {
		t.Fatalf("GET over TLS: %q, %v", v, err)
	}
	if err := c.Do(ctx, "HELLO", "3").Err(); err != nil {
		t.Fatalf("HELLO 3 over TLS: %v", err)
	}

	// No client certificate (tls-auth-clients yes): the handshake fails.
	noCert, _ := files.ClientConfig(false)
	bare := redis.NewClient(&redis.Options{Addr: taddr, TLSConfig: noCert, MaxRetries: -1})
	defer bare.Close()
	if err := bare.Ping(ctx).Err(); err == nil {
		t.Fatal("PING over TLS without a client certificate answered")
	}
	// Plain RESP on the TLS port gets no reply.
	pc := redis.NewClient(&redis.Options{Addr: taddr, MaxRetries: -1})
	defer pc.Close()
	if err := pc.Ping(ctx).Err(); err == nil {
		t.Fatal("plain PING on the TLS port answered")
	}

	// redis-cli --tls, as an operator would.
	out, err := exec.Command("redis-cli", "--tls", "--cacert", files.CA, "--cert", files.ClientCert, "--key", files.ClientKey,
		"-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "SET", "k", "cli").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("redis-cli --tls SET: %q, %v", out, err)
	}
	if v, err := plain.Get(ctx, "k").Result(); err != nil || v != "cli" {
		t.Fatalf("GET on the plain port after redis-cli --tls: %q, %v", v, err)
	}

	// A renewed certificate: new connections get it after ReloadTLS,
	// the open one keeps working; a broken file leaves the old one in use.
	serial := func() int64 {
		t.Helper()
		conn, err := tls.Dial("tcp", taddr, withCert)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 2 {
		t.Fatalf("serial %d, want 2", s)
	}
	if err := files.IssueServer(3); err != nil {
		t.Fatal(err)
	}
	if s := serial(); s != 2 {
		t.Fatalf("serial %d before the reload, want 2", s)
	}
	if err := n.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if s := serial(); s != 3 {
		t.Fatalf("serial %d after the reload, want 3", s)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the connection made before the reload: %v", err)
	}
	if err := os.WriteFile(files.ServerCert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.ReloadTLS(); err == nil {
		t.Fatal("ReloadTLS of a broken certificate file succeeded")
	}
	if s := serial(); s != 3 {
		t.Fatalf("serial %d after a failed reload, want 3", s)
	}
}

// A TLS port without its files is refused at start, with redis.conf's names.
func TestTLSConfigChecked(t *testing.T) {
	for _, c := range []struct {
		mutate func(*config.Config)
		want   string
	}{
		{func(c *config.Config) { c.TLSPort = 7000 }, "tls-cert-file and tls-key-file are required"},
		{func(c *config.Config) { c.TLSPort, c.TLSCertFile, c.TLSKeyFile = 7000, "a", "b" }, "tls-ca-cert-file is required"},
		{func(c *config.Config) { c.TLSPort, c.TLSAuthClients = 7000, "maybe" }, "tls-auth-clients \"maybe\""},
	} {
		cfg := config.Default()
		c.mutate(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate: %v, want %q", err, c.want)
		}
	}
}
