package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/meta"
)

func (a *app) nodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "List and remove nodes",
		Long:  "List the cluster's nodes, and remove the ones that are gone for good.",
		Example: `  pikactl node list
  pikactl node drain n3
  pikactl node remove n3`,
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	cmd.AddCommand(a.nodeListCmd(), a.nodeRemoveCmd(), a.nodeDrainCmd())
	return cmd
}

func (a *app) nodeListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List every node: live ones and dead members",
		Long: `List every node the cluster knows: the live ones and the members whose
lease expired. LEADS counts the slots (of all tables) a node leads, REPLICAS
the slot replicas it holds, leaders included.`,
		Example: `  pikactl node list
  pikactl --json node list | jq -r '.[] | select(.alive | not) | .id'`,
		Args: positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				nodes, err := b.Nodes(ctx)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, nodes)
				}
				return writeNodes(a.s.out, nodes)
			})
		},
	}
}

func (a *app) nodeRemoveCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a dead node from the cluster",
		Long: `Remove a node that is not alive from the cluster's members.

The manager refuses (exit status 1) to remove a live node, and, without
--force, a node that still holds slot replicas: move or fail them over
first, or give --force to remove it even so.`,
		Example: `  pikactl node remove n3
  pikactl node remove n3 --force`,
		Args: positional(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := meta.NodeID(args[0])
			return a.call(cmd, func(ctx context.Context, b backend) error {
				if err := b.RemoveNode(ctx, id, force); err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, okResult{OK: true, Removed: id})
				}
				_, err := fmt.Fprintf(a.s.out, "node %s removed\n", id)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the node even though it still holds slot replicas")
	return cmd
}

func (a *app) nodeDrainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "drain ID",
		Short: "Move every slot leadership off a node (before restarting it)",
		Long: `Hand every slot the node leads over to a follower, one slot at a time, each
without losing acknowledged writes (see pikactl failover): the node can then
be restarted with no failed client request. Slots without another replica
stay and are listed. Exit status 1 when some could not be moved.`,
		Example: `  pikactl node drain 3f2a9c0d1e4b5a6f
  pikactl --json node drain 3f2a9c0d1e4b5a6f`,
		Args: positional(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				d, err := b.Drain(ctx, meta.NodeID(args[0]))
				if err != nil {
					return err
				}
				if a.opts.json {
					err = writeJSON(a.s.out, d)
				} else {
					_, err = fmt.Fprintf(a.s.out, "node %s: %d leadership(s) moved in %s\n", d.Node, d.Moved, d.Took)
					for _, s := range d.Stuck {
						fmt.Fprintf(a.s.out, "  not moved: %s\n", s)
					}
				}
				if err == nil && len(d.Stuck) > 0 {
					err = &errPartial{fmt.Sprintf("%d leadership(s) not moved", len(d.Stuck))}
				}
				return err
			})
		},
	}
}
