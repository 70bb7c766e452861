package rdb

import (
	"encoding/binary"
	"strconv"
)

// An RDB length's form is in the top bits of its first byte.
const (
	len6Bit    = 0x00 // 00xxxxxx: the length itself
	len14Bit   = 0x40 // 01xxxxxx xxxxxxxx: 14 bits, big-endian
	len32Bit   = 0x80 // then 4 bytes, big-endian
	len64Bit   = 0x81 // then 8 bytes, big-endian
	lenEncoded = 0xc0 // 11xxxxxx: not a length but a string encoding (below)
)

// The string encodings a lenEncoded byte's low 6 bits name.
const (
	encInt8  = 0 // then 1 byte, a signed integer
	encInt16 = 1 // then 2 bytes, little-endian signed
	encInt32 = 2 // then 4 bytes, little-endian signed
	encLZF   = 3 // then the compressed length, the plain length, the LZF data
)

// Redis tries integer encoding on strings of at most 11 bytes and LZF on
// strings of more than 20 (with rdbcompression yes, its default).
const (
	maxIntEncodedLen = 11
	minCompressLen   = 21
)

// AppendLen appends n as an RDB length in its shortest form: 1 byte below
// 64, 2 below 16384, 5 up to 2^32-1, 9 beyond.
func AppendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, len6Bit|byte(n))
	case n < 1<<14:
		return append(dst, len14Bit|byte(n>>8), byte(n))
	case n <= 1<<32-1:
		dst = append(dst, len32Bit)
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	default:
		dst = append(dst, len64Bit)
		return binary.BigEndian.AppendUint64(dst, n)
	}
}

// AppendString appends s as an RDB string the way redis-server 7.0 saves
// one: a string of at most 11 bytes that is the canonical decimal form of
// an integer fitting 32 bits is integer-encoded; otherwise, when compress
// is set (Redis's rdbcompression) and s is longer than 20 bytes, it is
// LZF-compressed if that saves at least 4 bytes; otherwise it is stored
// raw, its length then its bytes.
func AppendString(dst, s []byte, compress bool) []byte {
	if len(s) <= maxIntEncodedLen {
		if out, ok := appendIntString(dst, s); ok {
			return out
		}
	}
	if compress && len(s) >= minCompressLen {
		if c, ok := lzfCompress(s, len(s)-4); ok {
			dst = append(dst, lenEncoded|encLZF)
			dst = AppendLen(dst, uint64(len(c)))
			dst = AppendLen(dst, uint64(len(s)))
			return append(dst, c...)
		}
	}
	dst = AppendLen(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendIntString appends s integer-encoded, if s is an integer in its
// canonical form (no sign but '-', no leading zeros, no spaces) that fits
// 32 bits.
func appendIntString(dst, s []byte) ([]byte, bool) {
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != string(s) {
		return dst, false
	}
	switch {
	case v >= -1<<7 && v < 1<<7:
		return append(dst, lenEncoded|encInt8, byte(v)), true
	case v >= -1<<15 && v < 1<<15:
		dst = append(dst, lenEncoded|encInt16)
		return binary.LittleEndian.AppendUint16(dst, uint16(v)), true
	case v >= -1<<31 && v < 1<<31:
		dst = append(dst, lenEncoded|encInt32)
		return binary.LittleEndian.AppendUint32(dst, uint32(v)), true
	}
	return dst, false
}

// Decoder reads RDB values from a byte slice, front to back. Every read
// checks the bytes left: a value that runs past the end, or declares a
// length larger than what is left, is an error, never a panic or an
// allocation the input cannot justify. Its errors name the fault for logs
// and tests; they are not client replies, which the decoders of a whole
// payload (DecodeFunctions) choose. The zero value reads nothing; use
// NewDecoder.
type Decoder struct {
	buf []byte
	off int
}

// NewDecoder returns a Decoder reading b, which it does not copy.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Len is the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.buf) - d.off }

// next consumes the next n bytes, returning them without copying.
func (d *Decoder) next(n int) ([]byte, error) {
	if n < 0 || n > d.Len() {
		return nil, errTruncated
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b, nil
}

// ReadByte reads one byte (an RDB opcode or type).
func (d *Decoder) ReadByte() (byte, error) {
	if d.Len() < 1 {
		return 0, errTruncated
	}
	b := d.buf[d.off]
	d.off++
	return b, nil
}

// ReadLen reads an RDB length. When its first byte is 11xxxxxx the value
// is not a length but a string encoding: ReadLen then returns the low 6
// bits as n and encoded true, as Redis's rdbLoadLen does (and Redis's
// readers that expect a plain length take n regardless).
func (d *Decoder) ReadLen() (n uint64, encoded bool, err error) {
	c, err := d.ReadByte()
	if err != nil {
		return 0, false, err
	}
	switch c & 0xc0 {
	case len6Bit:
		return uint64(c & 0x3f), false, nil
	case len14Bit:
		b, err := d.ReadByte()
		if err != nil {
			return 0, false, err
		}
		return uint64(c&0x3f)<<8 | uint64(b), false, nil
	case lenEncoded:
		return uint64(c & 0x3f), true, nil
	}
	switch c {
	case len32Bit:
		b, err := d.next(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(b)), false, nil
	case len64Bit:
		b, err := d.next(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(b), false, nil
	}
	return 0, false, errLenEncoding
}

// ReadString reads an RDB string in any of its encodings: raw,
// INT8/16/32 (returned as decimal text) or LZF-compressed. A raw string is
// returned as a slice of the decoder's input, not a copy; the others are
// new slices.
func (d *Decoder) ReadString() ([]byte, error) {
	n, encoded, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	if !encoded {
		if n > uint64(d.Len()) {
			return nil, errTooLong
		}
		return d.next(int(n))
	}
	switch n {
	case encInt8:
		b, err := d.next(1)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int8(b[0])), 10), nil
	case encInt16:
		b, err := d.next(2)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int16(binary.LittleEndian.Uint16(b))), 10), nil
	case encInt32:
		b, err := d.next(4)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, int64(int32(binary.LittleEndian.Uint32(b))), 10), nil
	case encLZF:
		return d.readLZF()
	}
	return nil, errStrEncoding
}

// readLZF reads the rest of an LZF-encoded string: the compressed length,
// the plain length, then the compressed bytes. Like Redis, it takes either
// length's value even when written as an encoding byte, and returns an
// empty string for a plain length of 0 whatever the compressed bytes are.
func (d *Decoder) readLZF() ([]byte, error) {
	clen, _, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	n, _, err := d.ReadLen()
	if err != nil {
		return nil, err
	}
	if clen > uint64(d.Len()) {
		return nil, errTooLong
	}
	c, err := d.next(int(clen))
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil
	}
	if n > clen*lzfMaxRatio {
		return nil, errLZFExpansion
	}
	return lzfDecompress(c, int(n))
}
