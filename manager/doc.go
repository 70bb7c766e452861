// Package manager owns a node's part in the cluster's control plane: it
// registers the node under a lease, keeps the node's view of the metadata
// current (meta.Watch), campaigns for the manager role on every node, and,
// while it holds the role, is the only writer of tables, slots and jobs,
// each write an etcd transaction guarded by its election key so that a
// deposed manager's write fails. It also serves the JSON API (Handler)
// that pikactl calls, forwarding writes to the elected manager, each
// write checked against the cluster's admin token (admintoken.go); and it
// tells the node whether its lease is known to live (LeaseHeld, the lease
// fence of async leaders: lease.go).
package manager
