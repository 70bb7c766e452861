// Command pika-node runs a pika-node server.
//
//	pika-node start [--port 9221] [--data ./pika-data] [--config file] ...
//
// Every flag can also come from the environment (PIKA_ plus the flag name in
// upper case with dashes as underscores: PIKA_BLOCK_CACHE_MB) or from the
// config file (YAML, TOML or JSON, keys named like the flags). Precedence,
// highest first: flag, environment, config file, default.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/pika-node/pika-node/node"
	"github.com/pika-node/pika-node/node/config"
)

func main() {
	limitMallocArenas()
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

// limitMallocArenas re-executes the binary with MALLOC_ARENA_MAX=2 unless
// the variable is set. glibc gives each thread that contends on malloc an
// arena of its own, and RocksDB's threads then leave hundreds of MB
// fragmented: random GETs over 4M keys peaked at 562 MiB RSS, 460 MiB with
// two arenas (scripts/bench-capacity.sh, BENCH_KEYS=4000000). glibc reads
// the limit once, before the first contention, so mallopt() from Go comes
// too late (cgo threads have already fixed it): the environment at exec is
// the reliable way. Set MALLOC_ARENA_MAX yourself to choose another value.
func limitMallocArenas() {
	if runtime.GOOS != "linux" || os.Getenv("MALLOC_ARENA_MAX") != "" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	os.Setenv("MALLOC_ARENA_MAX", "2")
	_ = syscall.Exec(exe, os.Args, os.Environ()) // returns only on failure: run as we are
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "pika-node",
		Short:         "A Redis-compatible, RocksDB-backed store",
		Version:       node.Version,
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newStartCmd(viper.New()))
	return root
}

