package stream

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt reports a record this package could not have written.
var ErrCorrupt = errors.New("stream: corrupt record")

// NodeMaxEntries is redis-server's stream-node-max-entries default: a
// radix-tree node (listpack) takes this many entries, deleted ones
// included, before XADD starts another. Approximate trimming removes
// whole nodes only, so pika-node keeps the same nodes (docs/streams.md).
const NodeMaxEntries = 100

// Meta is a stream's metadata, kept in its meta value.
type Meta struct {
	Length       uint64
	EntriesAdded uint64
	LastID       ID
	FirstID      ID // 0-0 when empty
	MaxDeleted   ID
	// LastNode is the key (first entry's ID) of the last radix-tree node
	// XADD appended to, which may since have been removed.
	LastNode ID
}

const metaLen = 8 + 8 + 16 + 16 + 16 + 16

// Encode returns m's bytes.
func (m *Meta) Encode() []byte {
	b := make([]byte, 0, metaLen)
	b = binary.BigEndian.AppendUint64(b, m.Length)
	b = binary.BigEndian.AppendUint64(b, m.EntriesAdded)
	b = m.LastID.AppendBinary(b)
	b = m.FirstID.AppendBinary(b)
	b = m.MaxDeleted.AppendBinary(b)
	return m.LastNode.AppendBinary(b)
}

// DecodeMeta reads Encode's bytes.
func DecodeMeta(b []byte) (Meta, error) {
	if len(b) != metaLen {
		return Meta{}, ErrCorrupt
	}
	return Meta{
		Length:       binary.BigEndian.Uint64(b),
		EntriesAdded: binary.BigEndian.Uint64(b[8:]),
		LastID:       DecodeID(b[16:]),
		FirstID:      DecodeID(b[32:]),
		MaxDeleted:   DecodeID(b[48:]),
		LastNode:     DecodeID(b[64:]),
	}, nil
}

// The kinds of a stream's data-CF members: the member key's first byte.
const (
	KindEntry    = 'e' // 'e' | id                          -> Entry
	KindNode     = 'n' // 'n' | first id of the node        -> Node
	KindGroup    = 'g' // 'g' | group                       -> Group
	KindConsumer = 'c' // 'c' | len u32 | group | consumer  -> Consumer
	KindPending  = 'p' // 'p' | len u32 | group | id        -> Pending
	KindOwned    = 'q' // 'q' | len u32 | group | len u32 | consumer | id -> "" (a consumer's PEL)
)

// EntryKey is the member of the entry id.
func EntryKey(id ID) []byte { return id.AppendBinary([]byte{KindEntry}) }

// NodeKey is the member of the node whose first entry is id.
func NodeKey(id ID) []byte { return id.AppendBinary([]byte{KindNode}) }

// GroupKey is the member of a consumer group.
func GroupKey(group []byte) []byte { return append([]byte{KindGroup}, group...) }

func groupPrefix(kind byte, group []byte) []byte {
	b := make([]byte, 0, 5+len(group)+32)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, uint32(len(group)))
	return append(b, group...)
}

// ConsumerPrefix is the prefix of a group's consumers.
func ConsumerPrefix(group []byte) []byte { return groupPrefix(KindConsumer, group) }

// ConsumerKey is the member of one consumer.
func ConsumerKey(group, consumer []byte) []byte {
	return append(ConsumerPrefix(group), consumer...)
}

// PendingPrefix is the prefix of a group's PEL.
func PendingPrefix(group []byte) []byte { return groupPrefix(KindPending, group) }

// PendingKey is the member of a group's pending entry id.
func PendingKey(group []byte, id ID) []byte { return id.AppendBinary(PendingPrefix(group)) }

// OwnedPrefix is the prefix of one consumer's pending entries.
func OwnedPrefix(group, consumer []byte) []byte {
	b := groupPrefix(KindOwned, group)
	b = binary.BigEndian.AppendUint32(b, uint32(len(consumer)))
	return append(b, consumer...)
}

// OwnedKey is the member saying consumer owns pending entry id.
func OwnedKey(group, consumer []byte, id ID) []byte {
	return id.AppendBinary(OwnedPrefix(group, consumer))
}

// Entry is an entry's value: the node it was added to, and its fields
// and values in order.
type Entry struct {
	Node   ID
	Fields [][]byte // field, value, field, value, ...
}

