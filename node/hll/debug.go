package hll

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// What PFDEBUG and PFSELFTEST need. Each function takes a value already
// checked with Validate.

// ErrNotSparse is PFDEBUG DECODE's error for a dense value.
type ErrNotSparse struct{}

func (ErrNotSparse) Error() string { return "ERR HLL encoding is not sparse" }

// RedisError is the error reply, as Redis words it.
func (e ErrNotSparse) RedisError() string { return e.Error() }

// Encoding is PFDEBUG ENCODING: "dense" or "sparse".
func Encoding(value []byte) string {
	if value[encOffset] == Dense {
		return "dense"
	}
	return "sparse"
}

// ToDense is PFDEBUG TODENSE: the value turned dense (nil when it already
// was), or CorruptError.
func ToDense(value []byte) ([]byte, error) {
	if value[encOffset] == Dense {
		return nil, nil
	}
	s := sketch{b: value}
	if !s.toDense() {
		return nil, CorruptError{}
	}
	return s.b, nil
}

// DenseRegisters is PFDEBUG GETREG: every register's value, and the value
// turned dense when it was sparse (Redis stores that), else nil.
func DenseRegisters(value []byte) (regs []uint8, dense []byte, err error) {
	v := value
	if value[encOffset] == Sparse {
		if dense, err = ToDense(value); err != nil {
			return nil, nil, err
		}
		v = dense
	}
	regs = make([]uint8, Registers)
	for i := range regs {
		regs[i] = denseGet(v[HeaderSize:], i)
	}
	return regs, dense, nil
}

// Decode is PFDEBUG DECODE: the sparse opcodes, "z:<n>" (ZERO), "Z:<n>"
// (XZERO) and "v:<value>,<n>" (VAL), separated by spaces.
func Decode(value []byte) (string, error) {
	if value[encOffset] != Sparse {
		return "", ErrNotSparse{}
	}
	regs := value[HeaderSize:]
	var b strings.Builder
	for p := 0; p < len(regs); {
		op := regs[p]
		switch {
		case isZero(op):
			b.WriteString("z:" + strconv.Itoa(zeroLen(op)) + " ")
			p++
		case isXZero(op):
			b.WriteString("Z:" + strconv.Itoa(xzeroLen(op, at(regs, p+1))) + " ")
			p += 2
		default:
			b.WriteString("v:" + strconv.Itoa(int(valValue(op))) + "," + strconv.Itoa(valLen(op)) + " ")
			p++
		}
	}
	return strings.TrimRight(b.String(), " "), nil
}

// SelfTestError is a failed PFSELFTEST.
type SelfTestError struct{ Msg string }

func (e SelfTestError) Error() string { return "TESTFAILED " + e.Msg }

// RedisError is the error reply, as Redis words it.
func (e SelfTestError) RedisError() string { return e.Error() }

// SelfTest is PFSELFTEST: the dense registers keep what is set in them,
// and 10 million elements added to a dense and a sparse value give the
// same estimate, within 6 standard errors of the truth at each power of
// 10. rng picks the register values and the elements.
func SelfTest(rng *rand.Rand) error {
	regs := make([]byte, DenseSize-HeaderSize+1)
	var want [Registers]uint8
	for range 1000 {
		for i := range want {
			want[i] = uint8(rng.IntN(regMax + 1))
			denseSetRaw(regs, i, want[i])
		}
		for i, w := range want {
			if v := denseGet(regs, i); v != w {
				return SelfTestError{fmt.Sprintf("Register %d should be %d but is %d", i, w, v)}
			}
		}
	}
	dense := make([]byte, DenseSize)
	copy(dense, magic)
	sparse := sketch{b: New()}
	relErr := 1.04 / math.Sqrt(Registers)
	checkpoint := uint64(1)
	seed := rng.Uint64()
	var ele [8]byte
	for j := uint64(1); j <= 10_000_000; j++ {
		v := j ^ seed
		for k := range ele {
			ele[k] = byte(v >> (8 * k))
		}
		index, count := patLen(ele[:])
		denseSet(dense[HeaderSize:], index, count)
		if sparse.b[encOffset] == Dense {
			denseSet(sparse.b[HeaderSize:], index, count)
		} else {
			sparse.sparseSet(index, count, DefaultSparseMaxBytes)
		}
		if j != checkpoint {
			continue
		}
		if j < DefaultSparseMaxBytes/2 && sparse.b[encOffset] != Sparse {
			return SelfTestError{"sparse encoding not used"}
		}
		var hd, hs histogram
		denseHisto(dense[HeaderSize:], &hd)
		if sparse.b[encOffset] == Dense {
			denseHisto(sparse.b[HeaderSize:], &hs)
		} else {
			sparseHisto(sparse.b[HeaderSize:], &hs)
		}
		est := hd.estimate()
		if est != hs.estimate() {
			return SelfTestError{"dense/sparse disagree"}
		}
		abs := int64(checkpoint) - int64(est)
		maxErr := uint64(math.Ceil(relErr * 6 * float64(checkpoint)))
		if j == 10 {
			maxErr = 1
		}
		if abs < 0 {
			abs = -abs
		}
		if abs > int64(maxErr) {
			return SelfTestError{fmt.Sprintf("Too big error. card:%d abserr:%d", checkpoint, abs)}
		}
		checkpoint *= 10
	}
	return nil
}
