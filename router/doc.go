// Package router maps keys to slots (SlotOf: crc32 % slots, hash tags) and
// slots to the nodes that lead them, through Snapshot: an immutable view of
// the tables, their slot placement and epochs, and the live nodes' addresses,
// built from one meta.State. A node swaps in a new Snapshot whenever its
// metadata changes; a command consults only the Snapshot it started with.
package router
