package peer

import "github.com/pika-node/pika-node/storage/keyspace"

// The requests of clients waiting in blocking commands (docs/blocking.md):
// a node whose client waits on keys another node leads registers them
// there, and that node tells it when one is written.

// WaitKey is a key of a table's slot.
type WaitKey struct {
	Slot keyspace.SlotID
	Key  []byte
}

// BlockWait registers (or renews, for a few seconds) the origin node's
// wait on keys of a table led by the peer: it will be sent BREADY when
// one is written. The reply lists the positions of the keys the peer did
// not hold a registration for (a write before it may have been missed):
//
//	BWAIT <table> <origin> <n> (<slot> <key>){n} -> [position...]
type BlockWait struct {
	Table  keyspace.TableID
	Origin string
	Keys   []WaitKey
}

func (BlockWait) Name() string { return "BWAIT" }

func (r BlockWait) Args() [][]byte {
	args := [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), []byte(r.Origin), u64(uint64(len(r.Keys)))}
	for _, k := range r.Keys {
		args = append(args, u64(uint64(k.Slot)), k.Key)
	}
	return args
}

// ParseBlockWait reads a BWAIT.
func ParseBlockWait(args [][]byte) (BlockWait, error) {
	if len(args) < 4 || len(args[2]) == 0 {
		return BlockWait{}, malformed("BWAIT")
	}
	t, ok1 := parseU32(args[1])
	n, ok2 := parseU32(args[3])
	if !ok1 || !ok2 || uint64(len(args)) != 4+2*uint64(n) {
		return BlockWait{}, malformed("BWAIT")
	}
	r := BlockWait{Table: keyspace.TableID(t), Origin: string(args[2]), Keys: make([]WaitKey, n)}
	for i := range r.Keys {
		s, ok := parseU32(args[4+2*i])
		if !ok {
			return BlockWait{}, malformed("BWAIT")
		}
		r.Keys[i] = WaitKey{Slot: keyspace.SlotID(s), Key: args[5+2*i]}
	}
	return r, nil
}

// BlockReady tells a node that keys of a table it waits on were written:
//
//	BREADY <table> <key>... -> +OK
type BlockReady struct {
	Table keyspace.TableID
	Keys  [][]byte
}

func (BlockReady) Name() string { return "BREADY" }

func (r BlockReady) Args() [][]byte {
	return append([][]byte{[]byte(r.Name()), u64(uint64(r.Table))}, r.Keys...)
}

// ParseBlockReady reads a BREADY.
func ParseBlockReady(args [][]byte) (BlockReady, error) {
	if len(args) < 3 {
		return BlockReady{}, malformed("BREADY")
	}
	t, ok := parseU32(args[1])
	if !ok {
		return BlockReady{}, malformed("BREADY")
	}
	return BlockReady{Table: keyspace.TableID(t), Keys: args[2:]}, nil
}

// BlockSynced asks the leader of an async slot to answer once the slot's
// followers acknowledged its log as of now: a blocking pop answered after
// it survives the leader's loss (docs/blocking.md):
//
//	BSYNCED <table> <slot> -> +OK | -error
type BlockSynced struct {
	Table keyspace.TableID
	Slot  keyspace.SlotID
}

func (BlockSynced) Name() string { return "BSYNCED" }

func (r BlockSynced) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), u64(uint64(r.Slot))}
}

// ParseBlockSynced reads a BSYNCED.
func ParseBlockSynced(args [][]byte) (BlockSynced, error) {
	if len(args) != 3 {
		return BlockSynced{}, malformed("BSYNCED")
	}
	t, s, ok := parseTableSlot(args[1], args[2])
	if !ok {
		return BlockSynced{}, malformed("BSYNCED")
	}
	return BlockSynced{Table: t, Slot: s}, nil
}
