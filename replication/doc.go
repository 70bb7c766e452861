// Package replication ships each slot's log from the node that leads the
// slot to the nodes that follow it (async mode, DESIGN.md): a Shipper on
// every node walks the slots it leads, reads the entries each follower
// lacks from the slot log (storage.ReadLog) and sends them over the peer
// link — one pipelined stream per follower node carrying all the slots
// the two share, each round's requests written together — then advances
// each follower's position from its answer. Followers apply entries in
// order with storage.ApplyLogEntry (package node's peer server).
//
//	REPLICATE <table> <slot> <epoch> <entry>...   ->  :<follower's last index>
//	                                                 | -REPLGAP <last> | -PIKAREFUSE ...
//
// Not here yet (issue 6): full sync of a follower behind the retained log,
// divergence after failover, failover itself.
package replication
