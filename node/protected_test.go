package node

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/config"
)

// hostIP is a non-loopback IPv4 address of this machine, to reach a node
// as another host would (the client's address is then not loopback).
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to connect from")
	return ""
}

// Protected mode (on by default): while db0 has no password, a client
// from another host gets Redis's DENIED error and is closed, counted in
// rejected_connections; loopback clients are served and may turn it off
// (CONFIG SET protected-mode no), after which other hosts are served.
func TestProtectedMode(t *testing.T) {
	ip := hostIP(t)
	addr, _ := startNode(t, t.TempDir(), func(c *config.Config) { c.Bind = "0.0.0.0" })
	_, port, _ := net.SplitHostPort(addr)
	remote := net.JoinHostPort(ip, port)
	local := newClient(t, net.JoinHostPort("127.0.0.1", port), nil)
	ctx := context.Background()
	if err := local.Ping(ctx).Err(); err != nil {
		t.Fatalf("a loopback client: %v", err)
	}

	c, err := net.DialTimeout("tcp", remote, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(line, "-DENIED pika-node is running in protected mode") {
		t.Fatalf("a client from %s got %q, want the protected-mode refusal", ip, line)
	}
	stats := local.Info(ctx, "stats").Val()
	if !strings.Contains(stats, "rejected_connections:1\r\n") {
		t.Errorf("the refusal is not counted: %s", stats)
	}

	if v := local.ConfigGet(ctx, "protected-mode").Val()["protected-mode"]; v != "yes" {
		t.Errorf("CONFIG GET protected-mode = %q, want yes", v)
	}
	if err := local.ConfigSet(ctx, "protected-mode", "no").Err(); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, remote, nil)
	if v, err := other.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("after CONFIG SET protected-mode no, a client from %s: %q %v", ip, v, err)
	}
}
