package storage

import (
	"encoding/binary"
	"errors"
)

// Type is the Redis type of a key.
type Type byte

// The types. The values are stored on disk: never renumber.
const (
	TypeString Type = 1
	TypeHash   Type = 2
	TypeList   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
	TypeStream Type = 6
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeStream:
		return "stream"
	}
	return "none"
}

// Meta is the decoded meta CF value of one key.
//
// Encoding: type (1) | expire unix ms (8, 0 = none), then
//
//	string:     value bytes
//	collection: version (8) | count (8)
//	list:       ... | head (8) | tail (8)
//	stream:     ... | the stream's own metadata (Value; node/stream)
//
// A stream's Count is the number of its data-CF members of every kind
// (entries, nodes, groups, consumers, pending entries): what a copy of
// the key must find. Its length is in Value (docs/streams.md).
// A list's items sit at indexes [Head, Tail) of its data range.
type Meta struct {
	Type     Type
	ExpireMS int64 // absolute unix milliseconds; 0 means no expiry
	Value    []byte
	Version  uint64
	Count    uint64
	Head     uint64
	Tail     uint64
}

// ErrCorruptMeta reports a meta value this package could not have written.
var ErrCorruptMeta = errors.New("storage: corrupt meta value")

// ListInitialIndex is where a new list's head and tail start: the middle of
// the index space, so a list can grow 2^63 items either way.
const ListInitialIndex = 1 << 63

// Expired reports whether the key is logically gone at nowMS.
func (m *Meta) Expired(nowMS int64) bool { return m.ExpireMS != 0 && m.ExpireMS <= nowMS }

func (m *Meta) encode() []byte {
	n := 9
	switch m.Type {
	case TypeString:
		n += len(m.Value)
	case TypeList:
		n += 32
	case TypeStream:
		n += 16 + len(m.Value)
	default:
		n += 16
	}
	b := make([]byte, 0, n)
	b = append(b, byte(m.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(m.ExpireMS))
	if m.Type == TypeString {
		return append(b, m.Value...)
	}
	b = binary.BigEndian.AppendUint64(b, m.Version)
	b = binary.BigEndian.AppendUint64(b, m.Count)
	if m.Type == TypeList {
		b = binary.BigEndian.AppendUint64(b, m.Head)
		b = binary.BigEndian.AppendUint64(b, m.Tail)
	}
	if m.Type == TypeStream {
		b = append(b, m.Value...)
	}
	return b
}

// decodeMeta decodes v. For strings and streams, Value aliases v.
func decodeMeta(v []byte) (Meta, error) {
	var m Meta
	if len(v) < 9 {
		return m, ErrCorruptMeta
	}
	m.Type = Type(v[0])
	m.ExpireMS = int64(binary.BigEndian.Uint64(v[1:9]))
	rest := v[9:]
	switch m.Type {
	case TypeString:
		m.Value = rest
	case TypeHash, TypeSet, TypeZSet:
		if len(rest) != 16 {
			return m, ErrCorruptMeta
		}
	case TypeList:
		if len(rest) != 32 {
			return m, ErrCorruptMeta
		}
		m.Head = binary.BigEndian.Uint64(rest[16:])
		m.Tail = binary.BigEndian.Uint64(rest[24:])
	case TypeStream:
		if len(rest) < 16 {
			return m, ErrCorruptMeta
		}
		m.Value = rest[16:]
	default:
		return m, ErrCorruptMeta
	}
	if m.Type != TypeString {
		m.Version = binary.BigEndian.Uint64(rest)
		m.Count = binary.BigEndian.Uint64(rest[8:])
	}
	return m, nil
}

// metaExpireMS reads only the expiry of an encoded meta value.
func metaExpireMS(v []byte) (int64, bool) {
	if len(v) < 9 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v[1:9])), true
}
