package hll

import (
	"encoding/binary"
)

// The layout of a value, as Redis 7.0's.
const (
	// P is the number of hash bits that pick a register.
	P = 14
	// Q is the number of hash bits whose trailing zeros are counted.
	Q = 64 - P
	// Registers is the number of registers.
	Registers = 1 << P
	// HeaderSize is the size of the header: magic, encoding, 3 unused
	// bytes, cached cardinality.
	HeaderSize = 16
	// DenseSize is the size of a dense value.
	DenseSize = HeaderSize + (Registers*regBits+7)/8
	// DefaultSparseMaxBytes is hll-sparse-max-bytes' default.
	DefaultSparseMaxBytes = 3000

	// Dense and Sparse are the values of the encoding byte.
	Dense  = 0
	Sparse = 1

	magic      = "HYLL"
	encOffset  = 4
	cardOffset = 8
	staleBit   = 0x80 // in the cardinality's last byte: the cache is stale
	regBits    = 6
	regMax     = 1<<regBits - 1
)

// NotHLLError is the error for a string that is not a HyperLogLog: too
// short, without the magic, of an unknown encoding, or dense of the wrong
// size (Redis's isHLLObjectOrReply).
type NotHLLError struct{}

func (NotHLLError) Error() string { return "WRONGTYPE Key is not a valid HyperLogLog string value." }

// RedisError is the error reply, as Redis words it.
func (e NotHLLError) RedisError() string { return e.Error() }

// CorruptError is the error for a HyperLogLog whose sparse registers do
// not decode to exactly Registers registers.
type CorruptError struct{}

func (CorruptError) Error() string { return "INVALIDOBJ Corrupted HLL object detected" }

// RedisError is the error reply, as Redis words it.
func (e CorruptError) RedisError() string { return e.Error() }

// Config holds the setting the representation depends on.
type Config struct {
	// SparseMaxBytes is hll-sparse-max-bytes: a sparse value that would
	// grow past it (header included) turns dense. 0 means
	// DefaultSparseMaxBytes.
	SparseMaxBytes int
}

func (c Config) sparseMax() int {
	if c.SparseMaxBytes == 0 {
		return DefaultSparseMaxBytes
	}
	return c.SparseMaxBytes
}

// Validate returns NotHLLError when value is not a HyperLogLog Redis
// would work on; the sparse registers are not decoded.
func Validate(value []byte) error {
	if len(value) < HeaderSize || string(value[:4]) != magic || value[encOffset] > Sparse ||
		(value[encOffset] == Dense && len(value) != DenseSize) {
		return NotHLLError{}
	}
	return nil
}

// IsDense reports whether a valid value is dense.
func IsDense(value []byte) bool { return value[encOffset] == Dense }

// New returns the value of a new, empty HyperLogLog as Redis creates it:
// sparse, one XZERO over every register, a zero cached cardinality.
func New() []byte {
	b := make([]byte, HeaderSize+2, HeaderSize+64)
	copy(b, magic)
	b[encOffset] = Sparse
	setXZero(b[HeaderSize:], Registers)
	return b
}

func invalidate(b []byte) { b[cardOffset+7] |= staleBit }

func cacheValid(b []byte) bool { return b[cardOffset+7]&staleBit == 0 }

// Add is PFADD: it adds elements to value (nil: the key does not exist)
// and returns the new value and whether PFADD answers 1 (the key was
// created or a register changed; the cached cardinality is then marked
// stale). On a CorruptError, newValue is what Redis leaves in the key:
// the changes made by the elements before the one that found the
// corruption (possibly none: newValue then equals value).
func Add(value []byte, elements [][]byte) (newValue []byte, changed bool, err error) {
	return Config{}.Add(value, elements)
}

// Add is PFADD under c's settings (see the function Add).
func (c Config) Add(value []byte, elements [][]byte) (newValue []byte, changed bool, err error) {
	s := sketch{}
	updated := 0
	if value == nil {
		s.b = New()
		updated++
	} else {
		if err := Validate(value); err != nil {
			return nil, false, err
		}
		s.b = clone(value)
	}
	for _, e := range elements {
		index, count := patLen(e)
		var r int
		if s.b[encOffset] == Dense {
			r = denseSet(s.b[HeaderSize:], index, count)
		} else {
			r = s.sparseSet(index, count, c.sparseMax())
		}
		if r < 0 {
			return s.b, false, CorruptError{}
		}
		updated += r
	}
	if updated > 0 {
		invalidate(s.b)
	}
	return s.b, updated > 0, nil
}

