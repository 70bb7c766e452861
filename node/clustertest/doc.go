// Package clustertest runs the control plane as operators do: real
// pika-node processes against a real etcd (Debian's etcd server as its own
// process, or the node's embedded one), driven by the real pikactl binary
// and go-redis clients. It kills processes with SIGKILL to test manager
// takeover, etcd loss and restarts. Tests only.
package clustertest
