package manager

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pika-node/pika-node/manager/meta"
)

// Config is what a Member needs to know about its node and cluster.
type Config struct {
	Layout meta.Layout
	// Self is this node's registration; Self.ID must be set.
	Self meta.NodeInfo
	// LeaseTTL is how long the node's registration and manager role
	// outlive the node: a killed manager is replaced after about this long.
	LeaseTTL time.Duration
	// Bootstrap is the table created when the cluster has none (db0).
	Bootstrap meta.TableInfo
	// BootstrapPassword is db0's password, "" for none.
	BootstrapPassword string
	// HTTPTLS, when set, is how this node calls the other nodes' HTTP
	// ports (all HTTPS: --http-tls is cluster-wide). Nil: plain HTTP.
	HTTPTLS *tls.Config
	// PasswordHashCost is bcrypt's cost for the table passwords this
	// node hashes as the manager (meta.HashPasswordCost). 0: 10.
	PasswordHashCost int
	// DataDir is the node's data directory: the manager that creates the
	// cluster's admin token writes it there (AdminTokenFileName).
	DataDir string
	// AdminTokenFile, when set, holds the token to make the cluster's
	// admin token at its creation, instead of a random one.
	AdminTokenFile string
	// BootstrapExpect is how many nodes must be alive before the
	// bootstrap table is created (its slots are spread over them).
	BootstrapExpect int
	// Positions asks a node for its log positions of some slots of a
	// table (failover promotes the most advanced follower). Nil: slots
	// whose leader dies are not failed over.
	Positions PositionsFunc
	// Checksum asks a node for its checksum of a slot (slot check).
	Checksum ChecksumFunc
	// TransferLeader asks node, the leader of a raft slot, to hand its
	// leadership to another replica (raft switchover and drain).
	TransferLeader func(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID, to meta.NodeID) error
	// SlotSize asks node for its estimate of a slot's size in bytes (slot
	// moves report it). Nil: sizes are not known.
	SlotSize func(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID) (int64, error)
	// MoveStepPause is a wait before each step of a slot move, for tests
	// that kill nodes at a chosen step. 0 in production.
	MoveStepPause time.Duration
	// ReplicaDownTimeout is how long a replica's node may be dead before
	// the manager puts the slot's copy on another node. 0: never.
	ReplicaDownTimeout time.Duration
	// ApplyWait is how long a table create or drop waits for every live
	// node to apply it before answering (naming the nodes that did not).
	// 0: 5 s.
	ApplyWait time.Duration
	Log       *slog.Logger
}

// Position is a slot replica's log position: the epoch and index of its
// last entry.
type Position struct {
	Epoch meta.Epoch
	Index uint64
	// Serving is the slot's routing epoch on the node that answered: at
	// or past a switchover's fence, no write of the slot can be admitted
	// there any more, and (Epoch, Index) was read after the writes in
	// flight committed.
	Serving meta.Epoch
}

// SameLog reports whether p and q are the same place in a slot's log.
func (p Position) SameLog(q Position) bool { return p.Epoch == q.Epoch && p.Index == q.Index }

// Less orders positions: a higher epoch wins, then a higher index.
func (p Position) Less(q Position) bool {
	if p.Epoch != q.Epoch {
		return p.Epoch < q.Epoch
	}
	return p.Index < q.Index
}

// PositionsFunc returns node's positions of the given slots of table t.
type PositionsFunc func(ctx context.Context, node meta.NodeInfo, t meta.TableID, slots []meta.SlotID) (map[meta.SlotID]Position, error)

// SlotSum is a replica's checksum of a slot at its log position.
type SlotSum struct {
	Index uint64
	Epoch meta.Epoch
	Sum   uint64
	Keys  int64
}

// ChecksumFunc returns node's checksum of slot s of table t.
type ChecksumFunc func(ctx context.Context, node meta.NodeInfo, t meta.TableID, s meta.SlotID) (SlotSum, error)