// Count is PFCOUNT of one key: the cached cardinality when it is valid
// (updated nil), else the estimate and, in updated, the value with the
// estimate cached, which PFCOUNT stores back. A missing key (nil) counts 0.
func Count(value []byte) (card uint64, updated []byte, err error) {
	if value == nil {
		return 0, nil, nil
	}
	if err := Validate(value); err != nil {
		return 0, nil, err
	}
	if cacheValid(value) {
		return binary.LittleEndian.Uint64(value[cardOffset:]), nil, nil
	}
	var h histogram
	if value[encOffset] == Dense {
		denseHisto(value[HeaderSize:], &h)
	} else if !sparseHisto(value[HeaderSize:], &h) {
		return 0, nil, CorruptError{}
	}
	card = h.estimate()
	updated = clone(value)
	binary.LittleEndian.PutUint64(updated[cardOffset:], card)
	return card, updated, nil
}

// Union is the register-wise maximum of HyperLogLogs: PFCOUNT of several
// keys and PFMERGE. The zero value is an empty union; it is large (16 KiB),
// so keep it by pointer.
type Union struct {
	regs  [Registers]uint8
	dense bool // one of the merged values was dense
}

// Merge adds value (nil: a missing key, which counts as empty) to the
// union (Redis's hllMerge after isHLLObjectOrReply). Sparse registers
// must add up to exactly Registers: a VAL opcode running past the last
// register is corrupt even when nothing follows, as redis-server 7.0.15
// answers with the fix for CVE-2025-32023 (Debian's build, the reference;
// unpatched 7.0.15 stopped reading there and accepted the value when the
// count was exact).
func (u *Union) Merge(value []byte) error {
	if value == nil {
		return nil
	}
	if err := Validate(value); err != nil {
		return err
	}
	regs := value[HeaderSize:]
	if value[encOffset] == Dense {
		u.dense = true
		for i := range Registers {
			if v := denseGet(regs, i); v > u.regs[i] {
				u.regs[i] = v
			}
		}
		return nil
	}
	i := 0
	for p := 0; p < len(regs); {
		op := regs[p]
		switch {
		case isZero(op):
			i += zeroLen(op)
			p++
		case isXZero(op):
			i += xzeroLen(op, at(regs, p+1))
			p += 2
		default:
			n, v := valLen(op), valValue(op)
			if n+i > Registers {
				return CorruptError{}
			}
			for ; n > 0; n-- {
				if v > u.regs[i] {
					u.regs[i] = v
				}
				i++
			}
			p++
		}
	}
	if i != Registers {
		return CorruptError{}
	}
	return nil
}

// Count is the union's estimated cardinality (PFCOUNT of several keys).
func (u *Union) Count() uint64 {
	var h histogram
	for _, v := range u.regs {
		h[v]++
	}
	return h.estimate()
}

// Store is PFMERGE's write: dest is the destination's value (nil: a new
// key), which must have been merged into u first, as PFMERGE merges it
// with the sources. The result is dense when a merged value was, else
// dest's encoding, turned dense if the registers no longer fit the sparse
// encoding; its cached cardinality is stale.
func (u *Union) Store(dest []byte) ([]byte, error) {
	return u.StoreWith(Config{}, dest)
}

// StoreWith is Store under c's settings.
func (u *Union) StoreWith(c Config, dest []byte) ([]byte, error) {
	s := sketch{}
	if dest == nil {
		s.b = New()
	} else {
		if err := Validate(dest); err != nil {
			return nil, err
		}
		s.b = clone(dest)
	}
	if u.dense && !s.toDense() {
		return nil, CorruptError{}
	}
	for i, v := range u.regs {
		if v == 0 {
			continue
		}
		if s.b[encOffset] == Dense {
			denseSet(s.b[HeaderSize:], i, v)
		} else {
			s.sparseSet(i, v, c.sparseMax()) // dest was merged: never corrupt
		}
	}
	invalidate(s.b)
	return s.b, nil
}

// CountMany is PFCOUNT of several keys: the estimate of the union of
// values (nil entries are missing keys). Errors come in the values'
// order, as Redis checks them.
func CountMany(values [][]byte) (uint64, error) {
	u := new(Union)
	for _, v := range values {
		if err := u.Merge(v); err != nil {
			return 0, err
		}
	}
	return u.Count(), nil
}

// Merge is PFMERGE dest srcs...: dest (nil: absent) merged with srcs (nil
// entries: absent), as stored under dest afterwards.
func Merge(dest []byte, srcs [][]byte) ([]byte, error) {
	return Config{}.Merge(dest, srcs)
}

// Merge is PFMERGE under c's settings (see the function Merge).
func (c Config) Merge(dest []byte, srcs [][]byte) ([]byte, error) {
	u := new(Union)
	if err := u.Merge(dest); err != nil {
		return nil, err
	}
	for _, v := range srcs {
		if err := u.Merge(v); err != nil {
			return nil, err
		}
	}
	return u.StoreWith(c, dest)
}

func clone(b []byte) []byte {
	out := make([]byte, len(b), len(b)+8)
	copy(out, b)
	return out
}

// at is b[i], or 0 past its end: the byte after a Redis string (its
// terminator), which a truncated XZERO opcode at the end reads.
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}
