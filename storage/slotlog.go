package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linxGnu/grocksdb"
)

// The slot log (the binlog). Every committed write's effect on a slot is
// also appended to that slot's log, in the same RocksDB batch as the data:
//
//	log CF:  table u32 | slot u32 | index u64  ->  epoch u64 | unix ms u64 | encoded Effect
//
// so the log and the data never disagree after a crash, and a slot's log
// is one contiguous key range. Indexes start at 1 and have no gaps; the
// epoch is the slot's leadership epoch when the entry was written (the
// node sets it with SetSlotEpoch from its routing). Replication ships
// these entries; retention (TrimLogs) deletes the oldest. A slot without
// followers keeps no log (SetSlotRole): a log exists to feed followers,
// and each entry costs its write a second memtable insert.

const logEntryHeader = 16

func logKey(t TableID, s SlotID, i LogIndex) []byte {
	b := make([]byte, 0, prefixLen+8)
	b = appendPrefix(b, t, s)
	return binary.BigEndian.AppendUint64(b, uint64(i))
}

func appendLogEntry(dst []byte, epoch Epoch, unixMS int64, eff *Effect) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(epoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(unixMS))
	return eff.Encode(dst)
}

// LogEntry is one entry of a slot's log.
type LogEntry struct {
	Index  LogIndex
	Epoch  Epoch
	UnixMS int64
	// Effect is the encoded Effect (DecodeEffect reads it).
	Effect []byte
}

// ErrCorruptLog reports a log entry that does not decode.
var ErrCorruptLog = errors.New("storage: corrupt log entry")

// ErrLogGap reports a replicated entry that does not follow the slot's
// last entry.
var ErrLogGap = errors.New("storage: log gap")

// ApplyLogEntry applies a leader's log entry on a follower: its effect,
// and the entry itself in the follower's log (same index, epoch and time),
// in one batch under the slot's lock. The entry must follow the slot's
// last one (ErrLogGap otherwise); the follower's log position is then its
// applied position, persisted with the data.
func (e *Engine) ApplyLogEntry(t TableID, s SlotID, en LogEntry) error {
	eff, err := DecodeEffect(en.Effect)
	if err != nil {
		return err
	}
	if eff.Empty() { // a full sync's position marker: the entry alone
		return e.appendMarker(t, s, en)
	}
	ops := make([]Op, len(eff.Ops))
	copy(ops, eff.Ops)
	for i := range ops { // the meta cache keeps meta values: no aliasing
		if ops[i].CF == CFMeta && ops[i].Value != nil {
			ops[i].Value = append([]byte(nil), ops[i].Value...)
		}
	}
	eff.Ops = ops
	// Under the slot's lock, but without waiting for a unit's part
	// pending on the slot (Batch.Update would): the entry may be the
	// part's end.
	if e.closed.Load() {
		return ErrClosed
	}
	stripes := e.stripesOf(t, []SlotID{s})
	for _, i := range stripes {
		e.stripes[i].Lock()
	}
	defer e.unlock(stripes)
	if e.closed.Load() {
		return ErrClosed
	}
	txn := &Txn{e: e, table: t, slot: s, write: true, eff: eff, replicated: &en}
	return e.commit([]*Txn{txn}, make(chan error, 1))
}

// EncodeLogEntry is an entry's wire form: index | epoch | unix ms | effect.
func EncodeLogEntry(dst []byte, en LogEntry) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(en.Index))
	dst = binary.BigEndian.AppendUint64(dst, uint64(en.Epoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(en.UnixMS))
	return append(dst, en.Effect...)
}

// DecodeLogEntry reads EncodeLogEntry's form (the effect aliases b).
func DecodeLogEntry(b []byte) (LogEntry, error) {
	if len(b) < 24 {
		return LogEntry{}, ErrCorruptLog
	}
	return LogEntry{
		Index:  LogIndex(binary.BigEndian.Uint64(b)),
		Epoch:  Epoch(binary.BigEndian.Uint64(b[8:])),
		UnixMS: int64(binary.BigEndian.Uint64(b[16:])),
		Effect: b[24:],
	}, nil
}

