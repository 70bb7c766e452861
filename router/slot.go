package router

import (
	"bytes"
	"hash/crc32"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// SlotID is a slot number; router computes it.
type SlotID = keyspace.SlotID

// HashKey returns the part of key that decides its slot: the content of the
// first non-empty {...} when there is one (a hash tag), else the whole key.
// This is Redis Cluster's rule, so clients that use hash tags to keep keys
// together keep working.
func HashKey(key []byte) []byte {
	open := bytes.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := bytes.IndexByte(key[open+1:], '}')
	if end <= 0 { // no closing brace, or "{}" which is not a tag
		return key
	}
	return key[open+1 : open+1+end]
}

// SlotOf returns crc32_ieee(HashKey(key)) % slots, Pika's slot function.
// slots must be positive.
func SlotOf(key []byte, slots uint32) SlotID {
	return SlotID(crc32.ChecksumIEEE(HashKey(key)) % slots)
}
