package main

import (
	"context"

	"github.com/spf13/cobra"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the cluster at a glance: manager, health, problems, nodes, tables",
		Long: `Show the cluster at a glance: its name, the manager, its health (ok,
degraded or down), the metadata revision, every problem found (lines
starting with "! "), then the nodes and the tables.

Health is "down" when some slot has no live leader, "degraded" when some
slot has fewer replicas than its table asks for (or no manager is elected).
The exit status is 0 whatever the health: read it from the output, or from
.health with --json.`,
		Example: `  pikactl status
  pikactl --etcd 10.0.0.1:2379 --cluster prod status
  pikactl --json status | jq -r .health`,
		Args: positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				s, err := b.Status(ctx)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, s)
				}
				return writeStatus(a.s.out, s)
			})
		},
	}
}
