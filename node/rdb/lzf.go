package rdb

import (
	"math"
	"sync"
)

// LZF, the compression Redis uses for RDB strings, is a byte-oriented LZ77.
// Compressed data is a sequence of instructions, each starting with a
// control byte c:
//
//   - c < 32: a literal run; the next c+1 bytes are copied to the output.
//   - otherwise a back-reference: its length code is c>>5 (1..6, or 7
//     meaning "7 plus the next byte"), then one byte holds the low 8 bits
//     of an offset whose high 5 bits are c&31. It copies length code + 2
//     bytes starting offset + 1 bytes back in the output, byte by byte, so
//     a copy may overlap the bytes it produces.
//
// The format carries no length; the RDB string around it does.
const (
	lzfMaxLiteral = 32              // longest literal run one control byte covers
	lzfMinMatch   = 3               // shortest back-reference
	lzfMaxMatch   = 7 + 255 + 2     // longest back-reference
	lzfMaxDist    = 1 << 13         // farthest back-reference: 13 bits of distance-1
	lzfMaxRatio   = lzfMaxMatch / 3 // most output one input byte can yield (a 3-byte back-reference)
)

// lzfDecompress decompresses src, which must yield exactly n bytes. The
// output is allocated once, so the caller must have checked that src can
// justify n (n <= len(src)*lzfMaxRatio); lzfDecompress checks it again.
func lzfDecompress(src []byte, n int) ([]byte, error) {
	if n < 0 || n > len(src)*lzfMaxRatio {
		return nil, errLZFExpansion
	}
	out := make([]byte, 0, n)
	for i := 0; i < len(src); {
		c := int(src[i])
		i++
		if c < lzfMaxLiteral {
			run := c + 1
			if len(src)-i < run {
				return nil, errLZFTruncated
			}
			if n-len(out) < run {
				return nil, errLZFOverflow
			}
			out = append(out, src[i:i+run]...)
			i += run
			continue
		}
		length := c >> 5
		if length == 7 {
			if i >= len(src) {
				return nil, errLZFTruncated
			}
			length += int(src[i])
			i++
		}
		if i >= len(src) {
			return nil, errLZFTruncated
		}
		dist := (c&0x1f)<<8 | int(src[i]) + 1
		i++
		length += 2
		if dist > len(out) {
			return nil, errLZFBackRef
		}
		if n-len(out) < length {
			return nil, errLZFOverflow
		}
		from := len(out) - dist
		if dist >= length {
			// No overlap: the source bytes all exist already. out has the
			// capacity, so append copies in place.
			out = append(out, out[from:from+length]...)
			continue
		}
		for k := 0; k < length; k++ {
			out = append(out, out[from+k])
		}
	}
	if len(out) != n {
		return nil, errLZFShort
	}
	return out, nil
}

// lzfCompress compresses src into at most limit bytes as Redis's
// lzf_compress (liblzf 3.6 as Redis builds it: a 2^16-slot hash table
// indexed by VERY_FAST's hash, two positions hashed after each match,
// never a reference to the input's first byte) does, so that its output
// is byte for byte Redis's. It reports false where Redis's compressor
// gives up: when the output might not fit limit, which it checks with
// Redis's own margins. Redis does not clear its hash table, so a stale
// slot could in principle make it choose another (equally valid) match;
// this one starts from an empty table.
func lzfCompress(src []byte, limit int) ([]byte, bool) {
	if len(src) == 0 || limit <= 0 || len(src) >= math.MaxInt32 {
		return nil, false
	}
	const (
		hlog   = 16
		maxLit = 1 << 5
		maxOff = 1 << 13
		maxRef = 1<<8 + 1<<3
	)
	// table holds a position plus one (0: empty) per hash slot. Its 256
	// KB come from a pool and go back cleared: only the slots this call
	// wrote are reset, so a short string does not pay for the whole table.
	lt := lzfTables.Get().(*lzfTable)
	table := lt.slots[:]
	defer func() {
		for _, sl := range lt.used {
			table[sl] = 0
		}
		lt.used = lt.used[:0]
		lzfTables.Put(lt)
	}()
	idx := func(h uint32) uint32 { return ((h >> (3*8 - hlog)) - h*5) & (1<<hlog - 1) }
	n := len(src)
	out := make([]byte, limit+1)
	op, lit := 1, 0 // out[op-lit-1] is the pending literal run's control byte
	ip := 0
	hval := uint32(src[0])<<8 | uint32(src[min(1, n-1)])
	for ip < n-2 {
		hval = hval<<8 | uint32(src[ip+2])
		slot := idx(hval)
		ref := int(table[slot]) - 1
		table[slot] = int32(ip + 1)
		lt.used = append(lt.used, slot)
		if ref > 0 && ip-ref-1 < maxOff &&
			src[ref] == src[ip] && src[ref+1] == src[ip+1] && src[ref+2] == src[ip+2] {
			off := ip - ref - 1
			l := 2
			maxlen := min(n-ip-l, maxRef)
			out[op-lit-1] = byte(lit - 1)
			if lit == 0 {
				op--
			}
			if op+3+1 >= limit {
				return nil, false
			}
			// Redis first compares 16 bytes unrolled, without checking
			// maxlen (which is then over 16), before its checked loop.
			l = lzfMatchLen(src, ref, ip, maxlen)
			l -= 2
			ip++
			if l < 7 {
				out[op] = byte(off>>8 + l<<5)
				op++
			} else {
				out[op] = byte(off>>8 + 7<<5)
				out[op+1] = byte(l - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++
			ip += l + 1
			if ip >= n-2 {
				break
			}
			ip -= 2
			hval = uint32(src[ip])<<8 | uint32(src[ip+1])
			hval = hval<<8 | uint32(src[ip+2])
			sl := idx(hval)
			table[sl] = int32(ip + 1)
			ip++
			hval = hval<<8 | uint32(src[ip+2])
			sl2 := idx(hval)
			table[sl2] = int32(ip + 1)
			ip++
			lt.used = append(lt.used, sl, sl2)
			continue
		}
		if op >= limit {
			return nil, false
		}
		out[op] = src[ip]
		op++
		ip++
		lit++
		if lit == maxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	if op+3 > limit {
		return nil, false
	}
	for ip < n {
		out[op] = src[ip]
		op++
		ip++
		lit++
		if lit == maxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1)
	if lit == 0 {
		op--
	}
	return out[:op:op], true
}

// lzfTable is lzfCompress's hash table with the slots it set.
type lzfTable struct {
	slots [1 << 16]int32
	used  []uint32
}

var lzfTables = sync.Pool{New: func() any { return new(lzfTable) }}

// lzfMatchLen is how far (from 3) the bytes at ref and ip agree, as Redis's
// match loop measures it.
func lzfMatchLen(src []byte, ref, ip, maxlen int) int {
	l := 2
	if maxlen > 16 {
		for k := 0; k < 16; k++ {
			l++
			if src[ref+l] != src[ip+l] {
				return l
			}
		}
	}
	for {
		l++
		if l >= maxlen || src[ref+l] != src[ip+l] {
			return l
		}
	}
}

// lzfAppendLiterals appends lit as literal runs, unless out would grow past
// limit.
func lzfAppendLiterals(out, lit []byte, limit int) ([]byte, bool) {
	for len(lit) > 0 {
		run := min(len(lit), lzfMaxLiteral)
		if limit-len(out) < 1+run {
			return out, false
		}
		out = append(out, byte(run-1))
		out = append(out, lit[:run]...)
		lit = lit[run:]
	}
	return out, true
}
