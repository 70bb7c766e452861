package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/manager/embedetcd"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/config"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/replication"
	"github.com/pika-node/pika-node/router"

	"github.com/pika-node/pika-node/node/blocking"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/latency"
	"github.com/pika-node/pika-node/node/listen"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/node/redisconf"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/node/slowlog"
	"github.com/pika-node/pika-node/node/stats"
	"github.com/pika-node/pika-node/node/tlsconf"
	"github.com/pika-node/pika-node/node/tracking"
	"github.com/pika-node/pika-node/node/txn"
	"github.com/pika-node/pika-node/storage"
)

// Version is the pika-node release, set at build time with
// -ldflags "-X github.com/pika-node/pika-node/node.Version=...".
var Version = "0.1.0-dev"

// redisVersion is the Redis version whose behaviour we match; clients read
// it from INFO and HELLO to decide which commands they may send.
const redisVersion = "7.0.15"

// Node is one pika-node process: listener, connections, storage.
type Node struct {
	cfg config.Config
	log *slog.Logger
	// tls holds the TLS files (the TLS port, --tls-cluster, --http-tls);
	// nil when none of them is on.
	tls *tlsconf.Server
	// passwords remembers the table passwords AUTH verified.
	passwords *passwordCache
	eng       *storage.Engine
	// disk tells the member (and the log) of the engine's disk level.
	disk    *diskWatch
	tbl     *command.Table
	cursors *command.Cursors
	stats   *stats.Commands
	// slowlog and latency are what SLOWLOG and LATENCY report of this
	// node (diagcmds.go).
	slowlog *slowlog.Log
	latency *latency.Monitor
	queries *resp.Budget // shared by every connection's reader
	outputs *resp.Budget // shared by every connection's reply queue
	started time.Time
	// requestStop ends Run as its context's end would (SHUTDOWN); set
	// by Run before any client connects.
	requestStop context.CancelFunc

	// live configuration that CONFIG SET may change; maxClients is
	// fitted to the open file limit (package listen)
	maxClients      *listen.MaxClients
	timeout         atomic.Int64 // ns
	shutdownTimeout atomic.Int64 // ns
	protectedMode   atomic.Bool
	// authLimit bounds failed AUTHs per source address, authFailures
	// counts them (authlimit.go).
	authLimit    *authLimiter
	authFailures atomic.Int64
	// users are the ACL users in force, aclLog the refusals (users.go,
	// acllog.go); adminTokenHash is the cluster admin token's record
	// (AUTH pika-admin); passwordTables says some table has a password
	// (the nopass default user is then held to a tenant's rules).
	users          *users
	aclLog         *aclLog
	adminTokenHash atomic.Pointer[string]
	passwordTables atomic.Bool
	// conf is what CONFIG GET/SET see (configparams.go)
	conf *redisconf.Store
	// clusterParams are the cluster-wide CONFIG parameters; what they
	// set: notifyClasses (notify-keyspace-events, command.EventClass),
	// minReplicas and minReplicasMaxLag (seconds) (clusterparams.go).
	clusterParams     map[string]*clusterParam
	notifyClasses     atomic.Uint32
	minReplicas       atomic.Int64
	minReplicasMaxLag atomic.Int64
	// pause is CLIENT PAUSE (pause.go), pausedClients the clients it
	// holds.
	pause         *clientPause
	pausedClients atomic.Int64

	clientsMu   sync.Mutex
	clients     map[uint64]*client
	closing     bool // clients no longer admitted: the node is stopping
	nextID      atomic.Uint64
	connsTotal  atomic.Int64
	rejected    atomic.Int64
	netIn       atomic.Int64
	netOut      atomic.Int64
	listener    net.Listener
	listenReady chan struct{}

	// the cluster: this node's id, its view of the metadata, etcd
	id meta.NodeID
	// txns runs the connections' MULTI blocks and multi-slot commands,
	// and takes part in other nodes' units (package txn).
	txns *txn.Txns
	// proxy holds the routing and carries out routing decisions (the
	// node's side is route.go).
	proxy   *router.Proxy
	member  *manager.Member
	etcd    *embedetcd.Server // nil with --etcd
	etcdCli *clientv3.Client
	onDisk  map[storage.TableID]bool // tables with data here; applyState's goroutine only
	// roles keeps the engine's slot roles in step with the routing
	// (applyState's goroutine only).
	roles     *replication.SlotRoles
	ready     chan struct{} // closed at the first snapshot with a table
	readyOnce sync.Once
	metrics   *stats.Metrics
	// links are the connections to the other nodes' peer ports, and
	// peerMux the peer port's request table (peerserver.go), built by
	// Run once raft mode exists.
	links   *peer.Links
	peerMux *peer.Mux[peerCall]
	// peerUnauthed counts the peer port's connections before PEERAUTH,
	// peerRejects rate-limits the log of its refusals (peerrejects.go).
	peerUnauthed atomic.Int64
	peerRejects  peerRejects
	shipper      *replication.Shipper
	// parts counts Run's goroutines, client and peer connections
	// included, by what they are (shutdown.go).
	parts *parts

	// raft mode (raft.go); nil until Run starts it
	raft *replication.Raft
	// async admits and commits the writes of async tables.
	async *replication.AsyncLeader
	// slots answers the manager's questions about this node's copies of
	// slots, and other nodes' (their positions, checksums and sizes).
	slots *replication.SlotQueries

	// pubsub holds the clients' subscriptions, pubsubCluster carries
	// messages and interest between the nodes (package pubsub).
	pubsub        *pubsub.Hub
	pubsubCluster *pubsub.Cluster
	// tracking is CLIENT TRACKING's state here (package tracking,
	// node/trackingcmds.go); trackMaxKeys is tracking-table-max-keys.
	tracking     *tracking.Table
	trackMaxKeys atomic.Int64
	// blocked holds the clients waiting in blocking commands here and
	// the registrations of other nodes' (package blocking).
	blocked *blocking.Registry

	// follower applies what the leaders of the slots this node follows
	// ship (REPLICATE, full syncs).
	follower *replication.Follower
}

