package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/node/tlsconf"
)

// Config is everything `pika-node start` can be told, from flags, the
// environment (PIKA_*) or a config file; cmd/pika-node binds all three onto
// this struct. Each field's default is in Default.
type Config struct {
	// Port is the RESP port for clients. Default 9221.
	Port int `mapstructure:"port"`
	// Bind is the address to listen on. Default "0.0.0.0" (all interfaces).
	Bind string `mapstructure:"bind"`
	// Data is the data directory; RocksDB lives in Data/db. Default ./pika-data.
	Data string `mapstructure:"data"`
	// RequirePass is table db0's password when this node bootstraps the
	// cluster (creates db0); other tables get theirs from `pikactl table
	// create --password`. Default none.
	RequirePass string `mapstructure:"requirepass"`
	// Etcd lists the endpoints (host:port,...) of the etcd that holds the
	// cluster's metadata. Empty (the default) runs an embedded single-member
	// etcd under Data/etcd, listening on EtcdListen and EtcdPeerListen.
	Etcd string `mapstructure:"etcd"`
	// PasswordHashCost is bcrypt's cost for the table passwords this node
	// hashes as the manager: 4..31, each step doubling the time. Default
	// 10 (about 65 ms on a 2-core VM); the tests lower it.
	PasswordHashCost int `mapstructure:"password-hash-cost"`
	// EtcdCert and EtcdKey are a client certificate for etcd, EtcdCA the
	// CA that signed etcd's (any of them: TLS); EtcdUser is
	// "name:password" for etcd's authentication (better given as
	// PIKA_ETCD_USER than on the command line). For --etcd only.
	EtcdCert string `mapstructure:"etcd-cert"`
	EtcdKey  string `mapstructure:"etcd-key"`
	EtcdCA   string `mapstructure:"etcd-ca"`
	EtcdUser string `mapstructure:"etcd-user"`
	// Cluster names the cluster: its metadata lives under /pika/<Cluster>/.
	// Default "pika".
	Cluster string `mapstructure:"cluster"`
	// EtcdListen is the embedded etcd's client address. Default 127.0.0.1:2379.
	EtcdListen string `mapstructure:"etcd-listen"`
	// EtcdPeerListen is the embedded etcd's peer address. Default 127.0.0.1:2380.
	EtcdPeerListen string `mapstructure:"etcd-peer-listen"`
	// PeerPort is the port other nodes reach this one on (forwarding,
	// replication). 0 (the default) means Port+10000.
	PeerPort int `mapstructure:"peer-port"`
	// HTTPPort serves /healthz, /metrics and the manager's API (pikactl).
	// 0 (the default) means Port+20000.
	HTTPPort int `mapstructure:"http-port"`
	// TLSPort, when not 0, serves clients over TLS on this port too
	// (redis.conf's tls-port), with TLSCertFile and TLSKeyFile; clients
	// show a certificate TLSCACertFile signed unless TLSAuthClients is
	// "no" ("optional": if they have one). SIGHUP reloads the files.
	TLSPort        int    `mapstructure:"tls-port"`
	TLSCertFile    string `mapstructure:"tls-cert-file"`
	TLSKeyFile     string `mapstructure:"tls-key-file"`
	TLSCACertFile  string `mapstructure:"tls-ca-cert-file"`
	TLSAuthClients string `mapstructure:"tls-auth-clients"`
	// TLSCluster puts the peer port under mutual TLS (redis.conf's
	// tls-cluster and tls-replication): nodes show TLSCertFile to each
	// other and accept a peer whose certificate TLSCACertFile signed.
	// Every node of a cluster must have the same setting.
	TLSCluster bool `mapstructure:"tls-cluster"`
	// HTTPTLS serves the HTTP port over TLS with TLSCertFile, and makes
	// this node call the others' HTTP ports over TLS, checked against
	// TLSCACertFile: every node of a cluster alike. MetricsBind stays
	// plain.
	HTTPTLS bool `mapstructure:"http-tls"`
	// HTTPBind is the address the HTTP port listens on. Default: Bind.
	HTTPBind string `mapstructure:"http-bind"`
	// MetricsBind, when set, is a host:port that serves /healthz and
	// /metrics alone (a scraper's network), besides the HTTP port.
	MetricsBind string `mapstructure:"metrics-bind"`
	// AdminTokenFile names a file whose first line becomes the cluster's
	// admin token when this node creates it (the first manager), instead
	// of a random one written to Data/admin.token. Default none.
	AdminTokenFile string `mapstructure:"admin-token-file"`
	// Advertise is the host other nodes and pikactl use to reach this node.
	// Default: Bind when it is a specific address, else this machine's
	// first non-loopback IPv4 address (127.0.0.1 if it has none).
	Advertise string `mapstructure:"advertise"`
	// ReplicaDownTimeout is how long a node may be dead before the manager
	// puts its slot replicas on other nodes (which copy them). Default 30m.
	ReplicaDownTimeout time.Duration `mapstructure:"replica-down-timeout"`
	// MoveStepPause makes the manager wait this long before each step of a
	// slot move (tests use it to kill nodes at a chosen step). Default 0.
	MoveStepPause time.Duration `mapstructure:"move-step-pause"`
	// UnitStepPause makes every multi-slot unit this node coordinates
	// across nodes wait this long before each step after its locks
	// (tests use it to kill nodes at a chosen step). Default 0.
	UnitStepPause time.Duration `mapstructure:"unit-step-pause"`
	// AdvertisePeer, when set, is the host:port other nodes dial for this
	// node's peer port instead of Advertise:PeerPort (a NAT, or a proxy).
	AdvertisePeer string `mapstructure:"advertise-peer"`
	// LeaseTTL is how long the node's registration (and the manager role,
	// if it holds it) outlives the node: a dead manager is replaced after
	// about this long, and a dead node's slots fail over after about this
	// long. Whole seconds, at least 1s. Default 3s (keepalives every 1s):
	// a node paused longer than that loses its role and its leaderships.
	LeaseTTL time.Duration `mapstructure:"lease-ttl"`
	// SlotLogMaxBytes bounds each slot's log (the binlog replicas catch
	// up from); older entries are deleted. Default 8 MiB.
	SlotLogMaxBytes int64 `mapstructure:"slot-log-max-bytes"`
	// SlotLogMaxAge deletes slot log entries older than this. Default 1h.
	SlotLogMaxAge time.Duration `mapstructure:"slot-log-max-age"`
	// SlotLogTrimInterval is how often slot log retention runs. Default 10s.
	SlotLogTrimInterval time.Duration `mapstructure:"slot-log-trim-interval"`
	// BootstrapExpect is how many nodes must have joined before the first
	// manager creates db0, so that its slots are spread over them (a
	// cluster's nodes started together). Default 1: at once.
	BootstrapExpect int `mapstructure:"bootstrap-expect"`
	// ForwardTimeout bounds the wait for another node's reply to a
	// forwarded command; past it the client gets CLUSTERDOWN. Default 5s.
	ForwardTimeout time.Duration `mapstructure:"forward-timeout"`
	// Labels are key=value pairs (comma-separated) registered with the node,
	// e.g. "rack=r1,zone=a".
	Labels string `mapstructure:"labels"`
	// BlockCacheMB is RocksDB's shared block cache. Default 192: with the
	// memtables, the meta cache and the Go heap, a node over 20M keys then
	// peaks under 512 MiB RSS (bench-capacity; at 256 it peaked at 506).
	BlockCacheMB int `mapstructure:"block-cache-mb"`
	// WriteBufferMB is each column family's memtable. Default 32.
	WriteBufferMB int `mapstructure:"write-buffer-mb"`
	// AppendFsync is when the WAL reaches the disk, as Redis's
	// appendfsync: "everysec" (default: synced once a second; raft rounds
	// synced before they are acknowledged), "always" (every write before
	// its reply), "no" (left to the OS, raft rounds included). A reply is
	// always sent after its write is in the WAL: a process crash loses
	// nothing acknowledged under any policy.
	AppendFsync string `mapstructure:"appendfsync"`
	// ProtectedMode refuses clients from other hosts than this one while
	// the default table (db0) has no password, as Redis's protected-mode
	// does for a default user without one. Default true.
	ProtectedMode bool `mapstructure:"protected-mode"`
	// EnableDebugCommand is Redis's enable-debug-command: who may run
	// DEBUG, "no" (nobody, the default), "yes" (everybody) or "local"
	// (clients on this host's loopback).
	EnableDebugCommand string `mapstructure:"enable-debug-command"`
	// SyncWAL is the older spelling of AppendFsync "always".
	SyncWAL bool `mapstructure:"sync-wal"`
	// WALRecovery is what start-up does with a damaged RocksDB WAL:
	// "torn-tail" (default) forgives only a last record cut short and
	// refuses to start on damage anywhere else; "point-in-time" starts
	// with what comes before the damage, losing the rest (storage.WALRecovery).
	WALRecovery string `mapstructure:"wal-recovery"`
	// MinFreeDisk is the free space, in bytes, kept on the filesystem of
	// the data directory: below it the node refuses clients' writes with
	// redis-server's MISCONF error (an AOF it cannot write), below half
	// of it every write, and it takes them again once space is back.
	// 0 turns the guard off. Default 256 MiB.
	MinFreeDisk int64 `mapstructure:"min-free-disk"`
	// MaxClients bounds concurrent client connections. Default 10000. As
	// in Redis, the node raises its open file limit to what they need at
	// start, and lowers maxclients (with a warning) if it cannot
	// (package listen).
	MaxClients int `mapstructure:"maxclients"`
	// Timeout closes connections idle this long; 0 never. Default 0.
	Timeout time.Duration `mapstructure:"timeout"`
	// ClientWriteTimeout disconnects a client that does not read its
	// replies for this long, which bounds the memory a stuck client can
	// hold. Default 30s.
	ClientWriteTimeout time.Duration `mapstructure:"client-write-timeout"`
	// ShutdownTimeout bounds a shutdown (SIGTERM): once it has passed,
	// the node logs what has not stopped (a command stuck on a peer, ...)
	// and exits without waiting for it, leaving storage unclosed if a
	// command could still be using it (the WAL has every acknowledged
	// write). Default 10s, Redis 7's shutdown-timeout.
	ShutdownTimeout time.Duration `mapstructure:"shutdown-timeout"`
	// MaxOutputBytes bounds the replies queued for one client that does
	// not read them (Redis's client-output-buffer-limit); past it the
	// client is disconnected. Default 128 MiB: with the garbage a queue
	// makes, a queue of this size costs about three times as much RSS.
	MaxOutputBytes int `mapstructure:"client-output-buffer-limit"`
	// PubsubOutputBytes is that bound for a client that subscribes to
	// pub/sub channels (Redis's client-output-buffer-limit pubsub hard
	// limit): a subscriber that does not read its messages is cut off.
	PubsubOutputBytes int `mapstructure:"client-output-buffer-limit-pubsub"`
	// PubsubOutputSoftBytes and PubsubOutputSoftTime are Redis's soft
	// limit of the pub/sub class: a subscriber whose queue stays past
	// the soft bytes for longer than the time is cut off too. Default
	// 8 MiB for 60 s, as Redis's; 0 bytes: no soft limit.
	PubsubOutputSoftBytes int           `mapstructure:"client-output-buffer-limit-pubsub-soft"`
	PubsubOutputSoftTime  time.Duration `mapstructure:"client-output-buffer-limit-pubsub-soft-time"`
	// OutputBudgetBytes bounds the replies queued for all clients
	// together. Default 512 MiB.
	OutputBudgetBytes int64 `mapstructure:"output-buffer-total"`
	// ScriptMemoryLimit is how much the node's heap may grow while a Lua
	// script runs before the script is stopped ("not enough memory").
	// Default 512 MiB.
	ScriptMemoryLimit int64 `mapstructure:"script-memory-limit"`
	// MaxQueryBytes is the largest command a client may send (Redis's
	// client-query-buffer-limit). Default 1 GiB.
	MaxQueryBytes int64 `mapstructure:"client-query-buffer-limit"`
	// QueryBudgetBytes bounds what all clients together hold in commands
	// being read, beyond 64 KiB each: a client that would pass it is
	// disconnected, so many large queries at once cannot exhaust memory.
	// Default 2 GiB.
	QueryBudgetBytes int64 `mapstructure:"query-buffer-total"`
	// MaxBulkBytes is the largest argument (proto-max-bulk-len). Default 512 MiB.
	MaxBulkBytes int64 `mapstructure:"proto-max-bulk-len"`
	// ExpireSweepInterval is how often the background expiry sweep runs.
	// Default 100ms.
	ExpireSweepInterval time.Duration `mapstructure:"expire-sweep-interval"`
	// ExpireSweepKeys is how many keys one sweep step examines. Default 2000.
	ExpireSweepKeys int `mapstructure:"expire-sweep-keys"`
	// GoMaxProcs is the number of goroutines that may run Go code at once.
	// 0 means 4 × the CPUs (unless the GOMAXPROCS variable is set). More
	// than the CPUs on purpose: most work happens in cgo calls into RocksDB,
	// and a goroutine coming back from one (the group committer above all)
	// must find a free P; with GOMAXPROCS = 2 on a 2-core machine it waited
	// for one, and p99 of SET at -P 1 was 5.2 ms; with 8 it was 1.8 ms.
	GoMaxProcs int `mapstructure:"gomaxprocs"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `mapstructure:"log-level"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Port:                  9221,
		Bind:                  "0.0.0.0",
		Data:                  "./pika-data",
		Cluster:               "pika",
		EtcdListen:            "127.0.0.1:2379",
		EtcdPeerListen:        "127.0.0.1:2380",
		LeaseTTL:              3 * time.Second,
		ForwardTimeout:        5 * time.Second,
		BootstrapExpect:       1,
		ReplicaDownTimeout:    30 * time.Minute,
		SlotLogMaxBytes:       8 << 20,
		SlotLogMaxAge:         time.Hour,
		SlotLogTrimInterval:   10 * time.Second,
		BlockCacheMB:          192,
		WriteBufferMB:         32,
		MaxClients:            10000,
		ClientWriteTimeout:    30 * time.Second,
		ShutdownTimeout:       10 * time.Second,
		MaxQueryBytes:         1 << 30,
		ScriptMemoryLimit:     512 << 20,
		MaxOutputBytes:        128 << 20,
		WALRecovery:           "torn-tail",
		EnableDebugCommand:    "no",
		MinFreeDisk:           256 << 20,
		AppendFsync:           "everysec",
		ProtectedMode:         true,
		TLSAuthClients:        "yes",
		PasswordHashCost:      10,
		PubsubOutputBytes:     32 << 20,
		PubsubOutputSoftBytes: 8 << 20,
		PubsubOutputSoftTime:  60 * time.Second,
		OutputBudgetBytes:     512 << 20,
		QueryBudgetBytes:      2 << 30,
		MaxBulkBytes:          512 << 20,
		ExpireSweepInterval:   100 * time.Millisecond,
		ExpireSweepKeys:       2000,
		LogLevel:              "info",
	}
}

