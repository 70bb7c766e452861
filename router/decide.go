package router

import (
	"fmt"

	"github.com/pika-node/pika-node/manager/meta"
)

// Class is how the cluster routes a command; it is a field of the
// command's spec (command.Spec.Cluster).
type Class uint8

const (
	// Keyed commands run where their keys' slot is led; keys over
	// several slots of an async table run as one unit, on the node that
	// leads them all or across their leaders (Across); over several
	// raft groups (each slot of a raft table is one) always Across, even
	// when one node leads them all. A keyed
	// command without keys (a malformed key count) runs where it
	// arrived, whose handler answers the error.
	Keyed Class = iota
	// FanOut commands (MGET, MSET, DEL, ...) may name keys of several
	// slots: they run as one unit like Keyed ones.
	FanOut
	// TableWide commands (DBSIZE, KEYS, SCAN, ...) have no keys and are
	// about the whole table: they run on every node that leads some of
	// its slots and the replies are merged.
	TableWide
	// Server commands (PING, SELECT, CONFIG, ...) need no table: they
	// run where they arrive.
	Server
)

// Kind is what to do with a command.
type Kind uint8

const (
	// Local: run it here.
	Local Kind = iota
	// Remote: forward it to Decision.Leader, which leads Decision.Slot.
	Remote
	// Everywhere: run it on every node leading some of the table's
	// slots (a TableWide command).
	Everywhere
	// Refuse: answer Decision.Err.
	Refuse
	// Wait: a slot involved is being handed over (or its raft group has
	// a leader the routing does not name yet): wait for newer routing,
	// then decide again.
	Wait
	// Across: run it as one unit over slots several nodes lead (an async
	// table), coordinated from here (package unit).
	Across
)