// Member is one node's part in the control plane.
type Member struct {
	cfg Config
	cli *clientv3.Client
	log *slog.Logger

	state     atomic.Pointer[meta.State]
	stateCh   chan struct{} // closed and replaced on every new state
	stateMu   sync.Mutex
	onState   func(*meta.State)
	connected atomic.Bool // the node's lease is alive
	// fence is what the node knows of its lease (lease.go); nil while it
	// has none.
	fence   atomic.Pointer[leaseFence]
	lastErr atomic.Pointer[string]

	// lead is the manager role while this node holds it, else nil.
	lead atomic.Pointer[leadership]
	// opMu serializes the manager's operations.
	opMu sync.Mutex
	// catchUp coalesces the etcd reads of CatchUpTables.
	catchUp catchUp
	// diskFull is what the node's registration says of its disk
	// (SetDiskFull); diskChanged wakes the session to write it again.
	diskFull    atomic.Bool
	diskChanged chan struct{}
}

// NewMember returns a member that talks to etcd through cli. onState is
// called (from one goroutine) with every new metadata State.
func NewMember(cfg Config, cli *clientv3.Client, onState func(*meta.State)) *Member {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	m := &Member{cfg: cfg, cli: cli, log: cfg.Log, onState: onState, stateCh: make(chan struct{}), diskChanged: make(chan struct{}, 1)}
	return m
}

// State returns the latest metadata, nil before the first load.
func (m *Member) State() *meta.State { return m.state.Load() }

// Connected reports whether the node's lease is alive (etcd reachable).
func (m *Member) Connected() bool { return m.connected.Load() }

// LastError is the last etcd failure seen, "" if none since connecting.
func (m *Member) LastError() string {
	if p := m.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// IsManager reports whether this node holds the manager role.
func (m *Member) IsManager() bool { return m.lead.Load() != nil }

// Self is this node's registration.
func (m *Member) Self() meta.NodeInfo { return m.cfg.Self }

// WaitState waits until cond holds for the current state or ctx is done.
func (m *Member) WaitState(ctx context.Context, cond func(*meta.State) bool) (*meta.State, error) {
	for {
		m.stateMu.Lock()
		ch := m.stateCh
		m.stateMu.Unlock()
		if st := m.state.Load(); st != nil && cond(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// setState publishes a new state: first to the node (its routing), then
// to State and WaitState callers, so that an API write answered once the
// state shows it is also served (TestEmbeddedRestartKeepsMetadata caught
// a SELECT of a just-created table refused in between).
func (m *Member) setState(st *meta.State) {
	if m.onState != nil {
		m.onState(st)
	}
	m.state.Store(st)
	m.stateMu.Lock()
	close(m.stateCh)
	m.stateCh = make(chan struct{})
	m.stateMu.Unlock()
}

func (m *Member) fail(what string, err error) {
	s := fmt.Sprintf("%s: %v", what, err)
	m.lastErr.Store(&s)
	m.log.Warn("etcd", "op", what, "err", err)
}

// Run keeps the node registered, its view current and its candidacy up
// until ctx is done. Losing etcd is not fatal: the node keeps its last
// view and tries again.
func (m *Member) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		meta.Watch(ctx, m.cli, m.cfg.Layout, m.setState, func(err error) { m.fail("watch", err) })
	}()
	defer wg.Wait()
	retry := time.Duration(0)
	for ctx.Err() == nil {
		if retry > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
		}
		retry = min(max(2*retry, 200*time.Millisecond), 2*time.Second)
		if err := m.session(ctx); err != nil && ctx.Err() == nil {
			m.fail("session", err)
		} else {
			retry = 0
		}
	}
	return nil
}

// session runs one lease's life: register, campaign, lead; it returns
// when the lease is lost or ctx is done.
func (m *Member) session(ctx context.Context) error {
	ttl := max(int64(m.cfg.LeaseTTL.Round(time.Second)/time.Second), 1)
	granted := time.Now()
	grant, err := m.cli.Grant(ctx, ttl)
	if err != nil {
		return fmt.Errorf("create lease: %w", err)
	}
	sess, err := concurrency.NewSession(m.cli, concurrency.WithLease(grant.ID), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("create lease session: %w", err)
	}
	defer func() {
		// Revoke on a clean stop so the role moves at once; after a lost
		// lease this fails fast and the lease is gone anyway.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := m.cli.Revoke(rctx, sess.Lease()); err != nil && ctx.Err() == nil {
			m.log.Debug("revoke lease", "err", err)
		}
		sess.Orphan()
	}()
	rev, err := m.register(ctx, sess.Lease())
	if err != nil {
		return err
	}
	m.fence.Store(&leaseFence{validUntil: granted.Add(time.Duration(ttl) * time.Second), minRevision: rev})
	defer m.fence.Store(nil)
	m.connected.Store(true)
	m.lastErr.Store(nil)
	m.log.Info("registered in the cluster", "node", m.cfg.Self.ID, "cluster", m.cfg.Layout.Cluster, "lease_ttl", m.cfg.LeaseTTL)
	defer m.connected.Store(false)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var renewing sync.WaitGroup
	defer func() {
		cancel()
		renewing.Wait()
	}()
	m.renewLease(sctx, &renewing, sess.Lease(), time.Duration(ttl)*time.Second)
	renewing.Go(func() { m.publishDisk(sctx, sess.Lease()) })
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	elect := concurrency.NewElection(sess, m.cfg.Layout.Election())
	if err := elect.Campaign(sctx, string(m.cfg.Self.ID)); err != nil {
		if sctx.Err() != nil {
			if ctx.Err() == nil {
				return errors.New("lease lost")
			}
			return nil
		}
		return fmt.Errorf("campaign: %w", err)
	}
	l := &leadership{m: m, elect: elect, key: elect.Key(), rev: elect.Rev()}
	m.lead.Store(l)
	m.log.Info("manager role won", "node", m.cfg.Self.ID)
	defer func() {
		m.lead.Store(nil)
		m.log.Info("manager role lost", "node", m.cfg.Self.ID)
	}()
	if err := l.takeOver(sctx); err != nil && sctx.Err() == nil {
		m.fail("manager take-over", err)
	}
	var loops sync.WaitGroup
	defer loops.Wait() // sctx is done by then: the loops stop
	if m.cfg.Positions != nil {
		loops.Go(func() { l.failoverLoop(sctx) })
	}
	loops.Go(func() { l.moveLoop(sctx) })
	<-sctx.Done()
	if ctx.Err() == nil {
		return errors.New("lease lost")
	}
	return nil
}

