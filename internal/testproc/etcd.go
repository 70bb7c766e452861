package testproc

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Etcd is Debian's etcd server (EtcdBin) as a process: one member, e1.
type Etcd struct {
	*Proc
	Dir        string // its data (Dir/etcd-data) and log (Dir/etcd.log)
	ClientPort int
	PeerPort   int
}

// Endpoint is its client address.
func (e *Etcd) Endpoint() string { return Loopback(e.ClientPort) }

// SpawnEtcd starts etcd under dir on the given loopback ports (0: a free
// one) and waits (30 s at most) until it answers /health. On failure it
// kills it; otherwise the caller does (see Spawn).
func SpawnEtcd(dir string, clientPort, peerPort int) (*Etcd, error) {
	return spawnEtcd(dir, clientPort, peerPort, nil)
}

// SpawnEtcdTLS is SpawnEtcd with its client port over TLS, with files'
// server certificate, and clients required to show a certificate its CA
// signed (etcd's --client-cert-auth).
func SpawnEtcdTLS(dir string, clientPort, peerPort int, files *TLSFiles) (*Etcd, error) {
	return spawnEtcd(dir, clientPort, peerPort, files)
}

func spawnEtcd(dir string, clientPort, peerPort int, files *TLSFiles) (*Etcd, error) {
	for _, p := range []*int{&clientPort, &peerPort} {
		if *p == 0 {
			var err error
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	c, p := "http://"+Loopback(clientPort), "http://"+Loopback(peerPort)
	hc := http.Client{Timeout: 2 * time.Second}
	var tlsArgs []string
	if files != nil {
		c = "https://" + Loopback(clientPort)
		tlsArgs = []string{"--cert-file", files.ServerCert, "--key-file", files.ServerKey,
			"--trusted-ca-file", files.CA, "--client-cert-auth"}
		cfg, err := files.ClientConfig(true)
		if err != nil {
			return nil, err
		}
		hc.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	pr, err := Spawn("etcd", filepath.Join(dir, "etcd.log"), exec.Command(EtcdBin, append([]string{
		"--name", "e1", "--data-dir", filepath.Join(dir, "etcd-data"),
		"--listen-client-urls", c, "--advertise-client-urls", c,
		"--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
		"--initial-cluster", "e1=" + p, "--log-level", "warn"}, tlsArgs...)...))
	if err != nil {
		return nil, err
	}
	e := &Etcd{Proc: pr, Dir: dir, ClientPort: clientPort, PeerPort: peerPort}
	err = Poll(30*time.Second, func() error {
		if err := pr.Running(); err != nil {
			return err
		}
		resp, err := hc.Get(c + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		pr.Kill()
		return nil, fmt.Errorf("etcd serving: %w\n%s", err, pr.Tail(40))
	}
	return e, nil
}

// StartEtcd is SpawnEtcd for the duration of test t (see Start).
func StartEtcd(t testing.TB, dir string, clientPort, peerPort int) *Etcd {
	t.Helper()
	return startEtcd(t, dir, clientPort, peerPort, nil)
}

// StartEtcdTLS is SpawnEtcdTLS for the duration of test t.
func StartEtcdTLS(t testing.TB, dir string, clientPort, peerPort int, files *TLSFiles) *Etcd {
	t.Helper()
	return startEtcd(t, dir, clientPort, peerPort, files)
}

func startEtcd(t testing.TB, dir string, clientPort, peerPort int, files *TLSFiles) *Etcd {
	t.Helper()
	e, err := spawnEtcd(dir, clientPort, peerPort, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Kill()
		if t.Failed() {
			e.DumpLog(t, 40)
		}
	})
	return e
}
