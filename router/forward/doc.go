// Package forward is the client side of the peer link: it sends commands
// that this node does not lead to the node that does, over pooled,
// pipelined connections (a few per peer, many requests in flight on each,
// replies matched in order), authenticated with the cluster secret. Each
// request returns a Future holding the peer's raw RESP reply. It also
// reads and splits RESP replies (to merge fanned-out MGET, DEL, ...).
//
// The wire protocol (served by package node's peer server):
//
//	PEERAUTH <secret> <node-id>                          first, once
//	FWD <table> <n> <slot> <epoch> ... <command> <args>  n (slot, epoch) pairs
//
// FWD with n = 0 runs a table-wide command on the peer's own slots (DBSIZE,
// KEYS, FLUSHDB, RANDOMKEY). A peer that does not lead a slot at that epoch
// answers "-PIKAREFUSE <reason>": the asker waits for newer routing,
// decides again and retries, for at most 5 s (node's reroute), then
// answers CLUSTERDOWN.
package forward
