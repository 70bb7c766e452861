package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/etcdconn"
)

// TestEtcdTLSAndAuth (issue 17, item 2): the nodes and pikactl reach an
// etcd that takes only TLS clients with a certificate its CA signed and
// has authentication on, with --etcd-ca, --etcd-cert, --etcd-key and the
// user from the environment; without them they are refused.
func TestEtcdTLSAndAuth(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	etcd := testproc.StartEtcdTLS(t, dir, testproc.Port(t), testproc.Port(t), files)
	tlsOpts := etcdconn.Options{Endpoints: []string{etcd.Endpoint()}, CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}

	// Authentication on: a root user with a password.
	cfg := clientv3.Config{DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if err := tlsOpts.Apply(&cfg); err != nil {
		t.Fatal(err)
	}
	admin, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "etcd-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("enable etcd auth: %v", err)
		}
	}
	admin.Close()

	tlsFlags := []string{"--etcd", etcd.Endpoint(), "--etcd-ca", files.CA, "--etcd-cert", files.ClientCert, "--etcd-key", files.ClientKey}
	withUser := func(bin string, args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "PIKA_ETCD_USER=root:etcd-pw")
		return c
	}
	n := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "n1", Dir: dir, Port: testproc.Port(t, 10000, 20000),
		Flags: append([]string{"--bind", "127.0.0.1", "--lease-ttl", leaseTTL}, tlsFlags...), Command: withUser})
	n.WaitHealthy(t)

	env := []string{"PIKA_ADMIN_TOKEN=" + testproc.AdminToken, "PIKACTL_ETCD_USER=root:etcd-pw"}
	var st api.Status
	out, errs, code := pikactlWith(t, env, append(append([]string{"--json"}, tlsFlags...), "--cluster", "pika", "status")...)
	if code != 0 {
		t.Fatalf("pikactl --etcd over TLS with the user: exit %d, %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Manager == "" || len(st.Tables) != 1 {
		t.Fatalf("status through etcd: %+v, %v", st, err)
	}
	// Refused: no user (etcd's auth), no client certificate (TLS).
	if _, errs, code := pikactlWith(t, []string{"PIKACTL_ETCD_USER="}, append(tlsFlags, "status")...); code != 3 || !strings.Contains(errs, "etcd") {
		t.Fatalf("pikactl --etcd without the user: exit %d, %s", code, errs)
	}
	if _, errs, code := pikactlWith(t, env, "--etcd", etcd.Endpoint(), "--etcd-ca", files.CA, "--timeout", "5s", "status"); code != 3 {
		t.Fatalf("pikactl --etcd without a client certificate: exit %d, %s", code, errs)
	}
	// A node with a wrong password stops, saying why.
	bad := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "bad", Dir: dir, Port: testproc.Port(t, 10000, 20000),
		Flags: append([]string{"--bind", "127.0.0.1", "--etcd-user", "root:wrong"}, tlsFlags...)})
	select {
	case <-bad.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the node with a wrong etcd password still runs:\n%s", bad.Tail(10))
	}
	if !strings.Contains(bad.Log(), "authentication failed") {
		t.Fatalf("the node with a wrong etcd password exited without saying why:\n%s", bad.Tail(10))
	}
}

// TestEmbeddedEtcdOffLoopback (issue 17, item 2): an embedded etcd that
// listens where other hosts reach it holds the cluster secret, so it
// serves TLS and takes only clients with a certificate the node's CA
// signed: a node refuses to start it there without the tls-* files; with
// them, a plain client, and a TLS client without a certificate, get
// nothing, while another node and pikactl with a certificate join and
// read it.
func TestEmbeddedEtcdOffLoopback(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	files, err := testproc.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clientPort, peerPort := testproc.Port(t), testproc.Port(t)
	etcdFlags := []string{"--etcd-listen", fmt.Sprintf("0.0.0.0:%d", clientPort), "--etcd-peer-listen", fmt.Sprintf("0.0.0.0:%d", peerPort)}

	refused := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "plain", Dir: dir, Port: testproc.Port(t, 10000, 20000),
		Flags: append([]string{"--bind", "127.0.0.1"}, etcdFlags...)})
	select {
	case <-refused.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("a node started its embedded etcd on 0.0.0.0 without TLS:\n%s", refused.Tail(10))
	}
	if !strings.Contains(refused.Log(), "takes only clients with a certificate") {
		t.Fatalf("the node refused without saying why:\n%s", refused.Tail(10))
	}

	tlsFiles := []string{"--tls-cert-file", files.ServerCert, "--tls-key-file", files.ServerKey, "--tls-ca-cert-file", files.CA}
	n1 := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "n1", Dir: dir, Port: testproc.Port(t, 10000, 20000),
		Flags: append(append([]string{"--bind", "127.0.0.1", "--lease-ttl", leaseTTL}, etcdFlags...), tlsFiles...)})
	n1.WaitHealthy(t)
	endpoint := testproc.Loopback(clientPort)

	get := func(opts etcdconn.Options) error {
		cfg := clientv3.Config{DialTimeout: 2 * time.Second, Logger: zap.NewNop()}
		if err := opts.Apply(&cfg); err != nil {
			return err
		}
		cli, err := clientv3.New(cfg)
		if err != nil {
			return err
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = cli.Get(ctx, "/pika/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		return err
	}
	if err := get(etcdconn.Options{Endpoints: []string{endpoint}}); err == nil {
		t.Fatal("a plain etcd client read the embedded etcd listening on 0.0.0.0")
	}
	if err := get(etcdconn.Options{Endpoints: []string{endpoint}, CAFile: files.CA}); err == nil {
		t.Fatal("a TLS client without a certificate read the embedded etcd")
	}
	withCert := etcdconn.Options{Endpoints: []string{endpoint}, CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	if err := get(withCert); err != nil {
		t.Fatalf("a client with a certificate the CA signed: %v", err)
	}

	certFlags := []string{"--etcd", endpoint, "--etcd-ca", files.CA, "--etcd-cert", files.ClientCert, "--etcd-key", files.ClientKey}
	n2 := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "n2", Dir: dir, Port: testproc.Port(t, 10000, 20000),
		Flags: append([]string{"--bind", "127.0.0.1", "--lease-ttl", leaseTTL}, certFlags...)})
	n2.WaitHealthy(t)
	waitAlive(t, n1, 2)

	env := []string{"PIKA_ADMIN_TOKEN=" + testproc.AdminToken}
	var st api.Status
	out, errs, code := pikactlWith(t, env, append(append([]string{"--json"}, certFlags...), "status")...)
	if code != 0 {
		t.Fatalf("pikactl --etcd with a certificate: exit %d, %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Nodes) != 2 {
		t.Fatalf("status through the embedded etcd: %+v, %v", st, err)
	}
	if _, errs, code := pikactlWith(t, env, "--etcd", endpoint, "--etcd-ca", files.CA, "--timeout", "5s", "status"); code != 3 {
		t.Fatalf("pikactl --etcd without a client certificate: exit %d, %s", code, errs)
	}
}
