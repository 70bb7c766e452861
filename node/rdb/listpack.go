package rdb

import (
	"encoding/binary"
	"strconv"
)

// A listpack (Redis 7.0's small-collection blob) is a 6-byte header (total
// bytes, uint32 LE; element count, uint16 LE, 65535 meaning "count them"),
// the entries, and an end byte 0xff. An entry is an encoding, its data, and
// its backlen: the size of encoding plus data, written 7 bits a byte with
// the high bit set on every byte but the first, so it reads right to left.
const (
	lpHeaderLen  = 6
	lpEnd        = 0xff
	lpUnknownNum = 65535
)

// listpack builds a listpack as Redis's lpAppend does, entry by entry.
type listpack struct {
	b []byte
	n int
}

func newListpack() *listpack {
	return &listpack{b: make([]byte, lpHeaderLen, 64)}
}

// size is the listpack's bytes once finished (with the end byte).
func (lp *listpack) size() int { return len(lp.b) + 1 }

// appendEntry appends s, integer-encoded when it is the canonical decimal
// form of an int64 (lpStringToInt64: at most 20 bytes), else as a string.
func (lp *listpack) appendEntry(s []byte) {
	start := len(lp.b)
	if v, ok := canonicalInt(s); ok {
		lp.b = appendLPInt(lp.b, v)
	} else {
		lp.b = append(appendStringHeader(lp.b, len(s)), s...)
	}
	lp.b = appendBacklen(lp.b, uint64(len(lp.b)-start))
	lp.n++
}

// appendStringHeader appends the encoding of a string entry of n bytes.
func appendStringHeader(dst []byte, n int) []byte {
	switch {
	case n < 64:
		return append(dst, 0x80|byte(n))
	case n < 4096:
		return append(dst, 0xe0|byte(n>>8), byte(n))
	}
	return binary.LittleEndian.AppendUint32(append(dst, 0xf0), uint32(n))
}

// ListpackEntrySize is the bytes appendEntry gives s in a listpack, its
// backlen included (stream nodes are sized with it: node/stream).
func ListpackEntrySize(s []byte) int {
	if v, ok := canonicalInt(s); ok {
		return ListpackIntSize(v)
	}
	var hdr [5]byte
	l := len(appendStringHeader(hdr[:0], len(s))) + len(s)
	return l + backlenSize(uint64(l))
}

// ListpackIntSize is ListpackEntrySize of v's decimal form.
func ListpackIntSize(v int64) int {
	var enc [9]byte
	l := len(appendLPInt(enc[:0], v))
	return l + backlenSize(uint64(l))
}

// bytes finishes the listpack: the header and the end byte.
func (lp *listpack) bytes() []byte {
	out := append(lp.b, lpEnd)
	binary.LittleEndian.PutUint32(out, uint32(len(out)))
	n := lp.n
	if n >= lpUnknownNum {
		n = lpUnknownNum
	}
	binary.LittleEndian.PutUint16(out[4:], uint16(n))
	return out
}

// canonicalInt parses s as Redis's string2ll / lpStringToInt64 do: an
// int64 with no sign but '-', no leading zero, no space, at most 20 bytes.
func canonicalInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [24]byte
	if string(strconv.AppendInt(buf[:0], v, 10)) != string(s) {
		return 0, false
	}
	return v, true
}

func appendLPInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 127:
		return append(dst, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		return append(dst, 0xc0|byte(u>>8), byte(u))
	case v >= -32768 && v <= 32767:
		return binary.LittleEndian.AppendUint16(append(dst, 0xf1), uint16(v))
	case v >= -8388608 && v <= 8388607:
		u := uint32(v)
		return append(dst, 0xf2, byte(u), byte(u>>8), byte(u>>16))
	case v >= -1<<31 && v < 1<<31:
		return binary.LittleEndian.AppendUint32(append(dst, 0xf3), uint32(v))
	}
	return binary.LittleEndian.AppendUint64(append(dst, 0xf4), uint64(v))
}

// backlenSize is how many bytes the backlen of an entry of l bytes takes.
func backlenSize(l uint64) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

func appendBacklen(dst []byte, l uint64) []byte {
	n := backlenSize(l)
	for i := n - 1; i >= 0; i-- {
		b := byte(l>>(7*uint(i))) & 127
		if i != n-1 {
			b |= 128
		}
		dst = append(dst, b)
	}
	return dst
}

