// Package txn owns a client's MULTI/EXEC/WATCH blocks and its multi-slot
// commands: queueing a block's commands (multi.go), deciding where a unit
// runs, and running it here under this node's slot locks, on the one node
// leading its slots (peer request UNIT), or across the nodes, or the raft
// groups, leading them through package unit (units.go). It also owns the
// node's side of package unit: its Participant, behind the U* peer
// requests (RegisterPeer), its Coordinator, and the unit.Slots they write
// the units' records with, over the engine, raft mode and the shipper
// (docs/transactions.md).
//
// Package node wires it: New with the node's Services, Register for the
// transaction commands, and the connection (Conn) handed in by each call
// or found in command.Ctx.Conn.
package txn
