// Package node wires a pika-node together: it owns the client listener and
// connections (accepted, and maxclients fitted to the open file limit, by
// node/listen; the TLS port's after a handshake with node/tlsconf's
// config), the connection and server commands (PING, AUTH with the
// verified passwords remembered in passwordcache.go, SELECT, CLIENT,
// INFO, CONFIG, ACL over the cluster's users, kept in users.go and
// checked before every command, ...), and the lifecycle of the storage engine and
// its background work (its disk running low is logged and told to the
// manager by disk.go), the peer port, and the node's side of the proxy
// (router.Runner) and of the commit policy (which Committer a table's
// writes use). A connection's MULTI block and WATCH, and the running of a
// unit (here, on the one node leading its slots through the peer request
// UNIT, or across the nodes, or the raft groups, leading them, through
// package unit), live in node/txn, which the node wires (txns.go). The
// counts kept per command and the Prometheus metrics live in node/stats.
// A client waiting in a blocking command waits on its connection's
// goroutine (blocked.go), with its keys registered in node/blocking; the
// pub/sub commands (pubsubcmds.go) keep a connection's subscriptions in
// node/pubsub.
// Data commands live in node/command, the proxy in router, replication's
// both ends in replication.
package node
