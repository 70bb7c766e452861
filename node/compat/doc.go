// Package compat holds the differential compatibility suite: it replays the command scripts in
// testdata/*.txt against a real redis-server and a freshly built pika-node and reports every reply
// that is not byte-identical (errors included), plus protocol-level hostile-input tests.
//
// Scripts in testdata/*.txt run against servers without a password, on which databases 0..3
// exist (pika-node gets the tables db1..db3 at startup, db3 in raft mode); scripts in testdata/auth/*.txt run
// against a second pair started with --requirepass s3cret (pika-node: the password of table db0).
// Every script starts on new connections (database 0, unauthenticated) after the databases it
// may use have been emptied.
//
// The same scripts also run against a cluster (cluster_test.go): Debian's etcd (/usr/bin/etcd), three
// pika-node processes with the slot leaders of db0..db3 spread over all three, and Debian's haproxy
// in TCP round-robin mode in front of them (standing in for LVS). TestClusterScripts and
// TestClusterScriptsPipelined replay every script through node1, node2, node3 and haproxy
// (TestClusterScripts/<target>/<script>.txt), where most commands are forwarded to another node
// and, through haproxy, every new connection may land on another node; TestClusterCrossSlot runs
// TestCrossSlot's cases through node2 and haproxy. The replies must be redis-server's, as on one
// node.
//
// It contains only tests. Run it with
//
//	GOTOOLCHAIN=local go test ./node/compat/
//
// Knobs (environment):
//
//	PIKA_NODE_BIN=path   use this pika-node binary instead of building ./cmd/pika-node
//	COMPAT_TARGET=redis  compare redis-server against a second redis-server (checks the scripts)
//	COMPAT_DUMP=1        log every command with both replies
//
// Keys and slots: a multi-key command whose keys are in different slots runs as one unit, on
// one node or across the nodes leading them (async tables), as on redis-server; scripts use
// both hash-tagged keys (RENAME {r}a {r}b: the single-slot path) and untagged ones.
// TestScriptKeysSpanSlots (script_slots_test.go) checks that both stay covered; TestCrossSlot
// runs every multi-key command over keys in different slots.
//
// Script format (one command per line, redis-cli quoting: "double" with \n \r \t \xHH escapes,
// 'single' with \' only; lines starting with # are comments). A line starting with ! is a
// directive that applies to the next command:
//
//	!sort             compare an array reply as a sorted multiset
//	!sortpairs        compare an array reply of pairs (field value / member score) as a sorted set of pairs
//	!ttl [TOL]        integer reply: -2 and -1 exact, positives within TOL (default 2, or 2000 for P* commands)
//	!scan             run a full SCAN/HSCAN/SSCAN/ZSCAN loop until cursor 0 and compare the union
//	!len              compare only array lengths (or, for non-arrays, the reply type); errors exact
//	!in V1 V2 ...     like !len, and every returned element must be one of V1 V2 ... on both servers
//	!skip-value       compare only the reply type
//	!words            compare each string with its space-separated words sorted (ACL GETUSER)
//	!sleep MS         sleep MS milliseconds (no command follows it necessarily)
package compat
