// Package keyspace names how the keyspace is divided: tables, and slots
// inside a table. It is apart from package storage (which aliases these
// types) so that code that only names tables and slots — the metadata,
// pikactl — does not link RocksDB.
package keyspace

// TableID is a table's numeric id: SELECT n picks table n; db0 is 0.
type TableID uint32

// SlotID is a slot's number inside its table, in [0, slots).
type SlotID uint32

// Epoch orders the leaderships of one slot: every change of its leader or
// replicas bumps it. A slot log entry carries the epoch it was written in.
type Epoch uint64

// LogIndex numbers a slot's log entries, from 1, without gaps.
type LogIndex uint64
