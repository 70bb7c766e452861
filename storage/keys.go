package storage

import (
	"encoding/binary"
	"math"
)

// Key layout. Every user key lives under an 8-byte prefix
//
//	table id (4 bytes BE) | slot id (4 bytes BE)
//
// so a slot is one contiguous range in every column family.
//
//	meta:  prefix | user key                                      -> Meta
//	data:  prefix | len(user key) u32 | user key | version u64 | member -> value
//	score: prefix | len(user key) u32 | user key | version u64 | score (sortable u64) | member -> ""
//
// The length before the user key keeps one key's members from interleaving
// with another key that has it as a prefix ("a" and "ab").
const prefixLen = 8

func appendPrefix(dst []byte, t TableID, s SlotID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(t))
	return binary.BigEndian.AppendUint32(dst, uint32(s))
}

// SlotPrefix returns the 8-byte prefix shared by every key of the slot.
func SlotPrefix(t TableID, s SlotID) []byte { return appendPrefix(make([]byte, 0, prefixLen), t, s) }

// TablePrefix returns the 4-byte prefix shared by every key of the table.
func TablePrefix(t TableID) []byte { return binary.BigEndian.AppendUint32(nil, uint32(t)) }

// prefixEnd returns the smallest key greater than every key starting with p,
// or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func metaKey(t TableID, s SlotID, key []byte) []byte {
	b := make([]byte, 0, prefixLen+len(key))
	b = appendPrefix(b, t, s)
	return append(b, key...)
}

// memberPrefix is the data/score CF prefix of one collection version.
func memberPrefix(t TableID, s SlotID, key []byte, version uint64) []byte {
	b := make([]byte, 0, prefixLen+4+len(key)+8+16)
	b = appendPrefix(b, t, s)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	return binary.BigEndian.AppendUint64(b, version)
}

// parseMemberKey splits a data or score CF key into its meta key and version.
// ok is false for keys not written by this package.
func parseMemberKey(k []byte) (metaKey []byte, version uint64, rest []byte, ok bool) {
	if len(k) < prefixLen+4 {
		return nil, 0, nil, false
	}
	n := int(binary.BigEndian.Uint32(k[prefixLen:]))
	end := prefixLen + 4 + n
	if n < 0 || len(k) < end+8 {
		return nil, 0, nil, false
	}
	mk := make([]byte, 0, prefixLen+n)
	mk = append(mk, k[:prefixLen]...)
	mk = append(mk, k[prefixLen+4:end]...)
	return mk, binary.BigEndian.Uint64(k[end:]), k[end+8:], true
}

// EncodeScore maps a float64 to 8 bytes whose byte order is the numeric
// order (-inf < ... < -0 = +0 < ... < +inf). NaN never reaches storage.
func EncodeScore(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 and +0 sort together
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// DecodeScore reverses EncodeScore.
func DecodeScore(b []byte) float64 {
	u := binary.BigEndian.Uint64(b)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u)
}
