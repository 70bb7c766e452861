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
	tb, slots, reply, behind := p.admitSlots(req.Table, req.Slots)
	if reply != "" {
		return Admitted{}, reply, behind
	}
	cmd := p.cfg.Classify(req.Command)
	if len(slots) == 0 {
		if cmd.Class != TableWide {
			return Admitted{}, "ERR not a table-wide command: " + cmd.Name, nil
		}
		return Admitted{Table: tb, Owned: true}, "", nil
	}
	if reply := keysIn(tb, cmd, slots); reply != "" {
		return Admitted{}, reply, nil
	}
	return Admitted{Table: tb, Owned: cmd.Merge == MergeScan}, "", nil
}

// AdmitUnit checks a forwarded MULTI block (UNIT) as AdmitForward checks a
// command: every slot named led here at the asker's epoch, every
// command's keys in them. It returns the table, or the error reply and
// what this node may be behind on.
func (p *Proxy) AdmitUnit(req peer.Unit) (*Table, string, *Behind) {
	tb, slots, reply, behind := p.admitSlots(req.Table, req.Slots)
	if reply != "" {
		return nil, reply, behind
	}
	for _, c := range req.Commands {
		cmd := p.cfg.Classify(c)
		if cmd.Class == TableWide || cmd.Class == Server {
			return nil, "ERR not a data command: " + cmd.Name, nil
		}
		if reply := keysIn(tb, cmd, slots); reply != "" {
			return nil, reply, nil
		}
	}
	return tb, "", nil
}

// admitSlots checks that this node leads every slot named, of table t, at
// the asker's epoch (a raft slot's own group here is the authority: its
// leader serves before the routing names it).
func (p *Proxy) admitSlots(t meta.TableID, named []peer.SlotEpoch) (*Table, []SlotID, string, *Behind) {
	snap := p.snap.Load()
	tb, ok := snap.Table(t)
	if !ok {
		return nil, nil, peer.Refuse((&UnknownTableError{Table: t}).Error()), &Behind{UnknownTable: true, T: t}
	}
	var raft RaftView
	if tb.Mode == meta.ModeRaft && p.cfg.Raft != nil {
		raft = p.cfg.Raft()
	}
	slots := make([]SlotID, len(named))
	for i, se := range named {
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
			return nil, nil, peer.Refuse(err.Error()), b
		}
		if rl.Known && !rl.Self {
			// The asker waits for the routing to follow raft and retries.
			return nil, nil, peer.Refuse(fmt.Sprintf("slot %d: raft elected another leader", s)), nil
		}
		slots[i] = s
	}
	return tb, slots, "", nil
}

// keysIn refuses a command whose keys are not all in the slots the asker
// named (and this node leads).
func keysIn(tb *Table, cmd Command, slots []SlotID) string {
	if cmd.BadKeys {
		return ""
	}
	for _, k := range cmd.Keys {
		if s := SlotOf(k, tb.Slots); !slices.Contains(slots, s) {
			return peer.Refuse(fmt.Sprintf("key in slot %d, not in the slots named", s))
		}
	}
	return ""
}

// AdmitUnitLock checks a ULOCK: this node leads every slot named at the
// asker's epoch (a raft slot: its group here knows no other leader), and
// each key is in the slot it is named with. It returns the refusal's error reply, or "".
func (p *Proxy) AdmitUnitLock(req peer.UnitLock) (string, *Behind) {
	named := make([]peer.SlotEpoch, len(req.Slots))
	for i, s := range req.Slots {
		named[i] = s.SlotEpoch
	}
	tb, _, reply, behind := p.admitSlots(req.Table, named)
	if reply != "" {
		return reply, behind
	}
	for _, s := range req.Slots {
		for _, k := range s.Keys {
			if SlotOf(k, tb.Slots) != s.Slot {
				return peer.Refuse(fmt.Sprintf("a key of slot %d named with slot %d", SlotOf(k, tb.Slots), s.Slot)), nil
			}
		}
	}
	return "", nil
}
