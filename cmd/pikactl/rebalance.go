package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// The plan runner: rebalance and node remove get a plan from the manager
// (api.Plan: slot moves and leader hand-overs) and run it here.

const rebalanceLong = `Even out the slot replicas and the leaderships over the live nodes, for TABLE
or for every table: the manager plans slot moves and leader hand-overs, and
pikactl prints the plan (the steps, then each node's replicas and leaders
before and after, "10 -> 8"), then runs it. --dry-run prints the plan only.
--exclude NODE plans no replica on NODE (the plan node remove runs).

Each move is a slot move job (see pikactl slot move); at most --concurrency
of them run at once, two moves of one slot one after the other, and a move
that fails or rolls back does not stop the others. The leader hand-overs
run after every move is over, one at a time (see pikactl failover). --limit-mbps paces the moves: before starting the
next one pikactl waits while the sizes of the slots whose moves started so
far, divided by the time since the run began, exceed the limit (1 MB = 10^6
bytes). It limits the average copy rate by spacing out the moves, not the
throughput of a single copy: one large slot is still copied as fast as the
nodes go.

On a terminal a progress bar shows the moves over, the bytes copied and the
time left; otherwise pikactl prints a line per finished step and a summary
line. With --json it prints only a summary: {planned, done, failed,
rolled_back, bytes, took} (--dry-run --json prints the plan).

Exit status 1 when a move failed or rolled back or a hand-over failed. When
the cluster stops answering for longer than --timeout, or on Ctrl-C, pikactl
stops (exit status 3): the moves it started go on; run it again to plan from
where the cluster is.`

