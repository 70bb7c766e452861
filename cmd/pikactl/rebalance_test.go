package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

func TestPaceWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		started int64
		elapsed time.Duration
		limit   float64
		want    time.Duration
	}{
		{"no limit", 1e9, 0, 0, 0},
		{"nothing started", 0, 0, 10, 0},
		{"at once after a first move", 10e6, 0, 10, time.Second},
		{"over the rate", 50e6, 2 * time.Second, 10, 3 * time.Second},
		{"just at the rate", 50e6, 5 * time.Second, 10, 0},
		{"under the rate", 50e6, 8 * time.Second, 10, 0},
		{"fractional limit", 1e6, 0, 0.5, 2 * time.Second},
	} {
		if got := paceWait(tc.started, tc.elapsed, tc.limit); got != tc.want {
			t.Errorf("%s: paceWait(%d, %s, %g) = %s, want %s", tc.name, tc.started, tc.elapsed, tc.limit, got, tc.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 999_960: "1.0 MB", 1_500_000_000: "1.5 GB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatAge(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 3*time.Minute + 12*time.Second: "3m12s",
		2*time.Hour + 5*time.Minute: "2h5m", 76 * time.Hour: "3d4h",
	} {
		if got := formatAge(now, now.Add(-d)); got != want {
			t.Errorf("formatAge(%s) = %q, want %q", d, got, want)
		}
	}
}

func moveJob(id string, slot meta.SlotID, step meta.MoveStep, bytes int64, errMsg string) meta.Job {
	return meta.Job{ID: id, Kind: meta.JobMoveSlot, Table: meta.TableInfo{Name: "users"},
		Move: &meta.Move{Slot: slot, From: "n1", To: "n4", Step: step, Bytes: bytes, Error: errMsg}}
}

func TestStepLine(t *testing.T) {
	move := api.PlannedStep{Kind: api.PlanMove, Table: "users", Slot: 17, From: "n1", To: "n4"}
	leader := api.PlannedStep{Kind: api.PlanLeader, Table: "users", Slot: 5, From: "n1", To: "n4"}
	for _, tc := range []struct {
		r    stepResult
		want string
	}{
		{stepResult{step: move, job: moveJob("j1", 17, meta.MoveDone, 12_345_678, ""), took: 1234 * time.Millisecond},
			"move 3/10 done: users/17 n1->n4 (12.3 MB, 1.2s)"},
		{stepResult{step: move, job: moveJob("j1", 17, meta.MoveRolledBack, 2e6, "the target died during the copy"), took: 3400 * time.Millisecond},
			"move 3/10 rolled-back: users/17 n1->n4 (2.0 MB, 3.4s): the target died during the copy"},
		{stepResult{step: move, err: &api.Error{Code: 409, Message: "slot 17 of users is already moving (job x)"}},
			"move 3/10 failed: users/17 n1->n4: slot 17 of users is already moving (job x) (HTTP 409)"},
		{stepResult{step: leader, took: 300 * time.Millisecond}, "leader 3/10 done: users/5 n1->n4 (0.3s)"},
		{stepResult{step: leader, err: &api.Error{Code: 409, Message: "n4 is down"}, took: 100 * time.Millisecond},
			"leader 3/10 failed: users/5 n1->n4 (0.1s): n4 is down (HTTP 409)"},
	} {
		if got := stepLine(3, 10, tc.r); got != tc.want {
			t.Errorf("stepLine:\n got %q\nwant %q", got, tc.want)
		}
	}
	s := planSummary{Planned: 12, Done: 10, Failed: 1, RolledBack: 1, Bytes: 123_400_000, Took: "1m2.3s"}
	if got, want := summaryLine(s), "summary: 12 step(s) planned, 10 done, 1 failed, 1 rolled back; 123.4 MB copied in 1m2.3s"; got != want {
		t.Errorf("summaryLine:\n got %q\nwant %q", got, want)
	}
}

func samplePlan() api.Plan {
	return api.Plan{
		Steps: []api.PlannedStep{
			{Kind: api.PlanMove, Table: "users", Slot: 17, From: "n1", To: "n4"},
			{Kind: api.PlanMove, Table: "db0", Slot: 3, From: "n2", To: "n4"},
			{Kind: api.PlanLeader, Table: "users", Slot: 5, From: "n1", To: "n4"},
		},
		Before:  []api.NodeLoad{{Node: "n1", Replicas: 10, Leaders: 5}, {Node: "n2", Replicas: 9, Leaders: 4}, {Node: "n4", Replicas: 0, Leaders: 0}},
		After:   []api.NodeLoad{{Node: "n1", Replicas: 9, Leaders: 4}, {Node: "n2", Replicas: 8, Leaders: 4}, {Node: "n4", Replicas: 2, Leaders: 1}},
		Skipped: []string{"slot 7 of users: a move is under way"},
	}
}

func TestWritePlan(t *testing.T) {
	var b bytes.Buffer
	if err := writePlan(&b, samplePlan()); err != nil {
		t.Fatal(err)
	}
	want := `plan: 2 slot move(s), 1 leader hand-over(s)

STEP   KIND     TABLE   SLOT   FROM   TO
1      move     users   17     n1     n4
2      move     db0     3      n2     n4
3      leader   users   5      n1     n4

NODE   REPLICAS   LEADERS
n1     10 -> 9    5 -> 4
n2     9 -> 8     4
n4     0 -> 2     0 -> 1
! skipped: slot 7 of users: a move is under way
`
	if got := b.String(); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	if err := writePlan(&b, api.Plan{}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "nothing to do: the plan has no step\n" {
		t.Errorf("empty plan: %q", got)
	}
}

func TestWriteJobs(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cancelling := moveJob("2-move-1-18", 18, meta.MoveCatchUp, 0, "")
	cancelling.Move.Cancel = true
	jobs := []meta.Job{
		{ID: "1-create", Kind: meta.JobCreateTable, Table: meta.TableInfo{Name: "orders"}, Created: now.Add(-90 * time.Second)},
		cancelling,
		moveJob("3-move-1-17", 17, meta.MoveRolledBack, 0, "cancelled"),
	}
	jobs[1].Created, jobs[2].Created = now.Add(-5*time.Second), now.Add(-2*time.Hour)
	var b bytes.Buffer
	if err := writeJobs(&b, jobs, now); err != nil {
		t.Fatal(err)
	}
	want := `ID            KIND           TABLE    SLOT   FROM   TO   STEP                    AGE     ERROR
1-create      table-create   orders   -      -      -    -                       1m30s   -
2-move-1-18   slot-move      users    18     n1     n4   catch-up (cancelling)   5s      -
3-move-1-17   slot-move      users    17     n1     n4   rolled-back             2h0m    cancelled
`
	if got := b.String(); got != want {
		t.Errorf("jobs:\n%s\nwant:\n%s", got, want)
	}
	b.Reset()
	if err := writeJobs(&b, nil, now); err != nil || b.String() != "(no jobs)\n" {
		t.Errorf("no jobs: %q, %v", b.String(), err)
	}
}

// fakeCluster is a backend whose move jobs go one step further on every
// read of the job list: add, catch-up, remove, then done, or rolled-back
// for a move to the node "bad".
type fakeCluster struct {
	backend // the methods the runner does not call panic

	mu        sync.Mutex
	jobs      []meta.Job
	inFlight  int
	maxFlight int
	starts    []time.Time
	leaders   []string // the hand-overs, in order, with the moves over then
	refuse    map[meta.SlotID]bool
	jobsErr   error
	plan      api.Plan // Rebalance's answer
	calls     []string // Rebalance and RemoveNode calls
}

// set changes f under its lock (its server's handlers read it).
func (f *fakeCluster) set(fn func(f *fakeCluster)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeCluster) MoveSlot(_ context.Context, req api.MoveSlot) (meta.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	busy := slices.ContainsFunc(f.jobs, func(j meta.Job) bool {
		return j.Table.Name == req.Table && j.Move.Slot == req.Slot && !j.Move.Step.Final()
	})
	if f.refuse[req.Slot] || busy {
		return meta.Job{}, &api.Error{Code: 409, Message: fmt.Sprintf("slot %d of %s is already moving", req.Slot, req.Table)}
	}
	f.starts = append(f.starts, time.Now())
	j := meta.Job{ID: fmt.Sprintf("j%02d", len(f.jobs)), Kind: meta.JobMoveSlot, Table: meta.TableInfo{Name: req.Table},
		Move: &meta.Move{Slot: req.Slot, From: req.From, To: req.To, Step: meta.MoveAdd, Bytes: 1e6}}
	f.jobs = append(f.jobs, j)
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	return j, nil
}

func (f *fakeCluster) Jobs(context.Context) ([]meta.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobsErr != nil {
		return nil, f.jobsErr
	}
	out := make([]meta.Job, len(f.jobs))
	for i := range f.jobs {
		mv := *f.jobs[i].Move
		switch mv.Step {
		case meta.MoveAdd:
			mv.Step = meta.MoveCatchUp
		case meta.MoveCatchUp:
			mv.Step = meta.MoveRemove
			if mv.To == "bad" {
				mv.Step, mv.Error = meta.MoveRollback, "the target is down"
			}
		case meta.MoveRemove:
			mv.Step = meta.MoveDone
		case meta.MoveRollback:
			mv.Step = meta.MoveRolledBack
		}
		if mv.Step.Final() && !f.jobs[i].Move.Step.Final() {
			f.inFlight--
		}
		f.jobs[i].Move = &mv
		out[i] = f.jobs[i]
	}
	return out, nil
}

func (f *fakeCluster) Failover(_ context.Context, table string, slot meta.SlotID, to meta.NodeID) (api.Switchover, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaders = append(f.leaders, fmt.Sprintf("%s/%d->%s with %d in flight", table, slot, to, f.inFlight))
	if to == "bad" {
		return api.Switchover{}, &api.Error{Code: 409, Message: "bad is down"}
	}
	return api.Switchover{Table: table, Slot: slot, To: to}, nil
}

func testRunner(f *fakeCluster, flags planFlags, out *bytes.Buffer) *planRunner {
	return &planRunner{b: f, flags: flags, request: time.Second, poll: time.Millisecond, now: time.Now, prog: &lineProgress{w: out}}
}

func movePlan(n int, extra ...api.PlannedStep) api.Plan {
	var p api.Plan
	for i := range n {
		p.Steps = append(p.Steps, api.PlannedStep{Kind: api.PlanMove, Table: "users", Slot: meta.SlotID(i), From: "n1", To: "n4"})
	}
	p.Steps = append(p.Steps, extra...)
	return p
}

// The runner keeps at most --concurrency moves in flight, goes on past a
// move that rolled back or was refused, and runs the hand-overs after
// every move is over.
func TestPlanRunner(t *testing.T) {
	f := &fakeCluster{refuse: map[meta.SlotID]bool{3: true}}
	plan := movePlan(6,
		api.PlannedStep{Kind: api.PlanLeader, Table: "users", Slot: 0, From: "n1", To: "n4"},
		api.PlannedStep{Kind: api.PlanLeader, Table: "users", Slot: 1, From: "n1", To: "bad"},
	)
	plan.Steps[4].To = "bad"
	var out bytes.Buffer
	sum, err := testRunner(f, planFlags{concurrency: 2}, &out).run(context.Background(), plan)
	var pe *errPartial
	if !errors.As(err, &pe) || exitCode(err) != exitRefused {
		t.Fatalf("run: %v, want a partial failure (exit 1)", err)
	}
	if f.maxFlight != 2 {
		t.Errorf("at most %d moves in flight, want 2", f.maxFlight)
	}
	want := planSummary{Planned: 8, Done: 5, Failed: 2, RolledBack: 1, Bytes: 4e6, Took: sum.Took}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if got := strings.Join(f.leaders, "; "); got != "users/0->n4 with 0 in flight; users/1->bad with 0 in flight" {
		t.Errorf("hand-overs: %s", got)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 9 {
		t.Fatalf("%d lines, want 6 moves, 2 hand-overs and a summary:\n%s", len(lines), out.String())
	}
	for _, want := range []string{
		"move 3/6 failed: users/3 n1->n4: slot 3 of users is already moving (HTTP 409)",
		"rolled-back: users/4 n1->bad (1.0 MB, ",
		"move 6/6 done: users/",
		"leader 1/2 done: users/0 n1->n4 (",
		"leader 2/2 failed: users/1 n1->bad (",
		"summary: 8 step(s) planned, 5 done, 2 failed, 1 rolled back; 4.0 MB copied in ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// --limit-mbps spaces the starts: 1 MB slots at 20 MB/s start 50 ms apart.
func TestPlanRunnerPacing(t *testing.T) {
	f := &fakeCluster{}
	var out bytes.Buffer
	if _, err := testRunner(f, planFlags{concurrency: 4, limitMBps: 20}, &out).run(context.Background(), movePlan(3)); err != nil {
		t.Fatal(err)
	}
	if len(f.starts) != 3 {
		t.Fatalf("%d moves started, want 3", len(f.starts))
	}
	if d := f.starts[2].Sub(f.starts[0]); d < 90*time.Millisecond {
		t.Errorf("3 moves of 1 MB at 20 MB/s started within %s, want about 100ms", d)
	}
}

// A cluster that stops answering stops the run with its error (exit 3),
// saying that the moves started go on.
func TestPlanRunnerUnreachable(t *testing.T) {
	f := &fakeCluster{jobsErr: errors.New("connection refused")}
	r := testRunner(f, planFlags{concurrency: 2}, &bytes.Buffer{})
	r.request = 20 * time.Millisecond
	_, err := r.run(context.Background(), movePlan(3))
	if err == nil || exitCode(err) != exitUnavailable || !strings.Contains(err.Error(), "the 2 move job(s) under way go on") ||
		!strings.Contains(err.Error(), "; 1 move(s) not started") {
		t.Errorf("run: %v (exit %d), want exit 3 naming the moves that go on", err, exitCode(err))
	}
}

// A job missing from the list is waited for (the answering node may lag),
// then reported as unknown.
func TestTrackedUpdate(t *testing.T) {
	t0 := time.Now()
	tr := &tracked{job: moveJob("j1", 17, meta.MoveAdd, 0, ""), started: t0}
	if over, err := tr.update(map[string]meta.Job{}, t0.Add(time.Second), 5*time.Second); over || err != nil {
		t.Errorf("not listed yet: over %v, err %v; want to wait", over, err)
	}
	if over, err := tr.update(map[string]meta.Job{"j1": moveJob("j1", 17, meta.MoveCatchUp, 0, "")}, t0.Add(2*time.Second), 5*time.Second); over || err != nil || !tr.seen {
		t.Errorf("listed: over %v, err %v, seen %v", over, err, tr.seen)
	}
	over, err := tr.update(map[string]meta.Job{}, t0.Add(3*time.Second), 5*time.Second)
	var pe *errPartial
	if !over || !errors.As(err, &pe) || !strings.Contains(err.Error(), "pikactl slot show users 17") {
		t.Errorf("gone: over %v, err %v; want over with an error", over, err)
	}
	never := &tracked{job: moveJob("j2", 3, meta.MoveAdd, 0, ""), started: t0}
	if over, err := never.update(map[string]meta.Job{}, t0.Add(6*time.Second), 5*time.Second); !over || err == nil {
		t.Errorf("never listed past the grace: over %v, err %v", over, err)
	}
}

func TestPlanFlagsCheck(t *testing.T) {
	for _, tc := range []struct {
		f    planFlags
		want string
	}{
		{planFlags{concurrency: 0}, "--concurrency 0"},
		{planFlags{concurrency: 1, limitMBps: -1}, "--limit-mbps -1"},
	} {
		err := tc.f.check(nil)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check(%+v) = %v, want a usage error about %s", tc.f, err, tc.want)
		}
	}
	if err := (planFlags{concurrency: 2, limitMBps: 0.5}).check(nil); err != nil {
		t.Errorf("valid flags: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0s", 340 * time.Millisecond: "0.3s", 1234 * time.Millisecond: "1.2s", 62300 * time.Millisecond: "1m2.3s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestEstimateLeft(t *testing.T) {
	if _, ok := estimateLeft(time.Minute, 0, 10); ok {
		t.Error("an estimate before the first move is over")
	}
	if _, ok := estimateLeft(time.Minute, 10, 10); ok {
		t.Error("an estimate after the last move")
	}
	if d, ok := estimateLeft(time.Minute, 3, 10); !ok || d != 2*time.Minute+20*time.Second {
		t.Errorf("3 of 10 in 1m: %s left, want 2m20s", d)
	}
}

// On a terminal the bar ends before the lines of the hand-overs and the
// summary; a move not done prints its line.
func TestBarProgress(t *testing.T) {
	var out bytes.Buffer
	p := newBarProgress(&out, 2)
	move := api.PlannedStep{Kind: api.PlanMove, Table: "users", Slot: 1, From: "n1", To: "n4"}
	p.stepDone(1, 2, stepResult{step: move, job: moveJob("j1", 1, meta.MoveDone, 2e6, "")})
	p.polled()
	p.stepDone(2, 2, stepResult{step: move, job: moveJob("j2", 1, meta.MoveFailed, 2e6, "boom")})
	p.stepDone(1, 1, stepResult{step: api.PlannedStep{Kind: api.PlanLeader, Table: "users", Slot: 1, From: "n1", To: "n4"}})
	p.finish(planSummary{Planned: 3, Done: 2, Failed: 1, Bytes: 2e6, Took: "1.0s"})
	s := out.String()
	for _, want := range []string{"moves: 2.0 MB copied, ETA", "(1/2)", "move 2/2 failed: users/1 n1->n4 (2.0 MB, 0.0s): boom\n",
		"moves: 2.0 MB copied, 1 not done", "(2/2)", "\nleader 1/1 done", "\nsummary: 3 step(s) planned"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q: %q", want, s)
		}
	}
}

// Ctrl-C stops the run (exit 3), naming the moves that go on.
func TestPlanRunnerInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeCluster{}
	_, err := testRunner(f, planFlags{concurrency: 1}, &bytes.Buffer{}).run(ctx, movePlan(2))
	if err == nil || exitCode(err) != exitUnavailable || !strings.HasPrefix(err.Error(), "interrupted: ") {
		t.Errorf("run: %v, want interrupted (exit 3)", err)
	}
}

// Two moves of one slot run one after the other; other slots' moves
// pass the second one meanwhile.
func TestPlanRunnerSameSlot(t *testing.T) {
	f := &fakeCluster{}
	plan := movePlan(3)
	plan.Steps[1].Slot, plan.Steps[1].From, plan.Steps[1].To = 0, "n2", "n5"
	var out bytes.Buffer
	sum, err := testRunner(f, planFlags{concurrency: 2}, &out).run(context.Background(), plan)
	if err != nil || sum.Done != 3 {
		t.Fatalf("run: %v, summary %+v; want 3 moves done:\n%s", err, sum, out.String())
	}
	var order []string
	for _, j := range f.jobs {
		order = append(order, fmt.Sprintf("%d:%s", j.Move.Slot, j.Move.To))
	}
	if got := strings.Join(order, " "); got != "0:n4 2:n4 0:n5" {
		t.Errorf("started %s, want 0:n4 2:n4 0:n5", got)
	}
}