// loadLogBounds reads the first and last entries of a slot's log.
func (e *Engine) loadLogBounds(t TableID, s SlotID, c *slotCounts) error {
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetFillCache(false)
	it := e.db.NewIteratorCF(ro, e.cfs[CFLog])
	defer it.Close()
	it.Seek(logKey(t, s, 0))
	if !it.Valid() || !hasSlotPrefix(it.Key().Data(), t, s) {
		return it.Err()
	}
	first := binary.BigEndian.Uint64(it.Key().Data()[prefixLen:])
	it.SeekForPrev(logKey(t, s, math.MaxUint64))
	if !it.Valid() || !hasSlotPrefix(it.Key().Data(), t, s) {
		return fmt.Errorf("storage: log of table %d slot %d: no last entry: %v", t, s, it.Err())
	}
	last := binary.BigEndian.Uint64(it.Key().Data()[prefixLen:])
	v := it.Value().Data()
	if len(v) < logEntryHeader {
		return fmt.Errorf("%w: table %d slot %d index %d", ErrCorruptLog, t, s, last)
	}
	c.logFirst.Store(first)
	c.logLast.Store(last)
	c.logEpoch.Store(binary.BigEndian.Uint64(v))
	return nil
}

func hasSlotPrefix(k []byte, t TableID, s SlotID) bool {
	return len(k) == prefixLen+8 && binary.BigEndian.Uint32(k) == uint32(t) && binary.BigEndian.Uint32(k[4:]) == uint32(s)
}

// SlotRole is what this node is for a slot, as its routing says.
type SlotRole struct {
	// Logged: the slot's writes are logged (its table has followers).
	Logged bool
	// Follower: this node follows the slot; the expiry sweep leaves it
	// alone (its leader's deletions arrive through the log).
	Follower bool
	// Epoch is stamped on the slot's next log entries.
	Epoch Epoch
	// Raft: the slot is replicated by a raft group (its writes come
	// through a Committer and ApplyRaft), not by the slot log; a local
	// commit of it is refused.
	Raft bool
}

// SetSlotRole records the node's role for a slot.
func (e *Engine) SetSlotRole(t TableID, s SlotID, r SlotRole) {
	if c, err := e.slotCount(t, s); err == nil {
		c.epoch.Store(uint64(r.Epoch))
		c.logged.Store(r.Logged)
		c.follower.Store(r.Follower)
		c.raft.Store(r.Raft)
	}
}

// LogBounds returns the first retained and the last index of a slot's log
// (0, 0 when empty) and the epoch of its last entry: the slot's position.
func (e *Engine) LogBounds(t TableID, s SlotID) (first, last LogIndex, lastEpoch Epoch) {
	c, err := e.slotCount(t, s)
	if err != nil {
		return 0, 0, 0
	}
	return LogIndex(c.logFirst.Load()), LogIndex(c.logLast.Load()), Epoch(c.logEpoch.Load())
}

// LogWritten returns the channel that receives once a commit of this
// node's own writes appended entries to slot logs (LogBounds already show
// them): the replication shipper waits on it instead of polling. It has
// one receiver. Commits do a non-blocking send into its single buffer, so
// wakes coalesce: one receive stands for every commit since the last, and
// the receiver finds which slots moved by reading their LogBounds.
//
// Why one coalesced signal and not a set of the slots written: the
// shipper walks the slots it leads on every round anyway (LogBounds are
// atomic loads) and needs the walk for its followers' state, while a set
// would cost the commit path a lock and its growth. Entries applied from a
// leader (ApplyLogEntry, full-sync markers) do not signal: this node does
// not ship them on while it follows the slot.
func (e *Engine) LogWritten() <-chan struct{} { return e.logWritten }

// notifyLogWritten wakes LogWritten's receiver without blocking: a wake
// already pending stands for this one too. It allocates nothing.
func (e *Engine) notifyLogWritten() {
	select {
	case e.logWritten <- struct{}{}:
	default:
	}
}

// SettledLogBounds is LogBounds once the slot's writes in flight have
// committed: it takes the slot's lock. A write admitted after the caller's
// routing fenced the slot cannot move them further (switchover).
func (e *Engine) SettledLogBounds(t TableID, s SlotID) (first, last LogIndex, lastEpoch Epoch) {
	_, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return 0, 0, 0
	}
	defer unlock()
	return e.LogBounds(t, s)
}

