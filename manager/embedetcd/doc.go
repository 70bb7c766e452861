// Package embedetcd runs the single-member etcd that `pika-node start`
// embeds when it is given no --etcd: the cluster's metadata then lives
// under the node's data directory and survives restarts with it.
package embedetcd
