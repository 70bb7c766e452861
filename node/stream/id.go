package stream

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
)

// ID is a stream entry ID: milliseconds and a sequence number.
type ID struct {
	Ms, Seq uint64
}

// MaxID is the largest ID ("+").
var MaxID = ID{math.MaxUint64, math.MaxUint64}

// Less reports whether a < b.
func (a ID) Less(b ID) bool { return a.Ms < b.Ms || a.Ms == b.Ms && a.Seq < b.Seq }

// Cmp returns -1, 0 or 1 as a is before, equal to or after b.
func (a ID) Cmp(b ID) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// IsZero reports whether a is 0-0.
func (a ID) IsZero() bool { return a.Ms == 0 && a.Seq == 0 }

// String is the ID as Redis prints it: ms-seq.
func (a ID) String() string {
	return strconv.FormatUint(a.Ms, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}

// Append appends the ID's text to dst.
func (a ID) Append(dst []byte) []byte {
	dst = strconv.AppendUint(dst, a.Ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, a.Seq, 10)
}

// Incr returns the ID after a; ok is false when a is MaxID (the result
// is then 0-0, as Redis's streamIncrID).
func (a ID) Incr() (ID, bool) {
	switch {
	case a.Seq < math.MaxUint64:
		return ID{a.Ms, a.Seq + 1}, true
	case a.Ms < math.MaxUint64:
		return ID{a.Ms + 1, 0}, true
	}
	return ID{}, false
}

// Decr returns the ID before a; ok is false when a is 0-0 (which it
// returns).
func (a ID) Decr() (ID, bool) {
	switch {
	case a.Seq > 0:
		return ID{a.Ms, a.Seq - 1}, true
	case a.Ms > 0:
		return ID{a.Ms - 1, math.MaxUint64}, true
	}
	return ID{}, false
}

// Next is the ID XADD * generates after last at time nowMS.
func Next(last ID, nowMS uint64) ID {
	if nowMS > last.Ms {
		return ID{nowMS, 0}
	}
	n, _ := last.Incr()
	return n
}

// Encode is the ID as 16 bytes, big-endian ms then seq: byte order is
// ID order.
func (a ID) Encode() []byte { return a.AppendBinary(make([]byte, 0, 16)) }

// AppendBinary appends the 16-byte encoding of a to dst.
func (a ID) AppendBinary(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, a.Ms)
	return binary.BigEndian.AppendUint64(dst, a.Seq)
}

// DecodeID reads a 16-byte encoded ID (b must hold 16 bytes).
func DecodeID(b []byte) ID {
	return ID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

// ErrInvalidID is the reply to an ID Redis cannot parse.
const ErrInvalidID = "ERR Invalid stream ID specified as stream command argument"

// Parsed is an ID read from an argument.
type Parsed struct {
	ID ID
	// SeqAuto: the argument was "ms-*" (XADD only).
	SeqAuto bool
}

// Parse reads an ID argument as Redis 7.0's streamGenericParseIDOrReply:
// "-" and "+" (refused when strict), "ms" (seq missingSeq), "ms-seq", and
// with allowSeqAuto "ms-*". ok is false for anything else.
func Parse(arg []byte, missingSeq uint64, strict, allowSeqAuto bool) (p Parsed, ok bool) {
	if len(arg) > 127 {
		return p, false
	}
	if i := bytes.IndexByte(arg, 0); i >= 0 { // a C string ends there
		arg = arg[:i]
	}
	s := string(arg)
	if strict && (s == "-" || s == "+") {
		return p, false
	}
	switch s {
	case "-":
		return p, true
	case "+":
		p.ID = MaxID
		return p, true
	}
	msPart, seqPart, hasDash := s, "", false
	if i := bytes.IndexByte(arg, '-'); i >= 0 {
		msPart, seqPart, hasDash = s[:i], s[i+1:], true
	}
	ms, ok := string2ull(msPart)
	if !ok {
		return p, false
	}
	p.ID.Ms = ms
	switch {
	case !hasDash:
		p.ID.Seq = missingSeq
	case allowSeqAuto && seqPart == "*":
		p.SeqAuto = true
	default:
		seq, ok := string2ull(seqPart)
		if !ok {
			return p, false
		}
		p.ID.Seq = seq
	}
	return p, true
}

// string2ull is Redis's: a long long that is not negative, or else what
// C's strtoull takes (leading spaces, a sign, leading zeros, a negated
// value wrapping around) as long as it reads the whole string.
func string2ull(s string) (uint64, bool) {
	if v, ok := string2ll(s); ok {
		return uint64(v), v >= 0
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i == len(s) {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // ERANGE
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// string2ll is Redis's strict long long parser: an optional '-', no
// leading zeros or spaces, within int64.
func string2ll(s string) (int64, bool) {
	if s == "0" {
		return 0, true
	}
	neg := false
	p := s
	if len(p) > 0 && p[0] == '-' {
		neg = true
		p = p[1:]
	}
	if len(p) == 0 || p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(c-'0'))/10 {
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