// Validate reports every invalid field in one error.
func (c *Config) Validate() error {
	var errs []error
	if c.AppendFsync != "everysec" && c.AppendFsync != "always" && c.AppendFsync != "no" {
		errs = append(errs, fmt.Errorf("appendfsync %q: must be always, everysec or no", c.AppendFsync))
	}
	if c.MinFreeDisk < 0 {
		errs = append(errs, fmt.Errorf("min-free-disk %d: must be 0 (off) or more", c.MinFreeDisk))
	}
	if c.Etcd == "" && !c.EmbeddedEtcdOnLoopback() && (c.TLSCertFile == "" || c.TLSKeyFile == "" || c.TLSCACertFile == "") {
		errs = append(errs, fmt.Errorf("etcd-listen %s, etcd-peer-listen %s: an embedded etcd reachable from other hosts holds the cluster secret, "+
			"so it takes only clients with a certificate: give --tls-cert-file, --tls-key-file and --tls-ca-cert-file "+
			"(the CA that signs the nodes' and pikactl's certificates), or keep both on 127.0.0.1", c.EtcdListen, c.EtcdPeerListen))
	}
	if c.EnableDebugCommand != "no" && c.EnableDebugCommand != "yes" && c.EnableDebugCommand != "local" {
		errs = append(errs, fmt.Errorf("enable-debug-command %q: must be no, yes or local", c.EnableDebugCommand))
	}
	if c.WALRecovery != "torn-tail" && c.WALRecovery != "point-in-time" {
		errs = append(errs, fmt.Errorf("wal-recovery %q: must be torn-tail or point-in-time", c.WALRecovery))
	}
	if c.Port <= 0 || c.Port > 65535-20000 {
		errs = append(errs, fmt.Errorf("port %d: must be in 1..%d (peer and HTTP ports are port+10000 and port+20000)", c.Port, 65535-20000))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: must not be empty"))
	}
	if !clusterName.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("cluster %q: use 1-64 letters, digits, '_', '.', '-'", c.Cluster))
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"peer-port", c.PeerPort}, {"http-port", c.HTTPPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s %d: must be in 0..65535 (0: derived from port)", p.name, p.v))
		}
	}
	if c.PasswordHashCost < 4 || c.PasswordHashCost > 31 {
		errs = append(errs, fmt.Errorf("password-hash-cost %d: must be in 4..31", c.PasswordHashCost))
	}
	if c.TLSPort < 0 || c.TLSPort > 65535 {
		errs = append(errs, fmt.Errorf("tls-port %d: must be in 0..65535 (0: no TLS)", c.TLSPort))
	}
	if c.TLSPort != 0 {
		if err := c.TLSFiles().Check(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, on := range []struct {
		name string
		set  bool
	}{{"tls-cluster", c.TLSCluster}, {"http-tls", c.HTTPTLS}} {
		f := c.TLSFiles()
		f.AuthClients = tlsconf.ClientAuthYes // a CA is needed to check the other nodes
		if err := f.Check(); on.set && err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", on.name, err))
		}
	}
	if c.MetricsBind != "" {
		if _, _, err := net.SplitHostPort(c.MetricsBind); err != nil {
			errs = append(errs, fmt.Errorf("metrics-bind %q: want host:port", c.MetricsBind))
		}
	}
	if c.SlotLogMaxBytes <= 0 || c.SlotLogMaxAge <= 0 || c.SlotLogTrimInterval <= 0 {
		errs = append(errs, fmt.Errorf("slot-log-max-bytes %d, slot-log-max-age %s, slot-log-trim-interval %s: must be positive", c.SlotLogMaxBytes, c.SlotLogMaxAge, c.SlotLogTrimInterval))
	}
	if c.BootstrapExpect < 1 {
		errs = append(errs, fmt.Errorf("bootstrap-expect %d: must be at least 1", c.BootstrapExpect))
	}
	if c.ForwardTimeout <= 0 {
		errs = append(errs, fmt.Errorf("forward-timeout %s: must be positive", c.ForwardTimeout))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("lease-ttl %s: must be at least 1s", c.LeaseTTL))
	}
	if _, err := parseLabels(c.Labels); err != nil {
		errs = append(errs, err)
	}
	if c.BlockCacheMB <= 0 {
		errs = append(errs, fmt.Errorf("block-cache-mb %d: must be positive", c.BlockCacheMB))
	}
	if c.WriteBufferMB <= 0 {
		errs = append(errs, fmt.Errorf("write-buffer-mb %d: must be positive", c.WriteBufferMB))
	}
	if c.MaxClients <= 0 {
		errs = append(errs, fmt.Errorf("maxclients %d: must be positive", c.MaxClients))
	}
	if c.ClientWriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("client-write-timeout %s: must be positive", c.ClientWriteTimeout))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown-timeout %s: must be positive", c.ShutdownTimeout))
	}
	if c.MaxBulkBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("proto-max-bulk-len %d: must be at least 1MiB", c.MaxBulkBytes))
	}
	if c.MaxQueryBytes < c.MaxBulkBytes {
		errs = append(errs, fmt.Errorf("client-query-buffer-limit %d: must be at least proto-max-bulk-len", c.MaxQueryBytes))
	}
	if c.PubsubOutputBytes <= 0 || c.OutputBudgetBytes < int64(c.PubsubOutputBytes) {
		errs = append(errs, fmt.Errorf("client-output-buffer-limit-pubsub %d, output-buffer-total %d: must be positive, the total at least the limit", c.PubsubOutputBytes, c.OutputBudgetBytes))
	}
	if c.PubsubOutputSoftBytes < 0 || c.PubsubOutputSoftTime < 0 {
		errs = append(errs, fmt.Errorf("client-output-buffer-limit-pubsub-soft %d, -soft-time %v: must not be negative", c.PubsubOutputSoftBytes, c.PubsubOutputSoftTime))
	}
	if c.MaxOutputBytes <= 0 || c.OutputBudgetBytes < int64(c.MaxOutputBytes) {
		errs = append(errs, fmt.Errorf("client-output-buffer-limit %d, output-buffer-total %d: must be positive, the total at least the limit", c.MaxOutputBytes, c.OutputBudgetBytes))
	}
	if c.QueryBudgetBytes < c.MaxQueryBytes {
		errs = append(errs, fmt.Errorf("query-buffer-total %d: must be at least client-query-buffer-limit", c.QueryBudgetBytes))
	}
	if c.ScriptMemoryLimit < 1<<20 {
		errs = append(errs, fmt.Errorf("script-memory-limit %d: must be at least 1MiB", c.ScriptMemoryLimit))
	}
	if c.ExpireSweepInterval <= 0 || c.ExpireSweepKeys <= 0 {
		errs = append(errs, errors.New("expire-sweep-interval and expire-sweep-keys must be positive"))
	}
	if c.GoMaxProcs < 0 {
		errs = append(errs, fmt.Errorf("gomaxprocs %d: must not be negative", c.GoMaxProcs))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: must be debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// EmbeddedEtcdOnLoopback reports whether the embedded etcd's client and
// peer addresses are both on loopback (else it serves TLS and takes only
// clients with a certificate the tls-ca-cert-file signed).
func (c *Config) EmbeddedEtcdOnLoopback() bool {
	return onLoopback(c.EtcdListen) && onLoopback(c.EtcdPeerListen)
}

// onLoopback reports whether a host:port listens on loopback only.
func onLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DBDir is where RocksDB lives.
func (c *Config) DBDir() string { return filepath.Join(c.Data, "db") }

// EtcdDir is the embedded etcd's data directory.
func (c *Config) EtcdDir() string { return filepath.Join(c.Data, "etcd") }

// TLSFiles are the tls-* files.
func (c *Config) TLSFiles() tlsconf.Files {
	return tlsconf.Files{Cert: c.TLSCertFile, Key: c.TLSKeyFile, CA: c.TLSCACertFile, AuthClients: tlsconf.ClientAuth(c.TLSAuthClients)}
}

// HTTPListenAddr is the HTTP port's listening address.
func (c *Config) HTTPListenAddr() string {
	host := c.HTTPBind
	if host == "" {
		host = c.Bind
	}
	return net.JoinHostPort(host, strconv.Itoa(c.HTTPListenPort()))
}

// PeerListenPort is PeerPort, or Port+10000 when it is 0.
func (c *Config) PeerListenPort() int {
	if c.PeerPort != 0 {
		return c.PeerPort
	}
	return c.Port + 10000
}

// HTTPListenPort is HTTPPort, or Port+20000 when it is 0.
func (c *Config) HTTPListenPort() int {
	if c.HTTPPort != 0 {
		return c.HTTPPort
	}
	return c.Port + 20000
}

var clusterName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// LabelMap is Labels as a map; Validate has checked that they parse.
func (c *Config) LabelMap() map[string]string {
	m, _ := parseLabels(c.Labels)
	return m
}

// parseLabels reads "k=v,k=v".
func parseLabels(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("labels %q: want key=value,key=value", s)
		}
		m[k] = v
	}
	return m, nil
}

// AdvertiseHost is the host others reach this node at.
func (c *Config) AdvertiseHost() string {
	if c.Advertise != "" {
		return c.Advertise
	}
	if ip := net.ParseIP(c.Bind); ip != nil && !ip.IsUnspecified() {
		return c.Bind
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// FsyncAlways reports whether every write is synced before its reply
// (appendfsync always, or sync-wal).
func (c *Config) FsyncAlways() bool { return c.SyncWAL || c.AppendFsync == "always" }

// WALPointInTime reports whether WALRecovery is "point-in-time".
func (c *Config) WALPointInTime() bool { return c.WALRecovery == "point-in-time" }
