package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"

	"github.com/spf13/cobra"
)

func (a *app) slotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slot",
		Short: "Show, check and move slots",
		Long: `Show where a table's slots live (their leaders, replicas, epochs and states),
prove their replicas equal, and move a replica to another node.`,
		Example: `  pikactl slot show users
  pikactl slot show users 17
  pikactl slot check users
  pikactl slot move users 17 --to 3f2a9c0d1e4b5a6f`,
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	cmd.AddCommand(a.slotShowCmd(), a.slotCheckCmd(), a.slotMoveCmd())
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

const slotMoveLong = `Move the replica of slot SLOT of TABLE on the node --from (default: the
slot's leader) to the node --to. The manager runs the move as a job recorded
in etcd, which a new manager resumes. Its steps: add (the target joins the
slot), catch-up (it copies the slot, then follows its log), handover (when
the source leads the slot, its leadership goes to the target without losing
writes), remove (the source leaves the slot and deletes its copy), done.
Before the hand-over a move rolls back when cancelled (pikactl job cancel) or
when the target dies: rollback, then rolled-back.

pikactl prints the job's id, then with --wait (the default) each step the job
reaches (it reads the job list every 200 ms), and exits 0 once the move is
done, 1 when it rolled back or failed, printing why. With --wait=false it
returns once the job is started: follow it with 'pikactl job list'.
--timeout-move bounds the wait (0, the default: no limit); past it, or on
Ctrl-C, pikactl stops waiting (exit status 3) and the move goes on. --timeout
bounds each request. With --json it prints the job's last record only.`

// slotMoveCmd is `pikactl slot move TABLE SLOT --to NODE`.
func (a *app) slotMoveCmd() *cobra.Command {
	var from, to string
	wait := true
	var timeoutMove time.Duration
	cmd := &cobra.Command{
		Use:   "move TABLE SLOT --to NODE",
		Short: "Move a slot's replica to another node (a resumable job)",
		Long:  slotMoveLong,
		Example: `  pikactl slot move users 17 --to 3f2a9c0d1e4b5a6f
  pikactl slot move users 17 --from n2 --to n4 --timeout-move 30m
  pikactl slot move users 17 --to n4 --wait=false
  pikactl --json slot move users 17 --to n4 | jq -r .move.step`,
		Args: positional(2, 2, "TABLE", "SLOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseSlot(cmd, args[1])
			if err != nil {
				return err
			}
			if strings.TrimSpace(to) == "" {
				return usagef(cmd, "missing --to NODE: the node to move the replica to")
			}
			if timeoutMove < 0 {
				return usagef(cmd, "--timeout-move %s: must not be negative", timeoutMove)
			}
			req := api.MoveSlot{Table: args[0], Slot: n, From: meta.NodeID(strings.TrimSpace(from)), To: meta.NodeID(strings.TrimSpace(to))}
			return a.callLong(cmd, func(ctx context.Context, b backend) error {
				return a.moveSlot(ctx, b, req, wait, timeoutMove)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "node to move the replica to (required)")
	f.StringVar(&from, "from", "", "replica to move (default: the slot's leader)")
	f.BoolVar(&wait, "wait", true, "follow the job until it is over")
	f.DurationVar(&timeoutMove, "timeout-move", 0, "with --wait, stop waiting after this long (0: no limit)")
	return cmd
}

// moveSlot starts a move and, with wait, follows it to its end.
func (a *app) moveSlot(ctx context.Context, b backend, req api.MoveSlot, wait bool, limit time.Duration) error {
	var j meta.Job
	if err := a.request(ctx, func(ctx context.Context) (err error) {
		j, err = b.MoveSlot(ctx, req)
		return err
	}); err != nil {
		return err
	}
	if !a.opts.json {
		a.printMoveStart(j)
	}
	var err error
	if wait {
		j, err = a.waitMove(ctx, b, j, limit)
	} else if !a.opts.json {
		fmt.Fprintf(a.s.out, "follow it with 'pikactl job list'; roll it back with 'pikactl job cancel %s'\n", j.ID)
	}
	if a.opts.json {
		if jerr := writeJSON(a.s.out, j); jerr != nil && err == nil {
			err = jerr
		}
	}
	if err != nil || !wait {
		return err
	}
	return moveOutcome(j)
}

func (a *app) printMoveStart(j meta.Job) {
	mv := j.Move
	if mv == nil {
		fmt.Fprintf(a.s.out, "job %s: %s\n", j.ID, j.Kind)
		return
	}
	size := ""
	if mv.Bytes > 0 {
		size = " (" + formatBytes(mv.Bytes) + ")"
	}
	fmt.Fprintf(a.s.out, "job %s: move slot %d of %s from %s to %s%s\n", j.ID, mv.Slot, j.Table.Name, mv.From, mv.To, size)
	fmt.Fprintln(a.s.out, moveStepLine(j, 0))
}

// waitMove follows a move job, printing its step changes, for at most
// limit (0: no limit).
func (a *app) waitMove(ctx context.Context, b backend, j meta.Job, limit time.Duration) (meta.Job, error) {
	wctx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	start := time.Now()
	j, err := waitJob(wctx, newJobWatch(b, a.opts.timeout), j, func(j meta.Job) {
		if !a.opts.json {
			fmt.Fprintln(a.s.out, moveStepLine(j, time.Since(start)))
		}
	})
	var pe *errPartial
	if err == nil || errors.As(err, &pe) {
		return j, err
	}
	step := ""
	if j.Move != nil {
		step = string(j.Move.Step)
	}
	var why string
	switch {
	case ctx.Err() != nil:
		why = "interrupted"
	case wctx.Err() != nil:
		why = fmt.Sprintf("not over within --timeout-move %s", limit)
	default:
		return j, fmt.Errorf("%w; job %s goes on (step %s): follow it with 'pikactl job list'", err, j.ID, step)
	}
	return j, fmt.Errorf("%s; job %s goes on (step %s): follow it with 'pikactl job list', roll it back with 'pikactl job cancel %s'",
		why, j.ID, step, j.ID)
}

// moveStepLine is the line of a move's step: "job ID: catch-up", with
// the time since pikactl started it once it is over, and the job's
// error: "job ID: rolled-back (after 3.1s): cancelled".
func moveStepLine(j meta.Job, took time.Duration) string {
	mv := j.Move
	if mv == nil {
		return fmt.Sprintf("job %s: %s", j.ID, j.Kind)
	}
	line := fmt.Sprintf("job %s: %s", j.ID, mv.Step)
	if mv.Step.Final() {
		line += fmt.Sprintf(" (after %s)", formatDuration(took))
	}
	if mv.Error != "" {
		line += ": " + mv.Error
	}
	return line
}

// moveOutcome is nil for a move done, an errPartial (exit status 1) for
// one that rolled back or failed.
func moveOutcome(j meta.Job) error {
	if j.Move == nil || j.Move.Step == meta.MoveDone {
		return nil
	}
	msg := fmt.Sprintf("job %s %s", j.ID, j.Move.Step)
	if j.Move.Error != "" {
		msg += ": " + j.Move.Error
	}
	return &errPartial{msg}
}
