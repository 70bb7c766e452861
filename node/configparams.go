package node

import (
	"strconv"
	"time"

	"github.com/pika-node/pika-node/node/redisconf"
)

// newConfigStore returns the parameters CONFIG GET and CONFIG SET see: every one of
// redis.conf (redisconf), accepted, remembered and reported as redis-server 7.0 does. The
// hooks below are the ones that mean something in pika-node:
//
//   - maxclients, timeout, shutdown-timeout and busy-reply-threshold (alias
//     lua-time-limit: when other clients get -BUSY on a running script's slots)
//     take effect at once;
//   - slowlog-log-slower-than, slowlog-max-len and latency-monitor-threshold take
//     effect at once, on this node (SLOWLOG and LATENCY are the node's own);
//   - protected-mode (--protected-mode) takes effect at once, on this node;
//   - tracking-table-max-keys bounds this node's tracking table (CLIENT TRACKING), at once;
//   - notify-keyspace-events, min-replicas-to-write and min-replicas-max-lag are the
//     whole cluster's: CONFIG SET writes them to etcd and every node applies them
//     (clusterparams.go);
//   - bind, port, dir, client-query-buffer-limit and proto-max-bulk-len show the node's
//     settings (its flags) and cannot change while it runs (dir is protected, as in Redis);
//   - requirepass is always "": passwords belong to tables;
//   - tls-port, tls-cluster and tls-replication show the node's TLS settings (its flags,
//     tls-replication is tls-cluster: replication travels on the peer port) and cannot
//     change while it runs, refused in Redis's words;
//   - databases shows 1 and save "" (nothing is ever saved to an RDB file).
//
// The encoding thresholds (hash-max-listpack-entries, ...), rdbcompression and
// maxmemory-policy are read by DUMP and OBJECT (configValue). Every other parameter
// (appendonly, maxmemory, ...) has no effect.
func (n *Node) newConfigStore() *redisconf.Store {
	s := redisconf.NewStore()
	// The table has every name used here: an error is a programming error.
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	num := func(v string) int64 {
		x, _ := strconv.ParseInt(v, 10, 64) // Store passes a validated decimal
		return x
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }

	must(s.Hook("tracking-table-max-keys", redisconf.Hook{
		Get: func() string { return i64(n.trackMaxKeys.Load()) },
		Set: func(v string) error {
			n.trackMaxKeys.Store(num(v))
			return nil
		},
	}))
	must(s.Hook("maxclients", redisconf.Hook{
		Get: func() string { return i64(n.maxClients.Load()) },
		Set: func(v string) error { return n.maxClients.Set(num(v)) },
	}))
	must(s.Hook("busy-reply-threshold", redisconf.Hook{
		Get: func() string { return i64(n.txns.BusyThreshold()) },
		Set: func(v string) error {
			n.txns.SetBusyThreshold(num(v))
			return nil
		},
	}))
	must(s.Hook("timeout", redisconf.Hook{
		Get: func() string { return i64(int64(time.Duration(n.timeout.Load()) / time.Second)) },
		Set: func(v string) error {
			n.timeout.Store(int64(time.Duration(num(v)) * time.Second))
			return nil
		},
	}))
	must(s.Hook("shutdown-timeout", redisconf.Hook{
		// Whole seconds as in Redis, rounded up: a positive timeout never shows as 0.
		Get: func() string {
			return i64(int64((time.Duration(n.shutdownTimeout.Load()) + time.Second - 1) / time.Second))
		},
		Set: func(v string) error {
			// Redis takes 0 (no waiting for replicas); here it would give up on closing storage
			// at once.
			if num(v) < 1 {
				return refusal("pika-node needs a positive shutdown-timeout (seconds)")
			}
			n.shutdownTimeout.Store(int64(time.Duration(num(v)) * time.Second))
			return nil
		},
	}))

	must(s.Hook("slowlog-log-slower-than", redisconf.Hook{
		Get: func() string { return i64(n.slowlog.Threshold()) },
		Set: func(v string) error {
			n.slowlog.SetThreshold(num(v))
			return nil
		},
	}))
	must(s.Hook("slowlog-max-len", redisconf.Hook{
		Get: func() string { return i64(n.slowlog.MaxLen()) },
		Set: func(v string) error {
			n.slowlog.SetMaxLen(num(v))
			return nil
		},
	}))
	must(s.Hook("latency-monitor-threshold", redisconf.Hook{
		Get: func() string { return i64(n.latency.Threshold()) },
		Set: func(v string) error {
			n.latency.SetThreshold(num(v))
			return nil
		},
	}))
	must(n.hookClusterParams(s))
	must(s.Hook("protected-mode", redisconf.Hook{
		Get: func() string { return yesNo(n.protectedMode.Load()) },
		Set: func(v string) error {
			n.protectedMode.Store(v == "yes")
			return nil
		},
	}))

	// The node's settings: CONFIG SET takes the current value only.
	fixed := func(name, flag string, get func() string) {
		must(s.Hook(name, redisconf.Hook{Get: get, Set: func(v string) error {
			if v == get() {
				return nil
			}
			return refusal("pika-node can't change " + name + " while running: restart it with --" + flag)
		}}))
	}
	fixed("bind", "bind", func() string { return n.cfg.Bind })
	fixed("port", "port", func() string { return i64(int64(n.cfg.Port)) })
	fixed("client-query-buffer-limit", "client-query-buffer-limit", func() string { return i64(n.cfg.MaxQueryBytes) })
	fixed("proto-max-bulk-len", "proto-max-bulk-len", func() string { return i64(n.cfg.MaxBulkBytes) })
	must(s.Hook("dir", redisconf.Hook{Get: func() string { return n.cfg.Data }}))
	must(s.Hook("enable-debug-command", redisconf.Hook{Get: func() string { return n.cfg.EnableDebugCommand }}))
	// Passwords belong to tables (pikactl table create --password) and only their hashes are
	// kept: nothing to show or set here.
	must(s.Hook("requirepass", redisconf.Hook{
		Get: func() string { return "" },
		Set: func(v string) error {
			if v == "" {
				return nil
			}
			return refusal("pika-node keeps passwords per table (pikactl table create --password)")
		},
	}))
	// TLS is set up at start (--tls-port, --tls-cluster); CONFIG SET takes the current value
	// only, and refuses others in Redis's words when it cannot set TLS up.
	for name, get := range map[string]func() string{
		"tls-port":        func() string { return i64(int64(n.cfg.TLSPort)) },
		"tls-cluster":     func() string { return yesNo(n.cfg.TLSCluster) },
		"tls-replication": func() string { return yesNo(n.cfg.TLSCluster) },
	} {
		must(s.Hook(name, redisconf.Hook{Get: get, Set: func(v string) error {
			if v == get() {
				return nil
			}
			n.log.Warn("CONFIG SET refused: pika-node sets TLS up at start (--tls-port, --tls-cluster)", "parameter", name, "value", v)
			return refusal("Unable to update TLS configuration. Check server logs.") // Redis's words
		}}))
	}
	must(s.SetInitial("databases", "1"))
	must(s.SetInitial("save", ""))
	return s
}

// refusal is a hook's reason for refusing a CONFIG SET value, worded for the reply.
type refusal string

func (r refusal) Error() string { return string(r) }

// configValue is one parameter's current value as CONFIG GET shows it, ""
// when there is no such parameter: commands read it through
// command.Ctx.Config.
func (n *Node) configValue(name string) string {
	if n.conf == nil {
		return ""
	}
	if p := n.conf.Get(name); len(p) == 1 {
		return p[0].Value
	}
	return ""
}
