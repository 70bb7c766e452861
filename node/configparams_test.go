package node

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/node/config"
)

// CONFIG SET of a hooked parameter changes the node; other parameters are remembered; the
// node's fixed settings are refused unless unchanged; CONFIG GET is a map (RESP3 after HELLO 3).
func TestConfigParams(t *testing.T) {
	n, addr, _ := startNodeN(t, t.TempDir(), func(c *config.Config) { c.ShutdownTimeout = 4 * time.Second })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cmd := func(args ...string) string {
		b := "*" + strconv.Itoa(len(args)) + "\r\n"
		for _, a := range args {
			b += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
		}
		return b
	}
	bulk := func(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
	refused := func(name, reason string) string {
		return "-ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + reason + "\r\n"
	}

	// Hooked: the node's state changes.
	mustExchange(t, nc, cmd("CONFIG", "SET", "timeout", "7", "shutdown-timeout", "9", "maxclients", "50"), "+OK\r\n")
	if n.timeout.Load() != int64(7*time.Second) || n.shutdownTimeout.Load() != int64(9*time.Second) || n.maxClients.Load() != 50 {
		t.Errorf("after CONFIG SET: timeout %v, shutdown-timeout %v, maxclients %d",
			time.Duration(n.timeout.Load()), time.Duration(n.shutdownTimeout.Load()), n.maxClients.Load())
	}
	// All or nothing: a refused value leaves the others as they were.
	mustExchange(t, nc, cmd("CONFIG", "SET", "timeout", "8", "shutdown-timeout", "0"),
		refused("shutdown-timeout", "pika-node needs a positive shutdown-timeout (seconds)"))
	if n.timeout.Load() != int64(7*time.Second) {
		t.Errorf("timeout %v after a refused CONFIG SET, want 7s", time.Duration(n.timeout.Load()))
	}
	mustExchange(t, nc, cmd("CONFIG", "SET", "timeout", "0"), "+OK\r\n")

	// Remembered only (refused before redisconf).
	mustExchange(t, nc, cmd("CONFIG", "SET", "save", "3600 1", "appendonly", "YES", "maxmemory", "1gb", "hash-max-ziplist-entries", "64"), "+OK\r\n")
	mustExchange(t, nc, cmd("CONFIG", "GET", "save"), "*2\r\n"+bulk("save")+bulk("3600 1"))
	mustExchange(t, nc, cmd("CONFIG", "GET", "maxmemory"), "*2\r\n"+bulk("maxmemory")+bulk("1073741824"))
	mustExchange(t, nc, cmd("CONFIG", "GET", "hash-max-listpack-entries"), "*2\r\n"+bulk("hash-max-listpack-entries")+bulk("64"))

	// Fixed settings: the current value is taken, another refused.
	port := strconv.Itoa(n.cfg.Port)
	mustExchange(t, nc, cmd("CONFIG", "SET", "port", port, "bind", "127.0.0.1", "requirepass", ""), "+OK\r\n")
	mustExchange(t, nc, cmd("CONFIG", "SET", "port", "1"), refused("port", "pika-node can't change port while running: restart it with --port"))
	mustExchange(t, nc, cmd("CONFIG", "SET", "port", "x"), refused("port", "argument couldn't be parsed into an integer"))
	mustExchange(t, nc, cmd("CONFIG", "SET", "requirepass", "x"), refused("requirepass", "pika-node keeps passwords per table (pikactl table create --password)"))
	mustExchange(t, nc, cmd("CONFIG", "SET", "tls-port", "6380"), refused("tls-port", "Unable to update TLS configuration. Check server logs."))
	mustExchange(t, nc, cmd("CONFIG", "SET", "dir", n.cfg.Data), refused("dir", "can't set protected config"))
	mustExchange(t, nc, cmd("CONFIG", "GET", "port"), "*2\r\n"+bulk("port")+bulk(port))
	mustExchange(t, nc, cmd("CONFIG", "GET", "databases"), "*2\r\n"+bulk("databases")+bulk("1"))

	mustExchange(t, nc, cmd("CONFIG", "REWRITE"), "-ERR The server is running without a config file\r\n")
	mustExchange(t, nc, cmd("CONFIG", "GET", "nosuch"), "*0\r\n")

	// RESP3: a map.
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(cmd("HELLO", "3"))); err != nil {
		t.Fatal(err)
	}
	// Skip HELLO's reply, a map whose last field is modules, an empty array.
	var got []byte
	for !strings.HasSuffix(string(got), "$7\r\nmodules\r\n*0\r\n") {
		buf := make([]byte, 1)
		if _, err := nc.Read(buf); err != nil {
			t.Fatalf("HELLO 3: %q, %v", got, err)
		}
		got = append(got, buf[0])
	}
	if !strings.HasPrefix(string(got), "%7\r\n") {
		t.Fatalf("HELLO 3: %q", got)
	}
	mustExchange(t, nc, cmd("CONFIG", "GET", "maxmemory"), "%1\r\n"+bulk("maxmemory")+bulk("1073741824"))
	mustExchange(t, nc, cmd("CONFIG", "GET", "nosuch"), "%0\r\n")
}
