package node

import (
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/pubsub"
	"github.com/pika-node/pika-node/node/tracking"
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
//
// The same events carry the writes' invalidations to the nodes that
// track their tables (CLIENT TRACKING, docs/tracking.md): one
// PubsubTracking message per key written, saying who wrote it (NOLOOP).
func (n *Node) publishEvents(evs *command.Events) {
	w := tracking.Writer{}
	if evs != nil && evs.Client != 0 {
		w = tracking.Writer{Node: string(n.id), Client: evs.Client}
	}
	n.publish(evs.Take(), w)
}

func (n *Node) publish(list []command.Event, w tracking.Writer) {
	if len(list) == 0 {
		return
	}
	on := command.EventClass(n.notifyClasses.Load())
	msgs := make([]pubsub.Message, 0, 2*len(list))
	// The keys written, per table that some node tracks, in order: one
	// message per table, after the keyspace events.
	var tracked map[storage.TableID]bool
	var written map[storage.TableID][][]byte
	var tables []storage.TableID
	for i, ev := range list {
		if ev.Notifies(on) {
			chans, payloads := ev.Channels(on)
			for i := range chans {
				msgs = append(msgs, pubsub.Message{Table: ev.Table, Kind: peer.PubsubChannel, Channel: chans[i], Payload: payloads[i]})
			}
		}
		if on&command.EventTracking == 0 || i > 0 && list[i-1].Table == ev.Table && string(list[i-1].Key) == string(ev.Key) {
			continue // one invalidation per key (LPOP's lpop and del)
		}
		t, ok := tracked[ev.Table]
		if !ok {
			if tracked == nil {
				tracked, written = map[storage.TableID]bool{}, map[storage.TableID][][]byte{}
			}
			t = n.pubsubCluster.Tracked(ev.Table)
			tracked[ev.Table] = t
			if t {
				tables = append(tables, ev.Table)
			}
		}
		if t {
			written[ev.Table] = append(written[ev.Table], ev.Key)
		}
	}
	for _, t := range tables {
		msgs = append(msgs, pubsub.Message{Table: t, Kind: peer.PubsubTracking, Channel: []byte{}, Payload: tracking.KeysPayload(w, written[t])})
	}
	n.pubsubCluster.PublishAll(msgs)
}

// keyExpired is the engine's hook for a key its expiry sweep deleted
// (storage.Engine.SetExpiredHook): the "expired" event.
func (n *Node) keyExpired(t storage.TableID, key []byte) {
	on := command.EventClass(n.notifyClasses.Load())
	ev := command.Event{Table: t, Class: command.EventExpired, Name: "expired", Key: key}
	if !ev.Notifies(on) && on&command.EventTracking == 0 {
		return
	}
	n.publish([]command.Event{ev}, tracking.Writer{})
}

// pubsubTrackingFlush is a flush's invalidation of table t (every key).
func pubsubTrackingFlush(t storage.TableID) []pubsub.Message {
	return []pubsub.Message{{Table: t, Kind: peer.PubsubTracking, Channel: []byte{}, Payload: tracking.FlushPayload()}}
}
