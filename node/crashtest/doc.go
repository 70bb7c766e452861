// Package crashtest kills pika-node with SIGKILL while concurrent clients write, restarts it on
// the same data directory, and checks that every acknowledged write survived.
//
// It contains only tests. Run it with
//
//	GOTOOLCHAIN=local go test ./node/crashtest/
//
// PIKA_NODE_BIN=path uses a prebuilt binary instead of building ./cmd/pika-node;
// CRASH_TARGET=redis runs the same test against redis-server with appendfsync always, to check the
// test itself.
package crashtest
