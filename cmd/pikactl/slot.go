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

// errMismatch makes `slot check` exit 1 when replicas differ.
type errMismatch struct{ n int }

func (e *errMismatch) Error() string {
	return fmt.Sprintf("%d slot(s) not proven equal on every replica", e.n)
}

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
					return &errMismatch{bad}
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
