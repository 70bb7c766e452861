package resp

import (
	"strconv"
)

// Reply accumulates encoded replies in the protocol the client chose with
// HELLO: RESP2 (the zero value, ready to use) or RESP3. A handler says what
// a reply is (a map, a set, a double, a null) and the encoding follows the
// protocol the way redis-server 7.0's does: in RESP2 a map is a flat array
// of its keys and values, a set an array, a double a bulk string, a
// boolean an integer, a verbatim string a bulk string, and both nulls are
// $-1 or *-1 as the command's RESP2 reply has it.
type Reply struct {
	B []byte
	// Resp3 is the client's protocol: HELLO 3 sets it.
	Resp3 bool
	// Max, when set, bounds B: once it holds more than Max bytes, the
	// elements appended after (bulks, integers, headers, raw replies) are
	// dropped and Over is set; the client is then cut off, as it would be
	// once the reply passed its output limit, but the node never built
	// the whole reply (KEYS over millions of keys, SMEMBERS of a huge
	// set).
	Max  int
	Over bool
}

// full reports whether B is past Max, noting it.
func (r *Reply) full() bool {
	if r.Max > 0 && len(r.B) > r.Max {
		r.Over = true
		return true
	}
	return false
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
	if r.full() {
		return
	}
	r.B = append(r.B, ':')
	r.B = strconv.AppendInt(r.B, n, 10)
	r.B = append(r.B, '\r', '\n')
}

// Bulk appends $len b.
func (r *Reply) Bulk(b []byte) {
	if r.full() {
		return
	}
	r.B = append(r.B, '$')
	r.B = strconv.AppendInt(r.B, int64(len(b)), 10)
	r.B = append(r.B, '\r', '\n')
	r.B = append(r.B, b...)
	r.B = append(r.B, '\r', '\n')
}

// BulkString appends s as a bulk string.
func (r *Reply) BulkString(s string) {
	if r.full() {
		return
	}
	r.B = append(r.B, '$')
	r.B = strconv.AppendInt(r.B, int64(len(s)), 10)
	r.B = append(r.B, '\r', '\n')
	r.B = append(r.B, s...)
	r.B = append(r.B, '\r', '\n')
}

// BulkInt appends n as a bulk string (HINCRBY-style replies use Int; this is
// for replies that are strings holding numbers).
func (r *Reply) BulkInt(n int64) { r.BulkString(strconv.FormatInt(n, 10)) }

// Null appends a null: RESP3's _, in RESP2 the null bulk string $-1.
func (r *Reply) Null() {
	if r.Resp3 {
		r.B = append(r.B, "_\r\n"...)
		return
	}
	r.B = append(r.B, "$-1\r\n"...)
}

// NullArray appends a null where RESP2 has the null array *-1 (BLPOP's
// timeout, an aborted EXEC): RESP3's _ too.
func (r *Reply) NullArray() {
	if r.Resp3 {
		r.B = append(r.B, "_\r\n"...)
		return
	}
	r.B = append(r.B, "*-1\r\n"...)
}

// Array appends an array header of n elements; the caller appends them.
func (r *Reply) Array(n int) { r.header('*', n) }

// Map appends a map header of n key-value pairs; the caller appends 2n
// elements, each key followed by its value. RESP2: an array of 2n.
func (r *Reply) Map(n int) {
	if r.Resp3 {
		r.header('%', n)
		return
	}
	r.header('*', 2*n)
}

// Set appends a set header of n elements (SMEMBERS); RESP2: an array.
func (r *Reply) Set(n int) {
	if r.Resp3 {
		r.header('~', n)
		return
	}
	r.header('*', n)
}

// Push appends the header of an out-of-band push of n elements (pub/sub
// messages); RESP2: an array.
func (r *Reply) Push(n int) {
	if r.Resp3 {
		r.header('>', n)
		return
	}
	r.header('*', n)
}

// Double appends a double whose text is f: redis-server's rendering of the
// number (scores are kept in that form), "inf" or "-inf". RESP2: a bulk
// string of the text.
func (r *Reply) Double(f []byte) {
	if !r.Resp3 {
		r.Bulk(f)
		return
	}
	r.B = append(r.B, ',')
	r.B = append(r.B, f...)
	r.B = append(r.B, '\r', '\n')
}

// Bool appends a boolean; RESP2: the integer 1 or 0.
func (r *Reply) Bool(v bool) {
	switch {
	case r.Resp3 && v:
		r.B = append(r.B, "#t\r\n"...)
	case r.Resp3:
		r.B = append(r.B, "#f\r\n"...)
	case v:
		r.B = append(r.B, ":1\r\n"...)
	default:
		r.B = append(r.B, ":0\r\n"...)
	}
}

// Verbatim appends text as a verbatim string of format "txt" (INFO, CLIENT
// LIST); RESP2: a bulk string.
func (r *Reply) Verbatim(text string) {
	if !r.Resp3 {
		r.BulkString(text)
		return
	}
	r.B = append(r.B, '=')
	r.B = strconv.AppendInt(r.B, int64(len(text)+4), 10)
	r.B = append(r.B, "\r\ntxt:"...)
	r.B = append(r.B, text...)
	r.B = append(r.B, '\r', '\n')
}

func (r *Reply) header(kind byte, n int) {
	if r.full() {
		return
	}
	r.B = append(r.B, kind)
	r.B = strconv.AppendInt(r.B, int64(n), 10)
	r.B = append(r.B, '\r', '\n')
}

// SimpleArray appends an array of simple strings (the HELP replies).
func (r *Reply) SimpleArray(lines []string) {
	r.Array(len(lines))
	for _, l := range lines {
		r.Simple(l)
	}
}

// Raw appends already-encoded bytes.
func (r *Reply) Raw(b []byte) {
	if r.full() {
		return
	}
	r.B = append(r.B, b...)
}
