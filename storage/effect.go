package storage

import (
	"encoding/binary"
	"errors"

	"github.com/linxGnu/grocksdb"
)

// CF names a column family.
type CF byte

// The column families, in the order they are opened after "default".
const (
	CFMeta CF = iota
	CFData
	CFScore
	CFLog
	CFSystem
	numCFs
)

var cfNames = [numCFs]string{"meta", "data", "score", "log", "system"}

// OpKind is what an Op does.
type OpKind byte

// Op kinds. Stored in replicated effects: never renumber.
const (
	OpPut OpKind = iota + 1
	OpDelete
	OpDeleteRange
)

// Op is one physical change. Keys are full encoded keys (with the
// table|slot prefix); for OpDeleteRange, Value is the exclusive end key.
type Op struct {
	Kind  OpKind
	CF    CF
	Key   []byte
	Value []byte
}

// Effect is the deterministic result of evaluating one write command on one
// slot: the exact bytes every replica applies, with randomness and relative
// times already resolved. KeyDelta is the change in the slot's key count
// (keys created minus keys removed) and ExpireDelta the change in its count
// of keys with a TTL; the applier keeps the absolute counts.
type Effect struct {
	Ops         []Op
	KeyDelta    int64
	ExpireDelta int64
}

// size is the bytes of the effect's keys and values.
func (e *Effect) size() int {
	n := 0
	for i := range e.Ops {
		n += len(e.Ops[i].Key) + len(e.Ops[i].Value)
	}
	return n
}

// Empty reports whether applying e would change nothing.
func (e *Effect) Empty() bool { return len(e.Ops) == 0 && e.KeyDelta == 0 && e.ExpireDelta == 0 }

// ErrCorruptEffect reports an encoded effect that does not decode.
var ErrCorruptEffect = errors.New("storage: corrupt effect")

// Encode appends e's wire form to dst: varint keyDelta, varint
// expireDelta, uvarint op count,
// then per op kind, cf, uvarint len + key, uvarint len + value.
func (e *Effect) Encode(dst []byte) []byte {
	dst = binary.AppendVarint(dst, e.KeyDelta)
	dst = binary.AppendVarint(dst, e.ExpireDelta)
	dst = binary.AppendUvarint(dst, uint64(len(e.Ops)))
	for _, op := range e.Ops {
		dst = append(dst, byte(op.Kind), byte(op.CF))
		dst = binary.AppendUvarint(dst, uint64(len(op.Key)))
		dst = append(dst, op.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(op.Value)))
		dst = append(dst, op.Value...)
	}
	return dst
}

// DecodeEffect parses what Encode wrote. The result aliases b.
func DecodeEffect(b []byte) (Effect, error) {
	var e Effect
	d, n := binary.Varint(b)
	if n <= 0 {
		return e, ErrCorruptEffect
	}
	e.KeyDelta, b = d, b[n:]
	if d, n = binary.Varint(b); n <= 0 {
		return e, ErrCorruptEffect
	}
	e.ExpireDelta, b = d, b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return e, ErrCorruptEffect
	}
	b = b[n:]
	e.Ops = make([]Op, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(b) < 2 {
			return e, ErrCorruptEffect
		}
		op := Op{Kind: OpKind(b[0]), CF: CF(b[1])}
		if op.Kind < OpPut || op.Kind > OpDeleteRange || op.CF >= numCFs {
			return e, ErrCorruptEffect
		}
		b = b[2:]
		var ok bool
		if op.Key, b, ok = readLenBytes(b); !ok {
			return e, ErrCorruptEffect
		}
		if op.Value, b, ok = readLenBytes(b); !ok {
			return e, ErrCorruptEffect
		}
		e.Ops = append(e.Ops, op)
	}
	if len(b) != 0 {
		return e, ErrCorruptEffect
	}
	return e, nil
}

func readLenBytes(b []byte) (v, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, false
	}
	b = b[n:]
	return b[:l:l], b[l:], true
}

// addTo appends e's ops to wb.
func (e *Effect) addTo(wb *grocksdb.WriteBatch, cfs *[numCFs]*grocksdb.ColumnFamilyHandle) {
	for _, op := range e.Ops {
		cf := cfs[op.CF]
		switch op.Kind {
		case OpPut:
			wb.PutCF(cf, op.Key, op.Value)
		case OpDelete:
			wb.DeleteCF(cf, op.Key)
		case OpDeleteRange:
			wb.DeleteRangeCF(cf, op.Key, op.Value)
		}
	}
}