// ReadLog returns the slot's entries from index from on, up to about
// maxBytes of effects (at least one entry when there is one).
func (e *Engine) ReadLog(t TableID, s SlotID, from LogIndex, maxBytes int) ([]LogEntry, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetIterateUpperBound(logKey(t, s, math.MaxUint64))
	it := e.db.NewIteratorCF(ro, e.cfs[CFLog])
	defer it.Close()
	var out []LogEntry
	size := 0
	for it.Seek(logKey(t, s, from)); it.Valid() && (len(out) == 0 || size < maxBytes); it.Next() {
		k, v := it.Key().Data(), it.Value().Data()
		if !hasSlotPrefix(k, t, s) {
			break
		}
		if len(v) < logEntryHeader {
			return out, fmt.Errorf("%w: table %d slot %d", ErrCorruptLog, t, s)
		}
		out = append(out, LogEntry{
			Index:  LogIndex(binary.BigEndian.Uint64(k[prefixLen:])),
			Epoch:  Epoch(binary.BigEndian.Uint64(v)),
			UnixMS: int64(binary.BigEndian.Uint64(v[8:])),
			Effect: append([]byte(nil), v[logEntryHeader:]...),
		})
		size += len(v)
	}
	return out, it.Err()
}

// LogRetention bounds what each slot's log keeps: entries are deleted from
// the oldest while the slot's log is over MaxBytes (approximately, from
// RocksDB's size estimate of its key range) or older than MaxAge. The
// last entry is always kept (it is the slot's position).
type LogRetention struct {
	MaxBytes uint64
	MaxAge   time.Duration
}

// TrimLogs applies retention to every loaded slot every interval until ctx
// is done.
func (e *Engine) TrimLogs(ctx context.Context, interval time.Duration, r LogRetention) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.countsMu.RLock()
			tables := make(map[TableID]int, len(e.counts))
			for id, c := range e.counts {
				tables[id] = len(c)
			}
			e.countsMu.RUnlock()
			for id, n := range tables {
				for s := range n {
					if ctx.Err() != nil {
						return
					}
					_ = e.trimSlotLog(id, SlotID(s), r)
				}
			}
		}
	}
}

// trimSlotLog deletes the slot's oldest entries beyond its retention.
func (e *Engine) trimSlotLog(t TableID, s SlotID, r LogRetention) error {
	c, err := e.slotCount(t, s)
	if err != nil || e.closed.Load() {
		return err
	}
	first, last := LogIndex(c.logFirst.Load()), LogIndex(c.logLast.Load())
	if first == 0 || first >= last {
		return nil
	}
	cut := first
	if r.MaxBytes > 0 {
		sizes, err := e.db.GetApproximateSizesCF(e.cfs[CFLog], []grocksdb.Range{{Start: logKey(t, s, first), Limit: logKey(t, s, last+1)}})
		if err == nil && len(sizes) == 1 && sizes[0] > r.MaxBytes {
			n := uint64(last - first + 1)
			drop := n - n*r.MaxBytes/sizes[0]
			cut = max(cut, first+LogIndex(drop))
		}
	}
	if r.MaxAge > 0 {
		oldest := e.opts.Now() - r.MaxAge.Milliseconds()
		entries, err := e.ReadLog(t, s, cut, 4<<10)
		for err == nil && len(entries) > 0 && cut < last {
			stop := false
			for _, en := range entries {
				if en.UnixMS >= oldest || en.Index >= last {
					stop = true
					break
				}
				cut = en.Index + 1
			}
			if stop {
				break
			}
			entries, err = e.ReadLog(t, s, cut, 64<<10) // trimming: read on
		}
	}
	cut = min(cut, last) // keep the last entry
	if cut <= first {
		return nil
	}
	if err := e.db.DeleteRangeCF(e.wo, e.cfs[CFLog], logKey(t, s, first), logKey(t, s, cut)); err != nil {
		return fmt.Errorf("storage: trim log of table %d slot %d: %w", t, s, err)
	}
	c.logFirst.Store(uint64(cut))
	return nil
}

// appendMarker logs an entry without effect (a full sync's position).
func (e *Engine) appendMarker(t TableID, s SlotID, en LogEntry) error {
	c, unlock, err := e.lockSlot(t, s)
	if err != nil {
		return err
	}
	defer unlock()
	if last := LogIndex(c.logLast.Load()); en.Index != last+1 {
		return fmt.Errorf("%w: table %d slot %d: entry %d after %d", ErrLogGap, t, s, en.Index, last)
	}
	var empty Effect
	if err := e.db.PutCF(e.wo, e.cfs[CFLog], logKey(t, s, en.Index), appendLogEntry(nil, en.Epoch, en.UnixMS, &empty)); err != nil {
		return fmt.Errorf("storage: log marker: %w", err)
	}
	c.logLast.Store(uint64(en.Index))
	c.logEpoch.Store(uint64(en.Epoch))
	c.logFirst.CompareAndSwap(0, uint64(en.Index))
	return nil
}
