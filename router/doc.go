// Package router is the embedded proxy's decision half. It maps keys to
// slots (SlotOf: crc32 % slots, hash tags) and slots to the nodes that
// lead them, through Snapshot: an immutable view of the tables, their slot
// placement and epochs, and the live nodes' addresses, built from one
// meta.State. A node swaps in a new Snapshot whenever its metadata
// changes; a command consults only the Snapshot it started with.
//
// Decide routes one command (run here, forward to a slot's leader, split
// per leader, run on every leader of the table, refuse, or wait for newer
// routing) as a pure function of the Snapshot, the command's routing class
// (a field of its command spec) and keys, and the node's view of its own
// raft groups (RaftView). Carrying the decision out (forwarding, running
// the handler, merging replies) is the node's.
package router
