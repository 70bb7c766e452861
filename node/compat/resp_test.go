package compat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Reply is one RESP2 or RESP3 reply, kept exactly as the server sent it so that two servers'
// replies can be compared byte for byte.
type Reply struct {
	// Kind is the type byte: RESP2's + - : $ *, RESP3's _ , # ( = ~ % > (an attribute |
	// is kept in Attr, on the reply it annotates).
	Kind  byte
	Str   string // simple, error, bulk, verbatim (with its "txt:" prefix), double, big number
	Int   int64
	Bool  bool
	Null  bool    // null bulk ($-1) or null array (*-1); RESP3's null is Kind '_'
	Elems []Reply // array, set, push; a map's keys and values, alternating
	Attr  []Reply // a RESP3 attribute's keys and values, alternating
}

// IsAggregate reports whether the reply holds elements: an array, a set, a map or a push.
func (r Reply) IsAggregate() bool {
	switch r.Kind {
	case '*', '~', '%', '>':
		return !r.Null
	}
	return false
}

// String renders a reply unambiguously: +simple, -error, :int, "bulk" (Go-quoted), (nil),
// (nil-array), [a b c]; RESP3: (null), ,double, #t, (bignum, ="verbatim", ~[set],
// %{k v ...}, >[push], |{attr} before the reply.
func (r Reply) String() string {
	var b strings.Builder
	r.render(&b)
	return b.String()
}

func (r Reply) render(b *strings.Builder) {
	if r.Attr != nil {
		b.WriteString("|")
		Reply{Kind: '%', Elems: r.Attr}.render(b)
	}
	switch r.Kind {
	case '+', '-', ',', '(':
		b.WriteByte(r.Kind)
		b.WriteString(r.Str)
	case ':':
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(r.Int, 10))
	case '_':
		b.WriteString("(null)")
	case '#':
		if r.Bool {
			b.WriteString("#t")
		} else {
			b.WriteString("#f")
		}
	case '=':
		b.WriteByte('=')
		b.WriteString(strconv.Quote(r.Str))
	case '$':
		if r.Null {
			b.WriteString("(nil)")
			return
		}
		b.WriteString(strconv.Quote(r.Str))
	case '*', '~', '>', '%':
		if r.Null {
			b.WriteString("(nil-array)")
			return
		}
		open, end := "[", "]"
		switch r.Kind {
		case '~':
			open = "~["
		case '>':
			open = ">["
		case '%':
			open, end = "%{", "}"
		}
		b.WriteString(open)
		for i, e := range r.Elems {
			if i > 0 {
				b.WriteByte(' ')
			}
			e.render(b)
		}
		b.WriteString(end)
	default:
		fmt.Fprintf(b, "?%c%q", r.Kind, r.Str)
	}
}

// KindName names the reply type for type-only comparisons.
func (r Reply) KindName() string {
	switch r.Kind {
	case '+':
		return "simple-string"
	case '-':
		return "error"
	case ':':
		return "integer"
	case '$':
		if r.Null {
			return "null-bulk"
		}
		return "bulk"
	case '*':
		if r.Null {
			return "null-array"
		}
		return "array"
	case '_':
		return "null"
	case ',':
		return "double"
	case '#':
		return "boolean"
	case '(':
		return "big-number"
	case '=':
		return "verbatim"
	case '~':
		return "set"
	case '%':
		return "map"
	case '>':
		return "push"
	}
	return "unknown"
}

// Conn is a minimal RESP2/RESP3 client: it writes commands as multibulk arrays and reads one
// reply per command, with a deadline on every round trip.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func Dial(addr string, timeout time.Duration) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), timeout: timeout}, nil
}

func (c *Conn) Close() error { return c.nc.Close() }

// Do sends one command and reads its reply.
func (c *Conn) Do(args ...string) (Reply, error) {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return Reply{}, err
	}
	if _, err := c.nc.Write(EncodeCommand(args...)); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// DoPipeline sends every command in one write, then reads their replies.
func (c *Conn) DoPipeline(cmds [][]string) ([]Reply, error) {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	var buf []byte
	for _, args := range cmds {
		buf = append(buf, EncodeCommand(args...)...)
	}
	if _, err := c.nc.Write(buf); err != nil {
		return nil, err
	}
	out := make([]Reply, 0, len(cmds))
	for range cmds {
		r, err := c.ReadReply()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Send writes one command without reading its reply (a blocking command,
// a SUBSCRIBE whose confirmations are read one by one with Read).
func (c *Conn) Send(args ...string) error {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(EncodeCommand(args...))
	return err
}

// Read reads the next reply or push, waiting the connection's timeout.
func (c *Conn) Read() (Reply, error) {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// ReadReply reads one reply (the deadline must already be set).
func (c *Conn) ReadReply() (Reply, error) { return readReply(c.r, 0) }

// EncodeCommand renders a command as a RESP multibulk.
func EncodeCommand(args ...string) []byte {
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

var errProto = errors.New("resp: malformed reply")

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("%w: line %q not CRLF terminated", errProto, line)
	}
	return line[:len(line)-2], nil
}

func readReply(r *bufio.Reader, depth int) (Reply, error) {
	if depth > 32 {
		return Reply{}, fmt.Errorf("%w: nesting too deep", errProto)
	}
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	if line == "" {
		return Reply{}, fmt.Errorf("%w: empty line", errProto)
	}
	kind, rest := line[0], line[1:]
	switch kind {
	case '+', '-', ',', '(':
		return Reply{Kind: kind, Str: rest}, nil
	case '_':
		if rest != "" {
			return Reply{}, fmt.Errorf("%w: null %q", errProto, line)
		}
		return Reply{Kind: kind}, nil
	case '#':
		if rest != "t" && rest != "f" {
			return Reply{}, fmt.Errorf("%w: boolean %q", errProto, line)
		}
		return Reply{Kind: kind, Bool: rest == "t"}, nil
	case ':':
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("%w: integer %q", errProto, rest)
		}
		return Reply{Kind: kind, Int: n}, nil
	case '$', '=':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > 64<<20 || (n == -1 && kind == '=') {
			return Reply{}, fmt.Errorf("%w: bulk length %q", errProto, rest)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, fmt.Errorf("%w: bulk not CRLF terminated", errProto)
		}
		if kind == '=' && (n < 4 || buf[3] != ':') {
			return Reply{}, fmt.Errorf("%w: verbatim string without its format", errProto)
		}
		return Reply{Kind: kind, Str: string(buf[:n])}, nil
	case '*', '~', '%', '>', '|':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > 1<<22 || (n == -1 && kind != '*') {
			return Reply{}, fmt.Errorf("%w: aggregate length %q", errProto, rest)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		rep := Reply{Kind: kind, Elems: make([]Reply, 0, min(n, 1024))}
		for i := 0; i < n; i++ {
			e, err := readReply(r, depth+1)
			if err != nil {
				return Reply{}, err
			}
			rep.Elems = append(rep.Elems, e)
		}
		if kind == '|' {
			next, err := readReply(r, depth+1)
			if err != nil {
				return Reply{}, err
			}
			next.Attr = rep.Elems
			return next, nil
		}
		return rep, nil
	}
	return Reply{}, fmt.Errorf("%w: unexpected type byte %q (line %q)", errProto, kind, line)
}
