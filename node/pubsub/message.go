package pubsub

import (
	"sync"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// message is one published message, encoded once per protocol (and per
// pattern that matched) for all its receivers.
type message struct {
	kind    peer.PubsubKind // PubsubChannel or PubsubShard
	channel []byte
	payload []byte
	pattern string // set for the receivers of one pattern

	mu     sync.Mutex
	frames [2][]byte // RESP2, RESP3
}

// frame is the message's push in the protocol asked for: message,
// pmessage or smessage, as redis-server sends them. The bytes are shared
// by every receiver and never written again.
func (m *message) frame(resp3 bool) []byte {
	i := 0
	if resp3 {
		i = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.frames[i] != nil {
		return m.frames[i]
	}
	r := resp.Reply{Resp3: resp3}
	switch {
	case m.pattern != "":
		r.Push(4)
		r.BulkString("pmessage")
		r.BulkString(m.pattern)
	case m.kind == peer.PubsubShard:
		r.Push(3)
		r.BulkString("smessage")
	default:
		r.Push(3)
		r.BulkString("message")
	}
	r.Bulk(m.channel)
	r.Bulk(m.payload)
	m.frames[i] = r.B
	return r.B
}
