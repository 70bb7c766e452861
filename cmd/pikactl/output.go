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
// API's own answer has.
type okResult struct {
	OK      bool        `json:"ok"`
	Dropped string      `json:"dropped,omitempty"`
	Removed meta.NodeID `json:"removed,omitempty"`
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
