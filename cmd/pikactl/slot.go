package main

import (
	"context"
	"fmt"

	"github.com/pika-node/pika-node/manager/meta"

	"github.com/spf13/cobra"
)

func (a *app) slotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slot",
		Short: "Show slot placement",
		Long:  "Show where a table's slots live: their leaders, replicas, epochs and states.",
		Example: `  pikactl slot show users
  pikactl slot show users 17`,
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	cmd.AddCommand(a.slotShowCmd(), a.slotCheckCmd())
	return cmd
}

// errPartial makes a command that did only part of its work (slots not
// proven equal, leaderships not moved) exit 1.
type errPartial struct{ msg string }

func (e *errPartial) Error() string { return e.msg }

func (a *app) slotCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check TABLE [SLOT]",
		Short: "Prove a table's replicas equal: checksums at one log position",
		Long: `Every live replica of each slot (or of SLOT) checksums the slot's live data
at its log position; a slot is EQUAL when all replicas are at one position
with one checksum. Replicas still receiving writes are at different
positions: the check looks again for a couple of seconds, then says so —
stop the load and run it again. Exit status 1 when any slot is not proven
equal.`,
		Example: `  pikactl slot check users
  pikactl slot check users 17
  pikactl --json slot check users | jq '[.[] | select(.equal | not)]'`,
		Args: positional(1, 2, "TABLE", "SLOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var slot *meta.SlotID
			if len(args) == 2 {
				n, err := parseSlot(cmd, args[1])
				if err != nil {
					return err
				}
				slot = &n
			}
			return a.call(cmd, func(ctx context.Context, b backend) error {
				checks, err := b.Check(ctx, args[0], slot)
				if err != nil {
					return err
				}
				if a.opts.json {
					err = writeJSON(a.s.out, checks)
				} else {
					err = writeChecks(a.s.out, checks)
				}
				if err != nil {
					return err
				}
				bad := 0
				for _, c := range checks {
					if !c.Equal {
						bad++
					}
				}
				if bad > 0 {
					return &errPartial{fmt.Sprintf("%d slot(s) not proven equal on every replica", bad)}
				}
				return nil
			})
		},
	}
}

func (a *app) slotShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show TABLE [SLOT]",
		Short: "Show every slot of a table, or one slot",
		Long: `Show the placement of every slot of TABLE, one row each, or of the one
slot SLOT (a number from 0 to the table's slot count minus one). EPOCH
grows with every change of a slot's leader or replicas.`,
		Example: `  pikactl slot show users
  pikactl slot show users 17
  pikactl --json slot show users | jq '[.[] | select(.leader_alive | not) | .slot]'`,
		Args: positional(1, 2, "TABLE", "SLOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if len(args) == 1 {
				return a.call(cmd, func(ctx context.Context, b backend) error {
					slots, err := b.Slots(ctx, name)
					if err != nil {
						return err
					}
					if a.opts.json {
						return writeJSON(a.s.out, slots)
					}
					return writeSlots(a.s.out, slots)
				})
			}
			n, err := parseSlot(cmd, args[1])
			if err != nil {
				return err
			}
			return a.call(cmd, func(ctx context.Context, b backend) error {
				s, err := b.Slot(ctx, name, n)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, s)
				}
				return writeSlot(a.s.out, s)
			})
		},
	}
}

// failoverCmd is `pikactl failover TABLE SLOT [--to NODE]`.
func (a *app) failoverCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "failover TABLE SLOT",
		Short: "Hand a slot's leadership to a follower without losing writes",
		Long: `Switch a slot's leader to a follower (--to NODE, or the most advanced one):
the current leader is fenced (it runs no client command for the slot; nodes
hold the slot's commands instead of failing them), the target catches up to
the leader's last log entry, and is published as the new leader. Reports the
time the slot's commands were held. If the target does not catch up within
10 s the fence is lifted and nothing changes.`,
		Example: `  pikactl failover users 17
  pikactl failover users 17 --to 3f2a9c0d1e4b5a6f`,
		Args: positional(2, 2, "TABLE", "SLOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseSlot(cmd, args[1])
			if err != nil {
				return err
			}
			return a.call(cmd, func(ctx context.Context, b backend) error {
				sw, err := b.Failover(ctx, args[0], n, meta.NodeID(to))
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, sw)
				}
				_, err = fmt.Fprintf(a.s.out, "slot %d of %s: %s -> %s at index %d (epoch %d); commands held %s, took %s\n",
					sw.Slot, sw.Table, sw.From, sw.To, sw.Index, sw.Epoch, sw.Paused, sw.Took)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "node to hand the leadership to (default: the most advanced follower)")
	return cmd
}
