package clustertest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/peer"
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

// TestPeerTLS (issue 17, item 3; item 2's "the secret alone is not
// enough"): with --tls-cluster the nodes reach each other over mutual
// TLS: forwarding and replication work, and a client that knows the
// cluster secret but has no certificate the CA signed gets nothing from
// a peer port, nor does a plain connection.
func TestPeerTLS(t *testing.T) {
	needSetup(t)
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	etcd, nodes := startNodes(t, "ptls", 3, "--tls-cluster", "--tls-cert-file", files.ServerCert,
		"--tls-key-file", files.ServerKey, "--tls-ca-cert-file", files.CA)
	tb := createTable(t, nodes, "rep", 16, 3)
	if strings.Contains(nodes[0].Log(), "pika-node serving TLS") {
		t.Fatal("a client TLS port is open without --tls-port")
	}
	ctx := context.Background()
	const keys = 200
	w := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID)})
	for i := range keys {
		if err := w.Set(ctx, fmt.Sprint("k", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("SET through n1 (forwarded over TLS for other leaders' slots): %v", err)
		}
	}
	for _, nd := range nodes[1:] {
		r := redisClient(t, nd, &redis.Options{DB: int(tb.ID)})
		for i := range keys {
			if v, err := r.Get(ctx, fmt.Sprint("k", i)).Result(); err != nil || v != fmt.Sprint(i) {
				t.Fatalf("%s: GET k%d = %q, %v", nd.Name, i, v, err)
			}
		}
	}
	testproc.WaitFor(t, "every replica to hold every key (replication over TLS)", 30*time.Second, func() bool {
		for _, nd := range nodes {
			if storedKeys(t, nd) < keys {
				return false
			}
		}
		return true
	})

	// The cluster secret, as a reader of etcd has it.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, meta.Layout{Cluster: "ptls"}.Secret())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read the secret: %v", err)
	}
	auth := peer.AppendRequest(nil, peer.Auth{Secret: string(resp.Kvs[0].Value), Node: "intruder"}.Args()...)
	exchange := func(c net.Conn) (string, error) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(auth); err != nil {
			return "", err
		}
		buf := make([]byte, 256)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	plain, err := net.Dial("tcp", nodes[1].PeerAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if got, err := exchange(plain); err == nil {
		t.Fatalf("PEERAUTH with the secret over plain TCP answered %q", got)
	}
	noCert, _ := files.ClientConfig(false)
	tc, err := tls.Dial("tcp", nodes[1].PeerAddr(), noCert)
	if err == nil {
		defer tc.Close()
		if got, err := exchange(tc); err == nil {
			t.Fatalf("PEERAUTH with the secret over TLS without a client certificate answered %q", got)
		}
	}
	// With a certificate the CA signed, the same PEERAUTH passes (the
	// refusals above were the TLS layer's).
	withCert, _ := files.ClientConfig(true)
	ok, err := tls.Dial("tcp", nodes[1].PeerAddr(), withCert)
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	if got, err := exchange(ok); err != nil || !strings.HasPrefix(got, "+OK") {
		t.Fatalf("PEERAUTH over mutual TLS: %q, %v", got, err)
	}
}

// TestHTTPTLS: with --http-tls the HTTP port serves HTTPS: pikactl reaches
// it with --server https://... and --cacert (and through --etcd), the
// nodes call each other's over TLS (a write forwarded to the manager, the
// manager asking each node whether it applied a table), plain HTTP gets
// nothing.
func TestHTTPTLS(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	https, err := files.ClientConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	flags := []string{"--bind", "127.0.0.1", "--etcd", etcd.Endpoint(), "--cluster", "htls", "--lease-ttl", leaseTTL,
		"--http-tls", "--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey, "--tls-ca-cert-file", files.CA}
	var nodes []*testproc.Node
	for _, name := range []string{"n1", "n2"} {
		nd := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: name, Dir: dir, Port: testproc.Port(t, 10000, 20000), Flags: flags, HTTPS: https})
		nd.WaitHealthy(t)
		nodes = append(nodes, nd)
	}
	via := "https://" + nodes[1].HTTPAddr()
	testproc.WaitFor(t, "2 nodes alive", 20*time.Second, func() bool {
		var st api.Status
		pikactlJSON(t, &st, "--server", via, "--cacert", files.CA, "status")
		return len(st.Nodes) == 2 && st.Nodes[0].Alive && st.Nodes[1].Alive
	})
	var tb api.Table
	pikactlJSON(t, &tb, "--server", via, "--cacert", files.CA, "table", "create", "t", "--slots", "8", "--replicas", "2")
	if len(tb.Lagging) != 0 {
		t.Fatalf("create through n2: nodes %v did not confirm the table (the manager asks them over HTTPS)", tb.Lagging)
	}
	if _, errs, code := pikactl(t, "--server", nodes[1].HTTPAddr(), "--timeout", "5s", "status"); code == 0 || !strings.Contains(errs, "HTTPS server") {
		t.Fatalf("plain HTTP to an HTTPS port: exit %d, %s", code, errs)
	}
	if _, errs, code := pikactl(t, "--server", via, "--timeout", "5s", "status"); code != 3 || !strings.Contains(errs, "certificate") {
		t.Fatalf("HTTPS without the CA: exit %d, %s", code, errs)
	}
	if out, errs, code := pikactl(t, "--etcd", etcd.Endpoint(), "--cluster", "htls", "--cacert", files.CA, "table", "drop", "t", "--yes"); code != 0 {
		t.Fatalf("drop through --etcd and the manager's HTTPS port: exit %d, %s%s", code, out, errs)
	}
}
