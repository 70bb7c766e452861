package stream

import "math"

// The sizes of redis-server 7.0's listpacks, as far as a stream node's
// needs them: XADD starts a new node when the last one's listpack plus the
// new entry's field and value bytes reach stream-node-max-bytes.

// NodeMaxBytes is redis-server's stream-node-max-bytes default.
const NodeMaxBytes = 4096

// lpStringToInt64 is listpack.c's: the strings a listpack stores as
// integers.
func lpStringToInt64(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	p, neg := s, false
	if p[0] == '-' {
		neg, p = true, p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 || v*10 > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
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

// lpIntLen is the encoded length of an integer element.
func lpIntLen(v int64) uint64 {
	switch {
	case v >= 0 && v <= 127:
		return 1
	case v >= -4096 && v <= 4095:
		return 2
	case v >= -32768 && v <= 32767:
		return 3
	case v >= -8388608 && v <= 8388607:
		return 4
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 5
	}
	return 9
}

// lpBacklen is the length of an element's back-length.
func lpBacklen(l uint64) uint64 {
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

func lpInt(v int64) uint64 { l := lpIntLen(v); return l + lpBacklen(l) }

func lpString(s []byte) uint64 {
	var l uint64
	if v, ok := lpStringToInt64(s); ok {
		l = lpIntLen(v)
	} else if n := uint64(len(s)); n < 64 {
		l = 1 + n
	} else if n < 4096 {
		l = 2 + n
	} else {
		l = 5 + n
	}
	return l + lpBacklen(l)
}

// NewNodeBytes is the listpack size of a new node whose master entry has
// the fields of fields (field, value, ...), before its first entry.
func NewNodeBytes(fields [][]byte) uint64 {
	n := uint64(6+1) + lpInt(1) + lpInt(0) + lpInt(int64(len(fields)/2)) + lpInt(0)
	for i := 0; i < len(fields); i += 2 {
		n += lpString(fields[i])
	}
	return n
}

// SameFields reports whether an entry's fields are the master entry's.
func SameFields(master, fields [][]byte) bool {
	if len(master) != len(fields)/2 {
		return false
	}
	for i, f := range master {
		if string(f) != string(fields[2*i]) {
			return false
		}
	}
	return true
}

// EntryBytes is what appending the entry id with fields to a node whose
// first ID is master adds to its listpack.
func EntryBytes(master, id ID, fields [][]byte, same bool) uint64 {
	flags := int64(0)
	if same {
		flags = 2
	}
	nf := int64(len(fields) / 2)
	n := lpInt(flags) + lpInt(int64(id.Ms-master.Ms)) + lpInt(int64(id.Seq-master.Seq))
	count := nf + 3
	if !same {
		n += lpInt(nf)
		count += nf + 1
	}
	for i := 0; i < len(fields); i += 2 {
		if !same {
			n += lpString(fields[i])
		}
		n += lpString(fields[i+1])
	}
	return n + lpInt(count)
}
