package node

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/redisconf"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// Cluster-wide CONFIG parameters: notify-keyspace-events, and
// min-replicas-to-write / min-replicas-max-lag (any node may lead a
// slot, so what its writes need is the cluster's). CONFIG SET writes the
// value to etcd (meta.Layout.ConfigParam), applies it here and on every
// live node (CFGSET) before it answers; a node that missed that, or
// starts later, applies it from its metadata watch. A value older than
// the one applied (a watch behind a CFGSET) is not.

// The parameters' names.
const (
	notifyParam      = "notify-keyspace-events"
	minReplicasParam = "min-replicas-to-write"
	maxLagParam      = "min-replicas-max-lag"
)

// configWriteTimeout bounds CONFIG SET's write of a cluster-wide value.
const configWriteTimeout = 5 * time.Second

// clusterParam is one cluster-wide parameter on this node.
type clusterParam struct {
	// def is the value when none was set ("" in etcd: no record).
	def string
	// apply puts a value (canonical, as CONFIG GET shows it) in force.
	apply func(v string)
	mu    sync.Mutex
	rev   int64 // the etcd revision of the value applied
	value atomic.Pointer[string]
}

// newClusterParams makes the node's cluster-wide parameters.
func (n *Node) newClusterParams() map[string]*clusterParam {
	ps := map[string]*clusterParam{
		notifyParam: {apply: func(v string) { n.setNotifyClasses(command.ParseEventClasses(v)) }},
		minReplicasParam: {def: "0", apply: func(v string) {
			x, _ := strconv.ParseInt(v, 10, 64)
			n.minReplicas.Store(x)
		}},
		maxLagParam: {def: "10", apply: func(v string) {
			x, _ := strconv.ParseInt(v, 10, 64)
			n.minReplicasMaxLag.Store(x)
		}},
	}
	for _, p := range ps {
		p.apply(p.def) // until the cluster's values are read
	}
	return ps
}

// hookClusterParams makes CONFIG GET and SET of the cluster-wide
// parameters go through them.
func (n *Node) hookClusterParams(s *redisconf.Store) error {
	for name := range n.clusterParams {
		if err := s.Hook(name, redisconf.Hook{
			Get: func() string { return n.clusterParamShown(name) },
			Set: func(v string) error { return n.setClusterParam(name, v) },
		}); err != nil {
			return err
		}
	}
	return nil
}

// applyParam applies value v of parameter name, written to etcd at
// revision rev ("": the default), unless a newer one is in force.
func (n *Node) applyParam(name, v string, rev int64) {
	p := n.clusterParams[name]
	if v == "" {
		v = p.def
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if rev < p.rev {
		return
	}
	p.rev = rev
	p.value.Store(&v)
	p.apply(v)
}

// clusterParamShown is the value CONFIG GET shows.
func (n *Node) clusterParamShown(name string) string {
	p := n.clusterParams[name]
	if v := p.value.Load(); v != nil {
		return *v
	}
	return p.def
}

// setClusterParam is CONFIG SET of a cluster-wide parameter: written for
// every node, applied here, then on every live node.
func (n *Node) setClusterParam(name, v string) error {
	var rev int64
	if cli := n.etcdCli; cli != nil {
		ctx, cancel := context.WithTimeout(context.Background(), configWriteTimeout)
		defer cancel()
		key := meta.Layout{Cluster: n.cfg.Cluster}.ConfigParam(name)
		resp, err := cli.Put(ctx, key, v)
		if err != nil {
			return refusal("the cluster's configuration could not be written: " + err.Error())
		}
		rev = resp.Header.Revision
	}
	n.applyParam(name, v, rev)
	n.tellAll(peer.ConfigSet{Param: name, Value: v, Revision: rev})
	return nil
}

// handleConfigSet applies another node's CONFIG SET of a cluster-wide
// parameter, or its change of the ACL users (CFGSET).
func (n *Node) handleConfigSet(r *resp.Reply, req peer.ConfigSet) {
	switch _, ok := n.clusterParams[req.Param]; {
	case ok:
		n.applyParam(req.Param, req.Value, req.Revision)
	case req.Param == aclUsersParam:
		if err := n.applyUsersPushed(req.Value, req.Revision); err != nil {
			r.Error(peer.Refuse("ACL users: " + err.Error()))
			return
		}
	default:
		r.Error(peer.Refuse("no cluster-wide parameter " + req.Param))
		return
	}
	r.OK()
}

// applyClusterConfig applies the cluster-wide parameters of a metadata
// State (applyState).
func (n *Node) applyClusterConfig(st *meta.State) {
	for name := range n.clusterParams {
		n.applyParam(name, st.Config[name], st.Revision)
	}
}
