// Package unit owns multi-slot units whose slots several nodes lead
// (docs/transactions.md): both ends of their protocol. The Participant
// holds this node's slots of a unit between ULOCK and UAPPLY / UABORT /
// URELEASE, records prepared parts durably, keeps the decisions of the
// units whose home this node is, and resolves a part whose coordinator went
// silent by asking the home (UDECIDE abort). The Coordinator runs a unit:
// locks every participant's slots and reads their keys, has the caller
// evaluate the unit over those copies, then commits the parts with two
// phases (UPREPARE, UDECIDE commit at the home, UAPPLY).
//
// Units whose slots one node leads do not come here: they run on that node
// under its slot locks (node/multi.go).
package unit
