// Package storage owns the node's one RocksDB: its column families, the key
// encoding of every table and slot, the per-slot write serialization that
// turns a command's effect into one atomic RocksDB batch, and the background
// reclamation of expired keys and stale collection members; for units over
// several nodes, copies of keys a coordinator evaluates on (slot images,
// image.go; a large collection's members read on demand, imagemembers.go),
// a participant's held slots, taken at once or waiting a bounded time
// (units.go), and the units' records in their slots, written as raft
// entries or as an async leader's logged writes, with the slots they keep
// pending (unitrecords.go); and the free space it keeps on its disk,
// refusing writes below a reserve before RocksDB meets a full disk
// (diskguard.go).
//
// It knows the physical layout of the five Redis types but not their
// commands: package node/command builds Redis semantics on top of Txn.
package storage
