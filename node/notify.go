package node

import (
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
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
// notify-keyspace-events is cluster-wide (clusterparams.go).

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
