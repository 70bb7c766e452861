// Package api is the manager's JSON API over HTTP, as every node serves it
// on its HTTP port and pikactl calls it: the request and response types,
// the views built from a meta.State (status, nodes, tables, slots), and
// Client. Reads are answered by any node from its own metadata; writes are
// forwarded to the elected manager.
package api
