package storage

import "github.com/pika-node/pika-node/storage/keyspace"

// TableID is a table's numeric id: SELECT n picks table n; db0 is 0.
type TableID = keyspace.TableID

// SlotID is a slot's number inside its table, in [0, slots).
type SlotID = keyspace.SlotID

// Epoch is a slot's leadership epoch, stamped on its log entries.
type Epoch = keyspace.Epoch

// LogIndex numbers a slot's log entries from 1.
type LogIndex = keyspace.LogIndex

// DefaultTable is the table every node serves before any other is created.
const DefaultTable TableID = 0

// DefaultSlots is the slot count of DefaultTable.
const DefaultSlots = 1024