func (a *app) rebalanceCmd() *cobra.Command {
	var f planFlags
	var dryRun bool
	var exclude []string
	cmd := &cobra.Command{
		Use:   "rebalance [TABLE]",
		Short: "Even out slot replicas and leaders over the nodes",
		Long:  rebalanceLong,
		Example: `  pikactl rebalance --dry-run
  pikactl rebalance users --concurrency 4
  pikactl rebalance --limit-mbps 50
  pikactl rebalance --exclude 3f2a9c0d1e4b5a6f
  pikactl --json rebalance | jq .failed`,
		Args: positional(0, 1, "TABLE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			ex, err := nodeIDs(cmd, "--exclude", exclude)
			if err != nil {
				return err
			}
			table := ""
			if len(args) == 1 {
				table = args[0]
			}
			return a.callLong(cmd, func(ctx context.Context, b backend) error {
				var plan api.Plan
				if err := a.request(ctx, func(ctx context.Context) (err error) {
					plan, err = b.Rebalance(ctx, table, ex)
					return err
				}); err != nil {
					return err
				}
				if dryRun {
					if a.opts.json {
						return writeJSON(a.s.out, plan)
					}
					return writePlan(a.s.out, plan)
				}
				sum, err := a.runPlan(ctx, b, plan, f)
				if a.opts.json {
					if jerr := writeJSON(a.s.out, sum); jerr != nil && err == nil {
						err = jerr
					}
				}
				return err
			})
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, run nothing")
	cmd.Flags().StringSliceVar(&exclude, "exclude", nil, "plan no replica on this node (repeat, or comma-separate)")
	return cmd
}

// nodeIDs checks a list flag of node ids.
func nodeIDs(cmd *cobra.Command, flag string, ids []string) ([]meta.NodeID, error) {
	out := make([]meta.NodeID, 0, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, usagef(cmd, "%s: empty node id", flag)
		}
		out = append(out, meta.NodeID(id))
	}
	return out, nil
}

// planFlags are the flags of the commands that run a plan.
type planFlags struct {
	concurrency int
	limitMBps   float64
}

func (f *planFlags) add(fs *pflag.FlagSet) {
	fs.IntVar(&f.concurrency, "concurrency", 4, "slot moves in flight at once")
	fs.Float64Var(&f.limitMBps, "limit-mbps", 0, "pace the moves to this average copy rate, MB/s (1 MB = 10^6 bytes; 0: no limit)")
}

func (f planFlags) check(cmd *cobra.Command) error {
	if f.concurrency < 1 {
		return usagef(cmd, "--concurrency %d: want 1 or more", f.concurrency)
	}
	if f.limitMBps < 0 || math.IsNaN(f.limitMBps) || math.IsInf(f.limitMBps, 0) {
		return usagef(cmd, "--limit-mbps %g: want 0 (no limit) or a positive rate", f.limitMBps)
	}
	return nil
}

// runPlan prints plan (but with --json) and runs it, showing the progress
// stdout calls for. The error is an errPartial when steps failed, or why
// the run stopped.
func (a *app) runPlan(ctx context.Context, b backend, plan api.Plan, f planFlags) (planSummary, error) {
	if !a.opts.json {
		if err := writePlan(a.s.out, plan); err != nil {
			return planSummary{}, err
		}
	}
	if len(plan.Steps) == 0 {
		return planSummary{Took: formatDuration(0)}, nil
	}
	if !a.opts.json {
		fmt.Fprintln(a.s.out)
	}
	r := &planRunner{b: b, flags: f, request: a.opts.timeout, poll: jobPoll, now: time.Now, prog: a.progress(plan)}
	return r.run(ctx, plan)
}

// progress picks the display of a plan run: none with --json, a bar on
// a terminal, lines otherwise.
func (a *app) progress(plan api.Plan) progress {
	switch {
	case a.opts.json:
		return nopProgress{}
	case a.s.outTerminal:
		moves, _ := splitPlan(plan.Steps)
		return newBarProgress(a.s.out, len(moves))
	}
	return &lineProgress{w: a.s.out}
}

// splitPlan separates a plan's moves from its leader hand-overs.
func splitPlan(steps []api.PlannedStep) (moves, leaders []api.PlannedStep) {
	for _, s := range steps {
		if s.Kind == api.PlanMove {
			moves = append(moves, s)
		} else {
			leaders = append(leaders, s)
		}
	}
	return moves, leaders
}

// planSummary is how a plan run went; rebalance --json prints it.
type planSummary struct {
	Planned    int `json:"planned"`
	Done       int `json:"done"`
	Failed     int `json:"failed"`
	RolledBack int `json:"rolled_back"`
	// Bytes is the size of the slots moved (the moves done).
	Bytes int64  `json:"bytes"`
	Took  string `json:"took"`
}

// count adds a finished step.
func (s *planSummary) count(r stepResult) {
	switch r.outcome() {
	case meta.MoveDone:
		s.Done++
		s.Bytes += moveBytes(r.job)
	case meta.MoveRolledBack:
		s.RolledBack++
	default:
		s.Failed++
	}
}

// stepResult is how one step of a plan ended.
type stepResult struct {
	step api.PlannedStep
	// job is a move's last record seen; zero when it did not start.
	job meta.Job
	// err is why the step failed outside a job: a move the manager
	// refused to start, or whose job vanished; a hand-over refused.
	err  error
	took time.Duration
}

// outcome is done, rolled-back or failed.
func (r stepResult) outcome() meta.MoveStep {
	switch {
	case r.err != nil:
		return meta.MoveFailed
	case r.step.Kind != api.PlanMove:
		return meta.MoveDone
	case r.job.Move != nil && r.job.Move.Step.Final():
		return r.job.Move.Step
	}
	return meta.MoveFailed
}

// reason is why a step did not end done.
func (r stepResult) reason() string {
	if r.err != nil {
		return r.err.Error()
	}
	if r.job.Move != nil {
		return r.job.Move.Error
	}
	return ""
}

// moveBytes is a move job's slot size, 0 when unknown.
func moveBytes(j meta.Job) int64 {
	if j.Move == nil {
		return 0
	}
	return j.Move.Bytes
}

// paceWait is how long to wait before starting the next move so that the
// average copy rate since the run began stays within limitMBps: started
// bytes (the sizes of the slots whose moves started) need
// started / (limitMBps * 10^6) seconds. 0 means start now; so does a
// limit of 0.
func paceWait(started int64, elapsed time.Duration, limitMBps float64) time.Duration {
	if limitMBps <= 0 || started <= 0 {
		return 0
	}
	need := time.Duration(float64(started) / (limitMBps * 1e6) * float64(time.Second))
	return max(need-elapsed, 0)
}

// planRunner runs a plan's steps.
type planRunner struct {
	b     backend
	flags planFlags
	// request is --timeout: it bounds each request.
	request time.Duration
	// poll is the interval of the job list reads.
	poll time.Duration
	now  func() time.Time
	prog progress
}

// run runs the moves, then the leader hand-overs. The error is an
// errPartial when steps failed, or why the run stopped early.
func (r *planRunner) run(ctx context.Context, plan api.Plan) (planSummary, error) {
	start := r.now()
	moves, leaders := splitPlan(plan.Steps)
	sum := planSummary{Planned: len(plan.Steps)}
	err := r.runMoves(ctx, moves, &sum)
	if err == nil {
		err = r.runLeaders(ctx, leaders, &sum)
	}
	sum.Took = formatDuration(r.now().Sub(start))
	r.prog.finish(sum)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", err)
	}
	if err != nil {
		return sum, err
	}
	if bad := sum.Failed + sum.RolledBack; bad > 0 {
		return sum, &errPartial{fmt.Sprintf("%d of %d step(s) failed or rolled back", bad, sum.Planned)}
	}
	return sum, nil
}

// moveRun is the state of the moves of a run.
type moveRun struct {
	total int
	// pending are the moves not started yet, in the plan's order.
	pending []api.PlannedStep
	over    int // moves over
	running map[string]*tracked
	// started is the bytes of the moves started, for --limit-mbps.
	started int64
	t0      time.Time
}

