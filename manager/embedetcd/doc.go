// Package embedetcd runs the single-member etcd that `pika-node start`
// embeds when it is given no --etcd: the cluster's metadata then lives
// under the node's data directory and survives restarts with it. Off
// loopback it serves TLS and takes only clients with a certificate its CA
// signed (Config.TLS).
package embedetcd
