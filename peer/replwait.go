package peer

import "github.com/pika-node/pika-node/storage/keyspace"

// ReplicasWait is WAIT's question to a node that leads slots of a table
// (docs/replication.md, "WAIT and min-replicas-to-write"): it answers
// once, for every async slot of the table it leads, at least Want
// followers acknowledged the slot's log as of the request, or once
// TimeoutMS passed, with the smallest number of such followers among
// those slots (-1: it leads none). It travels on ClassUnitWait, whose
// connections carry one request at a time, so that its wait holds up
// nothing else.
//
//	REPLWAIT <table> <want> <timeout ms> -> :count
type ReplicasWait struct {
	Table     keyspace.TableID
	Want      uint64
	TimeoutMS uint64
}

func (ReplicasWait) Name() string { return "REPLWAIT" }

func (r ReplicasWait) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), u64(r.Want), u64(r.TimeoutMS)}
}

// ParseReplicasWait reads a REPLWAIT.
func ParseReplicasWait(args [][]byte) (ReplicasWait, error) {
	if len(args) != 4 {
		return ReplicasWait{}, malformed("REPLWAIT")
	}
	t, ok1 := parseU32(args[1])
	want, ok2 := parseU64(args[2])
	ms, ok3 := parseU64(args[3])
	if !ok1 || !ok2 || !ok3 {
		return ReplicasWait{}, malformed("REPLWAIT")
	}
	return ReplicasWait{Table: keyspace.TableID(t), Want: want, TimeoutMS: ms}, nil
}
