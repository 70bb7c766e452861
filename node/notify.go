package node

import (
	"context"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keyspace notifications (docs/pubsub.md, "Keyspace notifications"): the
// node that runs a command publishes its events once the command's
// writes are committed and before its reply goes out: for a key of one
// slot that is the slot's leader (a forwarded command's events are
// published by the leader running it), for a unit over several nodes its
// coordinator. Followers, full syncs, raft applies and slot moves copy
// effects, never events. Expired keys' events come from the expiry sweep
// of the slot's leader.
//
// notify-keyspace-events is cluster-wide: CONFIG SET writes it to etcd
// (meta.Layout.ConfigParam), applies it here and on every live node
// (CFGSET) before it answers; a node that missed that, or starts later,
// applies it from its metadata watch.

// notifyParam is the one cluster-wide parameter.
const notifyParam = "notify-keyspace-events"

// configWriteTimeout bounds CONFIG SET's write of a cluster-wide value.
const configWriteTimeout = 5 * time.Second

// setNotify applies a notify-keyspace-events value (canonical, as the
// configuration shows it) on this node, written to etcd at revision rev:
// a value older than the one applied (a watch behind a CFGSET) is not.
func (n *Node) setNotify(v string, rev int64) {
	n.notifyMu.Lock()
	defer n.notifyMu.Unlock()
	if rev < n.notifyRev {
		return
	}
	n.notifyRev = rev
	n.notifyValue.Store(&v)
	n.notifyClasses.Store(uint32(command.ParseEventClasses(v)))
}

// notifyShown is notify-keyspace-events as CONFIG GET shows it.
func (n *Node) notifyShown() string {
	if p := n.notifyValue.Load(); p != nil {
		return *p
	}
	return ""
}

// setClusterNotify is CONFIG SET notify-keyspace-events: written for every
// node, then applied here.
func (n *Node) setClusterNotify(v string) error {
	var rev int64
	if cli := n.etcdCli; cli != nil {
		ctx, cancel := context.WithTimeout(context.Background(), configWriteTimeout)
		defer cancel()
		key := meta.Layout{Cluster: n.cfg.Cluster}.ConfigParam(notifyParam)
		op := clientv3.OpPut(key, v)
		if v == "" {
			op = clientv3.OpDelete(key)
		}
		resp, err := cli.Do(ctx, op)
		if err != nil {
			return refusal("the cluster's configuration could not be written: " + err.Error())
		}
		if p := resp.Put(); p != nil {
			rev = p.Header.Revision
		} else if d := resp.Del(); d != nil {
			rev = d.Header.Revision
		}
	}
	n.setNotify(v, rev)
	n.tellAll(peer.ConfigSet{Param: notifyParam, Value: v, Revision: rev})
	return nil
}

// handleConfigSet applies another node's CONFIG SET of a cluster-wide
// parameter (CFGSET).
func (n *Node) handleConfigSet(r *resp.Reply, req peer.ConfigSet) {
	switch req.Param {
	case notifyParam:
		n.setNotify(req.Value, req.Revision)
	case aclUsersParam:
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
	n.setNotify(st.Config[notifyParam], st.Revision)
}

// publishEvents publishes the keyspace events evs kept, whose commands'
// writes are committed, and forgets them. It waits for their delivery on
// the other nodes (pubsub.Cluster.PublishAll): a client that has the
// reply of a command knows its events reached every subscriber.
func (n *Node) publishEvents(evs *command.Events) {
	n.publish(evs.Take())
}

func (n *Node) publish(list []command.Event) {
	if len(list) == 0 {
		return
	}
	on := command.EventClass(n.notifyClasses.Load())
	msgs := make([]pubsub.Message, 0, 2*len(list))
	for _, ev := range list {
		chans, payloads := ev.Channels(on)
		for i := range chans {
			msgs = append(msgs, pubsub.Message{Table: ev.Table, Kind: peer.PubsubChannel, Channel: chans[i], Payload: payloads[i]})
		}
	}
	n.pubsubCluster.PublishAll(msgs)
}

// keyExpired is the engine's hook for a key its expiry sweep deleted
// (storage.Engine.SetExpiredHook): the "expired" event.
func (n *Node) keyExpired(t storage.TableID, key []byte) {
	on := command.EventClass(n.notifyClasses.Load())
	if on&command.EventExpired == 0 || on&(command.EventKeyspace|command.EventKeyevent) == 0 {
		return
	}
	n.publish([]command.Event{{Table: t, Class: command.EventExpired, Name: "expired", Key: key}})
}
