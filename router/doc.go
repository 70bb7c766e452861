// Package router is the embedded proxy. It maps keys to slots (SlotOf:
// crc32 % slots, hash tags) and slots to the nodes that lead them, through
// Snapshot: an immutable view of the tables, their slot placement and
// epochs, and the live nodes' addresses, built from one meta.State.
//
// Decide routes one command (run here, forward to a slot's leader, run as
// a unit across the leaders of its slots, run on every leader of the
// table, refuse, or wait for newer routing) as a pure function of the Snapshot, the command's routing
// traits (Command: its class and merge are fields of its command spec) and
// keys, and the node's view of its own raft groups (RaftView).
//
// Proxy carries the decisions out. It holds the Snapshot the node serves
// from (Publish swaps in a new one whenever the metadata changes; a
// command consults only the Snapshot it started with; AwaitNewer waits for
// the next), forwards over the peer links (Forward, with the replies'
// places kept in the connection's Pending until Resolve), runs a table-wide command
// on every leader (Everywhere, SCAN chained across nodes), routes again
// what a routing change refused (Reroute, WaitHandover), and checks a
// forwarded command's routing on the node it reaches (AdmitForward).
// Whatever runs on this node goes through the connection's Runner, which
// the node implements.
package router
