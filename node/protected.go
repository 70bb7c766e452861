package node

import (
	"net"

	"github.com/pika-node/pika-node/storage"
)

// protectedModeDenied is Redis 7.0's refusal of a client from another
// host while protected mode is on and the default table has no password,
// with pika-node's ways out.
const protectedModeDenied = "-DENIED pika-node is running in protected mode because protected " +
	"mode is enabled and no password is set for the default table (db0). " +
	"In this mode connections are only accepted from the loopback interface. " +
	"If you want to connect from external computers to pika-node you " +
	"may adopt one of the following solutions: " +
	"1) Just disable protected mode sending the command " +
	"'CONFIG SET protected-mode no' from the loopback interface " +
	"by connecting to pika-node from the same host the server is " +
	"running, however MAKE SURE pika-node is not publicly accessible " +
	"from internet if you do so. " +
	"2) Alternatively you can restart the node with the '--protected-mode no' option. " +
	"3) Setup a password for the default table (pikactl table set-password db0, or " +
	"--requirepass when the cluster is bootstrapped). " +
	"NOTE: You only need to do one of the above things in order for " +
	"the server to start accepting connections from the outside.\r\n"

// protectedRefusal reports whether protected mode refuses a client
// connection from addr: it is on, the client is not on the loopback
// interface, the default user has no password (Redis's check), and the
// default table has none either.
func (n *Node) protectedRefusal(addr net.Addr) bool {
	if !n.protectedMode.Load() {
		return false
	}
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.IP.IsLoopback() {
		return false
	}
	if !n.users.set().byName["default"].NoPass() {
		return false
	}
	snap := n.proxy.Routing()
	if snap == nil {
		return true
	}
	tb, ok := snap.Table(storage.DefaultTable)
	return !ok || !tb.HasPassword()
}

// yesNo is a boolean as redis.conf writes it.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