// newStartCmd builds `pika-node start`, binding its flags and the PIKA_*
// environment into v.
func newStartCmd(v *viper.Viper) *cobra.Command {
	def := config.Default()
	var configFile string
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start serving RESP clients",
		Example: `  pika-node start
  pika-node start --port 9222 --data ./d2
  PIKA_PORT=9300 pika-node start --config pika.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(v, configFile)
			if err != nil {
				return err
			}
			log := newLogger(cfg.LogLevel)
			if cfg.GoMaxProcs > 0 {
				runtime.GOMAXPROCS(cfg.GoMaxProcs)
			} else if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(4 * runtime.NumCPU())
			}
			log.Info("configuration", "port", cfg.Port, "bind", cfg.Bind, "data", cfg.Data,
				"block_cache_mb", cfg.BlockCacheMB, "appendfsync", cfg.AppendFsync, "sync_wal", cfg.SyncWAL, "gomaxprocs", runtime.GOMAXPROCS(0),
				"config_file", configFile)
			if addr := os.Getenv("PIKA_PPROF_ADDR"); addr != "" {
				// Debug only: CPU and heap profiles for performance work.
				go func() { log.Warn("pprof server stopped", "err", http.ListenAndServe(addr, nil)) }()
			}
			n, err := node.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Run stops within --shutdown-timeout; a second SIGTERM or
			// Ctrl-C kills the process at once (Go's default action).
			context.AfterFunc(ctx, stop)
			// SIGHUP reloads the TLS certificate files, as a renewal
			// needs (Redis reloads them with CONFIG SET).
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reloads := make(chan struct{})
			hctx, stopReloads := context.WithCancel(ctx)
			go func() {
				defer close(reloads)
				for {
					select {
					case <-hctx.Done():
						return
					case <-hup:
						if err := n.ReloadTLS(); err != nil {
							log.Error("SIGHUP: TLS files not reloaded; the previous ones stay in use", "err", err)
						}
					}
				}
			}()
			defer func() { stopReloads(); <-reloads }() // Run may return before ctx is done
			// An error after shutdown began (shutdown-timeout passed)
			// makes the exit status 1.
			return n.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "config file (YAML, TOML or JSON)")
	f.Int("port", def.Port, "RESP port for clients")
	f.String("bind", def.Bind, "address to listen on")
	f.String("data", def.Data, "data directory")
	f.String("requirepass", def.RequirePass, "password of table db0 when this node creates it (cluster bootstrap)")
	f.String("etcd", def.Etcd, "etcd endpoints host:port,... holding the cluster metadata (empty: run an embedded etcd under --data)")
	f.Int("password-hash-cost", def.PasswordHashCost, "bcrypt cost of the table passwords this node hashes as the manager (4..31; each step doubles the time)")
	f.String("etcd-cert", def.EtcdCert, "client certificate for --etcd (PEM; etcd's --client-cert-auth)")
	f.String("etcd-key", def.EtcdKey, "the key of --etcd-cert (PEM)")
	f.String("etcd-ca", def.EtcdCA, "CA that signed --etcd's certificate (PEM); any of the three turns TLS on")
	f.String("etcd-user", def.EtcdUser, "name:password for --etcd's authentication (prefer the environment: PIKA_ETCD_USER)")
	f.String("cluster", def.Cluster, "cluster name: metadata lives under /pika/<cluster>/ in etcd")
	f.String("etcd-listen", def.EtcdListen, "embedded etcd's client address (without --etcd); off loopback it serves TLS with the tls-* files and takes only clients with a certificate their CA signed")
	f.String("etcd-peer-listen", def.EtcdPeerListen, "embedded etcd's peer address (without --etcd)")
	f.Int("peer-port", def.PeerPort, "port for other nodes (0: port+10000)")
	f.Int("http-port", def.HTTPPort, "port for /healthz, /metrics and pikactl (0: port+20000)")
	f.Int("tls-port", def.TLSPort, "serve clients over TLS on this port too (0: no TLS); SIGHUP reloads the certificate files")
	f.String("tls-cert-file", def.TLSCertFile, "the TLS port's certificate (PEM)")
	f.String("tls-key-file", def.TLSKeyFile, "the TLS port's private key (PEM)")
	f.String("tls-ca-cert-file", def.TLSCACertFile, "CA certificates (PEM) that sign the clients' certificates")
	f.String("tls-auth-clients", def.TLSAuthClients, "yes: clients must show a certificate the CA signed; optional: if they show one; no")
	f.Bool("tls-cluster", def.TLSCluster, "mutual TLS on the peer port, with the tls-* files (every node of the cluster alike)")
	f.Bool("http-tls", def.HTTPTLS, "serve the HTTP port over TLS with the tls-* files, and call the other nodes' over TLS (every node alike)")
	f.String("http-bind", def.HTTPBind, "address the HTTP port listens on (default: --bind)")
	f.String("metrics-bind", def.MetricsBind, "host:port serving only /healthz and /metrics, besides the HTTP port (default: none)")
	f.String("admin-token-file", def.AdminTokenFile, "a file whose first line becomes the cluster's admin token when this node creates it (default: a random one, written to <data>/admin.token)")
	f.String("advertise", def.Advertise, "host other nodes and pikactl reach this node at (default: bind address, or the first non-loopback IPv4)")
	f.Duration("replica-down-timeout", def.ReplicaDownTimeout, "how long a node may be dead before its slot replicas are re-created on other nodes")
	f.Duration("move-step-pause", def.MoveStepPause, "testing: wait this long before each step of a slot move (to inject faults at a step)")
	f.Duration("unit-step-pause", def.UnitStepPause, "testing: wait this long before each step of a unit across nodes (to inject faults at a step)")
	f.String("advertise-peer", def.AdvertisePeer, "host:port other nodes dial for this node's peer port (default: advertise host and peer port)")
	f.Duration("lease-ttl", def.LeaseTTL, "how long the node's registration and manager role outlive it (whole seconds)")
	f.String("labels", def.Labels, "key=value,... labels registered with the node")
	f.Int64("slot-log-max-bytes", def.SlotLogMaxBytes, "bytes each slot's log (binlog) keeps at most")
	f.Duration("slot-log-max-age", def.SlotLogMaxAge, "slot log entries older than this are deleted")
	f.Duration("slot-log-trim-interval", def.SlotLogTrimInterval, "how often slot log retention runs")
	f.Int("bootstrap-expect", def.BootstrapExpect, "nodes that must have joined before the first manager creates db0 (spread over them)")
	f.Duration("forward-timeout", def.ForwardTimeout, "how long to wait for another node's reply to a forwarded command before answering CLUSTERDOWN")
	f.Int("block-cache-mb", def.BlockCacheMB, "RocksDB block cache in MiB")
	f.Int("write-buffer-mb", def.WriteBufferMB, "RocksDB memtable size per column family in MiB")
	f.String("appendfsync", def.AppendFsync, "when the WAL reaches the disk: everysec (once a second; raft rounds before they are acknowledged), always (every write before its reply), no (left to the OS)")
	f.Bool("sync-wal", def.SyncWAL, "the same as --appendfsync always")
	f.Bool("protected-mode", def.ProtectedMode, "refuse clients from other hosts while the default table (db0) has no password, as Redis's protected mode")
	f.Int64("min-free-disk", def.MinFreeDisk, "bytes kept free on the data directory's filesystem: below, clients' writes are refused (MISCONF) and the slots this node leads are handed to replicas; below half, every write (0: off)")
	f.String("enable-debug-command", def.EnableDebugCommand, "who may run DEBUG, as Redis's option: no, yes, or local (clients on this host's loopback)")
	f.String("wal-recovery", def.WALRecovery, "a WAL damaged before its end: torn-tail refuses to start, point-in-time starts without the writes after the damage")
	f.Int("maxclients", def.MaxClients, "maximum client connections")
	f.Duration("timeout", def.Timeout, "close client connections idle this long (0: never)")
	f.Duration("client-write-timeout", def.ClientWriteTimeout, "disconnect clients that do not read their replies for this long")
	f.Duration("shutdown-timeout", def.ShutdownTimeout, "after SIGTERM, exit after this long even if a command or connection has not stopped")
	f.Int64("client-query-buffer-limit", def.MaxQueryBytes, "largest command a client may send, in bytes")
	f.Int64("script-memory-limit", def.ScriptMemoryLimit, "how much the heap may grow while a Lua script runs before the script is stopped, in bytes")
	f.Int64("proto-max-bulk-len", def.MaxBulkBytes, "largest argument, in bytes")
	f.Int64("query-buffer-total", def.QueryBudgetBytes, "bytes all clients together may hold in commands being read")
	f.Int("client-output-buffer-limit", def.MaxOutputBytes, "bytes of replies queued for a client that does not read them before it is disconnected")
	f.Int("client-output-buffer-limit-pubsub", def.PubsubOutputBytes, "bytes of messages queued for a pub/sub subscriber that does not read them before it is disconnected")
	f.Int("client-output-buffer-limit-pubsub-soft", def.PubsubOutputSoftBytes, "a subscriber whose queued messages stay past these bytes for client-output-buffer-limit-pubsub-soft-time is disconnected (0: no soft limit)")
	f.Duration("client-output-buffer-limit-pubsub-soft-time", def.PubsubOutputSoftTime, "how long a subscriber's queue may stay past client-output-buffer-limit-pubsub-soft")
	f.Int64("output-buffer-total", def.OutputBudgetBytes, "bytes of replies queued for all clients together")
	f.Duration("expire-sweep-interval", def.ExpireSweepInterval, "how often expired keys are swept")
	f.Int("expire-sweep-keys", def.ExpireSweepKeys, "keys examined per expiry sweep step")
	f.Int("gomaxprocs", def.GoMaxProcs, "goroutines running Go code at once (0: 4 x CPUs)")
	f.String("log-level", def.LogLevel, "debug, info, warn or error")
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "config" {
			_ = v.BindPFlag(fl.Name, fl)
		}
	})
	v.SetEnvPrefix("PIKA")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	return cmd
}

// loadConfig merges file, environment and flags into a config.Config.
func loadConfig(v *viper.Viper, file string) (config.Config, error) {
	cfg := config.Default()
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	if err := v.Unmarshal(&cfg); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, errors.New("invalid configuration:\n" + err.Error())
	}
	return cfg, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