// New opens the node's storage. Run serves it.
func New(cfg config.Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AdminTokenFile != "" {
		if _, err := manager.ReadAdminTokenFile(cfg.AdminTokenFile); err != nil {
			return nil, fmt.Errorf("admin-token-file: %w", err)
		}
	}
	var tlsServer *tlsconf.Server
	if cfg.TLSPort != 0 || cfg.TLSCluster || cfg.HTTPTLS {
		files := cfg.TLSFiles()
		if cfg.TLSPort == 0 {
			files.AuthClients = tlsconf.ClientAuthYes // the CA checks the other nodes
		}
		var err error
		if tlsServer, err = tlsconf.NewServer(files); err != nil {
			return nil, err
		}
	}
	fsync := storage.FsyncEverySec
	switch {
	case cfg.FsyncAlways():
		fsync = storage.FsyncAlways
	case cfg.AppendFsync == "no":
		fsync = storage.FsyncNo
	}
	walRecovery := storage.WALRecoverTornTail
	if cfg.WALPointInTime() {
		walRecovery = storage.WALRecoverPointInTime
	}
	disk := &diskWatch{log: log.With("component", "storage")}
	minFree := cfg.MinFreeDisk
	if minFree == 0 {
		minFree = -1 // off
	}
	eng, err := storage.Open(storage.Options{
		Dir:              cfg.DBDir(),
		BlockCacheBytes:  uint64(cfg.BlockCacheMB) << 20,
		WriteBufferBytes: uint64(cfg.WriteBufferMB) << 20,
		Fsync:            fsync,
		WALRecovery:      walRecovery,
		MinFreeDisk:      minFree,
		OnDiskLevel:      disk.changed,
	})
	if err != nil {
		return nil, err
	}
	id, err := loadNodeID(eng)
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("node id: %w", err)
	}
	n := &Node{
		cfg:         cfg,
		log:         log,
		eng:         eng,
		disk:        disk,
		tbl:         command.NewTable(),
		cursors:     command.NewCursors(100_000, 64<<20),
		queries:     resp.NewBudget(cfg.QueryBudgetBytes),
		outputs:     resp.NewBudget(cfg.OutputBudgetBytes),
		started:     time.Now(),
		clients:     map[uint64]*client{},
		listenReady: make(chan struct{}),
		tls:         tlsServer,
		passwords:   newPasswordCache(),
		id:          id,
		ready:       make(chan struct{}),
		parts:       newParts(),
		pause:       newClientPause(),
		authLimit:   newAuthLimiter(),
		users:       newUsers(cfg.PasswordHashCost),
		aclLog:      newACLLog(),
	}
	lc := peer.LinksConfig{Self: string(n.id), MaxForwardReply: n.cfg.MaxQueryBytes}
	if cfg.TLSCluster {
		lc.TLS = tlsServer.ClientConfig()
	}
	n.links = peer.NewLinks(lc)
	n.proxy = n.newProxy()
	n.async = &replication.AsyncLeader{Self: n.id, Routing: n.proxy.Routing,
		// n.member exists before the node serves (startControlPlane).
		LeaseHeld: func(rev int64) bool { return n.member.LeaseHeld(rev) },
		MinReplicas: func() (int, time.Duration) {
			return int(n.minReplicas.Load()), time.Duration(n.minReplicasMaxLag.Load()) * time.Second
		},
		GoodFollowers: func(t storage.TableID, s storage.SlotID, lag time.Duration) int {
			if n.shipper == nil { // made by Run, before the node serves
				return 0
			}
			return n.shipper.GoodFollowers(t, s, lag)
		}}
	n.follower = replication.NewFollower(n.id, eng, n.proxy.Routing, log.With("component", "replication"))
	n.roles = replication.NewSlotRoles(n.id, eng, log.With("component", "replication"))
	n.slots = &replication.SlotQueries{Self: n.id, Store: eng, Links: n.links, Routing: n.proxy.Routing}
	n.txns = n.newTxns()
	n.blocked = blocking.New(blocking.Config{Self: n.id, Engine: eng, Links: n.links, Routing: n.proxy.Routing, Synced: n.slotSynced, Log: log.With("component", "blocking")})
	n.pubsub = pubsub.NewHub()
	n.pubsubCluster = pubsub.NewCluster(n.pubsub, pubsub.ClusterConfig{
		Self: string(n.id), Incarnation: uint64(time.Now().UnixNano()), Links: n.links,
		Peers: n.livePeers, Log: log.With("component", "pubsub"),
		OnTracking: n.setTracking, OnPeerGone: n.trackingPeerGone,
	})
	n.newTracking()
	eng.SetExpiredHook(n.keyExpired)
	n.maxClients, err = listen.NewMaxClients(cfg.MaxClients, eng.SSTFiles(), log)
	if err != nil {
		eng.Close()
		return nil, err
	}
	n.timeout.Store(int64(cfg.Timeout))
	n.protectedMode.Store(cfg.ProtectedMode)
	n.shutdownTimeout.Store(int64(cfg.ShutdownTimeout))
	n.clusterParams = n.newClusterParams()
	n.slowlog, n.latency = slowlog.New(), latency.NewMonitor()
	n.conf = n.newConfigStore()
	n.registerServerCommands()
	n.registerDiagCommands()
	n.registerPubsubCommands()
	n.txns.Register()
	n.stats = stats.NewCommands(n.tbl)
	n.metrics = stats.NewMetrics(stats.Source{
		Self:         n.id,
		Commands:     n.stats,
		Clients:      n.connectedClients,
		Connections:  &n.connsTotal,
		AuthFailures: &n.authFailures,
		NetIn:        &n.netIn,
		NetOut:       &n.netOut,
		Engine:       n.eng,
		Routing:      n.proxy.Routing,
		Shipper:      func() *replication.Shipper { return n.shipper },
		Member:       func() *manager.Member { return n.member },
		Scripts:      n.txns.ScriptCounts,
	})
	return n, nil
}

