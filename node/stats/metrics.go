package stats

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/replication"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Metrics is the node's Prometheus registry. Counters that the node keeps
// anyway (command calls, connections, key counts) are read when scraped
// by the collector below; only latencies are observed on the command path
// (Commands.Account).
type Metrics struct {
	reg *prometheus.Registry
}

// Source is what the collector reads of the node when scraped.
type Source struct {
	// Self is this node's id (the slots it leads or holds a replica of).
	Self meta.NodeID
	// Commands are the node's command counts (their latency histogram is
	// registered here).
	Commands *Commands
	// Clients is the number of client connections open.
	Clients func() int
	// Connections counts the client connections accepted; NetIn and
	// NetOut the bytes read from and written to clients.
	Connections, NetIn, NetOut *atomic.Int64
	// AuthFailures counts the failed AUTHs (wrong passwords, and those
	// refused past the per-address limit).
	AuthFailures *atomic.Int64
	// Engine is the node's storage: keys, slot logs, RocksDB properties.
	Engine *storage.Engine
	// Routing is the routing snapshot served (nil before the first).
	Routing func() *router.Snapshot
	// Shipper and Member are the node's shipper of async slots' logs and
	// its member of the control plane, nil until the node's Run makes
	// them.
	Shipper func() *replication.Shipper
	Member  func() *manager.Member
	// Scripts reads the scripting counts.
	Scripts func() Scripts
}