// readListpack calls fn for each entry of the listpack lp, in order, as a
// string (integers in decimal). It checks the header's total against
// len(lp), every entry's bounds and backlen, the end byte, and the
// header's count unless it is 65535. fn's slice may alias lp.
func readListpack(lp []byte, fn func(e []byte) error) error {
	if len(lp) < lpHeaderLen+1 || int(binary.LittleEndian.Uint32(lp)) != len(lp) {
		return errBadBlob
	}
	num := int(binary.LittleEndian.Uint16(lp[4:]))
	off, count := lpHeaderLen, 0
	var ibuf [24]byte
	for {
		if off >= len(lp) {
			return errBadBlob
		}
		c := lp[off]
		if c == lpEnd {
			break
		}
		rest := lp[off:]
		var hdr, dlen int
		var ival int64
		isInt := true
		switch {
		case c&0x80 == 0:
			hdr, ival = 1, int64(c)
		case c&0xc0 == 0x80:
			hdr, dlen, isInt = 1, int(c&0x3f), false
		case c&0xe0 == 0xc0:
			if len(rest) < 2 {
				return errBadBlob
			}
			u := int64(c&0x1f)<<8 | int64(rest[1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			hdr, ival = 2, u
		case c&0xf0 == 0xe0:
			if len(rest) < 2 {
				return errBadBlob
			}
			hdr, dlen, isInt = 2, int(c&0x0f)<<8|int(rest[1]), false
		case c == 0xf0:
			if len(rest) < 5 {
				return errBadBlob
			}
			n := binary.LittleEndian.Uint32(rest[1:])
			if uint64(n) > uint64(len(rest)) {
				return errBadBlob
			}
			hdr, dlen, isInt = 5, int(n), false
		case c == 0xf1:
			if len(rest) < 3 {
				return errBadBlob
			}
			hdr, ival = 3, int64(int16(binary.LittleEndian.Uint16(rest[1:])))
		case c == 0xf2:
			if len(rest) < 4 {
				return errBadBlob
			}
			u := int32(uint32(rest[1])|uint32(rest[2])<<8|uint32(rest[3])<<16) << 8 >> 8
			hdr, ival = 4, int64(u)
		case c == 0xf3:
			if len(rest) < 5 {
				return errBadBlob
			}
			hdr, ival = 5, int64(int32(binary.LittleEndian.Uint32(rest[1:])))
		case c == 0xf4:
			if len(rest) < 9 {
				return errBadBlob
			}
			hdr, ival = 9, int64(binary.LittleEndian.Uint64(rest[1:]))
		default:
			return errBadBlob
		}
		elen := hdr + dlen
		bl := backlenSize(uint64(elen))
		if elen+bl > len(rest) {
			return errBadBlob
		}
		// The backlen must read back as the entry's size.
		var got uint64
		for i, b := range rest[elen : elen+bl] {
			if (i == 0) != (b&128 == 0) {
				return errBadBlob
			}
			got = got<<7 | uint64(b&127)
		}
		if got != uint64(elen) {
			return errBadBlob
		}
		var e []byte
		if isInt {
			e = strconv.AppendInt(ibuf[:0], ival, 10)
		} else {
			e = rest[hdr:elen]
		}
		if err := fn(e); err != nil {
			return err
		}
		off += elen + bl
		count++
	}
	if off != len(lp)-1 || (num != lpUnknownNum && num != count) {
		return errBadBlob
	}
	return nil
}

// readZiplist calls fn for each entry of the ziplist zl (Redis's format
// before 7.0): a 10-byte header (total bytes and tail offset, uint32 LE;
// count, uint16 LE), entries (previous entry's length in 1 or 5 bytes, an
// encoding, the data) and an end byte 0xff.
func readZiplist(zl []byte, fn func(e []byte) error) error {
	if len(zl) < 11 || int(binary.LittleEndian.Uint32(zl)) != len(zl) || zl[len(zl)-1] != lpEnd {
		return errBadBlob
	}
	num := int(binary.LittleEndian.Uint16(zl[8:]))
	tail := int(binary.LittleEndian.Uint32(zl[4:]))
	off, count, prevLen, last := 10, 0, 0, 10
	var ibuf [24]byte
	for zl[off] != lpEnd {
		rest := zl[off:]
		p := 1
		if rest[0] == 254 {
			p = 5
		}
		if len(rest) < p+1 {
			return errBadBlob
		}
		// Each entry's prevlen must be its predecessor's size (Redis's
		// deep check, which 7.0 runs on the ziplists it converts).
		pl := int(rest[0])
		if p == 5 {
			pl = int(binary.LittleEndian.Uint32(rest[1:]))
		}
		if pl != prevLen {
			return errBadBlob
		}
		last = off
		c := rest[p]
		var hdr, dlen int
		var ival int64
		isInt := true
		need := func(n int) bool { return len(rest) >= p+n }
		switch {
		case c>>6 == 0:
			hdr, dlen, isInt = 1, int(c&0x3f), false
		case c>>6 == 1:
			if !need(2) {
				return errBadBlob
			}
			hdr, dlen, isInt = 2, int(c&0x3f)<<8|int(rest[p+1]), false
		case c == 0x80:
			if !need(5) {
				return errBadBlob
			}
			n := binary.BigEndian.Uint32(rest[p+1:])
			if uint64(n) > uint64(len(rest)) {
				return errBadBlob
			}
			hdr, dlen, isInt = 5, int(n), false
		case c == 0xc0:
			if !need(3) {
				return errBadBlob
			}
			hdr, ival = 3, int64(int16(binary.LittleEndian.Uint16(rest[p+1:])))
		case c == 0xd0:
			if !need(5) {
				return errBadBlob
			}
			hdr, ival = 5, int64(int32(binary.LittleEndian.Uint32(rest[p+1:])))
		case c == 0xe0:
			if !need(9) {
				return errBadBlob
			}
			hdr, ival = 9, int64(binary.LittleEndian.Uint64(rest[p+1:]))
		case c == 0xf0:
			if !need(4) {
				return errBadBlob
			}
			u := int32(uint32(rest[p+1])|uint32(rest[p+2])<<8|uint32(rest[p+3])<<16) << 8 >> 8
			hdr, ival = 4, int64(u)
		case c == 0xfe:
			if !need(2) {
				return errBadBlob
			}
			hdr, ival = 2, int64(int8(rest[p+1]))
		case c >= 0xf1 && c <= 0xfd:
			hdr, ival = 1, int64(c&0x0f)-1
		default:
			return errBadBlob
		}
		end := p + hdr + dlen
		if end >= len(rest) { // the end byte must still follow
			return errBadBlob
		}
		var e []byte
		if isInt {
			e = strconv.AppendInt(ibuf[:0], ival, 10)
		} else {
			e = rest[p+hdr : end]
		}
		if err := fn(e); err != nil {
			return err
		}
		off += end
		prevLen = end
		count++
	}
	if off != len(zl)-1 || tail != last || (num != 65535 && num != count) {
		return errBadBlob
	}
	return nil
}

// readZipmap calls fn for each field and value of the zipmap zm (hashes
// before Redis 2.6): a count byte, then per pair the field's length (1
// byte, or 254 and 4 bytes LE), the field, the value's length, a free
// byte, the value and that many free bytes; an end byte 0xff.
func readZipmap(zm []byte, fn func(field, value []byte) error) error {
	if len(zm) < 2 {
		return errBadBlob
	}
	off := 1
	readLen := func() (int, bool) {
		if off >= len(zm) {
			return 0, false
		}
		c := zm[off]
		if c < 254 {
			off++
			return int(c), true
		}
		if c != 254 || len(zm)-off < 5 {
			return 0, false
		}
		n := binary.LittleEndian.Uint32(zm[off+1:])
		off += 5
		if uint64(n) > uint64(len(zm)) {
			return 0, false
		}
		return int(n), true
	}
	for {
		if off >= len(zm) {
			return errBadBlob
		}
		if zm[off] == 255 {
			break
		}
		n, ok := readLen()
		if !ok || n > len(zm)-off {
			return errBadBlob
		}
		field := zm[off : off+n]
		off += n
		n, ok = readLen()
		if !ok || off >= len(zm) {
			return errBadBlob
		}
		free := int(zm[off])
		off++
		if n+free > len(zm)-off {
			return errBadBlob
		}
		value := zm[off : off+n]
		off += n + free
		if err := fn(field, value); err != nil {
			return err
		}
	}
	if off != len(zm)-1 {
		return errBadBlob
	}
	return nil
}

// An intset is its encoding (2, 4 or 8: bytes an integer; uint32 LE), its
// count (uint32 LE) and the integers, ascending, little-endian.
func appendIntset(dst []byte, vals []int64) []byte {
	enc := 2
	for _, v := range vals {
		switch {
		case v < -1<<31 || v >= 1<<31:
			enc = 8
		case (v < -1<<15 || v >= 1<<15) && enc < 4:
			enc = 4
		}
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(enc))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vals)))
	for _, v := range vals {
		switch enc {
		case 2:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
		case 4:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}

// readIntset calls fn for each integer of the intset is, which must be
// well formed: a known encoding, a size that matches its count, and
// (as Redis's deep check asks) strictly ascending.
func readIntset(is []byte, fn func(v int64) error) error {
	if len(is) < 8 {
		return errBadBlob
	}
	enc := uint64(binary.LittleEndian.Uint32(is))
	n := uint64(binary.LittleEndian.Uint32(is[4:]))
	if (enc != 2 && enc != 4 && enc != 8) || n*enc != uint64(len(is)-8) {
		return errBadBlob
	}
	var prev int64
	for i := uint64(0); i < n; i++ {
		p := is[8+i*enc:]
		var v int64
		switch enc {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			v = int64(binary.LittleEndian.Uint64(p))
		}
		if i > 0 && v <= prev {
			return errBadBlob
		}
		prev = v
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}
