package rdb

import "encoding/binary"

// Version is the RDB version redis-server 7.0 writes in a DUMP payload's
// trailer, and the newest Open accepts.
const Version = 10

// trailerLen is the size of a DUMP payload's trailer: the 2-byte RDB
// version and the 8-byte CRC-64.
const trailerLen = 2 + 8

// Seal appends the DUMP trailer to body, as append does (it may reuse
// body's spare capacity): the RDB version (Version), 2 bytes
// little-endian, then the CRC64 of body and version, 8 bytes
// little-endian.
func Seal(body []byte) []byte {
	p := binary.LittleEndian.AppendUint16(body, Version)
	return binary.LittleEndian.AppendUint64(p, CRC64(0, p))
}

// Open checks a DUMP payload's trailer and returns the body before it (a
// slice of payload, not a copy) and the RDB version it was written with.
// A payload shorter than its trailer, of a version newer than Version, or
// whose checksum does not match is ErrPayload, which is the reply both
// RESTORE and FUNCTION RESTORE give.
func Open(payload []byte) (body []byte, version uint16, err error) {
	if len(payload) < trailerLen {
		return nil, 0, ErrPayload
	}
	n := len(payload) - trailerLen
	version = binary.LittleEndian.Uint16(payload[n:])
	if version > Version {
		return nil, 0, ErrPayload
	}
	if binary.LittleEndian.Uint64(payload[n+2:]) != CRC64(0, payload[:n+2]) {
		return nil, 0, ErrPayload
	}
	return payload[:n:n], version, nil
}
