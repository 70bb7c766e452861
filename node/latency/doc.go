// Package latency owns what LATENCY reports of a node, as redis-server 7.0
// keeps it: the latency monitor (events such as "command" that took at
// least latency-monitor-threshold milliseconds, one sample a second per
// event in a ring of 160, read by LATENCY LATEST, HISTORY, GRAPH, RESET
// and DOCTOR; monitor.go, graph.go, doctor.go) and the per-command
// latency histograms of LATENCY HISTOGRAM (histogram.go), whose buckets
// are the ones Redis reports from its HDR histograms.
package latency
