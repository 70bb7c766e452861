// Package multiraft runs the raft groups of a node's raft-mode slots: one
// group per slot (go.etcd.io/raft/v3 RawNodes), all driven by one
// goroutine, so a node with thousands of groups costs one goroutine, one
// timer and one RocksDB write per round, not thousands.
//
// A round of the driver takes everything that arrived (peer messages,
// proposals, read requests), ticks the groups that are awake, collects the
// ready state of every group that has one, and persists all of it — new
// entries, hard states, and the effects of newly committed entries — in one
// Store.ApplyRaft write (storage.Engine). Then it sends the round's messages,
// coalesced into one batch per peer node, wakes the writers whose entries
// were applied and the readers whose read index was reached.
//
// Quiescence: a leader whose followers have every entry and know it is
// committed stops ticking and tells its followers to stop too, so an idle
// group sends no heartbeats. Failure detection then moves from the group to
// the node: hosts ping each other (one tiny message per peer node, not per
// group, sent by a goroutine of its own so that a long driver round never
// delays them); when a peer stops answering, the groups it led forget it and the
// lowest live follower campaigns at once, which makes an election after a
// crash take a round trip, not an election timeout.
//
// Entries carry the deterministic effect of a write (storage.Effect), with
// an 8-byte proposal id in front that lets the proposer find its waiter.
// Reads are linearizable through raft's ReadIndex (ReadOnlySafe): no clock
// assumption.
//
// The log is compacted after apply, keeping a tail for followers that lag.
// A follower behind the compacted log gets a snapshot: the slot's key range
// read from a RocksDB snapshot on the leader's driver (exactly at its
// applied index), streamed in chunks through Config.StreamSnapshot, then
// raft's snapshot message, which the follower's next round lands
// atomically (state, counts, log cut).
package multiraft
