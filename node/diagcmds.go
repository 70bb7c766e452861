package node

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/latency"
	"github.com/pika-node/pika-node/router"
)

// registerDiagCommands registers SLOWLOG, LATENCY and DEBUG (debugcmds.go): what this node saw
// of the commands sent to it, as a redis-server reports its own.
func (n *Node) registerDiagCommands() {
	n.tbl.Register(
		command.Spec{Name: "slowlog", Arity: -2, Flags: command.Admin | command.Loading | command.Stale, Handler: n.cmdSlowlog, Cluster: router.Server},
		command.Spec{Name: "latency", Arity: -2, Flags: command.Admin | command.Loading | command.Stale, Handler: n.cmdLatency, Cluster: router.Server},
	)
	n.registerDebugCommand()
}

// account counts a command that ran (stats), and logs it when it was slow
// (SLOWLOG; not EXEC, whose commands are logged one by one, nor a blocking
// command, whose time here includes its wait) or a latency spike.
func (n *Node) account(spec *command.Spec, began time.Time, c *command.Ctx, mark int) {
	took := n.stats.Account(spec, began, c, mark)
	if spec.Timeout != nil || spec.Name == "exec" {
		return
	}
	if n.slowlog.Slow(took) {
		peer, name := "", ""
		if cl, ok := c.Conn.(*client); ok {
			peer = cl.addr
			if p := cl.name.Load(); p != nil {
				name = *p
			}
		}
		n.slowlog.Add(time.Now(), took, c.Args, peer, name)
	}
	event := "command"
	if spec.Flags&command.Fast != 0 {
		event = "fast-command"
	}
	n.latency.Observe(event, took)
}

// subcommandArity is the arity of each subcommand of a container command
// (Redis's, as for commands: n exactly, -n at least).
type subcommandArity map[string]int

// check returns the error redis-server answers a subcommand that is
// unknown or has the wrong number of arguments, or nil.
func (a subcommandArity) check(container string, args [][]byte) error {
	sub := strings.ToLower(string(args[1]))
	arity, ok := a[sub]
	if !ok {
		return command.Error("ERR unknown subcommand '" + string(args[1]) + "'. Try " + strings.ToUpper(container) + " HELP.")
	}
	if (arity > 0 && len(args) != arity) || (arity < 0 && len(args) < -arity) {
		return command.WrongArgs(container + "|" + sub)
	}
	return nil
}

var slowlogArity = subcommandArity{"get": -2, "len": 2, "reset": 2, "help": 2}

func (n *Node) cmdSlowlog(c *command.Ctx) error {
	if err := slowlogArity.check("slowlog", c.Args); err != nil {
		return err
	}
	switch strings.ToLower(string(c.Args[1])) {
	case "help":
		c.R.SimpleArray([]string{
			"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GET [<count>]",
			"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
			"    Entries are made of:",
			"    id, timestamp, time in microseconds, arguments array, client IP and port,",
			"    client name",
			"LEN",
			"    Return the length of the slowlog.",
			"RESET",
			"    Reset the slowlog.",
			"HELP",
			"    Prints this help.",
		})
	case "len":
		c.R.Int(int64(n.slowlog.Len()))
	case "reset":
		n.slowlog.Reset()
		c.R.OK()
	case "get":
		if len(c.Args) > 3 {
			return command.Error("ERR unknown subcommand or wrong number of arguments for '" + string(c.Args[1]) + "'. Try SLOWLOG HELP.")
		}
		count := int64(10)
		if len(c.Args) == 3 {
			v, err := strconv.ParseInt(string(c.Args[2]), 10, 64)
			if err != nil || v < -1 {
				return command.Error("ERR count should be greater than or equal to -1")
			}
			count = v
		}
		entries := n.slowlog.Newest(int(min(count, 1<<30)))
		c.R.Array(len(entries))
		for _, e := range entries {
			c.R.Array(6)
			c.R.Int(e.ID)
			c.R.Int(e.Time)
			c.R.Int(e.Micros)
			c.R.Array(len(e.Args))
			for _, a := range e.Args {
				c.R.Bulk(a)
			}
			c.R.BulkString(e.Peer)
			c.R.BulkString(e.Name)
		}
	}
	return nil
}

var latencyArity = subcommandArity{"latest": 2, "history": 3, "graph": 3, "reset": -2, "doctor": 2, "help": 2, "histogram": -2}

