// Package etcdconn turns the operator's etcd options (endpoints, TLS
// files, a user) into an etcd client configuration, the same for the
// nodes and for pikactl.
package etcdconn
