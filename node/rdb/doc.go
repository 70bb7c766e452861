// Package rdb owns the Redis 7.0 serialization payloads that DUMP / RESTORE
// and FUNCTION DUMP / FUNCTION RESTORE carry, so that payloads move both
// ways between redis-server 7.0 and this server.
//
// A payload is an RDB fragment followed by a trailer (payload.go): the
// 2-byte little-endian RDB version and the 8-byte little-endian CRC-64
// (crc64.go) of everything before it. The fragment is built from RDB
// lengths and RDB strings (encoding.go), which may be integer-encoded or
// LZF-compressed (lzf.go). Collections are written in Redis's own
// encodings (listpacks, intsets, quicklists; listpack.go, whose entry
// sizes node/stream also uses to size stream nodes). FUNCTION DUMP's fragment is a list of
// libraries, each an opcode and the library's code (functions.go).
//
// Every decoder here takes hostile input: it never panics, never allocates
// more than the input can justify, and reports a malformed payload with an
// Error whose text is the error reply redis-server 7.0 gives for it
// (errors.go).
package rdb
