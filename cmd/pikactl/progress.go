package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// progress shows a plan run as it goes.
type progress interface {
	// stepDone reports a finished step, the n-th of total of its kind
	// (moves, or leader hand-overs) to finish.
	stepDone(n, total int, r stepResult)
	// polled is called after each read of the job list, to refresh.
	polled()
	// finish ends the display with the run's summary.
	finish(s planSummary)
}

// nopProgress shows nothing (--json).
type nopProgress struct{}

func (nopProgress) stepDone(int, int, stepResult) {}
func (nopProgress) polled()                       {}
func (nopProgress) finish(planSummary)            {}

// lineProgress prints a line per finished step and a summary line, for
// logs and scripts.
type lineProgress struct{ w io.Writer }

func (p *lineProgress) stepDone(n, total int, r stepResult) {
	fmt.Fprintln(p.w, stepLine(n, total, r))
}

func (*lineProgress) polled() {}

func (p *lineProgress) finish(s planSummary) { fmt.Fprintln(p.w, summaryLine(s)) }

// stepLine describes a finished step:
//
//	move 3/10 done: users/17 n1->n4 (12.3 MB, 1.2s)
//	move 4/10 rolled-back: users/18 n1->n4 (12.3 MB, 3.4s): the target died during the copy
//	leader 1/2 failed: users/5 n1->n4 (0.1s): n4 is down
func stepLine(n, total int, r stepResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d/%d %s: %s/%d %s->%s", r.step.Kind, n, total, r.outcome(),
		r.step.Table, r.step.Slot, orDash(string(r.step.From)), orDash(string(r.step.To)))
	switch {
	case r.step.Kind == api.PlanMove && r.job.ID != "":
		fmt.Fprintf(&b, " (%s, %s)", formatBytes(moveBytes(r.job)), formatDuration(r.took))
	case r.step.Kind != api.PlanMove:
		fmt.Fprintf(&b, " (%s)", formatDuration(r.took))
	}
	if r.outcome() != meta.MoveDone {
		if why := r.reason(); why != "" {
			b.WriteString(": " + why)
		}
	}
	return b.String()
}

// summaryLine sums a run up:
//
//	summary: 12 step(s) planned, 10 done, 1 failed, 1 rolled back; 123.4 MB copied in 1m2.3s
func summaryLine(s planSummary) string {
	return fmt.Sprintf("summary: %d step(s) planned, %d done, %d failed, %d rolled back; %s copied in %s",
		s.Planned, s.Done, s.Failed, s.RolledBack, formatBytes(s.Bytes), s.Took)
}

// barProgress shows a progress bar of the moves on a terminal: the moves
// over of all, the bytes copied, the time elapsed and an estimate of the
// time left (from the mean time per move so far). Moves that did not end
// done, and the leader hand-overs, print a line as lineProgress does.
type barProgress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar // nil without moves
	start  time.Time
	now    func() time.Time
	total  int
	over   int
	copied int64
	failed int
	ended  bool
}

func newBarProgress(w io.Writer, moves int) *barProgress {
	p := &barProgress{w: w, now: time.Now, total: moves}
	p.start = p.now()
	if moves == 0 {
		p.ended = true
		return p
	}
	p.bar = progressbar.NewOptions(moves,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetRenderBlankState(true),
	)
	return p
}

// describe is the text before the bar: "moves: 12.3 MB copied, 1 not
// done, ETA 1m30s".
func (p *barProgress) describe() string {
	d := fmt.Sprintf("moves: %s copied", formatBytes(p.copied))
	if p.failed > 0 {
		d += fmt.Sprintf(", %d not done", p.failed)
	}
	if eta, ok := estimateLeft(p.now().Sub(p.start), p.over, p.total); ok {
		d += ", ETA " + eta.String()
	}
	return d
}

// estimateLeft is the time the moves left take at the mean pace of the
// moves over so far; false before the first is over, or after the last.
func estimateLeft(elapsed time.Duration, over, total int) (time.Duration, bool) {
	if over == 0 || over >= total {
		return 0, false
	}
	return (elapsed / time.Duration(over) * time.Duration(total-over)).Round(time.Second), true
}

func (p *barProgress) stepDone(n, total int, r stepResult) {
	if r.step.Kind != api.PlanMove {
		p.end()
		fmt.Fprintln(p.w, stepLine(n, total, r))
		return
	}
	p.over = n
	if r.outcome() == meta.MoveDone {
		p.copied += moveBytes(r.job)
	} else {
		p.failed++
		_ = p.bar.Clear()
		fmt.Fprintln(p.w, stepLine(n, total, r))
	}
	p.bar.Describe(p.describe())
	_ = p.bar.Add(1)
	if n == total {
		p.end()
	}
}

// polled redraws the bar: the elapsed time and the ETA move on.
func (p *barProgress) polled() {
	if !p.ended {
		p.bar.Describe(p.describe())
	}
}

// end leaves the bar's line.
func (p *barProgress) end() {
	if !p.ended {
		p.ended = true
		fmt.Fprintln(p.w)
	}
}

func (p *barProgress) finish(s planSummary) {
	p.end()
	fmt.Fprintln(p.w, summaryLine(s))
}
