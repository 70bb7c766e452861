// Package replication owns both ends of async replication (DESIGN.md): it
// ships each slot's log from the node that leads the slot to the nodes that
// follow it, and applies it there. A Shipper on every node, woken by
// commits to slot logs, walks the slots it leads, reads the entries each
// follower lacks from the slot log (storage.ReadLog) and sends them over the peer
// link — one pipelined stream per follower node carrying all the slots
// the two share, each round's requests written together — then advances
// each follower's position from its answer. A Follower applies entries in
// order with storage.ApplyLogEntry, and receives full syncs, behind the
// node's routing check; package node registers its handlers on the peer
// port.
//
//	REPLICATE <table> <slot> <epoch> <entry>...   ->  [<last index>, <its epoch>]
//	                                                 | -REPLGAP <last> | -PIKAREFUSE ...
//
// (peer.Replicate; the errors are peer.GapError and peer.RefusedError.)
//
// A follower behind the leader's retained log, empty while the slot has
// keys, or diverged (its last entry is not in the leader's log with the
// same epoch: it led the slot and wrote entries its followers never got)
// gets a full sync: SYNCBEGIN, the slot's keys in SYNCDATA chunks (loaded
// into SST files, storage.SlotLoad) and SYNCEND, on a peer pool of its own
// (docs/replication.md). Failover and switchover are the manager's.
//
// The package also owns how a table's writes commit and what each slot's
// copy here is for. AsyncLeader is the async tables' storage.Committer: it
// admits a write only while the routing names this node the slot's leader
// with no handover and, for a slot another replica could take over, while
// the node's etcd lease is known to live (the lease fence) and enough of
// its followers are good (min-replicas-to-write, counted by the Shipper,
// which also answers WAIT: AwaitReplicas), and commits locally. SlotRoles
// sets each slot's
// storage.SlotRole from the routing (logged for followers, followed, its
// epoch, raft-owned) and deletes the copies of async slots this node no
// longer holds. SlotQueries answers the manager's questions about a copy
// (its log position, checksum, size), here or over the peer links. Raft is
// a node's raft mode: the multiraft host (whose Committer raft tables
// use), its transport and snapshot streams over the peer links, the groups
// kept as the routing wants, and the leadership reports to the manager.
package replication
