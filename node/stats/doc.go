// Package stats owns the node's statistics: the counts kept per command
// (calls, time, failures, refusals, latency and its LATENCY HISTOGRAM
// steps; commands.go) and the error replies by code, which the
// connections update and INFO stats, commandstats, errorstats and
// latencystats read, and their
// export to Prometheus with the node's other gauges and counters, read
// when scraped (/metrics; metrics.go).
//
// Package node wires it: NewCommands over its command table, NewMetrics
// over a Source of what the collector reads of the node, and Handler on
// its HTTP port.
package stats
