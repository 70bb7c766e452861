// Package limitstest runs pika-node as a real process at the edges of its
// resources: a flood of connections past its open file limit (the node
// must keep serving), maxclients fitted to `ulimit -n` as Redis does, and a
// shutdown that a stuck command or a client that does not read must not
// hold up past --shutdown-timeout.
//
// It contains only tests. Run it with
//
//	GOTOOLCHAIN=local go test ./node/limitstest/
//
// PIKA_NODE_BIN=path uses a prebuilt binary instead of building
// ./cmd/pika-node. The low open file limit is set with bash's ulimit; run
// as root, the node is started without CAP_SYS_RESOURCE (setpriv) so that
// it cannot raise the limit again, and a test that still finds it raised
// skips.
package limitstest
