package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"sync/atomic"
)

// Limits of one connection's input. Zero fields take Redis's defaults.
type Limits struct {
	// MaxBulk is the largest argument (Redis's proto-max-bulk-len). Default 512 MB.
	MaxBulk int64
	// MaxQuery bounds the memory of one command being read, arguments plus
	// per-argument overhead (Redis's client-query-buffer-limit). A client
	// passing it is disconnected without a reply. Default 1 GB.
	MaxQuery int64
	// Budget, when set, bounds what all connections sharing it hold in
	// commands beyond their first freeQueryBytes each: a node-wide limit,
	// so ten clients sending 1 GB each cannot take 10 GB. A client that
	// would pass it is disconnected like one passing MaxQuery.
	Budget *Budget
	// Unauthenticated, when set, says whether the connection has yet to
	// authenticate: until it has, a command may have at most
	// unauthArgs arguments of unauthBulk bytes each (Redis 7's bounds,
	// so that a client without the password cannot make the node hold
	// much). Called only for a command past either bound.
	Unauthenticated func() bool
}

// The bounds of a command before AUTH, Redis 7's.
const (
	unauthArgs = 10
	unauthBulk = 16384
)

// Budget is a byte allowance shared by many Readers. Safe for concurrent use.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// Used is the number of bytes taken now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Take takes n bytes if that keeps the budget within its maximum.
func (b *Budget) Take(n int64) bool { return b.take(n) }

// Give returns n bytes taken with Take.
func (b *Budget) Give(n int64) { b.used.Add(-n) }

func (b *Budget) take(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

// freeQueryBytes of each command are not counted against the Budget, so
// ordinary commands never touch the shared counter.
const freeQueryBytes = 64 << 10

// ProtocolError is malformed input. The connection answers
// "-ERR Protocol error: <Msg>" and closes, as Redis does.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// ErrQueryLimit means the client's command outgrew Limits.MaxQuery.
var ErrQueryLimit = errors.New("resp: query buffer limit exceeded")

var (
	errMultibulkLen   = &ProtocolError{"invalid multibulk length"}
	errBulkLen        = &ProtocolError{"invalid bulk length"}
	errBigInline      = &ProtocolError{"too big inline request"}
	errBigMbulkCount  = &ProtocolError{"too big mbulk count string"}
	errBigBulkCount   = &ProtocolError{"too big bulk count string"}
	errUnbalancedQuot = &ProtocolError{"unbalanced quotes in request"}
	errUnauthMbulk    = &ProtocolError{"unauthenticated multibulk length"}
	errUnauthBulk     = &ProtocolError{"unauthenticated bulk length"}
)

// inlineMax is Redis's PROTO_INLINE_MAX_SIZE: the longest line (inline
// command, or a count line) read before giving up on it.
const inlineMax = 64 << 10

// argOverhead is what one argument costs beyond its bytes (slice header and
// allocation), so a flood of empty arguments also hits MaxQuery.
const argOverhead = 32

// Reader reads commands from one connection. Not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	limits  Limits
	scratch []byte
	used    int64 // bytes of the command being read (args + overhead)
	cmdHeld int64 // of which taken from limits.Budget
	held    int64 // taken from limits.Budget since the last Release
}

// NewReader reads from r with a 16 KB buffer.
func NewReader(r io.Reader, limits Limits) *Reader {
	if limits.MaxBulk == 0 {
		limits.MaxBulk = 512 << 20
	}
	if limits.MaxQuery == 0 {
		limits.MaxQuery = 1 << 30
	}
	return &Reader{br: bufio.NewReaderSize(r, 16<<10), limits: limits}
}

// Buffered reports how many input bytes are already read but not consumed:
// when it is zero, the client's pipeline is drained and replies should be
// flushed.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadCommand returns the next command's arguments. An empty command (an
// empty line, "*0") returns a nil slice and no error. Errors are io errors,
// *ProtocolError or ErrQueryLimit; after any error the connection is done.
//
// The returned arguments stay counted against the Budget until Release:
// the caller releases once nothing refers to them any more (a batched write
// refers to its arguments until its batch commits).
func (r *Reader) ReadCommand() ([][]byte, error) {
	r.used, r.cmdHeld = 0, 0
	b, err := r.br.Peek(1)
	if err != nil {
		return nil, err
	}
	if b[0] == '*' {
		return r.readMultibulk()
	}
	return r.readInline()
}

// Release returns to the Budget what the commands read since the last
// Release took from it. Call it when their arguments are no longer
// referenced, and when the connection ends.
func (r *Reader) Release() {
	if r.held > 0 {
		r.limits.Budget.used.Add(-r.held)
	}
	r.held = 0
}

// reserve accounts n more bytes to the command being read, against
// MaxQuery and, beyond freeQueryBytes, the shared Budget.
func (r *Reader) reserve(n int64) error {
	r.used += n
	if r.used > r.limits.MaxQuery {
		return ErrQueryLimit
	}
	if b := r.limits.Budget; b != nil {
		if over := r.used - freeQueryBytes - r.cmdHeld; over > 0 {
			if !b.take(over) {
				return ErrQueryLimit
			}
			r.cmdHeld += over
			r.held += over
		}
	}
	return nil
}

