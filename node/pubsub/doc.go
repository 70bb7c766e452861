// Package pubsub owns a node's publish/subscribe: its clients'
// subscriptions to channels, patterns and shard channels, per table (Hub,
// Sub); the delivery of messages to them in each client's protocol (RESP2
// arrays, RESP3 pushes), held back while a subscription's confirmation
// has not been sent; and the cluster's side: which channels and patterns
// every other node's clients want (their interest, kept by deltas and
// repaired by a pull each second), so that a message is carried only to
// the nodes that have subscribers for it, and PUBSUB's questions asked of
// every node. Package node wires it: the commands, the connection as a
// Sub's sender, the PS* peer requests (package peer) to its handlers.
// docs/pubsub.md describes the design and its failure cases.
package pubsub
