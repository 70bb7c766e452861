package peer

import "strings"

// Mux is the server side's request table: each request name has its
// parser and its handler, registered once (Handle), like the command
// table. C is what the server hands each handler (package node: the
// command context and the link's pipeline batch). Not safe for
// registration while serving; Serve is safe for concurrent use.
type Mux[C any] struct {
	handlers map[string]func(C, [][]byte)
	fail     func(C, string)
}

// NewMux returns an empty table; fail writes an error reply (its text as
// resp.Reply.Error takes it) for a request that is unknown or does not
// parse.
func NewMux[C any](fail func(c C, reply string)) *Mux[C] {
	return &Mux[C]{handlers: map[string]func(C, [][]byte){}, fail: fail}
}

// Handle registers the handler of the requests of type R, read by parse;
// a request that does not parse is answered with its error
// (ErrorReply) without reaching h. It panics when R already has one (a
// programmer's error, found at startup).
func Handle[C any, R Request](m *Mux[C], parse func([][]byte) (R, error), h func(C, R)) {
	var zero R
	name := zero.Name()
	if _, dup := m.handlers[name]; dup {
		panic("peer: two handlers for " + name)
	}
	m.handlers[name] = func(c C, args [][]byte) {
		req, err := parse(args)
		if err != nil {
			m.fail(c, ErrorReply(err))
			return
		}
		h(c, req)
	}
}

// Serve answers one request (args[0] is its name, in any case): an
// unknown one with "-ERR unknown peer request".
func (m *Mux[C]) Serve(c C, args [][]byte) {
	if len(args) == 0 {
		m.fail(c, errUnknown.Reply())
		return
	}
	var h func(C, [][]byte)
	if name := args[0]; len(name) <= 16 {
		// Upper-cased on the stack: the map lookup of string(buf)
		// does not allocate.
		var buf [16]byte
		for i, ch := range name {
			if 'a' <= ch && ch <= 'z' {
				ch -= 'a' - 'A'
			}
			buf[i] = ch
		}
		h = m.handlers[string(buf[:len(name)])]
	} else {
		h = m.handlers[strings.ToUpper(string(name))]
	}
	if h == nil {
		m.fail(c, errUnknown.Reply())
		return
	}
	h(c, args)
}
