package stream

import "github.com/pika-node/pika-node/node/rdb"

// The sizes of redis-server 7.0's listpacks, as far as a stream node's
// needs them: XADD starts a new node when the last one's listpack plus the
// new entry's field and value bytes reach stream-node-max-bytes.

// NodeMaxBytes is redis-server's stream-node-max-bytes default.
const NodeMaxBytes = 4096

// lpInt and lpString are the bytes a listpack entry of an integer or a
// string takes (node/rdb writes listpacks).
func lpInt(v int64) uint64 { return uint64(rdb.ListpackIntSize(v)) }

func lpString(s []byte) uint64 { return uint64(rdb.ListpackEntrySize(s)) }

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
