package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
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
	cfg     Config
	log     *slog.Logger
	eng     *storage.Engine
	tbl     *command.Table
	cursors *command.Cursors
	stats   *commandStats
	queries *resp.Budget // shared by every connection's reader
	outputs *resp.Budget // shared by every connection's reply queue
	started time.Time

	// live configuration that CONFIG SET may change
	requirePass atomic.Pointer[string]
	maxClients  atomic.Int64
	timeout     atomic.Int64 // ns

	clientsMu   sync.Mutex
	clients     map[uint64]*client
	nextID      atomic.Uint64
	connsTotal  atomic.Int64
	rejected    atomic.Int64
	netIn       atomic.Int64
	netOut      atomic.Int64
	listener    net.Listener
	listenReady chan struct{}
}

// New opens the node's storage. Run serves it.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	eng, err := storage.Open(storage.Options{
		Dir:              cfg.dbDir(),
		BlockCacheBytes:  uint64(cfg.BlockCacheMB) << 20,
		WriteBufferBytes: uint64(cfg.WriteBufferMB) << 20,
		SyncWAL:          cfg.SyncWAL,
	})
	if err != nil {
		return nil, err
	}
	if err := eng.EnsureTable(storage.DefaultTable, storage.DefaultSlots); err != nil {
		eng.Close()
		return nil, err
	}
	n := &Node{
		cfg:         cfg,
		log:         log,
		eng:         eng,
		tbl:         command.NewTable(),
		cursors:     command.NewCursors(100_000, 64<<20),
		queries:     resp.NewBudget(cfg.QueryBudgetBytes),
		outputs:     resp.NewBudget(cfg.OutputBudgetBytes),
		started:     time.Now(),
		clients:     map[uint64]*client{},
		listenReady: make(chan struct{}),
	}
	pass := cfg.RequirePass
	n.requirePass.Store(&pass)
	n.maxClients.Store(int64(cfg.MaxClients))
	n.timeout.Store(int64(cfg.Timeout))
	n.registerServerCommands()
	n.stats = newCommandStats(n.tbl)
	return n, nil
}

// Addr is the listening address once Run has started listening.
func (n *Node) Addr() net.Addr {
	<-n.listenReady
	return n.listener.Addr()
}

// Run serves clients until ctx is done, then stops accepting, closes the
// connections, waits for their commands and closes storage.
func (n *Node) Run(ctx context.Context) error {
	addr := net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.eng.Close()
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	n.listener = ln
	close(n.listenReady)
	n.log.Info("pika-node serving", "addr", ln.Addr().String(), "data", n.cfg.Data, "version", Version)

	g, gctx := errgroup.WithContext(ctx)
	var conns sync.WaitGroup
	g.Go(func() error {
		<-gctx.Done()
		ln.Close()
		n.closeAllClients()
		return nil
	})
	g.Go(func() error {
		n.eng.SweepExpired(gctx, n.cfg.ExpireSweepInterval, n.cfg.ExpireSweepKeys)
		return nil
	})
	g.Go(func() error {
		for {
			c, err := ln.Accept()
			if err != nil {
				if gctx.Err() != nil {
					return nil
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return fmt.Errorf("accept: %w", err)
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				n.serveConn(gctx, c)
			}()
		}
	})
	err = g.Wait()
	conns.Wait()
	n.eng.Close()
	n.log.Info("pika-node stopped")
	return err
}
