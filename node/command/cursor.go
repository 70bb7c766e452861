package command

import (
	"strconv"
	"sync"

	"github.com/pika-node/pika-node/storage"
)

// Cursors remembers where SCAN-family iterations stopped. Redis encodes the
// position in its cursor; ours is a key, which does not fit in 64 bits, so
// the cursor is a handle into this bounded store. An evicted cursor restarts
// its iteration at the slot it was in (SCAN) or at the start (HSCAN...),
// which can repeat elements but never skips one: within SCAN's guarantee.
// Safe for concurrent use.
type Cursors struct {
	mu       sync.Mutex
	seq      uint64
	max      int // positions
	maxBytes int // bytes of saved keys: keys may be large
	bytes    int
	pos      map[uint64]cursorPos
	order    []uint64 // insertion order, for FIFO eviction
}

type cursorPos struct {
	slot storage.SlotID
	next []byte
}

// cursorSlotShift puts the slot in a SCAN cursor's high bits.
const cursorSlotShift = 40

// NewCursors returns a store that keeps at most max positions holding at
// most maxBytes of keys.
func NewCursors(max, maxBytes int) *Cursors {
	return &Cursors{max: max, maxBytes: maxBytes, pos: map[uint64]cursorPos{}}
}

// save stores a position and returns its cursor (never 0).
func (cs *Cursors) save(slot storage.SlotID, next []byte) uint64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.seq++
	id := uint64(slot+1)<<cursorSlotShift | cs.seq&(1<<cursorSlotShift-1)
	cs.pos[id] = cursorPos{slot: slot, next: append([]byte(nil), next...)}
	cs.bytes += len(next)
	cs.order = append(cs.order, id)
	for len(cs.order) > cs.max || cs.bytes > cs.maxBytes {
		cs.bytes -= len(cs.pos[cs.order[0]].next)
		delete(cs.pos, cs.order[0])
		cs.order = cs.order[1:]
	}
	return id
}

// load returns the position of cursor id. An unknown id resumes at the
// start of the slot encoded in it.
func (cs *Cursors) load(id uint64) cursorPos {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if p, ok := cs.pos[id]; ok {
		return p
	}
	if id == 0 {
		return cursorPos{}
	}
	return cursorPos{slot: storage.SlotID(id>>cursorSlotShift) - 1}
}

// SlotStartCursor is the SCAN cursor that starts at slot s: a cursor that
// names a slot but no saved position resumes at the slot's first key.
func SlotStartCursor(s storage.SlotID) uint64 { return uint64(s+1) << cursorSlotShift }

// ScanCursorSlot returns the slot a SCAN cursor argument resumes in (0
// for the cursor 0), or Redis's invalid-cursor error.
func ScanCursorSlot(arg []byte) (storage.SlotID, error) {
	id, err := parseCursor(arg)
	if err != nil || id == 0 {
		return 0, err
	}
	return storage.SlotID(id>>cursorSlotShift) - 1, nil
}

// parseCursor parses a cursor argument as Redis does (strtoul): an empty
// string is 0, a sign is allowed and a negative value wraps around.
func parseCursor(b []byte) (uint64, error) {
	bad := Error("ERR invalid cursor")
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, bad
		}
	}
	if len(b) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, bad
	}
	if neg {
		n = -n
	}
	return n, nil
}
