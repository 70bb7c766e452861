package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// The functions here render API values; they are pure functions of their
// arguments so that tests can check them without a cluster.

// writeJSON prints v as indented JSON, ending in a newline. Nil slices
// print as [] (a script iterating over the answer should not meet null).
func writeJSON(w io.Writer, v any) error {
	switch x := v.(type) {
	case []api.Node:
		v = nonNil(x)
	case []api.Table:
		v = nonNil(x)
	case []api.Slot:
		v = nonNil(x)
	case api.Status:
		x.Nodes = nonNil(x.Nodes)
		x.Tables = nonNil(x.Tables)
		v = x
	case []meta.Job:
		v = nonNil(x)
	case api.Plan:
		x.Steps = nonNil(x.Steps)
		x.Before = nonNil(x.Before)
		x.After = nonNil(x.After)
		v = x
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// okResult is the JSON answer of a drop or a remove, with the keys the
// API's own answer has, and for a remove the summary of the plan run to
// move the node's replicas off first.
type okResult struct {
	OK      bool         `json:"ok"`
	Dropped string       `json:"dropped,omitempty"`
	Removed meta.NodeID  `json:"removed,omitempty"`
	Plan    *planSummary `json:"plan,omitempty"`
	// Lagging: a drop's live nodes that still served the table when the
	// manager answered (api.Dropped).
	Lagging []meta.NodeID `json:"lagging,omitempty"`
}

// grid is a table without borders or rules, in the style of kubectl:
// columns separated by spaces under a header of upper-case names.
type grid struct {
	w   io.Writer
	buf bytes.Buffer
	t   *tablewriter.Table
}

func newGrid(w io.Writer, header ...string) *grid {
	g := &grid{w: w}
	cell := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Right: "   ", Overwrite: true}},
	}
	g.t = tablewriter.NewTable(&g.buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cell, Row: cell}),
	)
	g.t.Header(header)
	return g
}

// row adds a row of as many cells as the header has.
func (g *grid) row(cells ...string) error { return g.t.Append(cells) }

