// Package hll owns Redis 7.0's HyperLogLog: the value PFADD, PFCOUNT and
// PFMERGE keep under a key, a plain string whose bytes are exactly those
// redis-server 7.0 stores for the same commands (src/hyperloglog.c), so
// that GET, SET and RESTORE move it between the two, and the estimates
// its commands give.
//
// The value is a 16-byte header ("HYLL", the encoding byte, 3 unused
// bytes, the cached cardinality as 8 little-endian bytes whose top bit
// marks the cache stale) followed by the registers: 16384 (P = 14) of 6
// bits each, either dense (12288 bytes, packed from the least significant
// bit up) or sparse (the run-length opcodes ZERO, XZERO and VAL). Elements
// are hashed with MurmurHash64A (seed 0xadc83b19); a new value starts
// sparse and turns dense when a register passes 32 or the sparse value
// would pass the sparse size limit (hll-sparse-max-bytes, 3000 by
// default). The cardinality is Otmar Ertl's estimator over the register
// histogram, as Redis 7 computes it.
//
// Every function takes the value as stored (nil: no key) and never
// changes it: a change is returned as a new value for the caller to
// store. Malformed values, from SET or a hostile RESTORE, are reported
// with redis-server's errors (NotHLLError, CorruptError) and never make
// a function panic.
//
// It does not own keys, types or expiry: package command looks keys up,
// answers WRONGTYPE for keys that are not strings, and stores values.
package hll
