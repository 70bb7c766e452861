// Package node wires a pika-node together: it owns the client listener and
// connections, the connection and server commands (PING, AUTH, SELECT,
// CLIENT, INFO, CONFIG, ...), and the lifecycle of the storage engine and
// its background work. Data commands live in node/command.
package node
