package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

func (a *app) tableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Create, list, show and drop tables, and change their passwords",
		Long: `Manage tables. A table is a keyspace (a Redis database: SELECT by name or
id) split into a fixed number of slots, each replicated on several nodes.`,
		Example: `  pikactl table create users --slots 1024 --replicas 3
  pikactl table list
  pikactl table show users
  pikactl table drop users --yes
  PIKACTL_TABLE_PASSWORD=n3w pikactl table set-password users`,
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	cmd.AddCommand(a.tableCreateCmd(), a.tableListCmd(), a.tableShowCmd(), a.tableDropCmd(), a.tableSetPasswordCmd())
	return cmd
}

func (a *app) tableCreateCmd() *cobra.Command {
	req := api.CreateTable{Slots: 1024, Replicas: 3}
	mode := string(meta.ModeAsync)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a table",
		Long: `Create the table NAME and wait until its slots are placed.

NAME is letters, digits, '_', '.' and '-', starting with a letter or '_'.
--mode async ships each slot's log to its followers after the leader applied
a write (lowest latency); --mode raft acknowledges a write once a majority of
the slot's replicas has it. The slot count and the mode cannot change later.

pikactl checks the form of the flags (exit status 2); the manager checks
the values (name, slot and replica ranges, a name in use: exit status 1).
A --password is visible to other users of this machine in the process list.`,
		Example: `  pikactl table create users
  pikactl table create orders --slots 4096 --replicas 3 --mode raft
  pikactl table create cache --replicas 1 --password s3cret`,
		Args: positional(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch meta.Mode(mode) {
			case meta.ModeAsync, meta.ModeRaft:
				req.Mode = meta.Mode(mode)
			default:
				return usagef(cmd, "--mode %q: want async or raft", mode)
			}
			req.Name = args[0]
			return a.call(cmd, func(ctx context.Context, b backend) error {
				t, err := b.CreateTable(ctx, req)
				if err != nil {
					return err
				}
				a.warnLagging(t.Lagging, "did not serve table "+t.Name+" yet")
				if a.opts.json {
					return writeJSON(a.s.out, t)
				}
				if _, err := fmt.Fprintf(a.s.out, "table %s created\n\n", t.Name); err != nil {
					return err
				}
				return writeTable(a.s.out, t, nil)
			})
		},
	}
	f := cmd.Flags()
	f.Uint32Var(&req.Slots, "slots", req.Slots, fmt.Sprintf("number of slots, 1..%d", meta.MaxSlots))
	f.IntVar(&req.Replicas, "replicas", req.Replicas, fmt.Sprintf("replicas of each slot, 1..%d", meta.MaxReplicas))
	f.StringVar(&mode, "mode", mode, "replication mode: async or raft")
	f.StringVar(&req.Password, "password", "", "password clients must AUTH with to use the table (default none)")
	return cmd
}

func (a *app) tableSetPasswordCmd() *cobra.Command {
	var password string
	var none bool
	cmd := &cobra.Command{
		Use:   "set-password NAME",
		Short: "Change or remove a table's password",
		Long: `Replace the password clients AUTH with to use table NAME, or remove it
with --none. Connections that opened the table with the old password must
AUTH again (they get NOAUTH), so a leaked password stops working at once,
everywhere. The password comes
from --password or PIKACTL_TABLE_PASSWORD (which keeps it out of the
process list).`,
		Example: `  pikactl table set-password cache --none
  PIKACTL_TABLE_PASSWORD=n3w pikactl table set-password users`,
		Args: positional(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if password == "" {
				password = a.getenv("PIKACTL_TABLE_PASSWORD") // not a flag default: --help prints those
			}
			switch {
			case none && password != "":
				return usagef(cmd, "--none and a password are exclusive")
			case !none && password == "":
				return usagef(cmd, "give the new password (--password or PIKACTL_TABLE_PASSWORD), or --none to remove it")
			}
			return a.call(cmd, func(ctx context.Context, b backend) error {
				t, err := b.SetTablePassword(ctx, args[0], password)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, t)
				}
				state := "changed"
				if !t.HasPassword {
					state = "removed"
				}
				_, err = fmt.Fprintf(a.s.out, "table %s: password %s\n", t.Name, state)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&password, "password", "", "the new password (env PIKACTL_TABLE_PASSWORD)")
	f.BoolVar(&none, "none", false, "remove the password: the table opens to anyone")
	return cmd
}

func (a *app) tableListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the tables and their health",
		Long: `List the tables by id with their health: UNDER-REPLICATED counts slots with
fewer replicas than the table asks for, UNAVAILABLE slots without a live
leader.`,
		Example: `  pikactl table list
  pikactl --json table list | jq -r '.[].name'`,
		Args: positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				ts, err := b.Tables(ctx)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, ts)
				}
				return writeTables(a.s.out, ts)
			})
		},
	}
}

