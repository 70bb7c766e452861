package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// jobPoll is how often the commands that follow jobs (slot move --wait,
// rebalance, node remove) read the job list.
const jobPoll = 50 * time.Millisecond

func (a *app) jobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "List and cancel jobs: slot moves, table creates and drops",
		Long: `Jobs are the cluster's operations of several steps, recorded in etcd before
their first step so that a new manager finishes them: table creates and
drops, and slot moves (pikactl slot move, rebalance, node remove).`,
		Example: `  pikactl job list
  pikactl job list --all
  pikactl job cancel 1723456789000000000-move-3-17`,
		Args:                       unknownVerb,
		RunE:                       showHelp,
		SuggestionsMinimumDistance: 2,
	}
	cmd.AddCommand(a.jobListCmd(), a.jobCancelCmd())
	return cmd
}

func (a *app) jobListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the jobs in flight, and with --all the finished moves",
		Long: `List the jobs in flight, the oldest first: table creates and drops, and slot
moves with their step (add, catch-up, handover, remove, rollback). With --all
the list includes the moves that are over (done, rolled-back, failed), which
the manager keeps for a while. AGE is the time since the job was created;
ERROR is why a move rolled back or failed, or the last error of its step
(a step that fails is tried again).`,
		Example: `  pikactl job list
  pikactl job list --all
  pikactl --json job list --all | jq -r '.[] | select(.move.step == "failed") | .id'`,
		Args: positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				jobs, err := b.Jobs(ctx)
				if err != nil {
					return err
				}
				if !all {
					jobs = slices.DeleteFunc(jobs, jobFinished)
				}
				if a.opts.json {
					return writeJSON(a.s.out, jobs)
				}
				return writeJobs(a.s.out, jobs, time.Now())
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list the finished moves too")
	return cmd
}

func (a *app) jobCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Ask a slot move to roll back",
		Long: `Ask the slot move ID to roll back: its target leaves the slot again and the
job ends rolled-back. A move past its hand-over step only goes forward and
ends done. pikactl prints the job's record and returns at once; 'pikactl job
list --all' shows how it ends. Exit status 1 when there is no such job, or it
is not a slot move, or it is over already.`,
		Example: `  pikactl job cancel 1723456789000000000-move-3-17
  pikactl --json job cancel 1723456789000000000-move-3-17`,
		Args: positional(1, 1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd, func(ctx context.Context, b backend) error {
				j, err := b.CancelJob(ctx, args[0])
				if err != nil {
					return err
				}
				if a.opts.json {
					return writeJSON(a.s.out, j)
				}
				if _, err := fmt.Fprintf(a.s.out, "job %s: cancel asked\n\n", j.ID); err != nil {
					return err
				}
				return writeJob(a.s.out, j, time.Now())
			})
		},
	}
}

// jobWatch reads the job list every poll interval: the one place where
// the commands that follow jobs poll the cluster.
type jobWatch struct {
	b    backend
	poll time.Duration
	// request is --timeout: it bounds each read, and how long reads may
	// fail in a row (a manager or node restarting) before the watch gives up.
	request time.Duration
	now     func() time.Time
	lastOK  time.Time
}

func newJobWatch(b backend, request time.Duration) *jobWatch {
	return &jobWatch{b: b, poll: jobPoll, request: request, now: time.Now}
}

// next waits one interval, reads the job list and returns it by id.
func (w *jobWatch) next(ctx context.Context) (map[string]meta.Job, error) {
	if w.lastOK.IsZero() {
		w.lastOK = w.now()
	}
	for {
		if err := sleepCtx(ctx, w.poll); err != nil {
			return nil, err
		}
		var jobs []meta.Job
		err := within(ctx, w.request, func(ctx context.Context) (err error) {
			jobs, err = w.b.Jobs(ctx)
			return err
		})
		if err == nil {
			w.lastOK = w.now()
			byID := make(map[string]meta.Job, len(jobs))
			for _, j := range jobs {
				byID[j.ID] = j
			}
			return byID, nil
		}
		if ctx.Err() != nil || exitCode(err) == exitRefused || w.now().Sub(w.lastOK) >= w.request {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
	}
}

// sleepCtx waits d, or less when ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tracked is a started move job that a command follows.
type tracked struct {
	// step is the plan's step the job runs (rebalance, node remove).
	step    api.PlannedStep
	job     meta.Job
	started time.Time
	// seen says whether the job was listed once.
	seen bool
}

// update takes the job's record from a read of the list and reports
// whether the move is over. A job missing from the list is over with an
// error once it was listed, or once grace (--timeout) passed since it
// started: until then the node that answers may lag a moment behind the
// manager that wrote the job.
func (t *tracked) update(jobs map[string]meta.Job, now time.Time, grace time.Duration) (bool, error) {
	j, ok := jobs[t.job.ID]
	if !ok {
		if !t.seen && now.Sub(t.started) <= grace {
			return false, nil
		}
		slot := ""
		if t.job.Move != nil {
			slot = fmt.Sprintf(" %d", t.job.Move.Slot)
		}
		return true, &errPartial{fmt.Sprintf("job %s is not listed any more: its outcome is unknown ('pikactl slot show %s%s' shows the slot)",
			t.job.ID, t.job.Table.Name, slot)}
	}
	t.seen, t.job = true, j
	return j.Move == nil || j.Move.Step.Final(), nil
}

// waitJob follows the move job j until it is over, calling onChange with
// each record whose step or error differs from the one before. It
// returns the last record seen.
func waitJob(ctx context.Context, w *jobWatch, j meta.Job, onChange func(meta.Job)) (meta.Job, error) {
	t := &tracked{job: j, started: w.now()}
	for j.Move != nil && !j.Move.Step.Final() {
		jobs, err := w.next(ctx)
		if err != nil {
			return t.job, err
		}
		over, err := t.update(jobs, w.now(), w.request)
		if t.job.Move != nil && (t.job.Move.Step != j.Move.Step || t.job.Move.Error != j.Move.Error) {
			onChange(t.job)
		}
		j = t.job
		if over || err != nil {
			return j, err
		}
	}
	return j, nil
}