// render writes the table to w, without the padding that tablewriter
// leaves at the end of each line.
func (g *grid) render() error {
	if err := g.t.Render(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(g.buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(g.w, out.String())
	return err
}

// writeFields prints label: value lines with the values aligned.
func writeFields(w io.Writer, fields [][2]string) error {
	width := 0
	for _, f := range fields {
		width = max(width, len(f[0]))
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f[0]+":", f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orDash shows an empty value as "-", so that columns stay readable.
func orDash(s string) string { return cmp.Or(s, "-") }

func nodeList(ids []meta.NodeID) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ",")
}

// writeStatus prints the status: a header block, the problems (lines
// starting "! "), then the nodes and the tables.
func writeStatus(w io.Writer, s api.Status) error {
	err := writeFields(w, [][2]string{
		{"Cluster", s.Cluster},
		{"Manager", cmp.Or(string(s.Manager), "(none)")},
		{"Health", s.Health},
		{"Revision", strconv.FormatInt(s.Revision, 10)},
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	if len(s.Problems) > 0 {
		b.WriteString("\n")
		for _, p := range s.Problems {
			fmt.Fprintf(&b, "! %s\n", p)
		}
	}
	b.WriteString("\nNODES\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := writeNodes(w, s.Nodes); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\nTABLES\n"); err != nil {
		return err
	}
	return writeTables(w, s.Tables)
}

// writeNodes prints one row per node.
func writeNodes(w io.Writer, nodes []api.Node) error {
	if len(nodes) == 0 {
		_, err := io.WriteString(w, "(no nodes)\n")
		return err
	}
	g := newGrid(w, "ID", "RESP", "HTTP", "ALIVE", "MANAGER", "LEADS", "REPLICAS", "VERSION")
	for _, n := range nodes {
		if err := g.row(
			string(n.ID), orDash(n.RESP), orDash(n.HTTP), yesNo(n.Alive), yesNo(n.Manager),
			strconv.Itoa(n.Leads), strconv.Itoa(n.Replicas), orDash(n.Version),
		); err != nil {
			return err
		}
	}
	return g.render()
}

// writeTables prints one row per table.
func writeTables(w io.Writer, tables []api.Table) error {
	if len(tables) == 0 {
		_, err := io.WriteString(w, "(no tables)\n")
		return err
	}
	g := newGrid(w, "ID", "NAME", "SLOTS", "REPLICAS", "MODE", "PASSWORD", "HEALTH", "UNDER-REPLICATED", "UNAVAILABLE")
	for _, t := range tables {
		if err := g.row(
			strconv.FormatUint(uint64(t.ID), 10), t.Name, strconv.FormatUint(uint64(t.Slots), 10),
			strconv.Itoa(t.Replicas), string(t.Mode), yesNo(t.HasPassword), t.Health,
			strconv.Itoa(t.UnderReplicated), strconv.Itoa(t.Unavailable),
		); err != nil {
			return err
		}
	}
	return g.render()
}

// writeTable prints one table's fields, then, when slots is not nil, how
// many of its slots each node leads and holds.
func writeTable(w io.Writer, t api.Table, slots []api.Slot) error {
	err := writeFields(w, [][2]string{
		{"Name", t.Name},
		{"ID", strconv.FormatUint(uint64(t.ID), 10)},
		{"Slots", strconv.FormatUint(uint64(t.Slots), 10)},
		{"Replicas", strconv.Itoa(t.Replicas)},
		{"Mode", string(t.Mode)},
		{"Password", yesNo(t.HasPassword)},
		{"Health", t.Health},
		{"Under-replicated", fmt.Sprintf("%d of %d slots", t.UnderReplicated, t.Slots)},
		{"Unavailable", fmt.Sprintf("%d of %d slots", t.Unavailable, t.Slots)},
	})
	if err != nil || slots == nil {
		return err
	}
	type count struct{ leads, downLeads, replicas int }
	per := map[meta.NodeID]*count{}
	at := func(id meta.NodeID) *count {
		if per[id] == nil {
			per[id] = &count{}
		}
		return per[id]
	}
	leaderless := 0
	for _, s := range slots {
		if s.Leader == "" {
			leaderless++
		} else if s.LeaderAlive {
			at(s.Leader).leads++
		} else {
			at(s.Leader).downLeads++
		}
		for _, r := range s.Replicas {
			at(r).replicas++
		}
	}
	if _, err := io.WriteString(w, "\nNODES\n"); err != nil {
		return err
	}
	if len(per) == 0 {
		if _, err := io.WriteString(w, "(no slot placed)\n"); err != nil {
			return err
		}
	} else {
		g := newGrid(w, "NODE", "LEADS", "LEADS-DOWN", "REPLICAS")
		for _, id := range slices.Sorted(maps.Keys(per)) {
			c := per[id]
			if err := g.row(string(id), strconv.Itoa(c.leads), strconv.Itoa(c.downLeads), strconv.Itoa(c.replicas)); err != nil {
				return err
			}
		}
		if err := g.render(); err != nil {
			return err
		}
	}
	if leaderless > 0 {
		if _, err := fmt.Fprintf(w, "! %d of %d slots have no leader\n", leaderless, t.Slots); err != nil {
			return err
		}
	}
	return nil
}

// writeSlots prints one row per slot.
func writeSlots(w io.Writer, slots []api.Slot) error {
	if len(slots) == 0 {
		_, err := io.WriteString(w, "(no slots)\n")
		return err
	}
	g := newGrid(w, "SLOT", "EPOCH", "LEADER", "LEADER-ALIVE", "REPLICAS", "STATE")
	for _, s := range slots {
		if err := g.row(
			strconv.FormatUint(uint64(s.Slot), 10), strconv.FormatUint(uint64(s.Epoch), 10),
			orDash(string(s.Leader)), yesNo(s.LeaderAlive), nodeList(s.Replicas), orDash(string(s.State)),
		); err != nil {
			return err
		}
	}
	return g.render()
}

// writeSlot prints one slot's fields.
func writeSlot(w io.Writer, s api.Slot) error {
	if err := writeFields(w, [][2]string{
		{"Table", fmt.Sprintf("%s (id %d)", s.Table, s.TableID)},
		{"Slot", strconv.FormatUint(uint64(s.Slot), 10)},
		{"Epoch", strconv.FormatUint(uint64(s.Epoch), 10)},
		{"Leader", orDash(string(s.Leader))},
		{"Leader alive", yesNo(s.LeaderAlive)},
		{"Replicas", nodeList(s.Replicas)},
		{"Learners", nodeList(s.Learners)},
		{"Removing", nodeList(s.Removing)},
		{"State", orDash(string(s.State))},
	}); err != nil || len(s.Positions) == 0 {
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	g := newGrid(w, "REPLICA", "ROLE", "INDEX", "EPOCH", "LAG")
	for _, p := range s.Positions {
		role := "follower"
		if p.Node == s.Leader {
			role = "leader"
		}
		idx, ep, lag := strconv.FormatUint(p.Index, 10), strconv.FormatUint(uint64(p.Epoch), 10), strconv.FormatInt(p.Lag, 10)
		if p.Error != "" {
			idx, ep, lag = "-", "-", p.Error
		}
		if err := g.row(string(p.Node), role, idx, ep, lag); err != nil {
			return err
		}
	}
	return g.render()
}

// writeChecks prints one row per slot and replica of a slot check.
func writeChecks(w io.Writer, checks []api.SlotCheck) error {
	g := newGrid(w, "SLOT", "EQUAL", "REPLICA", "POSITION", "KEYS", "SUM", "NOTE")
	equal := 0
	for _, c := range checks {
		if c.Equal {
			equal++
		}
		for i, r := range c.Replicas {
			slot, eq, note := "", "", ""
			if i == 0 {
				slot, eq, note = strconv.FormatUint(uint64(c.Slot), 10), yesNo(c.Equal), c.Note
			}
			pos, sum, keys := fmt.Sprintf("%d@%d", r.Index, r.Epoch), r.Sum, strconv.FormatInt(r.Keys, 10)
			if r.Error != "" {
				pos, sum, keys = "-", "-", "-"
				note = strings.TrimSpace(note + " " + string(r.Node) + ": " + r.Error)
			}
			if err := g.row(slot, eq, string(r.Node), pos, keys, sum, note); err != nil {
				return err
			}
		}
	}
	if err := g.render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d of %d slot(s) equal on every replica\n", equal, len(checks))
	return err
}

// formatBytes shows a size in decimal units (1 MB = 10^6 bytes, as
// --limit-mbps counts), with one decimal: "12.3 MB".
func formatBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	unit := ""
	for _, unit = range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if v < 999.95 {
			break
		}
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// formatDuration shows how long a step took, to a tenth of a second:
// "0.3s", "1.2s", "3m4.5s".
func formatDuration(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.String()
}

// formatAge shows how long ago t was, in at most two units, as kubectl
// does: "42s", "3m12s", "2h5m", "3d4h".
func formatAge(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// jobFinished reports whether a job is a move that is over.
func jobFinished(j meta.Job) bool { return j.Move != nil && j.Move.Step.Final() }

// writeJobs prints one row per job; now is when the list was read, for
// the AGE column (time since the job was created).
func writeJobs(w io.Writer, jobs []meta.Job, now time.Time) error {
	if len(jobs) == 0 {
		_, err := io.WriteString(w, "(no jobs)\n")
		return err
	}
	g := newGrid(w, "ID", "KIND", "TABLE", "SLOT", "FROM", "TO", "STEP", "AGE", "ERROR")
	for _, j := range jobs {
		slot, from, to, step, errMsg := "-", "-", "-", "-", "-"
		if mv := j.Move; mv != nil {
			slot, from, to, step, errMsg = strconv.FormatUint(uint64(mv.Slot), 10), string(mv.From), string(mv.To), string(mv.Step), orDash(mv.Error)
			if mv.Cancel && !mv.Step.Final() {
				step += " (cancelling)"
			}
		}
		if err := g.row(j.ID, string(j.Kind), orDash(j.Table.Name), slot, orDash(from), orDash(to), step, formatAge(now, j.Created), errMsg); err != nil {
			return err
		}
	}
	return g.render()
}

// writeJob prints one job's fields.
func writeJob(w io.Writer, j meta.Job, now time.Time) error {
	fields := [][2]string{
		{"ID", j.ID},
		{"Kind", string(j.Kind)},
		{"Table", orDash(j.Table.Name)},
		{"Created", fmt.Sprintf("%s (%s ago)", j.Created.UTC().Format(time.RFC3339), formatAge(now, j.Created))},
	}
	if mv := j.Move; mv != nil {
		fields = append(fields, [][2]string{
			{"Slot", strconv.FormatUint(uint64(mv.Slot), 10)},
			{"From", orDash(string(mv.From))},
			{"To", orDash(string(mv.To))},
			{"Step", string(mv.Step)},
			{"Cancel asked", yesNo(mv.Cancel)},
			{"Size", formatBytes(mv.Bytes)},
			{"Updated", mv.Updated.UTC().Format(time.RFC3339)},
		}...)
		if !mv.Finished.IsZero() {
			fields = append(fields, [2]string{"Finished", mv.Finished.UTC().Format(time.RFC3339)})
		}
		fields = append(fields, [2]string{"Error", orDash(mv.Error)})
	}
	return writeFields(w, fields)
}

// writePlan prints a rebalance plan: a line counting its steps, the
// steps, each node's replicas and leaders before and after ("10 -> 8"),
// and the slots the planner left alone (lines starting "! ").
func writePlan(w io.Writer, p api.Plan) error {
	moves, leaders := splitPlan(p.Steps)
	var head string
	if len(p.Steps) == 0 {
		head = "nothing to do: the plan has no step\n"
	} else {
		head = fmt.Sprintf("plan: %d slot move(s), %d leader hand-over(s)\n\n", len(moves), len(leaders))
	}
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	if len(p.Steps) > 0 {
		g := newGrid(w, "STEP", "KIND", "TABLE", "SLOT", "FROM", "TO")
		for i, s := range p.Steps {
			if err := g.row(strconv.Itoa(i+1), string(s.Kind), s.Table, strconv.FormatUint(uint64(s.Slot), 10),
				orDash(string(s.From)), orDash(string(s.To))); err != nil {
				return err
			}
		}
		if err := g.render(); err != nil {
			return err
		}
	}
	if err := writeLoads(w, p.Before, p.After); err != nil {
		return err
	}
	var b strings.Builder
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "! skipped: %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLoads prints each node's replicas and leaders before and after a
// plan, preceded by a blank line; nothing when there is no node.
func writeLoads(w io.Writer, before, after []api.NodeLoad) error {
	type pair struct{ before, after api.NodeLoad }
	per := map[meta.NodeID]*pair{}
	at := func(id meta.NodeID) *pair {
		if per[id] == nil {
			per[id] = &pair{}
		}
		return per[id]
	}
	for _, l := range before {
		at(l.Node).before = l
	}
	for _, l := range after {
		at(l.Node).after = l
	}
	if len(per) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	change := func(x, y int) string {
		if x == y {
			return strconv.Itoa(x)
		}
		return fmt.Sprintf("%d -> %d", x, y)
	}
	g := newGrid(w, "NODE", "REPLICAS", "LEADERS")
	for _, id := range slices.Sorted(maps.Keys(per)) {
		p := per[id]
		if err := g.row(string(id), change(p.before.Replicas, p.after.Replicas), change(p.before.Leaders, p.after.Leaders)); err != nil {
			return err
		}
	}
	return g.render()
}
