package node

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/storage"
)

// infoSections lists the sections in output order; def marks those of a
// plain INFO.
var infoSections = []struct {
	name string
	def  bool
}{
	{"server", true}, {"clients", true}, {"memory", true}, {"persistence", true},
	{"stats", true}, {"replication", true}, {"cpu", true}, {"commandstats", false},
	{"errorstats", true}, {"latencystats", false}, {"cluster", true}, {"keyspace", true},
}

func (n *Node) cmdInfo(c *command.Ctx) error {
	want := map[string]bool{}
	all := false
	if len(c.Args) == 1 {
		for _, s := range infoSections {
			want[s.name] = s.def
		}
	}
	for _, a := range c.Args[1:] {
		s := strings.ToLower(string(a))
		switch s {
		case "all", "everything":
			all = true
		case "default":
			for _, d := range infoSections {
				if d.def {
					want[d.name] = true
				}
			}
		default:
			want[s] = true
		}
	}
	var b strings.Builder
	for _, s := range infoSections {
		if !all && !want[s.name] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "# %s\r\n", strings.ToUpper(s.name[:1])+s.name[1:])
		n.writeInfoSection(&b, s.name)
	}
	c.R.Verbatim(b.String())
	return nil
}

func (n *Node) writeInfoSection(b *strings.Builder, section string) {
	kv := func(k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }
	switch section {
	case "server":
		up := time.Since(n.started)
		kv("redis_version", redisVersion)
		kv("pika_node_version", Version)
		kv("redis_mode", "standalone")
		kv("os", runtime.GOOS+" "+runtime.GOARCH)
		kv("arch_bits", strconv.IntSize)
		kv("go_version", runtime.Version())
		kv("process_id", os.Getpid())
		kv("tcp_port", n.cfg.Port)
		kv("uptime_in_seconds", int64(up.Seconds()))
		kv("uptime_in_days", int64(up.Hours()/24))
		kv("executable", os.Args[0])
	case "clients":
		kv("connected_clients", n.connectedClients())
		kv("maxclients", n.maxClients.Load())
		kv("blocked_clients", int64(n.blocked.Blocked())+n.pausedClients.Load())
		kv("tracking_clients", int64(n.tracking.Clients()))
		kv("query_buffers_held", n.queries.Used())
		kv("reply_queues_held", n.outputs.Used())
	case "memory":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := rssBytes()
		kv("used_memory", ms.HeapAlloc)
		kv("used_memory_human", humanBytes(int64(ms.HeapAlloc)))
		kv("used_memory_rss", rss)
		kv("used_memory_rss_human", humanBytes(rss))
		kv("used_memory_peak", maxRSSBytes())
		kv("rocksdb_block_cache_usage", n.eng.Stats("rocksdb.block-cache-usage"))
		kv("rocksdb_memtables", n.eng.Stats("rocksdb.cur-size-all-mem-tables"))
		kv("maxmemory", 0)
		sc := n.txns.ScriptCounts()
		kv("used_memory_scripts_eval", sc.CacheBytes)
		kv("number_of_cached_scripts", sc.CachedScripts)
		kv("number_of_functions", sc.Functions)
		kv("number_of_libraries", sc.Libraries)
		kv("used_memory_functions", sc.LibraryBytes)
		kv("used_memory_scripts", sc.CacheBytes+sc.LibraryBytes)
		kv("used_memory_scripts_human", humanBytes(int64(sc.CacheBytes+sc.LibraryBytes)))
	case "persistence":
		kv("loading", 0)
		kv("rdb_changes_since_last_save", 0)
		kv("aof_enabled", 0)
		d := n.eng.DiskState()
		// Redis's field for writes refused with MISCONF: "err" while the
		// disk is below --min-free-disk.
		lastWrite := "ok"
		if d.Level != storage.DiskOK {
			lastWrite = "err"
		}
		kv("aof_last_write_status", lastWrite)
		kv("rocksdb_wal_sync", boolInt(n.cfg.FsyncAlways()))
		kv("disk_bytes", n.eng.ApproximateDiskBytes())
		kv("pika_disk", d.Level.String())
		kv("pika_disk_free_bytes", d.Free)
		kv("pika_min_free_disk", d.Reserve)
	case "stats":
		kv("total_connections_received", n.connsTotal.Load())
		kv("total_commands_processed", n.stats.Total())
		kv("total_net_input_bytes", n.netIn.Load())
		kv("total_net_output_bytes", n.netOut.Load())
		kv("rejected_connections", n.rejected.Load())
		kv("acl_access_denied_auth", n.authFailures.Load())
		kv("expired_keys", 0)
		kv("keyspace_hits", 0)
		kv("keyspace_misses", 0)
		kv("unknown_commands", n.stats.Unknown.Load())
		kv("total_error_replies", n.stats.ErrorReplies())
		channels, patterns, shard := n.pubsub.Counts()
		kv("pubsub_channels", channels)
		kv("pubsub_patterns", patterns)
		kv("pubsubshard_channels", shard)
		tkeys, titems, tprefixes := n.tracking.Counts()
		kv("tracking_total_keys", tkeys)
		kv("tracking_total_items", titems)
		kv("tracking_total_prefixes", tprefixes)
	case "replication":
		// Redis's fields, for clients that read them; then ours: roles
		// are per slot here.
		kv("role", "master")
		kv("connected_slaves", 0)
		led, followed := n.slotRoles()
		kv("pika_slots_led", led)
		kv("pika_slots_followed", followed)
		if st := n.shipper.Stats(); st != nil {
			kv("pika_followers", len(st.Followers))
			kv("pika_full_syncs_running", st.FullSyncs)
			kv("pika_shipped_entries", st.EntriesSent)
			kv("pika_shipped_bytes", st.BytesSent)
			ids := slices.Sorted(maps.Keys(st.Followers))
			for i, id := range ids {
				f := st.Followers[id]
				kv(fmt.Sprintf("pika_follower%d", i), fmt.Sprintf("node=%s,slots=%d,max_lag=%d,lag_sum=%d,full_sync=%d", id, f.Slots, f.MaxLag, f.LaggingSum, f.Behind))
			}
		}
	case "cpu":
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			kv("used_cpu_sys", fmt.Sprintf("%.6f", float64(ru.Stime.Sec)+float64(ru.Stime.Usec)/1e6))
			kv("used_cpu_user", fmt.Sprintf("%.6f", float64(ru.Utime.Sec)+float64(ru.Utime.Usec)/1e6))
		}
	case "commandstats":
		for _, spec := range n.tbl.All() {
			st := n.stats.Of(spec)
			calls := st.Calls.Load()
			if calls == 0 && st.Failed.Load() == 0 && st.Rejected.Load() == 0 {
				continue
			}
			usec := st.Usec.Load()
			per := 0.0
			if calls > 0 {
				per = float64(usec) / float64(calls)
			}
			fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
				spec.Name, calls, usec, per, st.Rejected.Load(), st.Failed.Load())
		}
	case "errorstats":
		codes, counts := n.stats.ErrorCodes()
		for i, code := range codes {
			fmt.Fprintf(b, "errorstat_%s:count=%d\r\n", code, counts[i])
		}
	case "latencystats":
		n.writeLatencyStats(b)
	case "keyspace":
		snap := n.proxy.Routing()
		for _, tb := range snap.Tables() {
			keys, expires := n.ownedCounts(tb)
			pk, pe := n.proxy.PeerCounts(snap, tb)
			if keys, expires := keys+pk, expires+pe; keys > 0 {
				fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=0\r\n", tb.ID, keys, expires)
			}
		}
	case "cluster":
		h := n.health()
		kv("cluster_enabled", 0) // clients must not speak Redis Cluster to us: the proxy is embedded
		kv("pika_cluster", h.Cluster)
		kv("pika_node_id", string(h.Node))
		kv("pika_manager", string(h.Manager))
		kv("pika_is_manager", boolInt(h.IsManager))
		kv("pika_etcd_connected", boolInt(h.EtcdConnected))
		kv("pika_metadata_revision", h.Revision)
		kv("pika_tables", h.Tables)
		kv("pika_health", h.Status)
		if h.Reason != "" {
			kv("pika_health_reason", h.Reason)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// rssBytes reads the resident set size from /proc (0 if unavailable).
func rssBytes() int64 { return procStatusKB("VmRSS:") * 1024 }

// maxRSSBytes is the peak resident set size.
func maxRSSBytes() int64 { return procStatusKB("VmHWM:") * 1024 }

func procStatusKB(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line[len(field):])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// slotRoles counts the slots this node leads and follows, over all tables.
func (n *Node) slotRoles() (led, followed int) {
	snap := n.proxy.Routing()
	if snap == nil {
		return 0, 0
	}
	for _, t := range snap.Tables() {
		for s := range t.Slots {
			r := t.Route(storage.SlotID(s))
			if r.Leader == n.id {
				led++
			} else if slices.Contains(r.Replicas, n.id) {
				followed++
			}
		}
	}
	return led, followed
}