func (a *app) tableShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a table and how its slots spread over the nodes",
		Long: `Show the table NAME, then how many of its slots each node leads and holds
(LEADS-DOWN counts slots led by a node that is not alive). With --json it
prints the table only; see 'pikactl slot show NAME' for every slot.`,
		Example: `  pikactl table show users
  pikactl --json table show users | jq .health`,
		Args: positional(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return a.call(cmd, func(ctx context.Context, b backend) error {
				t, err := b.Table(ctx, name)
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, t)
				}
				slots, err := b.Slots(ctx, name)
				if err != nil {
					return err
				}
				if slots == nil {
					slots = []api.Slot{}
				}
				return writeTable(a.s.out, t, slots)
			})
		},
	}
}

func (a *app) tableDropCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "drop NAME",
		Short: "Drop a table and delete its data on every node",
		Long: `Drop the table NAME and delete its data on every node. This cannot be undone.

Without --yes, pikactl asks you to type the table's name when stdin is a
terminal, and otherwise refuses with exit status 2, so that a script has to
say --yes.`,
		Example: `  pikactl table drop users
  pikactl table drop users --yes`,
		Args: positional(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !yes {
				if err := a.confirmDrop(cmd, name); err != nil {
					return err
				}
			}
			return a.call(cmd, func(ctx context.Context, b backend) error {
				d, err := b.DropTable(ctx, name)
				if err != nil {
					return err
				}
				a.warnLagging(d.Lagging, "still served table "+name)
				if a.opts.json {
					return writeJSON(a.s.out, okResult{OK: true, Dropped: name, Lagging: d.Lagging})
				}
				_, err = fmt.Fprintf(a.s.out, "table %s dropped\n", name)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "drop without asking")
	return cmd
}

// warnLagging tells on stderr which live nodes had not applied a table
// create or drop when the manager answered. The change is made (exit
// status 0): they apply it as soon as their etcd watch delivers it.
func (a *app) warnLagging(nodes []meta.NodeID, what string) {
	if len(nodes) == 0 {
		return
	}
	ids := make([]string, len(nodes))
	for i, id := range nodes {
		ids[i] = string(id)
	}
	fmt.Fprintf(a.s.err, "pikactl: warning: node(s) %s %s when the manager answered (each applies the change when its etcd watch delivers it; check them with 'pikactl status')\n",
		strings.Join(ids, ", "), what)
}

// confirmDrop asks the operator on a terminal to type the table's name;
// anything else, or no terminal, is a usage error.
func (a *app) confirmDrop(cmd *cobra.Command, name string) error {
	if !a.s.inTerminal {
		return usagef(cmd, "refusing to drop table %q without --yes (stdin is not a terminal to confirm on)", name)
	}
	fmt.Fprintf(a.s.err, "Dropping table %q deletes its data on every node and cannot be undone.\nType the table name to confirm: ", name)
	line, err := bufio.NewReader(a.s.in).ReadString('\n')
	if strings.TrimSpace(line) != name {
		if err != nil && line == "" {
			fmt.Fprintln(a.s.err)
		}
		return usagef(cmd, "confirmation did not match %q: table not dropped", name)
	}
	return nil
}