// SetDiskFull says whether the node's disk is below its reserve: the
// node's registration says so (written again at once while the lease
// lives, else at the next registration), and the manager hands the slots
// the node leads to replicas that can write.
func (m *Member) SetDiskFull(full bool) {
	if m.diskFull.Swap(full) != full {
		select {
		case m.diskChanged <- struct{}{}:
		default:
		}
	}
}

// publishDisk writes the registration again on each change of
// SetDiskFull, until ctx ends (the session's).
func (m *Member) publishDisk(ctx context.Context, lease clientv3.LeaseID) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.diskChanged:
		}
		for {
			if _, err := m.register(ctx, lease); err == nil || ctx.Err() != nil {
				break
			} else {
				m.log.Warn("publish the disk's state", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// register writes the node's live key under the lease and its member
// record; it returns the revision of that write.
func (m *Member) register(ctx context.Context, lease clientv3.LeaseID) (int64, error) {
	self := m.cfg.Self
	self.DiskFull = m.diskFull.Load()
	b, err := json.Marshal(self)
	if err != nil {
		return 0, err
	}
	l := m.cfg.Layout
	resp, err := m.cli.Txn(ctx).Then(
		clientv3.OpPut(l.Node(m.cfg.Self.ID), string(b), clientv3.WithLease(lease)),
		clientv3.OpPut(l.Member(m.cfg.Self.ID), string(b)),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("register node %s: %w", m.cfg.Self.ID, err)
	}
	return resp.Header.Revision, nil
}

// passwordCost is Config.PasswordHashCost, 10 when unset.
func (m *Member) passwordCost() int {
	if m.cfg.PasswordHashCost == 0 {
		return 10
	}
	return m.cfg.PasswordHashCost
}