// NewMetrics registers the collector over src, the command latencies and
// the Go runtime's and the process's collectors.
func NewMetrics(src Source) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(src.Commands.latency, &collector{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics (GET /metrics).
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

var (
	descCalls     = prometheus.NewDesc("pika_commands_total", "Commands executed.", []string{"cmd"}, nil)
	descFailed    = prometheus.NewDesc("pika_commands_failed_total", "Commands that answered an error.", []string{"cmd"}, nil)
	descRejected  = prometheus.NewDesc("pika_commands_rejected_total", "Commands refused before running (NOAUTH, ...).", []string{"cmd"}, nil)
	descUnknown   = prometheus.NewDesc("pika_commands_unknown_total", "Unknown commands received.", nil, nil)
	descClients   = prometheus.NewDesc("pika_connected_clients", "Client connections open.", nil, nil)
	descConns     = prometheus.NewDesc("pika_connections_received_total", "Client connections accepted.", nil, nil)
	descNetIn     = prometheus.NewDesc("pika_net_input_bytes_total", "Bytes read from clients.", nil, nil)
	descNetOut    = prometheus.NewDesc("pika_net_output_bytes_total", "Bytes written to clients.", nil, nil)
	descAuthFail  = prometheus.NewDesc("pika_auth_failures_total", "Failed AUTH attempts (wrong passwords, and those refused past the per-address limit).", nil, nil)
	descKeys      = prometheus.NewDesc("pika_keys", "Keys stored on this node, per table.", []string{"table", "table_id"}, nil)
	descExpires   = prometheus.NewDesc("pika_keys_with_ttl", "Keys with a TTL stored on this node, per table.", []string{"table", "table_id"}, nil)
	descSlots     = prometheus.NewDesc("pika_table_slots", "Slots of each table.", []string{"table", "table_id"}, nil)
	descSlotsLed  = prometheus.NewDesc("pika_slots_led", "Slots of each table that this node leads.", []string{"table", "table_id"}, nil)
	descSlotsHeld = prometheus.NewDesc("pika_slot_replicas", "Slots of each table of which this node holds a replica.", []string{"table", "table_id"}, nil)
	descLogLen    = prometheus.NewDesc("pika_slot_log_entries", "Entries retained in the slot logs of each table on this node.", []string{"table", "table_id"}, nil)
	descLag       = prometheus.NewDesc("pika_replication_lag_entries", "Log entries the furthest-behind slot of each follower lacks (this node leading); -1 while unknown.", []string{"follower"}, nil)
	descShipped   = prometheus.NewDesc("pika_replication_shipped_bytes_total", "Log bytes shipped to followers.", nil, nil)
	descFullSyncs = prometheus.NewDesc("pika_replication_full_syncs", "Full syncs running from this node.", nil, nil)
	descEtcd      = prometheus.NewDesc("pika_etcd_connected", "1 while the node's etcd lease is alive.", nil, nil)
	descManager   = prometheus.NewDesc("pika_manager", "1 while this node holds the manager role.", nil, nil)
	descRevision  = prometheus.NewDesc("pika_metadata_revision", "The etcd revision of the routing snapshot served.", nil, nil)
	descRocks     = prometheus.NewDesc("pika_rocksdb_property", "RocksDB properties of the meta column family (estimates).", []string{"property"}, nil)
	descSST       = prometheus.NewDesc("pika_rocksdb_sst_bytes", "Size of the live SST files of every column family.", nil, nil)
	descDiskFree  = prometheus.NewDesc("pika_disk_free_bytes", "Free space on the data directory's filesystem, as the storage engine last measured it.", nil, nil)
	descDiskLevel = prometheus.NewDesc("pika_disk_writes_refused", "0: writes taken; 1: below --min-free-disk, clients' writes refused (MISCONF); 2: below half of it, every write refused.", nil, nil)
)

// rocksProperties are exported as pika_rocksdb_property.
var rocksProperties = []string{
	"rocksdb.estimate-num-keys",
	"rocksdb.cur-size-all-mem-tables",
	"rocksdb.block-cache-usage",
	"rocksdb.estimate-pending-compaction-bytes",
	"rocksdb.num-running-compactions",
	"rocksdb.num-running-flushes",
	"rocksdb.estimate-live-data-size",
}

// collector reads the node's counters and gauges from its Source.
type collector struct{ src Source }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descFailed, descRejected, descUnknown, descClients, descConns, descAuthFail,
		descNetIn, descNetOut, descKeys, descExpires, descSlots, descSlotsLed, descSlotsHeld, descLogLen, descLag, descShipped, descFullSyncs, descEtcd,
		descManager, descRevision, descRocks, descSST, descDiskFree, descDiskLevel, descScriptsCached, descScriptsBytes, descLibraries, descFunctions,
		descScriptRunning, descScriptRuns, descScriptReruns, descScriptKilled, descScriptFetched} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	src := c.src
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, spec := range src.Commands.specs {
		st := src.Commands.Of(spec)
		if calls := st.Calls.Load(); calls > 0 || st.Failed.Load() > 0 || st.Rejected.Load() > 0 {
			counter(descCalls, calls, spec.Name)
			counter(descFailed, st.Failed.Load(), spec.Name)
			counter(descRejected, st.Rejected.Load(), spec.Name)
		}
	}
	counter(descUnknown, src.Commands.Unknown.Load())
	if src.Scripts != nil {
		collectScripts(ch, src.Scripts())
	}
	gauge(descClients, float64(src.Clients()))
	counter(descConns, src.Connections.Load())
	counter(descNetIn, src.NetIn.Load())
	counter(descNetOut, src.NetOut.Load())
	if src.AuthFailures != nil {
		counter(descAuthFail, src.AuthFailures.Load())
	}
	eng := src.Engine
	if snap := src.Routing(); snap != nil {
		for _, t := range snap.Tables() {
			id := strconv.FormatUint(uint64(t.ID), 10)
			keys, expires := eng.Counts(t.ID)
			gauge(descKeys, float64(keys), t.Name, id)
			gauge(descExpires, float64(expires), t.Name, id)
			gauge(descSlots, float64(t.Slots), t.Name, id)
			led, held := 0, 0
			for s := range t.Slots {
				r := t.Route(storage.SlotID(s))
				if r.Leader == src.Self {
					led++
				}
				for _, rep := range r.Replicas {
					if rep == src.Self {
						held++
					}
				}
			}
			var entries uint64
			for s := range t.Slots {
				if first, last, _ := eng.LogBounds(t.ID, storage.SlotID(s)); first > 0 {
					entries += uint64(last - first + 1)
				}
			}
			gauge(descLogLen, float64(entries), t.Name, id)
			gauge(descSlotsLed, float64(led), t.Name, id)
			gauge(descSlotsHeld, float64(held), t.Name, id)
		}
		gauge(descRevision, float64(snap.Revision))
	}
	if sh := src.Shipper(); sh != nil {
		if st := sh.Stats(); st != nil {
			for id, f := range st.Followers {
				gauge(descLag, float64(f.MaxLag), string(id))
			}
			counter(descShipped, st.BytesSent)
			gauge(descFullSyncs, float64(st.FullSyncs))
		}
	}
	member := src.Member()
	gauge(descEtcd, one(member != nil && member.Connected()))
	gauge(descManager, one(member != nil && member.IsManager()))
	for _, p := range rocksProperties {
		if v, err := strconv.ParseFloat(eng.Stats(p), 64); err == nil {
			gauge(descRocks, v, p)
		}
	}
	gauge(descSST, float64(eng.ApproximateDiskBytes()))
	if d := eng.DiskState(); d.Reserve > 0 {
		gauge(descDiskFree, float64(d.Free))
		gauge(descDiskLevel, float64(d.Level))
	}
}

