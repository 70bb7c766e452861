package testproc

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// NodeSpec says how to run a pika-node:
//
//	<Bin> start --port <Port> --data <Data> <Flags...>
//
// with its output in Log.
type NodeSpec struct {
	Bin   string   // the pika-node binary (BuildPikaNode's)
	Name  string   // names the process in messages
	Dir   string   // where Data and Log default to
	Port  int      // its RESP port (it also takes Port+10000 and Port+20000); 0: a free one
	Data  string   // --data; "": Dir/Name
	Log   string   // "": Dir/Name.log
	Flags []string // further flags (--bind, --etcd, ...)
	// HTTPS, when set, is how Health reaches a node whose HTTP port
	// serves TLS (--http-tls).
	HTTPS *tls.Config
	// OwnAdminToken leaves the admin token to the cluster: without it the
	// node gets --admin-token-file with AdminToken, so that tests call
	// the API with a token they know.
	OwnAdminToken bool
	// Command makes the process (e.g. under a shell that sets a limit);
	// nil: exec.Command.
	Command func(bin string, args ...string) *exec.Cmd
}

// AdminToken is the cluster admin token of the nodes SpawnNode starts
// (unless NodeSpec.OwnAdminToken): what pikactl and api.Client need for
// the API's writes (PIKA_ADMIN_TOKEN, WithToken).
const AdminToken = "testproc-admin-token-0123456789"

// Node is a pika-node process.
type Node struct {
	*Proc
	Port int
	// Spec is how it was started, with Port, Data and Log filled in:
	// StartNode(t, n.Spec) restarts it on the same ports and data.
	Spec NodeSpec
}

// SpawnNode starts a pika-node as spec says and returns at once (see Spawn).
func SpawnNode(spec NodeSpec) (*Node, error) {
	if spec.Port == 0 {
		p, err := FreePort(10000, 20000)
		if err != nil {
			return nil, err
		}
		spec.Port = p
	}
	if spec.Data == "" {
		spec.Data = filepath.Join(spec.Dir, spec.Name)
	}
	if spec.Log == "" {
		spec.Log = filepath.Join(spec.Dir, spec.Name+".log")
	}
	args := append([]string{"start", "--port", strconv.Itoa(spec.Port), "--data", spec.Data}, spec.Flags...)
	// bcrypt at the default cost takes 0.75 s under the race detector:
	// the tests' nodes hash table passwords at the lowest cost.
	if !slices.Contains(spec.Flags, "--password-hash-cost") {
		args = append(args, "--password-hash-cost", "4")
	}
	if !spec.OwnAdminToken {
		file := filepath.Join(filepath.Dir(spec.Data), "test-admin.token")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(AdminToken+"\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--admin-token-file", file)
	}
	command := spec.Command
	if command == nil {
		command = exec.Command
	}
	p, err := Spawn(spec.Name, spec.Log, command(spec.Bin, args...))
	if err != nil {
		return nil, err
	}
	return &Node{Proc: p, Port: spec.Port, Spec: spec}, nil
}

// StartNode is SpawnNode for the duration of test t (see Start). It does
// not wait for the node to serve: see WaitHealthy and WaitServing.
func StartNode(t testing.TB, spec NodeSpec) *Node {
	t.Helper()
	n, err := SpawnNode(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			n.DumpLog(t, 40)
		}
	})
	return n
}

// Addr is its RESP address.
func (n *Node) Addr() string { return Loopback(n.Port) }

// PeerAddr is its peer (replication, forwarding) address: port+10000.
func (n *Node) PeerAddr() string { return Loopback(n.Port + 10000) }

// HTTPAddr is its HTTP (API, /healthz, /metrics) address: port+20000.
func (n *Node) HTTPAddr() string { return Loopback(n.Port + 20000) }

// Health is /healthz's body.
type Health struct {
	Status        string `json:"status"`
	Node          string `json:"node"`
	EtcdConnected bool   `json:"etcd_connected"`
	Manager       string `json:"manager"`
	IsManager     bool   `json:"is_manager"`
	Tables        int    `json:"tables"`
	Reason        string `json:"reason"`
	Disk          string `json:"disk"`
}

// Health asks /healthz once: its body and HTTP status.
func (n *Node) Health() (Health, int, error) {
	var h Health
	c := http.Client{Timeout: 2 * time.Second}
	scheme := "http://"
	if n.Spec.HTTPS != nil {
		c.Transport = &http.Transport{TLSClientConfig: n.Spec.HTTPS}
		scheme = "https://"
	}
	resp, err := c.Get(scheme + n.HTTPAddr() + "/healthz")
	if err != nil {
		return h, 0, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, resp.StatusCode, err
}

// AwaitHealthy waits until the node answers /healthz with status ok, for
// at most limit; it gives up at once if the node exits.
func (n *Node) AwaitHealthy(limit time.Duration) (Health, error) {
	var h Health
	err := Poll(limit, func() error {
		if err := n.Running(); err != nil {
			return err
		}
		var err error
		var code int
		if h, code, err = n.Health(); err != nil {
			return err
		}
		if h.Status != "ok" {
			return fmt.Errorf("/healthz: %d %+v", code, h)
		}
		return nil
	})
	if err != nil {
		return h, fmt.Errorf("%s healthy: %w", n.Name, err)
	}
	return h, nil
}

// WaitHealthy is AwaitHealthy for 60 s, failing t.
func (n *Node) WaitHealthy(t testing.TB) Health {
	t.Helper()
	h, err := n.AwaitHealthy(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// WaitServing waits until the node answers PING on a new connection,
// failing t after limit or if the node exits.
func (n *Node) WaitServing(t testing.TB, limit time.Duration) {
	t.Helper()
	err := Poll(limit, func() error {
		if err := n.Running(); err != nil {
			return err
		}
		return Ping(n.Addr(), 2*time.Second)
	})
	if err != nil {
		t.Fatalf("%s answering PING: %v", n.Name, err)
	}
}

// ErrNoAuth is Ping's error when the server wants a password (it is up).
var ErrNoAuth = errors.New("PING answered NOAUTH")

// Ping sends PING to a RESP server on a new connection and wants +PONG,
// within timeout for the connection and again for the exchange.
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	switch line {
	case "+PONG\r\n":
		return nil
	case "-NOAUTH Authentication required.\r\n":
		return ErrNoAuth
	}
	return fmt.Errorf("PING answered %q", line)
}
