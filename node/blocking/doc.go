// Package blocking owns the waits of a node's clients in blocking
// commands (BLPOP, BZPOPMIN, BLMOVE, ...): which keys each waits on, in
// the order the clients came (first come, first served per key), the
// wake-ups when a key is written (from the engine's writes here, and from
// the nodes that lead the keys: BREADY), the registrations this node
// holds for other nodes' waiters (BWAIT, leases renewed each second) and
// CLIENT UNBLOCK. The waiting itself (trying the command again when woken)
// is the client connection's, in package node. docs/blocking.md has the
// design and its failure cases.
package blocking