// one is a boolean gauge's value: 1 for true, 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Scripts is what the node's scripting keeps count of (INFO memory's
// script lines and the pika_script* metrics).
type Scripts struct {
	// CachedScripts and CacheBytes are the script cache's scripts and
	// their bodies' bytes; Libraries, Functions and LibraryBytes the
	// FUNCTION libraries'.
	CachedScripts, CacheBytes          int
	Libraries, Functions, LibraryBytes int
	// Running is the number of scripts running now.
	Running int
	// Runs counts the scripts and functions run; Reruns the runs
	// abandoned for a key the unit did not hold (the unit ran again);
	// Killed the runs SCRIPT KILL, FUNCTION KILL or the memory bound
	// stopped; Fetched the scripts EVALSHA got from a peer's cache.
	Runs, Reruns, Killed, Fetched int64
}

var (
	descScriptsCached = prometheus.NewDesc("pika_scripts_cached", "Scripts in this node's script cache.", nil, nil)
	descScriptsBytes  = prometheus.NewDesc("pika_scripts_cached_bytes", "Bytes of the scripts in this node's script cache.", nil, nil)
	descLibraries     = prometheus.NewDesc("pika_function_libraries", "FUNCTION libraries of the cluster, as this node has them.", nil, nil)
	descFunctions     = prometheus.NewDesc("pika_functions", "Functions the FUNCTION libraries register.", nil, nil)
	descScriptRunning = prometheus.NewDesc("pika_scripts_running", "Scripts and functions running on this node now.", nil, nil)
	descScriptRuns    = prometheus.NewDesc("pika_script_runs_total", "Scripts and functions run by this node's clients.", nil, nil)
	descScriptReruns  = prometheus.NewDesc("pika_script_reruns_total", "Script runs abandoned for a key their unit did not hold (the unit then ran again with it).", nil, nil)
	descScriptKilled  = prometheus.NewDesc("pika_scripts_killed_total", "Script runs stopped by SCRIPT KILL, FUNCTION KILL or the memory bound.", nil, nil)
	descScriptFetched = prometheus.NewDesc("pika_scripts_fetched_total", "Scripts EVALSHA found in another node's cache.", nil, nil)
)

// collectScripts exports s.
func collectScripts(ch chan<- prometheus.Metric, s Scripts) {
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(descScriptsCached, s.CachedScripts)
	gauge(descScriptsBytes, s.CacheBytes)
	gauge(descLibraries, s.Libraries)
	gauge(descFunctions, s.Functions)
	gauge(descScriptRunning, s.Running)
	counter(descScriptRuns, s.Runs)
	counter(descScriptReruns, s.Reruns)
	counter(descScriptKilled, s.Killed)
	counter(descScriptFetched, s.Fetched)
}