func (n *Node) cmdLatency(c *command.Ctx) error {
	if err := latencyArity.check("latency", c.Args); err != nil {
		return err
	}
	switch strings.ToLower(string(c.Args[1])) {
	case "help":
		c.R.SimpleArray([]string{
			"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"DOCTOR",
			"    Return a human readable latency analysis report.",
			"GRAPH <event>",
			"    Return an ASCII latency graph for the <event> class.",
			"HISTORY <event>",
			"    Return time-latency samples for the <event> class.",
			"LATEST",
			"    Return the latest latency samples for all events.",
			"RESET [<event> ...]",
			"    Reset latency data of one or more <event> classes.",
			"    (default: reset all data for all event classes)",
			"HISTOGRAM [COMMAND ...]",
			"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
			"    If no commands are specified then all histograms are replied.",
			"HELP",
			"    Prints this help.",
		})
	case "latest":
		events := n.latency.Latest()
		c.R.Array(len(events))
		for _, e := range events {
			c.R.Array(4)
			c.R.BulkString(e.Event)
			c.R.Int(e.Last.Time)
			c.R.Int(e.Last.MS)
			c.R.Int(e.Max)
		}
	case "history":
		samples := n.latency.History(string(c.Args[2]))
		c.R.Array(len(samples))
		for _, s := range samples {
			c.R.Array(2)
			c.R.Int(s.Time)
			c.R.Int(s.MS)
		}
	case "graph":
		g, err := n.latency.Graph(string(c.Args[2]))
		if err != nil {
			return command.Error(err.Error())
		}
		c.R.Verbatim(g)
	case "doctor":
		c.R.Verbatim(n.latency.Doctor(latency.DoctorConfig{SlowlogSlowerThan: n.slowlog.Threshold()}))
	case "reset":
		events := make([]string, 0, len(c.Args)-2)
		for _, a := range c.Args[2:] {
			events = append(events, string(a))
		}
		c.R.Int(int64(n.latency.Reset(events...)))
	case "histogram":
		n.latencyHistogram(c)
	}
	return nil
}

// latencyHistogram is LATENCY HISTOGRAM [command ...]: the named commands
// that ran (every one that ran when none is named), each a map of its
// calls and its cumulative counts by µs.
func (n *Node) latencyHistogram(c *command.Ctx) {
	var specs []*command.Spec
	if len(c.Args) == 2 {
		specs = n.tbl.All()
	} else {
		for _, a := range c.Args[2:] {
			if spec := n.tbl.Lookup(a); spec != nil {
				specs = append(specs, spec)
			}
		}
	}
	type shown struct {
		name  string
		calls int64
		steps []latency.Step
	}
	var out []shown
	for _, spec := range specs {
		if calls, steps := n.stats.Of(spec).Histogram.Cumulative(); calls > 0 {
			out = append(out, shown{spec.Name, calls, steps})
		}
	}
	c.R.Map(len(out))
	for _, s := range out {
		c.R.BulkString(s.name)
		c.R.Map(2)
		c.R.BulkString("calls")
		c.R.Int(s.calls)
		c.R.BulkString("histogram_usec")
		c.R.Map(len(s.steps))
		for _, st := range s.steps {
			c.R.Int(st.Micros)
			c.R.Int(st.Count)
		}
	}
}

// writeLatencyStats writes INFO latencystats: per command that ran, the
// latency-tracking-info-percentiles of its LATENCY HISTOGRAM, in µs (the
// top of the step each falls in: coarser than Redis's HDR figures);
// nothing under latency-tracking no.
func (n *Node) writeLatencyStats(b *strings.Builder) {
	conf := n.conf.Get("latency-tracking", "latency-tracking-info-percentiles")
	if len(conf) != 2 || conf[0].Value != "yes" {
		return
	}
	names := strings.Fields(conf[1].Value)
	percents := make([]float64, len(names))
	for i, p := range names {
		percents[i], _ = strconv.ParseFloat(p, 64) // validated by the configuration
	}
	for _, spec := range n.tbl.All() {
		h := &n.stats.Of(spec).Histogram
		if total, _ := h.Cumulative(); total == 0 {
			continue
		}
		fmt.Fprintf(b, "latency_percentiles_usec_%s:", spec.Name)
		for i, p := range percents {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "p%s=%.3f", names[i], h.Percentile(p))
		}
		b.WriteString("\r\n")
	}
}
