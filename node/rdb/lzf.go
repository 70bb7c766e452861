package rdb

import "math"

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

// lzfCompress compresses src into at most limit bytes. It reports false
// when the result would not fit, as Redis's compressor does when saving
// would not pay off. Any LZF decompressor, Redis's included, reads its
// output; the bytes differ from what Redis's compressor would choose.
func lzfCompress(src []byte, limit int) ([]byte, bool) {
	if len(src) == 0 || limit <= 0 || len(src) >= math.MaxInt32 {
		return nil, false
	}
	// The hash table maps a hash of three bytes to the last position (plus
	// one; 0 is empty) where they started. Small inputs get a small table.
	bits := 8
	for bits < 14 && 1<<bits < len(src) {
		bits++
	}
	table := make([]int32, 1<<bits)
	hash := func(p int) uint32 {
		v := uint32(src[p])<<16 | uint32(src[p+1])<<8 | uint32(src[p+2])
		return v * 2654435761 >> (32 - bits)
	}
	out := make([]byte, 0, limit)
	var ok bool
	lit := 0 // start of the literals not yet written
	for i := 0; i+lzfMinMatch <= len(src); {
		h := hash(i)
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > lzfMaxDist ||
			src[cand] != src[i] || src[cand+1] != src[i+1] || src[cand+2] != src[i+2] {
			i++
			continue
		}
		n := lzfMinMatch
		for limitN := min(lzfMaxMatch, len(src)-i); n < limitN && src[cand+n] == src[i+n]; n++ {
		}
		if out, ok = lzfAppendLiterals(out, src[lit:i], limit); !ok {
			return nil, false
		}
		if out, ok = lzfAppendBackRef(out, i-cand, n, limit); !ok {
			return nil, false
		}
		end := i + n
		for i++; i < end && i+lzfMinMatch <= len(src); i++ {
			table[hash(i)] = int32(i + 1)
		}
		i = end
		lit = i
	}
	if out, ok = lzfAppendLiterals(out, src[lit:], limit); !ok {
		return nil, false
	}
	return out, true
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

// lzfAppendBackRef appends a back-reference copying n bytes (lzfMinMatch
// to lzfMaxMatch) from dist bytes back (1 to lzfMaxDist), unless out would
// grow past limit.
func lzfAppendBackRef(out []byte, dist, n int, limit int) ([]byte, bool) {
	d := dist - 1
	code := n - 2
	if code < 7 {
		if limit-len(out) < 2 {
			return out, false
		}
		return append(out, byte(code<<5|d>>8), byte(d)), true
	}
	if limit-len(out) < 3 {
		return out, false
	}
	return append(out, byte(7<<5|d>>8), byte(code-7), byte(d)), true
}
