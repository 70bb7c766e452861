// Package peer owns the node-to-node protocol, both ends: its requests
// (one type each, encoded by Args and read back by ParseX), its typed
// error replies, the client that sends them (pooled, pipelined,
// authenticated connections; futures; RESP reply reading and splitting)
// and the server's side: the check of a connection's PEERAUTH
// (Authenticate) and the request table (Mux). The handlers stay with what
// they act on (packages node, node/txn, replication), and the node serves
// the port.
//
// # Wire
//
// RESP both ways, on the peer port (port + 10000), inside mutual TLS when
// the node runs with --tls-cluster (Config.TLS on the dialling side): a
// request is an array of bulk strings, its name first (any case). A
// connection opens with PEERAUTH; anything else first, or a wrong secret,
// is answered with an error, logged, and the connection closed.
//
//	PEERAUTH <secret> <node-id>                           +OK                                  Auth
//	FWD <table> <proto> <n> (<slot> <epoch>){n} <cmd> <args>...
//	                                                      the command's reply                  Forward
//	UNIT <table> <proto> <n> (<slot> <epoch>){n} <count> (<argc> <arg>...){count}
//	                                                      [the commands' replies]              Unit
//	COUNTS <table>                                        [keys, keys with a TTL]              Counts
//	POSITIONS <table> <slot>...                           [[epoch, last index]...]             Positions
//	CHECKSUM <table> <slot>                               [index, epoch, "sum", keys]          Checksum
//	SLOTSIZE <table> <slot>                               bytes                                SlotSize
//	REPLICATE <table> <slot> <epoch> <entry>...           [last index, its epoch]              Replicate
//	SYNCBEGIN <table> <slot> <epoch>                      +OK                                  SyncBegin
//	SYNCDATA  <table> <slot> <epoch> <chunk>              +OK                                  SyncData
//	SYNCEND   <table> <slot> <epoch> <index> <entry epoch> <keys> <expires>
//	                                                      [index, entry epoch]                 SyncEnd
//	RAFT <batch>                                          +OK                                  Raft
//	RAFTTRANSFER <table> <slot> <node-id>                 +OK                                  RaftTransfer
//	RAFTSNAPBEGIN <table> <slot> <from> <index> <term>    +OK                                  RaftSnapBegin
//	RAFTSNAPDATA  <table> <slot> <from> <index> <term> <last 0|1> <chunk>
//	                                                      +OK                                  RaftSnapData
//	ULOCK <table> <unit> <n> (<slot> <epoch> <k> <key>{k}){n} [WATCH <token>] [WAIT]
//	                                                      [image...] (storage.SlotImage)       UnitLock
//	UREAD <table> <unit> <slot> <cf> <lower> <upper> <reverse 0|1> <limit>
//	                                                      [:more, (key value)...]              UnitRead
//	UPREPARE <table> <unit> <home> <home slot> <n> (<slot> <effect>){n} [DECIDE]
//	                                                      +OK (DECIDE: +commit | +abort)       UnitPrepare
//	UDECIDE <unit> commit|abort <table> <home slot>       +commit | +abort (the recorded one)  UnitDecide
//	UAPPLY | UABORT | URELEASE | UCONFIRM | URENEW <unit> +OK                                  UnitApply ...
//	UFORGET <table> (<unit> <home slot>)...              +OK                                  UnitForget
//	UWATCH <table> <token> <n> (<slot> <epoch> <k> <key>{k}){n}
//	                                                      +OK                                  UnitWatch
//	UUNWATCH <token>                                      +OK                                  UnitUnwatch
//	USCRIPT <sha>                                         $body | $-1                          ScriptFetch
//	USCRIPTFLUSH                                          +OK                                  ScriptFlush
//	UFUNCTIONS <revision>                                 +OK                                  FunctionsAt
//	USCRIPTKILL eval|function                             +OK | -NOTBUSY | -UNKILLABLE | -BUSY ScriptKill
//	PSPUB <table> c|s <channel> <message>                 :receivers                           PubsubPublish
//	PSINTEREST <origin> <incarnation> <seq> +|- <table> c|p|s <name>...
//	                                                      +OK                                  PubsubInterest
//	PSSTATE <incarnation> <seq>                           +same | [incarnation, seq, (table kind name)...]
//	                                                                                           PubsubState
//	PSQUERY <table> channels|numsub|patterns c|s <arg>... [...]                                PubsubQuery
//	BWAIT <table> <origin> <n> (<slot> <key>){n}           [position...]                        BlockWait
//	BREADY <table> <key>...                               +OK                                  BlockReady
//	BSYNCED <table> <slot>                                +OK                                  BlockSynced
//	CFGSET <name> <value> <etcd revision>                 +OK                                  ConfigSet
//	CPAUSE <until unix ms> o|w|a                          +OK                                  ClientPause
//	REPLWAIT <table> <want> <timeout ms>                  :followers (-1: leads none)          ReplicasWait
//
// FWD runs a client's command on the node that leads its slots: n
// (slot, epoch) pairs, and the peer runs it only if it leads every slot
// at that epoch and the command's keys are in them; it answers in the
// client's protocol (proto, 2 or 3). With n = 0 it runs a table-wide
// command (DBSIZE, KEYS, FLUSHDB, RANDOMKEY) over the slots the peer
// leads. UNIT runs the data commands of a MULTI ... EXEC block the same
// way, as one unit over its slots. REPLICATE and SYNC* are async replication's log
// shipping and full sync (package replication, docs/replication.md);
// RAFT* carry raft mode's messages, leadership transfers and snapshots
// (replication/multiraft). The U* requests carry units over slots of
// several nodes (package unit, docs/transactions.md). USCRIPT and
// USCRIPTFLUSH keep the nodes' script caches one, UFUNCTIONS their
// FUNCTION libraries, and USCRIPTKILL reaches a script wherever it runs
// (docs/scripting.md). The PS* requests carry pub/sub: messages to the
// nodes with subscribers for them (keyspace events too), each node's
// interest, PUBSUB's questions (docs/pubsub.md); CFGSET and CPAUSE a
// cluster-wide CONFIG value and CLIENT PAUSE/UNPAUSE. They travel on
// ClassPubsub's connections, lane 0, so that one node's requests arrive
// in the order sent, beside anything that waits. BWAIT, BREADY and
// BSYNCED carry the waits of blocked clients on keys other nodes lead and
// their pops' durability (docs/blocking.md), on ClassUnit's connections,
// lane 0. REPLWAIT is WAIT's question to the leaders of a table's slots,
// on ClassUnitWait's (one request a connection). Entries, chunks,
// images, effects and batches are opaque here:
// storage.EncodeLogEntry, storage.Effect's encoding, multiraft's batch.
//
// # Errors
//
//	-PIKAREFUSE <reason>   RefusedError: the peer's routing differs (not the slot's leader at that
//	                       epoch, raft leader moved, unknown table, key outside the slots named,
//	                       not a follower at that epoch). Nothing ran: the asker waits for newer
//	                       routing, decides again and retries, for at most 5 s (router.Proxy.Reroute),
//	                       then answers CLUSTERDOWN.
//	-PIKAWATCHED <reason>  WatchedError: a ULOCK's WATCH token saw a change (or is not held);
//	                       the peer holds nothing, EXEC answers nil.
//	-PIKABUSY <reason>     BusyError: a ULOCK found a slot locked; the peer holds nothing, the
//	                       coordinator backs off and tries the unit again.
//	-REPLGAP <last>        GapError: REPLICATE entries do not follow the follower's last; the
//	                       leader resends from last+1.
//	-ERR ...               RequestError (unknown or malformed request), or the handler's error.
//
// ReplyErr turns a raw reply into one of these (ReplyError for any other
// error reply), to be checked with errors.As.
//
// # Connections
//
// Links hold a node's connections, by traffic class: ClassForward (the
// clients' forwards and the requests about one slot, REPLICATE included;
// replies up to the node's max query size), ClassRaft and
// ClassRaftSnapshot (raft messages and snapshots, on connections of their
// own so that they never queue behind forwards waiting for them),
// ClassBulk (full syncs), ClassUnit (the U* requests: a forward waiting
// for a slot a unit holds never stands before the request that ends the
// unit), ClassUnitWait (ULOCKs that wait for busy slots, each on a
// connection of its own for its round trip, so that a wait never stands
// before another request: an Exclusive pool, 4 idle connections a peer
// kept) and ClassPubsub (pub/sub and node-wide settings, answered without
// waiting: a node waits for its messages' delivery from anywhere). The
// other pools keep 2 connections per peer, dialled lazily, each
// with up to 16384 requests in flight; a request's key (its
// slot) picks the connection, so one slot's requests run on the peer in
// the order sent. Requests are appended to one buffer per connection and
// written together; one goroutine per connection reads replies and
// completes their futures in order. A peer that hangs up fails its
// requests at once and the next request dials again; a reply slower than
// the caller's timeout fails the request and replaces the connection.
package peer
