package storage

// TableID is a table's numeric id: SELECT n picks table n; db0 is 0.
type TableID uint32

// SlotID is a slot's number inside its table, in [0, slots).
type SlotID uint32

// DefaultTable is the table every node serves before any other is created.
const DefaultTable TableID = 0

// DefaultSlots is the slot count of DefaultTable.
const DefaultSlots = 1024
