package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/manager/embedetcd"
	"github.com/pika-node/pika-node/manager/etcdconn"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// bootstrapTable is the table the first manager of a cluster creates: the
// one every connection starts on. One replica, because a cluster usually
// starts as one node; raising it is a replica change (a later issue).
var bootstrapTable = meta.TableInfo{ID: storage.DefaultTable, Name: "db0", Slots: storage.DefaultSlots, Replicas: 1, Mode: meta.ModeAsync}

// loadNodeID returns the node's id from its storage, choosing and storing
// one at the first start.
func loadNodeID(eng *storage.Engine) (meta.NodeID, error) {
	v, ok, err := eng.NodeValue("id")
	if err != nil {
		return "", err
	}
	if ok {
		return meta.NodeID(v), nil
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	if err := eng.SetNodeValue("id", []byte(id)); err != nil {
		return "", err
	}
	return meta.NodeID(id), nil
}

// startControlPlane starts the embedded etcd when no --etcd is given,
// connects to etcd and builds the node's member of the control plane.
func (n *Node) startControlPlane() error {
	eps := etcdconn.Split(n.cfg.Etcd)
	if len(eps) == 0 {
		ecfg := embedetcd.Config{Dir: n.cfg.EtcdDir(), ClientAddr: n.cfg.EtcdListen, PeerAddr: n.cfg.EtcdPeerListen}
		if !n.cfg.EmbeddedEtcdOnLoopback() {
			ecfg.TLS = &embedetcd.TLSFiles{Cert: n.cfg.TLSCertFile, Key: n.cfg.TLSKeyFile, CA: n.cfg.TLSCACertFile}
		}
		srv, err := embedetcd.Start(ecfg)
		if err != nil {
			return fmt.Errorf("%w (is another etcd or pika-node using %s / %s? join it with --etcd, or move this one with --etcd-listen and --etcd-peer-listen)",
				err, n.cfg.EtcdListen, n.cfg.EtcdPeerListen)
		}
		n.etcd = srv
		eps = []string{srv.Endpoint()}
		n.log.Info("embedded etcd serving", "client", n.cfg.EtcdListen, "peer", n.cfg.EtcdPeerListen, "dir", n.cfg.EtcdDir(),
			"tls", ecfg.TLS != nil)
	}
	ecfg := clientv3.Config{
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Keepalives find a dead etcd connection in seconds, not minutes.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
	}
	opts := etcdconn.Options{Endpoints: eps}
	// The embedded etcd on loopback is plain: no credentials.
	switch {
	case n.etcd == nil:
		opts.CertFile, opts.KeyFile, opts.CAFile, opts.User = n.cfg.EtcdCert, n.cfg.EtcdKey, n.cfg.EtcdCA, n.cfg.EtcdUser
	case !n.cfg.EmbeddedEtcdOnLoopback(): // this node shows its own certificate to its member
		opts.CertFile, opts.KeyFile, opts.CAFile = n.cfg.TLSCertFile, n.cfg.TLSKeyFile, n.cfg.TLSCACertFile
	}
	if err := opts.Apply(&ecfg); err != nil {
		n.stopEtcd()
		return err
	}
	cli, err := clientv3.New(ecfg)
	if err != nil {
		n.stopEtcd()
		return fmt.Errorf("etcd client for %v: %w", eps, err)
	}
	n.etcdCli = cli
	labels := n.cfg.LabelMap()
	host := n.cfg.AdvertiseHost()
	self := meta.NodeInfo{
		ID:        n.id,
		RESP:      net.JoinHostPort(host, strconv.Itoa(n.cfg.Port)),
		Peer:      cmp.Or(n.cfg.AdvertisePeer, net.JoinHostPort(host, strconv.Itoa(n.cfg.PeerListenPort()))),
		HTTP:      net.JoinHostPort(host, strconv.Itoa(n.cfg.HTTPListenPort())),
		Version:   Version,
		Labels:    labels,
		StartedAt: n.started.UTC(),
	}
	n.member = manager.NewMember(manager.Config{
		Layout:             meta.Layout{Cluster: n.cfg.Cluster},
		Self:               self,
		LeaseTTL:           n.cfg.LeaseTTL,
		Bootstrap:          bootstrapTable,
		BootstrapPassword:  n.cfg.RequirePass,
		BootstrapExpect:    n.cfg.BootstrapExpect,
		DataDir:            n.cfg.Data,
		PasswordHashCost:   n.cfg.PasswordHashCost,
		HTTPTLS:            n.httpClientTLS(),
		AdminTokenFile:     n.cfg.AdminTokenFile,
		Positions:          n.slots.Positions,
		Checksum:           n.slots.Checksum,
		TransferLeader:     n.transferRaftLeader,
		SlotSize:           n.slots.Size,
		ReplicaDownTimeout: n.cfg.ReplicaDownTimeout,
		MoveStepPause:      n.cfg.MoveStepPause,
		Log:                n.log.With("component", "manager"),
	}, cli, n.applyState)
	n.disk.setMember(n.member, n.eng)
	return nil
}

func (n *Node) stopEtcd() {
	if n.etcdCli != nil {
		n.etcdCli.Close()
	}
	if n.etcd != nil {
		n.etcd.Close()
	}
}

// applyState turns a new metadata State into the routing snapshot the
// node serves from: tables new to this node get their slot counts loaded
// before the snapshot that serves them is published, and the data of
// tables the cluster dropped is deleted after. It runs on one goroutine.
func (n *Node) applyState(st *meta.State) {
	snap := router.NewSnapshot(st, n.id)
	for _, t := range snap.Tables() {
		if !n.eng.HasTable(t.ID) {
			if err := n.eng.EnsureTable(t.ID, t.Slots); err != nil {
				n.log.Error("load table", "table", t.Name, "id", t.ID, "err", err)
			}
		}
		n.roles.Apply(t)
	}
	if n.links != nil {
		n.links.SetSecret(snap.Secret)
	}
	if n.raft != nil {
		n.raft.Apply(snap)
	}
	n.txns.SetFunctions(st.Functions, st.Revision)
	n.applyClusterConfig(st)
	anyPassword := false
	for _, t := range snap.Tables() {
		anyPassword = anyPassword || t.HasPassword()
	}
	n.passwordTables.Store(anyPassword)
	tok := st.AdminTokenHash
	n.adminTokenHash.Store(&tok)
	n.applyUsers(st.ACLUsers, st.ACLRevision)
	prev := n.proxy.Publish(snap)
	if prev == nil || prev.Revision != snap.Revision {
		n.log.Debug("routing snapshot", "revision", snap.Revision, "tables", len(snap.Tables()))
	}
	if n.onDisk == nil {
		ids, err := n.eng.TablesOnDisk()
		if err != nil {
			n.log.Error("list tables on disk", "err", err)
		}
		n.onDisk = map[storage.TableID]bool{}
		for _, id := range ids {
			n.onDisk[id] = true
		}
	}
	for _, id := range snap.Dropped {
		if !n.onDisk[id] && !n.eng.HasTable(id) {
			continue
		}
		start := time.Now()
		if n.raft != nil {
			n.raft.RemoveTable(id)
		}
		if err := n.eng.DropTable(id); err != nil {
			n.log.Error("delete data of dropped table", "id", id, "err", err)
			continue
		}
		delete(n.onDisk, id)
		n.log.Info("deleted the data of a dropped table", "id", id, "took", time.Since(start))
	}
	if len(snap.Tables()) > 0 {
		n.readyOnce.Do(func() { close(n.ready) })
	}
}

// waitReady waits for the first snapshot that has a table, saying every
// few seconds what it waits for.
func (n *Node) waitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ready:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			msg := n.member.LastError()
			if msg == "" {
				msg = "no table yet (is a manager running?)"
			}
			n.log.Warn("waiting for the cluster metadata before serving clients", "etcd", n.cfg.Etcd, "cluster", n.cfg.Cluster, "last_error", msg)
		}
	}
}

// httpClientTLS is how this node calls the others' HTTP ports: nil for
// plain HTTP.
func (n *Node) httpClientTLS() *tls.Config {
	if !n.cfg.HTTPTLS {
		return nil
	}
	return n.tls.ClientConfig()
}
