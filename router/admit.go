package router

import (
	"fmt"
	"slices"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/peer"
)

// Behind says that a forwarded command was refused because this node's
// routing may be the stale one: the asker knows a table this node does
// not, or routed at a newer epoch of a slot than this node knows.
type Behind struct {
	// UnknownTable: table T is unknown here.
	UnknownTable bool
	T            meta.TableID
	// S and Epoch: the asker's epoch of slot S (when !UnknownTable).
	S     SlotID
	Epoch meta.Epoch
}

// Admitted is a forwarded command this node may run.
type Admitted struct {
	Table *Table
	// Owned: it runs over the slots of Table this node leads only (a
	// table-wide command, or one SCAN step).
	Owned bool
}

// AdmitForward checks a forwarded command (FWD) against this node's
// routing: every slot it names must be led here at the asker's epoch (a
// raft slot's own group here is the authority: its leader serves before
// the routing names it), and its keys must be in those slots; with no
// slots named it must be a table-wide command, run over the slots this
// node leads. It returns the error reply instead when the command must
// not run here, and with it what this node may be behind on when the
// refusal could come from its own stale routing. The caller has checked
// that the command is known, forwardable and of the right arity.
func (p *Proxy) AdmitForward(req peer.Forward) (Admitted, string, *Behind) {
	snap := p.snap.Load()
	tb, ok := snap.Table(req.Table)
	if !ok {
		return Admitted{}, peer.Refuse((&UnknownTableError{Table: req.Table}).Error()), &Behind{UnknownTable: true, T: req.Table}
	}
	var raft RaftView
	if tb.Mode == meta.ModeRaft && p.cfg.Raft != nil {
		raft = p.cfg.Raft()
	}
	slots := make([]SlotID, len(req.Slots))
	for i, se := range req.Slots {
		s := se.Slot
		var rl RaftLeader
		if raft != nil {
			rl = raft.RaftLeader(tb.ID, s)
		}
		if err := snap.CheckLeader(tb.ID, s, se.Epoch); err != nil && !(rl.Known && rl.Self) {
			var b *Behind
			if ee, ok := err.(*EpochError); ok && ee.Asked > ee.Known {
				b = &Behind{T: tb.ID, S: s, Epoch: ee.Asked}
			}
			return Admitted{}, peer.Refuse(err.Error()), b
		}
		if rl.Known && !rl.Self {
			// The asker waits for the routing to follow raft and retries.
			return Admitted{}, peer.Refuse(fmt.Sprintf("slot %d: raft elected another leader", s)), nil
		}
		slots[i] = s
	}
	cmd := p.cfg.Classify(req.Command)
	if len(slots) == 0 {
		if cmd.Class != TableWide {
			return Admitted{}, "ERR not a table-wide command: " + cmd.Name, nil
		}
		return Admitted{Table: tb, Owned: true}, "", nil
	}
	// The keys must be in the slots the asker named (and this node leads).
	if !cmd.BadKeys {
		for _, k := range cmd.Keys {
			if s := SlotOf(k, tb.Slots); !slices.Contains(slots, s) {
				return Admitted{}, peer.Refuse(fmt.Sprintf("key in slot %d, not in the slots named", s)), nil
			}
		}
	}
	return Admitted{Table: tb, Owned: cmd.Merge == MergeScan}, "", nil
}
