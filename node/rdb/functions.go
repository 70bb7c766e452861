package rdb

import (
	"bytes"
	"math"
)

// The opcodes that start a library in a FUNCTION DUMP payload.
const (
	// opFunction2 (RDB_OPCODE_FUNCTION2) is followed by the library's
	// code, shebang line included, as an RDB string. Redis 7.0 writes it.
	opFunction2 = 245
	// opFunctionPreGA (RDB_OPCODE_FUNCTION) is the format of Redis 7.0's
	// release candidates, which 7.0 still reads: the library's name, its
	// engine, a description indicator (an RDB length) and, when it is not
	// 0, a description, then the code without a shebang line, each an RDB
	// string.
	opFunctionPreGA = 246
)

// lenErr is Redis's RDB_LENERR: a length that reads as this value is taken
// for a failed read.
const lenErr = math.MaxUint64

// EncodeFunctions returns the FUNCTION DUMP payload of the libraries whose
// codes (shebang line included, as FUNCTION LOAD takes them) are given, in
// that order: for each, opcode 245 and the code as an RDB string
// (LZF-compressed when that makes it shorter, as Redis's default
// rdbcompression does), then the trailer (Seal). redis-server 7.0's
// FUNCTION RESTORE accepts it.
func EncodeFunctions(codes []string) []byte {
	size := trailerLen
	for _, c := range codes {
		size += 1 + 9 + len(c)
	}
	body := make([]byte, 0, size)
	for _, c := range codes {
		body = append(body, opFunction2)
		body = AppendString(body, []byte(c), true)
	}
	return Seal(body)
}

// DecodeFunctions returns the library codes a FUNCTION DUMP payload holds,
// in payload order. It reads what redis-server 7.0's FUNCTION RESTORE
// reads: opcode 245 libraries in any string encoding, and opcode 246
// libraries of 7.0's release candidates, whose code it rebuilds as Redis
// does ("#!<engine> name=<name>\n<code>", each part cut at its first NUL
// byte, the description dropped). Like Redis it reads libraries while more
// than the trailer's 10 bytes are left, so the last code may run into the
// trailer.
//
// Its error is an Error with Redis's reply: ErrPayload for a bad trailer,
// ErrNotFunction for another opcode, ErrLibraryPayload (or, for opcode
// 246, ErrLibraryName and its siblings) for a library that cannot be read.
// With an error it also returns the codes read before the fault: Redis
// compiles each library as it reads it, so a caller that compiles those
// first and reports their failure reproduces Redis's reply exactly.
//
// DecodeFunctions does not check that a code is a valid library; loading
// the codes does.
func DecodeFunctions(payload []byte) ([]string, error) {
	if _, _, err := Open(payload); err != nil {
		return nil, err
	}
	d := NewDecoder(payload)
	var codes []string
	for d.Len() > trailerLen {
		op, err := d.ReadByte()
		if err != nil {
			return codes, ErrPayload // unreachable: more than trailerLen bytes are left
		}
		switch op {
		case opFunction2:
			code, err := d.ReadString()
			if err != nil {
				return codes, ErrLibraryPayload
			}
			codes = append(codes, string(code))
		case opFunctionPreGA:
			code, err := readPreGALibrary(d)
			if err != nil {
				return codes, err
			}
			codes = append(codes, code)
		default:
			return codes, ErrNotFunction
		}
	}
	return codes, nil
}

// readPreGALibrary reads an opcode 246 library and returns the code Redis
// 7.0 makes of it.
func readPreGALibrary(d *Decoder) (string, error) {
	name, err := d.ReadString()
	if err != nil {
		return "", ErrLibraryName
	}
	engine, err := d.ReadString()
	if err != nil {
		return "", ErrEngineName
	}
	hasDesc, _, err := d.ReadLen()
	if err != nil || hasDesc == lenErr {
		return "", ErrLibraryDescIndicator
	}
	if hasDesc != 0 {
		if _, err := d.ReadString(); err != nil {
			return "", ErrLibraryDesc
		}
	}
	blob, err := d.ReadString()
	if err != nil {
		return "", ErrLibraryBlob
	}
	return "#!" + cString(engine) + " name=" + cString(name) + "\n" + cString(blob), nil
}

// cString is b up to its first NUL byte, as C's %s formats it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
