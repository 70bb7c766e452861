// Package tracking owns a node's side of CLIENT TRACKING (Redis's
// server-assisted client-side caching): which of its clients track, with
// which options; the keys each default-mode client read (per table,
// forgotten once invalidated) and the prefixes of the BCAST clients; and
// the invalidation messages sent to them, or to the clients they redirect
// to, in each one's protocol, never ahead of the reply of a command in
// flight on the tracking connection (Outbox). The writes of the whole
// cluster reach it through package pubsub (kind PubsubTracking); package
// node wires it: the CLIENT subcommands, the keys of reads, the
// connections. docs/tracking.md describes the design and its failure
// cases.
package tracking
