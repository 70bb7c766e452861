// Package resp reads client commands in the Redis protocol (RESP multibulk
// and inline) with Redis's limits and error strings, encodes replies, and
// writes them to a connection without ever making it stop reading (Writer,
// with Redis's output buffer limit).
//
// It replaces redcon's reader, which grows its buffer without bound, rescans
// a partial command from its start on every read (quadratic on large
// arguments) and answers malformed input with errors worded unlike Redis's.
package resp
