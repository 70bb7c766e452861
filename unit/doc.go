// Package unit owns multi-slot units whose slots several nodes lead, or
// that span several raft groups (docs/transactions.md): both ends of their
// protocol. The Participant
// holds this node's slots of a unit between ULOCK and UAPPLY / UABORT /
// URELEASE, records prepared parts durably, keeps the decisions of the
// units whose home slot this node leads, and resolves a part whose
// coordinator went silent by asking the home slot's leader (UDECIDE abort); it also keeps the WATCH
// registrations other nodes make of keys it leads (UWATCH), which a ULOCK
// naming their token checks. The Coordinator runs a unit: locks every
// participant's slots and reads their keys, has the caller evaluate the
// unit over those copies (a large collection's members read from its
// participant as the evaluation needs them, UREAD), then commits the parts with two phases
// (UPREPARE of every written part but the home's, the home's UPREPARE ...
// DECIDE applying the home slot's part and recording the commit in one
// write, UAPPLY), and deletes the decision after the reply (UFORGET,
// batched per home: forget.go). The parts and the decision are
// records of their slots (records.go): entries of the slots' raft groups,
// or logged writes of async slots acknowledged by their followers, so a
// slot's new leader finds them and ends them (resolveParts).
//
// Units whose slots one node leads in an async table without followers
// (or one raft slot) do not come here: they run on that node under its
// slot locks (node/txn/multi.go).
package unit