// runMoves runs the moves, at most --concurrency at a time, paced by
// --limit-mbps. A refused move counts as failed; an error that is not a
// refusal (the cluster unreachable, Ctrl-C) stops the run.
func (r *planRunner) runMoves(ctx context.Context, moves []api.PlannedStep, sum *planSummary) error {
	m := &moveRun{total: len(moves), pending: slices.Clone(moves), running: map[string]*tracked{}, t0: r.now()}
	w := &jobWatch{b: r.b, poll: r.poll, request: r.request, now: r.now}
	for len(m.pending) > 0 || len(m.running) > 0 {
		if err := r.startMoves(ctx, m, sum); err != nil {
			return stopped(err, m)
		}
		if len(m.running) == 0 {
			if len(m.pending) == 0 {
				break
			}
			// Only --limit-mbps holds the next move back.
			if err := sleepCtx(ctx, paceWait(m.started, r.now().Sub(m.t0), r.flags.limitMBps)); err != nil {
				return stopped(err, m)
			}
			continue
		}
		jobs, err := w.next(ctx)
		if err != nil {
			return stopped(err, m)
		}
		r.collect(m, jobs, sum)
		r.prog.polled()
	}
	return nil
}

// stopped says that the moves still running go on without pikactl, and
// how many were not started.
func stopped(err error, m *moveRun) error {
	var notes []string
	if n := len(m.running); n > 0 {
		notes = append(notes, fmt.Sprintf("the %d move job(s) under way go on ('pikactl job list' shows them)", n))
	}
	if n := len(m.pending); n > 0 {
		notes = append(notes, fmt.Sprintf("%d move(s) not started (run the command again to plan from there)", n))
	}
	if len(notes) == 0 {
		return err
	}
	return fmt.Errorf("%w; %s", err, strings.Join(notes, "; "))
}

// startMoves starts moves while --concurrency and --limit-mbps allow.
func (r *planRunner) startMoves(ctx context.Context, m *moveRun, sum *planSummary) error {
	for len(m.running) < r.flags.concurrency && paceWait(m.started, r.now().Sub(m.t0), r.flags.limitMBps) == 0 {
		i := m.startable()
		if i < 0 {
			return nil
		}
		s := m.pending[i]
		m.pending = slices.Delete(m.pending, i, i+1)
		var j meta.Job
		err := within(ctx, r.request, func(ctx context.Context) (err error) {
			j, err = r.b.MoveSlot(ctx, api.MoveSlot{Table: s.Table, Slot: s.Slot, From: s.From, To: s.To})
			return err
		})
		if err != nil {
			if exitCode(err) != exitRefused {
				return err
			}
			r.finished(m, sum, stepResult{step: s, err: err})
			continue
		}
		m.running[j.ID] = &tracked{step: s, job: j, started: r.now()}
		m.started += moveBytes(j)
	}
	return nil
}

// startable is the index of the first pending move of a slot that has
// no move running, or -1: two moves of one slot run one after the other
// (the manager refuses a second replica change of a slot under way).
func (m *moveRun) startable() int {
	return slices.IndexFunc(m.pending, func(s api.PlannedStep) bool {
		for _, t := range m.running {
			if t.step.Table == s.Table && t.step.Slot == s.Slot {
				return false
			}
		}
		return true
	})
}

// collect takes a read of the job list: the moves over are reported.
func (r *planRunner) collect(m *moveRun, jobs map[string]meta.Job, sum *planSummary) {
	now := r.now()
	for _, id := range slices.Sorted(maps.Keys(m.running)) {
		t := m.running[id]
		before := moveBytes(t.job)
		over, err := t.update(jobs, now, r.request)
		m.started += moveBytes(t.job) - before
		if !over {
			continue
		}
		delete(m.running, id)
		r.finished(m, sum, stepResult{step: t.step, job: t.job, err: err, took: now.Sub(t.started)})
	}
}

func (r *planRunner) finished(m *moveRun, sum *planSummary, res stepResult) {
	m.over++
	sum.count(res)
	r.prog.stepDone(m.over, m.total, res)
}

// runLeaders runs the leader hand-overs one at a time. A refused one
// counts as failed; any other error stops the run.
func (r *planRunner) runLeaders(ctx context.Context, leaders []api.PlannedStep, sum *planSummary) error {
	for i, s := range leaders {
		t0 := r.now()
		err := within(ctx, r.request, func(ctx context.Context) error {
			_, err := r.b.Failover(ctx, s.Table, s.Slot, s.To)
			return err
		})
		if err != nil && exitCode(err) != exitRefused {
			return err
		}
		res := stepResult{step: s, err: err, took: r.now().Sub(t0)}
		sum.count(res)
		r.prog.stepDone(i+1, len(leaders), res)
	}
	return nil
}