// readLine returns the bytes up to (not including) delim, consuming delim.
// Like Redis, it looks at whatever has arrived: once more than max bytes
// came without delim, the line is tooBig. The result is valid until the
// next read.
func (r *Reader) readLine(delim byte, max int, tooBig error) ([]byte, error) {
	r.scratch = r.scratch[:0]
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil {
				return nil, err
			}
		}
		b, _ := r.br.Peek(r.br.Buffered())
		if i := bytes.IndexByte(b, delim); i >= 0 {
			line := b[:i]
			if len(r.scratch) > 0 {
				r.scratch = append(r.scratch, line...)
				line = r.scratch
			}
			// Discard does not overwrite the buffer: line stays valid.
			_, _ = r.br.Discard(i + 1)
			return line, nil
		}
		r.scratch = append(r.scratch, b...)
		_, _ = r.br.Discard(len(b))
		if len(r.scratch) > max {
			return nil, tooBig
		}
	}
}

func (r *Reader) readMultibulk() ([][]byte, error) {
	if _, err := r.br.Discard(1); err != nil { // '*'
		return nil, err
	}
	line, err := r.readLine('\r', inlineMax, errBigMbulkCount)
	if err != nil {
		return nil, err
	}
	count, ok := ParseInt(line)
	if !ok || count > math.MaxInt32 {
		return nil, errMultibulkLen
	}
	if count > unauthArgs && r.unauthenticated() {
		return nil, errUnauthMbulk
	}
	if _, err := r.br.Discard(1); err != nil { // '\n' (Redis skips it unchecked)
		return nil, err
	}
	if count <= 0 {
		return nil, nil
	}
	// Do not trust count for allocation: grow as arguments arrive.
	args := make([][]byte, 0, min(count, 16))
	for i := int64(0); i < count; i++ {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c != '$' {
			return nil, &ProtocolError{"expected '$', got '" + string(rune(c)) + "'"}
		}
		line, err := r.readLine('\r', inlineMax, errBigBulkCount)
		if err != nil {
			return nil, err
		}
		n, ok := ParseInt(line)
		if !ok || n < 0 || n > r.limits.MaxBulk {
			return nil, errBulkLen
		}
		if n > unauthBulk && r.unauthenticated() {
			return nil, errUnauthBulk
		}
		if _, err := r.br.Discard(1); err != nil {
			return nil, err
		}
		if err := r.reserve(argOverhead); err != nil {
			return nil, err
		}
		arg, err := r.readBulk(int(n))
		if err != nil {
			return nil, err
		}
		args = append(args, arg)
		if _, err := r.br.Discard(2); err != nil { // CRLF, unchecked like Redis
			return nil, err
		}
	}
	return args, nil
}

func (r *Reader) unauthenticated() bool {
	return r.limits.Unauthenticated != nil && r.limits.Unauthenticated()
}

// readBulk reads n bytes, allocating only as data arrives: a client that
// announces 512 MB and sends nothing costs nothing.
func (r *Reader) readBulk(n int) ([]byte, error) {
	const step = 1 << 20
	if n <= step {
		if err := r.reserve(int64(n)); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r.br, b)
		return b, err
	}
	if err := r.reserve(step); err != nil {
		return nil, err
	}
	b := make([]byte, 0, step)
	for len(b) < n {
		if len(b) == cap(b) {
			grow := min(2*cap(b), n)
			if err := r.reserve(int64(grow - cap(b))); err != nil {
				return nil, err
			}
			nb := make([]byte, len(b), grow)
			copy(nb, b)
			b = nb
		}
		m, err := io.ReadFull(r.br, b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (r *Reader) readInline() ([][]byte, error) {
	line, err := r.readLine('\n', inlineMax, errBigInline)
	if err != nil {
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	args, ok := SplitArgs(line)
	if !ok {
		return nil, errUnbalancedQuot
	}
	return args, nil
}

// ParseInt parses like Redis's string2ll: an optional '-', then "0" or a
// digit string without leading zeros; no spaces, no '+', no overflow.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] == '0' {
		return 0, len(b) == 1 && !neg
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// CompleteBuffered reports whether the next command is entirely in the
// buffer, so ReadCommand will return it without waiting on the network.
// Malformed input counts as complete: ReadCommand fails on it at once.
func (r *Reader) CompleteBuffered() bool {
	b, _ := r.br.Peek(r.br.Buffered())
	if len(b) == 0 {
		return false
	}
	if b[0] != '*' {
		return bytes.IndexByte(b, '\n') >= 0
	}
	i := bytes.IndexByte(b, '\r')
	if i < 0 || i+1 >= len(b) {
		return false
	}
	count, ok := ParseInt(b[1:i])
	if !ok || count > math.MaxInt32 {
		return true
	}
	b = b[i+2:]
	for ; count > 0; count-- {
		if len(b) == 0 {
			return false
		}
		if b[0] != '$' {
			return true
		}
		i = bytes.IndexByte(b, '\r')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		n, ok := ParseInt(b[1:i])
		if !ok || n < 0 || n > r.limits.MaxBulk {
			return true
		}
		b = b[i+2:]
		if int64(len(b)) < n+2 {
			return false
		}
		b = b[n+2:]
	}
	return true
}
