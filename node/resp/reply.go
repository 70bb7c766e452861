package resp

import (
	"strconv"
)

// Reply accumulates encoded RESP2 replies. The zero value is ready to use.
type Reply struct {
	B []byte
}

// Reset empties the buffer, keeping its memory.
func (r *Reply) Reset() { r.B = r.B[:0] }

// Len is the number of encoded bytes.
func (r *Reply) Len() int { return len(r.B) }

// Simple appends a simple string: +s.
func (r *Reply) Simple(s string) {
	r.B = append(r.B, '+')
	r.B = append(r.B, s...)
	r.B = append(r.B, '\r', '\n')
}

// OK appends +OK.
func (r *Reply) OK() { r.B = append(r.B, "+OK\r\n"...) }

// Error appends -msg. msg starts with its error code ("ERR ...",
// "WRONGTYPE ..."). Newlines, which would break the protocol, become spaces.
func (r *Reply) Error(msg string) {
	r.B = append(r.B, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		r.B = append(r.B, c)
	}
	r.B = append(r.B, '\r', '\n')
}

// Int appends :n.
func (r *Reply) Int(n int64) {
	r.B = append(r.B, ':')
	r.B = strconv.AppendInt(r.B, n, 10)
	r.B = append(r.B, '\r', '\n')
}

// Bulk appends $len b.
func (r *Reply) Bulk(b []byte) {
	r.B = append(r.B, '$')
	r.B = strconv.AppendInt(r.B, int64(len(b)), 10)
	r.B = append(r.B, '\r', '\n')
	r.B = append(r.B, b...)
	r.B = append(r.B, '\r', '\n')
}

// BulkString appends s as a bulk string.
func (r *Reply) BulkString(s string) {
	r.B = append(r.B, '$')
	r.B = strconv.AppendInt(r.B, int64(len(s)), 10)
	r.B = append(r.B, '\r', '\n')
	r.B = append(r.B, s...)
	r.B = append(r.B, '\r', '\n')
}

// BulkInt appends n as a bulk string (HINCRBY-style replies use Int; this is
// for replies that are strings holding numbers).
func (r *Reply) BulkInt(n int64) { r.BulkString(strconv.FormatInt(n, 10)) }

// Null appends the RESP2 null bulk string $-1.
func (r *Reply) Null() { r.B = append(r.B, "$-1\r\n"...) }

// NullArray appends the RESP2 null array *-1.
func (r *Reply) NullArray() { r.B = append(r.B, "*-1\r\n"...) }

// Array appends an array header of n elements; the caller appends them.
func (r *Reply) Array(n int) {
	r.B = append(r.B, '*')
	r.B = strconv.AppendInt(r.B, int64(n), 10)
	r.B = append(r.B, '\r', '\n')
}

// Raw appends already-encoded bytes.
func (r *Reply) Raw(b []byte) { r.B = append(r.B, b...) }
