// Package testproc builds the pika-node binary and finds free ports for
// tests that run pika-node as a real process. It is for tests only.
package testproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/manager/embedetcd"
)

// BuildPikaNode builds ./cmd/pika-node of this module into dir and returns
// the binary's path, unless PIKA_NODE_BIN names a binary to use instead.
// The binary is built with the race detector, so the multi-process suites
// (differential, wire, crash) also hunt data races in the real server.
// BuildPikaNode sets GORACE=halt_on_error=1 in this process's environment
// (unless GORACE is set), which the servers the suites start inherit: a
// race then kills the server at once, and the suite fails on a dead server.
func BuildPikaNode(dir string) (string, error) {
	if bin := os.Getenv("PIKA_NODE_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "halt_on_error=1")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the pika-node module")
	}
	bin := filepath.Join(dir, "pika-node")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "./cmd/pika-node")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pika-node: %v\n%s", err, out)
	}
	return bin, nil
}

// BuildPikactl builds ./cmd/pikactl into dir (without the race detector:
// it is a short-lived client) unless PIKACTL_BIN names one.
func BuildPikactl(dir string) (string, error) {
	if bin := os.Getenv("PIKACTL_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	bin := filepath.Join(dir, "pikactl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/pikactl")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pikactl: %v\n%s", err, out)
	}
	return bin, nil
}

// Ports are chosen in [portLow, portHigh]: below Linux's ephemeral range
// (32768-60999), so that a client connection's local port, which the
// kernel takes from that range at any moment, never lands on a port a
// test picked and has not bound yet.
const (
	portLow  = 10000
	portHigh = 32767
)

// FreePort finds a port p such that p and p+off for every off are free on
// 127.0.0.1 (pika-node also takes port+10000 and port+20000).
func FreePort(offsets ...int) (int, error) {
	maxOff := 0
	for _, off := range offsets {
		maxOff = max(maxOff, off)
	}
	span := portHigh - maxOff - portLow
	if span <= 0 {
		return 0, fmt.Errorf("offsets up to %d leave no port below %d", maxOff, portHigh)
	}
	for range 500 {
		p := portLow + rand.IntN(span)
		ok := true
		for _, off := range append([]int{0}, offsets...) {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+off)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("no free port found")
}

// etcdAddrs picks free loopback addresses for an etcd's client and peer ports.
func etcdAddrs() (client, peer string, err error) {
	c, err := FreePort()
	if err != nil {
		return "", "", err
	}
	p, err := FreePort()
	if err != nil {
		return "", "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c)), net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// StartEtcd runs an embedded etcd member under dir on free loopback ports,
// for tests that run nodes in-process against one shared etcd (each node
// in its own --cluster).
func StartEtcd(dir string) (*embedetcd.Server, error) {
	client, peer, err := etcdAddrs()
	if err != nil {
		return nil, err
	}
	return embedetcd.Start(embedetcd.Config{Dir: dir, ClientAddr: client, PeerAddr: peer})
}

// EmbeddedEtcdArgs returns pika-node flags that put its embedded etcd on
// free ports (the defaults 2379/2380 would collide between tests).
func EmbeddedEtcdArgs() ([]string, error) {
	client, peer, err := etcdAddrs()
	if err != nil {
		return nil, err
	}
	return []string{"--etcd-listen", client, "--etcd-peer-listen", peer}, nil
}