func (k Kind) String() string {
	switch k {
	case Local:
		return "local"
	case Remote:
		return "remote"
	case Everywhere:
		return "everywhere"
	case Refuse:
		return "refuse"
	case Wait:
		return "wait"
	case Across:
		return "across"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Decision is where a command goes.
type Decision struct {
	Kind Kind
	// Slot is the command's slot (Local and Remote of one slot, Wait on
	// one slot).
	Slot SlotID
	// Leader is the node that runs it (Local and Remote of one slot).
	Leader meta.NodeID
	// Unit: a Keyed command over several slots, all led by Leader, which
	// runs it as one unit; it is forwarded naming all of them.
	Unit bool
	// Err is the error reply of Refuse.
	Err string
}

// ErrCrossSlot answers a Keyed command whose keys span slots.
const ErrCrossSlot = "CROSSSLOT Keys in request don't hash to the same slot"

// RaftLeader is what this node's own raft group of a slot knows of the
// slot's leader.
type RaftLeader struct {
	// Known: the group runs here and follows a leader.
	Known bool
	// Self: this node leads the group.
	Self bool
	// Node is the leader's node, "" when its node is not known.
	Node meta.NodeID
}

// RaftView is this node's view of its raft groups: a raft group knows its
// new leader before the routing names it (the winner's report goes
// through the manager and etcd).
type RaftView interface {
	RaftLeader(t meta.TableID, s SlotID) RaftLeader
}

// Merge is how the replies of a TableWide command's parts (one per node
// leading some of the table's slots) become the client's reply; it is a
// field of the command's spec (command.Spec.Merge).
type Merge uint8

const (
	// MergeNone: the command does not run in parts.
	MergeNone Merge = iota
	// MergeOK: +OK once every part said OK (FLUSHDB).
	MergeOK
	// MergeSum: the parts' integers summed (DBSIZE).
	MergeSum
	// MergeConcat: the parts' arrays, one after the other (KEYS).
	MergeConcat
	// MergeRandom: one part's reply, the part picked with a chance in
	// proportion to its key count (DBSIZE), so that each key is as
	// likely (RANDOMKEY).
	MergeRandom
	// MergeScan: one step per slot leader, chained by the cursor (SCAN).
	MergeScan
)

// Command is what routing needs of a command.
type Command struct {
	Class Class
	// Keys are its key arguments.
	Keys [][]byte
	// BadKeys: its key arguments could not be found (a malformed key
	// count); it runs here and its handler answers the error.
	BadKeys bool
	// Name is the command's, for errors.
	Name string
	// Merge is a TableWide command's: how its parts' replies merge.
	Merge Merge
	// Writes: the command may write.
	Writes bool
}

// Decide routes cmd, a command of table tb (nil: the connection's table
// was dropped), under snapshot snap; raft is this node's view of its raft
// groups (nil when it runs none). It is a pure function of its inputs.
func Decide(snap *Snapshot, tb *Table, cmd Command, raft RaftView) Decision {
	d := decideByRouting(snap, tb, cmd, raft)
	if d.Kind == Local && tb != nil && tb.Mode == meta.ModeRaft && raft != nil {
		// The routing would run it here, but a slot's raft group here
		// follows another leader: wait, as for a handover, until the
		// routing follows raft.
		for _, k := range cmd.Keys {
			if l := raft.RaftLeader(tb.ID, SlotOf(k, tb.Slots)); l.Known && !l.Self {
				return Decision{Kind: Wait, Slot: d.Slot}
			}
		}
	}
	return d
}

func decideByRouting(snap *Snapshot, tb *Table, cmd Command, raft RaftView) Decision {
	if tb == nil || cmd.Class == Server {
		return Decision{Kind: Local}
	}
	if len(cmd.Keys) == 0 || cmd.BadKeys {
		if !cmd.BadKeys && cmd.Class == TableWide && !tb.AllLocal() {
			if tb.Handovers() > 0 {
				return Decision{Kind: Wait}
			}
			return Decision{Kind: Everywhere}
		}
		return Decision{Kind: Local} // the handler answers the error
	}
	if len(cmd.Keys) == 1 && tb.AllLocal() {
		return Decision{Kind: Local}
	}
	first := SlotOf(cmd.Keys[0], tb.Slots)
	same := true
	for _, k := range cmd.Keys[1:] {
		if SlotOf(k, tb.Slots) != first {
			same = false
			break
		}
	}
	switch {
	case same && tb.AllLocal():
		return Decision{Kind: Local}
	case same:
		return slotDecision(snap, tb, first, raft)
	case tb.AllLocal() && tb.Mode == meta.ModeAsync:
		return Decision{Kind: Local}
	}
	return unitDecision(snap, tb, cmd)
}

// unitDecision routes a command over several slots (a Keyed one, or a
// FanOut one) as one unit: in an async table on the node that leads them
// all (here, or forwarded naming them all) under all their locks, or
// Across when several nodes lead them; in a raft table Across always:
// each slot is its own raft group, and only the protocol of units makes
// writes of several groups one (docs/transactions.md). A write in an
// async table whose slots have followers is Across too: each slot's log
// ships on its own, and only the protocol's records keep a failover from
// promoting followers that got part of it.
func unitDecision(snap *Snapshot, tb *Table, cmd Command) Decision {
	first := SlotOf(cmd.Keys[0], tb.Slots)
	leader := tb.Route(first).Leader
	across := false
	for _, k := range cmd.Keys {
		s := SlotOf(k, tb.Slots)
		r := tb.Route(s)
		if r.Handover {
			return Decision{Kind: Wait}
		}
		if err := LeaderDown(snap, tb, s); err != "" {
			return Decision{Kind: Refuse, Err: err}
		}
		across = across || r.Leader != leader || (cmd.Writes && len(r.Replicas) > 1)
	}
	switch {
	case across || tb.Mode == meta.ModeRaft:
		return Decision{Kind: Across}
	case leader == snap.Self:
		return Decision{Kind: Local}
	}
	return Decision{Kind: Remote, Slot: first, Leader: leader, Unit: true}
}

// slotDecision routes a command on slot s of tb.
func slotDecision(snap *Snapshot, tb *Table, s SlotID, raft RaftView) Decision {
	if tb.Route(s).Handover {
		return Decision{Kind: Wait, Slot: s}
	}
	if tb.Mode == meta.ModeRaft && raft != nil {
		// The raft group here is the authority on its leader when it
		// knows one (and its node is alive).
		switch l := raft.RaftLeader(tb.ID, s); {
		case l.Known && l.Self:
			return Decision{Kind: Local, Slot: s, Leader: snap.Self}
		case l.Known && l.Node != "":
			if _, alive := snap.Node(l.Node); alive || l.Node == snap.Self {
				return Decision{Kind: Remote, Slot: s, Leader: l.Node}
			}
		}
	}
	leader := tb.Route(s).Leader
	if leader == snap.Self {
		return Decision{Kind: Local, Slot: s, Leader: leader}
	}
	if err := LeaderDown(snap, tb, s); err != "" {
		return Decision{Kind: Refuse, Err: err}
	}
	return Decision{Kind: Remote, Slot: s, Leader: leader}
}

// LeaderDown explains why slot s of tb cannot be served now, "" if it can.
func LeaderDown(snap *Snapshot, tb *Table, s SlotID) string {
	leader := tb.Route(s).Leader
	if leader == "" {
		return fmt.Sprintf("CLUSTERDOWN slot %d of table %s has no leader", s, tb.Name)
	}
	if leader == snap.Self {
		return ""
	}
	if _, ok := snap.Node(leader); !ok {
		return fmt.Sprintf("CLUSTERDOWN slot %d of table %s is not served: its leader %s is down", s, tb.Name, leader)
	}
	return ""
}
