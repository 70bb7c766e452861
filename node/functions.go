package node

import (
	"context"
	"errors"

	"github.com/pika-node/pika-node/manager/meta"
)

// functionStore is txn.FunctionStore over the cluster's etcd: the node's
// client, made when the node starts.
type functionStore struct{ n *Node }

var errNoEtcd = errors.New("the node is not connected to etcd yet")

func (s functionStore) Read(ctx context.Context) (meta.FunctionsRecord, error) {
	if s.n.etcdCli == nil {
		return meta.FunctionsRecord{}, errNoEtcd
	}
	return meta.ReadFunctions(ctx, s.n.etcdCli, meta.Layout{Cluster: s.n.cfg.Cluster})
}

func (s functionStore) Write(ctx context.Context, libs meta.Functions, rev int64) (int64, bool, error) {
	if s.n.etcdCli == nil {
		return 0, false, errNoEtcd
	}
	return meta.WriteFunctions(ctx, s.n.etcdCli, meta.Layout{Cluster: s.n.cfg.Cluster}, libs, rev)
}
