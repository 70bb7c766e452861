package clustertest

import (
	"crypto/tls"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pika-node/pika-node/internal/testproc"
)

// TestTLSReloadOnSIGHUP: the process reloads its TLS files on SIGHUP, as
// an operator renewing a certificate expects; a SIGHUP without a TLS port
// does not stop the node.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	tlsPort := testproc.Port(t)
	n := startNode(t, dir, "n1", "--etcd", etcd.Endpoint(), "--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey, "--tls-ca-cert-file", files.CA)
	n.WaitHealthy(t)
	cfg, err := files.ClientConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		conn, err := tls.Dial("tcp", testproc.Loopback(tlsPort), cfg)
		if err != nil {
			return -1
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	testproc.WaitFor(t, "the TLS port to serve certificate 2", 10*time.Second, func() bool { return serial() == 2 })
	if err := files.IssueServer(3); err != nil {
		t.Fatal(err)
	}
	if err := n.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "the TLS port to serve certificate 3 after SIGHUP", 10*time.Second, func() bool { return serial() == 3 })
	if err := n.Running(); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}

	plain := startNode(t, dir, "n2", "--etcd", etcd.Endpoint())
	plain.WaitHealthy(t)
	if err := plain.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	plain.WaitHealthy(t)
	if err := plain.Running(); err != nil {
		t.Fatalf("SIGHUP without a TLS port: %v", err)
	}
}
