package testproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/pika-node/pika-node/manager/embedetcd"
)

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
			l, err := net.Listen("tcp", Loopback(p+off))
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

// Port is FreePort, failing t when there is none.
func Port(t testing.TB, offsets ...int) int {
	t.Helper()
	p, err := FreePort(offsets...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Loopback is 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

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
	return Loopback(c), Loopback(p), nil
}

// StartEmbeddedEtcd runs an embedded etcd member in this process under dir
// on free loopback ports, for tests that run nodes in-process against one
// shared etcd (each node in its own --cluster).
func StartEmbeddedEtcd(dir string) (*embedetcd.Server, error) {
	client, peer, err := etcdAddrs()
	if err != nil {
		return nil, err
	}
	return embedetcd.Start(embedetcd.Config{Dir: dir, ClientAddr: client, PeerAddr: peer})
}

// EmbeddedEtcdArgs returns pika-node flags that put its embedded etcd on
// free ports (the defaults 2379/2380 would collide between tests):
// --etcd-listen <client> --etcd-peer-listen <peer>.
func EmbeddedEtcdArgs() ([]string, error) {
	client, peer, err := etcdAddrs()
	if err != nil {
		return nil, err
	}
	return []string{"--etcd-listen", client, "--etcd-peer-listen", peer}, nil
}
