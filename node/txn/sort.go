package txn

import (
	"slices"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// SORT and SORT_RO as units (docs/transactions.md, "SORT"): the keys
// their BY and GET patterns name are computed from the elements and may
// be in any slot, so SORT runs as a script does: over a unit holding its
// declared keys (the sorted key, STORE's destination), which stops the
// run when the command asks for keys it does not hold (command.Ctx.Reach)
// and runs again with them, here or across the nodes leading them.
// Nothing is applied before the unit commits, so the result is as if SORT
// ran alone at one instant over every key it read.

// errSortGrows stops a SORT whose unit does not hold the keys it reads.
// It is a reply (command.RedisError), not an internal error: the run is
// expected to stop so, and its reply is dropped when the unit runs again.
var errSortGrows error = sortGrows{}

type sortGrows struct{}

func (sortGrows) Error() string      { return "SORT reads keys its unit does not hold" }
func (sortGrows) RedisError() string { return "ERR SORT reads keys its unit does not hold" }

// maxSortInUnitRuns bounds the runs of a SORT inside MULTI or a script
// whose pattern keys keep changing.
const maxSortInUnitRuns = 4

func (t *Txns) registerSort() {
	for _, s := range command.SortSpecs() {
		inner := s
		outer := s
		outer.Flags |= command.OwnLocks
		outer.Cluster = router.Keyed
		outer.Handler = func(c *command.Ctx) error { return t.cmdSort(c, &inner) }
		t.cmds.Register(outer)
	}
}

// cmdSort runs SORT (inner is the plain command) as a unit that grows to
// hold the keys it reads.
func (t *Txns) cmdSort(c *command.Ctx, inner *command.Spec) error {
	declared, err := inner.KeysOf(c.Args)
	if err != nil {
		return err
	}
	if t.keyAccess != nil && !t.keyAccess(c.Conn, c.Args) {
		c.KeysRestricted = true
		defer func() { c.KeysRestricted = false }()
	}
	if b := c.UnitBatch(); b != nil {
		return t.sortInUnit(c, b, inner, declared)
	}
	run := &scriptRun{
		name:     "sort",
		keys:     router.CopyArgs(declared),
		readOnly: inner.Flags&command.Write == 0 || !command.SortStores(c.Args),
	}
	run.body = func(c *command.Ctx, b *storage.Batch, slots []storage.SlotID) error {
		spec := *inner
		spec.Keys = func([][]byte) ([][]byte, error) { return run.unitKeys(), nil }
		grew := false
		c.Reach = func(keys [][]byte) error {
			for _, k := range keys {
				s := router.SlotOf(k, c.Slots)
				if !slices.Contains(slots, s) || !b.Covers(s, k) {
					grew = run.addKey(s, k) || grew
				}
			}
			if grew {
				return errSortGrows
			}
			return nil
		}
		defer func() { c.Reach = nil }()
		command.RunInUnit(&spec, c, b)
		if grew {
			return errScriptGrows // the unit runs again with them
		}
		return nil
	}
	return t.runScript(c, run)
}

// unitKeys are the keys the unit holds, slot by slot.
func (r *scriptRun) unitKeys() [][]byte {
	var keys [][]byte
	for _, s := range r.slots() {
		keys = append(keys, r.unit[s]...)
	}
	return keys
}

// sortInUnit runs SORT as one command of a MULTI block or a script, over
// the batch b of its unit: the keys its patterns name join the command's
// keys, which the batch locks as it does for any command of the block
// (on this node; a block across nodes holds only the slots it declared).
func (t *Txns) sortInUnit(c *command.Ctx, b *storage.Batch, inner *command.Spec, declared [][]byte) error {
	// A script calling SORT set c.Reach: keys its unit does not hold stop
	// the script, which runs again with them.
	outer := c.Reach
	defer func() { c.Reach = outer }()
	keys := slices.Clone(declared)
	for range maxSortInUnitRuns {
		spec := *inner
		spec.Keys = func([][]byte) ([][]byte, error) { return keys, nil }
		grew, stopped := false, false
		c.Reach = func(more [][]byte) error {
			if outer != nil {
				if err := outer(more); err != nil {
					stopped = true
					return err
				}
			}
			for _, k := range more {
				if !slices.ContainsFunc(keys, func(h []byte) bool { return string(h) == string(k) }) {
					if msg := t.notHere(c, b, k); msg != "" {
						stopped = true
						return command.Error(msg)
					}
					keys = append(keys, slices.Clone(k))
					grew = true
				}
			}
			if grew {
				return errSortGrows
			}
			return nil
		}
		mark := markOf(c)
		command.RunInUnit(&spec, c, b)
		if stopped || !grew {
			return nil
		}
		mark.undo(c)
	}
	return command.Error("ERR SORT read keys it did not declare too many times")
}

// notHere is the error of a SORT inside MULTI whose pattern names key
// where the block's batch b cannot read it: a slot it reads from another
// node's image that does not hold the key, or a slot another node leads.
// The block's unit holds the slots its commands declared, and reads others
// only where it runs. "" when b can read key.
func (t *Txns) notHere(c *command.Ctx, b *storage.Batch, key []byte) string {
	s := router.SlotOf(key, c.Slots)
	if b.Imaged(s) {
		if b.Covers(s, key) {
			return ""
		}
	} else {
		snap := t.proxy.Routing()
		if tb, ok := snap.Table(c.Table); !ok || tb.Route(s).Leader == snap.Self {
			return ""
		}
	}
	return "ERR SORT inside MULTI reads '" + truncateArg(key) + "' (a BY or GET pattern's key), whose slot the transaction does not hold: name the key in a command of the block, or run SORT outside MULTI"
}
