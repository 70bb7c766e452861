package main

import (
	"context"

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
	cmd.AddCommand(a.slotShowCmd())
	return cmd
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
