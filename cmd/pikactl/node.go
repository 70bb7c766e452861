package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

func (a *app) nodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "List, drain and remove nodes",
		Long:  "List the cluster's nodes, move leaderships off one, and remove one from the cluster.",
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

const nodeRemoveLong = `Remove a node from the cluster's members.

Without --force, pikactl first moves every slot replica off the node: it asks
the manager for the plan of 'pikactl rebalance --exclude ID' (over every
table) and runs it as rebalance does, with the same output and the flags
--concurrency and --limit-mbps (see pikactl rebalance --help); then it
removes the node. A live node is removed too once it holds no replica: stop
its process afterwards. When a step of the plan fails, or the node still
holds replicas after it (slots the planner skipped), the node stays a member
(exit status 1): look at the output and run the command again.

With --force the node is removed at once and its replicas are dropped from
the slots' placement: for a dead node whose data is gone. The manager
refuses (exit status 1) to remove a live node that holds replicas.`

func (a *app) nodeRemoveCmd() *cobra.Command {
	var force bool
	var f planFlags
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Move the replicas off a node and remove it from the cluster",
		Long:  nodeRemoveLong,
		Example: `  pikactl node remove n3
  pikactl node remove n3 --concurrency 4 --limit-mbps 100
  pikactl node remove n3 --force`,
		Args: positional(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			id := meta.NodeID(args[0])
			return a.callLong(cmd, func(ctx context.Context, b backend) error {
				return a.removeNode(ctx, b, id, force, f)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the node at once, dropping its replicas from the placement")
	f.add(cmd.Flags())
	return cmd
}

// removeNode runs, without force, the plan that empties the node, then
// removes it.
func (a *app) removeNode(ctx context.Context, b backend, id meta.NodeID, force bool, f planFlags) error {
	var sum *planSummary
	if !force {
		var plan api.Plan
		if err := a.request(ctx, func(ctx context.Context) (err error) {
			plan, err = b.Evacuate(ctx, id)
			return err
		}); err != nil {
			return err
		}
		s, err := a.runPlan(ctx, b, plan, f)
		if err != nil {
			if a.opts.json {
				_ = writeJSON(a.s.out, okResult{OK: false, Plan: &s})
			}
			return fmt.Errorf("node %s not removed: %w", id, err)
		}
		sum = &s
	}
	if err := a.request(ctx, func(ctx context.Context) error { return b.RemoveNode(ctx, id, force) }); err != nil {
		return err
	}
	if a.opts.json {
		return writeJSON(a.s.out, okResult{OK: true, Removed: id, Plan: sum})
	}
	_, err := fmt.Fprintf(a.s.out, "node %s removed\n", id)
	return err
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