// Addr is the listening address once Run has started listening.
func (n *Node) Addr() net.Addr {
	<-n.listenReady
	return n.listener.Addr()
}

// ID is the node's id in the cluster.
func (n *Node) ID() meta.NodeID { return n.id }

// Run serves clients until ctx is done, then stops accepting, closes the
// connections, waits for their commands and closes storage, giving up
// after shutdown-timeout (see stop). It binds its
// ports first, joins the cluster (starting the embedded etcd without
// --etcd), and accepts clients once it has the cluster's tables.
func (n *Node) Run(ctx context.Context) error {
	ctx, n.requestStop = context.WithCancel(ctx)
	defer n.requestStop()
	addr := net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.eng.Close()
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	haddr := n.cfg.HTTPListenAddr()
	hln, err := net.Listen("tcp", haddr)
	if err != nil {
		ln.Close()
		n.eng.Close()
		return fmt.Errorf("listen %s (HTTP): %w", haddr, err)
	}
	if n.cfg.HTTPTLS {
		// The admin token authenticates; clients show no certificate.
		hln = tls.NewListener(hln, n.tls.ServerConfig(tlsconf.ClientAuthNo))
	}
	var mln net.Listener
	if n.cfg.MetricsBind != "" {
		if mln, err = net.Listen("tcp", n.cfg.MetricsBind); err != nil {
			ln.Close()
			hln.Close()
			n.eng.Close()
			return fmt.Errorf("listen %s (metrics): %w", n.cfg.MetricsBind, err)
		}
	}
	var tln net.Listener
	if n.cfg.TLSPort != 0 {
		taddr := net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.TLSPort))
		if tln, err = net.Listen("tcp", taddr); err != nil {
			ln.Close()
			hln.Close()
			closeListener(mln)
			n.eng.Close()
			return fmt.Errorf("listen %s (TLS port): %w", taddr, err)
		}
	}
	paddr := net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.PeerListenPort()))
	pln, err := net.Listen("tcp", paddr)
	if err != nil {
		ln.Close()
		hln.Close()
		closeListener(mln)
		closeListener(tln)
		n.eng.Close()
		return fmt.Errorf("listen %s (peer port): %w", paddr, err)
	}
	if err := n.startControlPlane(); err != nil {
		ln.Close()
		hln.Close()
		closeListener(mln)
		closeListener(tln)
		pln.Close()
		n.eng.Close()
		return err
	}
	n.shipper = replication.NewShipper(replication.Config{Self: n.id, Log: n.log.With("component", "replication")}, n.eng, n.links, n.proxy.Routing)
	n.startRaft()
	n.peerMux = n.newPeerMux() // its handlers include raft mode's
	n.txns.Recover()           // resolves the parts pending here, once the routing is in
	n.listener = ln
	close(n.listenReady)
	n.log.Info("pika-node starting", "node", n.id, "addr", ln.Addr().String(), "http", hln.Addr().String(),
		"data", n.cfg.Data, "version", Version, "cluster", n.cfg.Cluster, "etcd", n.etcdDescription())

	g, gctx := errgroup.WithContext(ctx)
	run := func(part string, f func() error) {
		done := n.parts.start(part)
		g.Go(func() error {
			defer done()
			return f()
		})
	}
	hsrv := n.httpServer()
	msrv := n.metricsServer()
	run("shutdown", func() error {
		<-gctx.Done()
		ln.Close()
		closeListener(tln)
		pln.Close()
		n.txns.StopScripts() // a script that loops forever holds its connection
		n.closeAllClients()
		// etcd's election, cancelled, resigns with the client's own
		// context: with etcd unreachable that never returns until the
		// client closes. Give a clean stop (lease revoked) a moment.
		time.AfterFunc(2*time.Second, func() { n.etcdCli.Close() })
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hsrv.Shutdown(sctx)
		_ = msrv.Shutdown(sctx)
		return nil
	})
	if mln != nil {
		run("metrics server", func() error {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics http: %w", err)
			}
			return nil
		})
	}
	run("http server", func() error {
		// (net/http's Serve backs off and retries when Accept fails
		// for want of file descriptors, as listen.Loop does.)
		if err := hsrv.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	run("raft", func() error { return n.raft.Run(gctx) })
	run("cluster membership", func() error { return n.member.Run(gctx) })
	run("peer listener", func() error {
		return n.accept(gctx, pln, "peers", func(c net.Conn) {
			if n.cfg.TLSCluster {
				if c = n.handshake(gctx, c, n.tls.ServerConfig(tlsconf.ClientAuthYes)); c == nil {
					return
				}
			}
			n.servePeer(gctx, c)
		})
	})
	if n.etcd != nil {
		run("embedded etcd watch", func() error {
			select {
			case err := <-n.etcd.Err():
				return fmt.Errorf("embedded etcd failed: %w", err)
			case <-gctx.Done():
				return nil
			}
		})
	}
	run("expiry sweep", func() error {
		n.eng.SweepExpired(gctx, n.cfg.ExpireSweepInterval, n.cfg.ExpireSweepKeys, n.commits)
		return nil
	})
	run("slot log trim", func() error {
		n.eng.TrimLogs(gctx, n.cfg.SlotLogTrimInterval, storage.LogRetention{MaxBytes: uint64(n.cfg.SlotLogMaxBytes), MaxAge: n.cfg.SlotLogMaxAge})
		return nil
	})
	run("blocked clients", func() error {
		n.blocked.Run(gctx)
		return nil
	})
	run("pub/sub", func() error {
		n.pubsubCluster.Run(gctx)
		return nil
	})
	run("replication", func() error {
		n.shipper.Run(gctx)
		return nil
	})
	run("client listener", func() error {
		if err := n.waitReady(gctx); err != nil {
			return nil
		}
		n.log.Info("pika-node serving", "addr", ln.Addr().String(), "tables", len(n.proxy.Routing().Tables()))
		return n.accept(gctx, ln, "clients", func(c net.Conn) { n.serveConn(gctx, c) })
	})
	if tln != nil {
		run("TLS client listener", func() error {
			if err := n.waitReady(gctx); err != nil {
				return nil
			}
			n.log.Info("pika-node serving TLS", "addr", tln.Addr().String(), "auth_clients", n.cfg.TLSAuthClients)
			return n.accept(gctx, tln, "clients", func(c net.Conn) { n.serveTLS(gctx, c) })
		})
	}
	<-gctx.Done()
	return n.stop(g)
}

// accept accepts the connections of ln until ctx is done, backing off
// while Accept fails (listen.Loop), and serves each on a goroutine
// counted in n.parts as part ("clients", "peers": Run waits for them,
// and names them if they do not stop in time).
func (n *Node) accept(ctx context.Context, ln net.Listener, part string, serve func(net.Conn)) error {
	return listen.Loop{Name: part, Log: n.log, Track: n.parts.start, Serve: serve}.Run(ctx, ln)
}

func (n *Node) etcdDescription() string {
	if n.etcd != nil {
		return "embedded " + n.etcd.Endpoint()
	}
	return n.cfg.Etcd
}