// Encode returns e's bytes: node id | count u32 | (len u32 | bytes)...
func (e *Entry) Encode() []byte {
	n := 20
	for _, f := range e.Fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = e.Node.AppendBinary(b)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Fields)))
	for _, f := range e.Fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// DecodeEntry reads Encode's bytes. The fields alias b.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < 20 {
		return e, ErrCorrupt
	}
	e.Node = DecodeID(b)
	n := binary.BigEndian.Uint32(b[16:])
	b = b[20:]
	if uint64(n) > uint64(len(b))/4 {
		return e, ErrCorrupt
	}
	e.Fields = make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		if len(b) < 4 {
			return e, ErrCorrupt
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return e, ErrCorrupt
		}
		e.Fields = append(e.Fields, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return e, ErrCorrupt
	}
	return e, nil
}

// Node is one of redis-server's radix-tree nodes as pika-node mirrors
// it, keyed by its first entry's ID: how many of its entries live, how
// many were ever added to it, the last one's ID (deleted or not), the
// size of redis-server's listpack for it, and its master entry's fields
// (its first entry's).
type Node struct {
	Live, Total uint64
	Last        ID
	Bytes       uint64
	Master      [][]byte
}

// Encode returns n's bytes.
func (n *Node) Encode() []byte {
	b := make([]byte, 0, 44)
	b = binary.BigEndian.AppendUint64(b, n.Live)
	b = binary.BigEndian.AppendUint64(b, n.Total)
	b = n.Last.AppendBinary(b)
	b = binary.BigEndian.AppendUint64(b, n.Bytes)
	b = binary.BigEndian.AppendUint32(b, uint32(len(n.Master)))
	for _, f := range n.Master {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// DecodeNode reads Encode's bytes (Master copied).
func DecodeNode(b []byte) (Node, error) {
	if len(b) < 44 {
		return Node{}, ErrCorrupt
	}
	n := Node{Live: binary.BigEndian.Uint64(b), Total: binary.BigEndian.Uint64(b[8:]), Last: DecodeID(b[16:]), Bytes: binary.BigEndian.Uint64(b[32:])}
	c := binary.BigEndian.Uint32(b[40:])
	b = b[44:]
	if uint64(c) > uint64(len(b))/4 {
		return Node{}, ErrCorrupt
	}
	n.Master = make([][]byte, 0, c)
	for i := uint32(0); i < c; i++ {
		if len(b) < 4 {
			return Node{}, ErrCorrupt
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return Node{}, ErrCorrupt
		}
		n.Master = append(n.Master, append([]byte(nil), b[:l]...))
		b = b[l:]
	}
	if len(b) != 0 {
		return Node{}, ErrCorrupt
	}
	return n, nil
}

// Group is a consumer group's state. EntriesRead is -1 when unknown.
type Group struct {
	LastID      ID
	EntriesRead int64
}

// Encode returns g's bytes.
func (g *Group) Encode() []byte {
	b := g.LastID.AppendBinary(make([]byte, 0, 24))
	return binary.BigEndian.AppendUint64(b, uint64(g.EntriesRead))
}

// DecodeGroup reads Encode's bytes.
func DecodeGroup(b []byte) (Group, error) {
	if len(b) != 24 {
		return Group{}, ErrCorrupt
	}
	return Group{DecodeID(b), int64(binary.BigEndian.Uint64(b[16:]))}, nil
}

// Consumer is a consumer's state: when it was last seen (unix ms).
type Consumer struct {
	SeenMS int64
}

// Encode returns c's bytes.
func (c *Consumer) Encode() []byte { return binary.BigEndian.AppendUint64(nil, uint64(c.SeenMS)) }

// DecodeConsumer reads Encode's bytes.
func DecodeConsumer(b []byte) (Consumer, error) {
	if len(b) != 8 {
		return Consumer{}, ErrCorrupt
	}
	return Consumer{int64(binary.BigEndian.Uint64(b))}, nil
}

// Pending is a pending entry: its consumer, last delivery (unix ms) and
// delivery count.
type Pending struct {
	DeliveryMS int64
	Count      uint64
	Consumer   []byte
}

// Encode returns p's bytes.
func (p *Pending) Encode() []byte {
	b := make([]byte, 0, 16+len(p.Consumer))
	b = binary.BigEndian.AppendUint64(b, uint64(p.DeliveryMS))
	b = binary.BigEndian.AppendUint64(b, p.Count)
	return append(b, p.Consumer...)
}

// DecodePending reads Encode's bytes; Consumer is a copy.
func DecodePending(b []byte) (Pending, error) {
	if len(b) < 16 {
		return Pending{}, ErrCorrupt
	}
	return Pending{int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint64(b[8:]), append([]byte(nil), b[16:]...)}, nil
}
