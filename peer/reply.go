package peer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrProtocol is a malformed reply from a peer.
var ErrProtocol = errors.New("peer: malformed reply from peer")

const maxDepth = 64

// readReply reads one reply, RESP2 or RESP3 (a forwarded command is
// answered in its client's protocol), and returns its raw bytes (a copy),
// at most max bytes in all.
func readReply(br *bufio.Reader, max int64) ([]byte, error) {
	var out []byte
	if err := readInto(br, &out, max, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func readLine(br *bufio.Reader, out *[]byte, max int64) ([]byte, error) {
	start := len(*out)
	for {
		frag, err := br.ReadSlice('\n')
		*out = append(*out, frag...)
		if int64(len(*out)) > max {
			return nil, fmt.Errorf("%w: reply over %d bytes", ErrProtocol, max)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	line := (*out)[start:]
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, ErrProtocol
	}
	return line[1 : len(line)-2], nil
}

func readInto(br *bufio.Reader, out *[]byte, max int64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrProtocol, maxDepth)
	}
	t, err := br.Peek(1)
	if err != nil {
		return err
	}
	kind := t[0]
	line, err := readLine(br, out, max)
	if err != nil {
		return err
	}
	switch kind {
	case '+', '-', ':', '_', ',', '#', '(':
		return nil
	case '$', '=', '!':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil || n < -1 || (n == -1 && kind != '$') {
			return ErrProtocol
		}
		if n == -1 {
			return nil
		}
		if int64(len(*out))+n+2 > max {
			return fmt.Errorf("%w: reply over %d bytes", ErrProtocol, max)
		}
		start := len(*out)
		*out = append(*out, make([]byte, n+2)...)
		if _, err := io.ReadFull(br, (*out)[start:]); err != nil {
			return err
		}
		if (*out)[len(*out)-2] != '\r' || (*out)[len(*out)-1] != '\n' {
			return ErrProtocol
		}
		return nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil || n < -1 || (n == -1 && kind != '*') || n > max {
			return ErrProtocol
		}
		if kind == '%' || kind == '|' {
			n *= 2 // a map's (an attribute's) keys and values
		}
		for i := int64(0); i < n; i++ {
			if err := readInto(br, out, max, depth+1); err != nil {
				return err
			}
		}
		if kind == '|' {
			// An attribute annotates the reply that follows it.
			return readInto(br, out, max, depth+1)
		}
		return nil
	}
	return fmt.Errorf("%w: type byte %q", ErrProtocol, kind)
}

// Elems splits a raw array reply into its elements' raw bytes. It fails
// on anything but an array.
func Elems(raw []byte) ([][]byte, error) {
	if len(raw) == 0 || raw[0] != '*' {
		return nil, fmt.Errorf("%w: not an array: %.40q", ErrProtocol, raw)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	var head []byte
	line, err := readLine(br, &head, int64(len(raw)))
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(line))
	if err != nil || n < 0 {
		return nil, ErrProtocol
	}
	out := make([][]byte, 0, n)
	for range n {
		e, err := readReply(br, int64(len(raw)))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Int parses a raw integer reply.
func Int(raw []byte) (int64, error) {
	if len(raw) < 4 || raw[0] != ':' {
		return 0, fmt.Errorf("%w: not an integer: %.40q", ErrProtocol, raw)
	}
	return strconv.ParseInt(string(raw[1:len(raw)-2]), 10, 64)
}

// Bulk returns the content of a raw bulk string reply.
func Bulk(raw []byte) ([]byte, error) {
	if len(raw) < 4 || raw[0] != '$' {
		return nil, fmt.Errorf("%w: not a bulk string: %.40q", ErrProtocol, raw)
	}
	i := 1
	for i < len(raw) && raw[i] != '\r' {
		i++
	}
	n, err := strconv.Atoi(string(raw[1:i]))
	if err != nil || n < 0 || i+2+n+2 != len(raw) {
		return nil, ErrProtocol
	}
	return raw[i+2 : i+2+n], nil
}

// IsError reports whether raw is an error reply.
func IsError(raw []byte) bool { return len(raw) > 0 && raw[0] == '-' }

// AppendRequest appends args as a RESP array of bulk strings.
func AppendRequest(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
