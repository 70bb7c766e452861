package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"
)

// Options configures Open. Zero fields take the defaults documented on them.
type Options struct {
	// Dir is the RocksDB directory. Required.
	Dir string
	// BlockCacheBytes is the shared LRU block cache. The default is 192 MB.
	BlockCacheBytes uint64
	// WriteBufferBytes is each column family's memtable size. The default is 32 MB.
	WriteBufferBytes uint64
	// Fsync is when the WAL reaches the disk (Redis's appendfsync). Every
	// acknowledged write is in the WAL, so a process crash (kill -9) loses
	// none under any policy; the policy says what a power loss may lose.
	// The default, FsyncEverySec, syncs it once a second.
	Fsync FsyncPolicy
	// MetaCacheBytes bounds the in-memory cache of meta values (see
	// metaCache). The default is 16 MB; negative disables it.
	MetaCacheBytes int64
	// Now returns the current unix time in milliseconds. The default is the
	// system clock; tests inject their own.
	Now func() int64
	// ExportMembersMax is the most members ExportKeys copies with a
	// collection's meta (imagemembers.go). The default is
	// ExportMembersMax; negative copies none (tests).
	ExportMembersMax int
	// WALRecovery says what Open does with a damaged WAL. The default,
	// WALRecoverTornTail, replays it whole, forgiving only a last record
	// cut short (what a crash during a write leaves), and refuses to
	// open on damage anywhere else (WALCorruptionError).
	WALRecovery WALRecovery
	// MinFreeDisk is the free space, in bytes, the engine keeps on the
	// filesystem of Dir: below it the writes clients start are refused,
	// below half of it every write (diskguard.go). The default is
	// DefaultMinFreeDisk; negative turns the guard off.
	MinFreeDisk int64
	// FreeDiskBytes measures the free space on dir's filesystem. The
	// default asks the kernel (statfs); tests inject their own.
	FreeDiskBytes func(dir string) (int64, error)
	// OnDiskLevel, when set, is told each change of the disk's level,
	// from the engine's measuring goroutine (it must not block).
	OnDiskLevel func(DiskState)
}

// FsyncPolicy is when the WAL is synced to the disk.
type FsyncPolicy int

const (
	// FsyncEverySec syncs the WAL once a second (a power loss loses at
	// most the last second of async writes); raft rounds are synced
	// before they are acknowledged (see woRaft).
	FsyncEverySec FsyncPolicy = iota
	// FsyncAlways syncs every write before it is acknowledged, raft
	// rounds too.
	FsyncAlways
	// FsyncNo leaves syncing to the OS.
	FsyncNo
)

// syncInterval is how often FsyncEverySec syncs the WAL.
const syncInterval = time.Second

// WALRecovery is what Open does with a damaged write-ahead log.
type WALRecovery int

const (
	// WALRecoverTornTail forgives a torn last record only.
	WALRecoverTornTail WALRecovery = iota
	// WALRecoverPointInTime replays the WAL up to its first damage and
	// drops the rest: the writes after it are lost, knowingly (like
	// Redis's aof-load-truncated, but anywhere in the log).
	WALRecoverPointInTime
)

// WALCorruptionError is Open's refusal of a WAL damaged before its end.
type WALCorruptionError struct {
	Dir string
	Err error // RocksDB's report
}

func (e *WALCorruptionError) Error() string {
	logs, _ := filepath.Glob(filepath.Join(e.Dir, "*.log"))
	for i, l := range logs {
		logs[i] = filepath.Base(l)
	}
	return fmt.Sprintf("storage: the write-ahead log in %s (%s) is damaged before its end (%v); "+
		"refusing to start, which would silently drop every write after the damage. "+
		"Restore the directory from a replica or a backup, or start with --wal-recovery point-in-time "+
		"to keep what comes before the damage and lose the rest", e.Dir, strings.Join(logs, ", "), e.Err)
}

func (e *WALCorruptionError) Unwrap() error { return e.Err }

func (o *Options) ensureDefaults() {
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = 192 << 20
	}
	if o.WriteBufferBytes == 0 {
		o.WriteBufferBytes = 32 << 20
	}
	if o.MetaCacheBytes == 0 {
		o.MetaCacheBytes = 16 << 20
	}
	if o.ExportMembersMax == 0 {
		o.ExportMembersMax = ExportMembersMax
	}
	if o.Now == nil {
		o.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if o.MinFreeDisk == 0 {
		o.MinFreeDisk = DefaultMinFreeDisk
	}
}

func (o *Options) validate() error {
	if o.Dir == "" {
		return errors.New("storage: Options.Dir is empty")
	}
	return nil
}

// lockStripes is the number of slot write locks. Slots hash onto stripes;
// two slots sharing a stripe only lose parallelism, never correctness.
const lockStripes = 4096

// Engine is the node's one RocksDB. It is safe for concurrent use.
type Engine struct {
	opts Options
	db   *grocksdb.DB
	cfs  [numCFs]*grocksdb.ColumnFamilyHandle
	dflt *grocksdb.ColumnFamilyHandle
	ro   *grocksdb.ReadOptions
	wo   *grocksdb.WriteOptions
	// woRaft writes a raft round: synced under FsyncEverySec and
	// FsyncAlways (raft acknowledges entries and votes only once they
	// are on disk: one sync per round, for all its groups), not under
	// FsyncNo.
	woRaft *grocksdb.WriteOptions
	// syncStop ends the once-a-second WAL sync (FsyncEverySec), which
	// closes syncDone.
	syncStop, syncDone chan struct{}
	cache              *grocksdb.Cache
	// opts to destroy on Close.
	dbOpts  *grocksdb.Options
	cfOpts  []*grocksdb.Options
	filters []*staleMemberFilter

	stripes [lockStripes]sync.Mutex
	// gates are raised on the stripes of a unit's pending part: reads
	// wait (unitrecords.go).
	gates stripeGates
	// pendingParts are the units' parts pending on slots here.
	pendingParts pendingParts
	// records is held (read) by a unit record's write, which holds no
	// stripe (WriteUnitRecord), and taken by Close before the committer
	// stops.
	records sync.RWMutex
	mcache  metaCache
	// watches are the keys clients WATCH, marked by every write applied.
	watches watchSet
	// wants are the keys clients wait on (wanted.go).
	wants wantSet

	versions versionAllocator
	// disk refuses writes while the disk is (nearly) full.
	disk diskGuard

	countsMu sync.RWMutex
	counts   map[TableID][]slotCounts // per slot; written with the data

	commitCh   chan *commitReq
	commitDone chan struct{}
	// logWritten holds one pending wake for the shipper (LogWritten).
	logWritten chan struct{}
	expired    chan expiredKey // keys reads found expired, for SweepExpired
	// expiredHook is told of each key the sweep deleted (SetExpiredHook).
	expiredHook atomic.Pointer[func(TableID, []byte)]

	closed atomic.Bool
}

// ErrClosed is returned by operations on a closed Engine.
var ErrClosed = errors.New("storage: closed")

// Open opens or creates the RocksDB under opts.Dir.
func Open(opts Options) (*Engine, error) {
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	e := &Engine{opts: opts, counts: map[TableID][]slotCounts{}, expired: make(chan expiredKey, 1024),
		logWritten: make(chan struct{}, 1)}
	if opts.MetaCacheBytes > 0 {
		e.mcache.init(opts.MetaCacheBytes)
	}

	e.cache = grocksdb.NewLRUCache(opts.BlockCacheBytes)
	newCFOpts := func(bloom bool) *grocksdb.Options {
		o := grocksdb.NewDefaultOptions()
		bbto := grocksdb.NewDefaultBlockBasedTableOptions()
		bbto.SetBlockCache(e.cache)
		bbto.SetBlockSize(4 << 10)
		bbto.SetCacheIndexAndFilterBlocks(true)
		bbto.SetPinL0FilterAndIndexBlocksInCache(true)
		if bloom {
			bbto.SetFilterPolicy(grocksdb.NewBloomFilter(10))
		}
		o.SetBlockBasedTableFactory(bbto)
		o.SetWriteBufferSize(opts.WriteBufferBytes)
		o.SetMaxWriteBufferNumber(4)
		o.SetLevelCompactionDynamicLevelBytes(true)
		o.SetCompression(grocksdb.LZ4Compression)
		o.SetBottommostCompression(grocksdb.LZ4Compression)
		return o
	}

	e.dbOpts = grocksdb.NewDefaultOptions()
	e.dbOpts.SetCreateIfMissing(true)
	e.dbOpts.SetCreateIfMissingColumnFamilies(true)
	e.dbOpts.SetMaxBackgroundJobs(4)
	e.dbOpts.SetBytesPerSync(1 << 20)
	// Bounds WAL replay after a crash (replay inserts ~300k entries/s, and a
	// restart must serve within 2 s): the small system CF (key counts) would
	// otherwise pin every WAL file until this limit forces it to flush.
	e.dbOpts.SetMaxTotalWalSize(64 << 20)
	e.dbOpts.SetKeepLogFileNum(4)
	e.dbOpts.SetEnablePipelinedWrite(true)

	// Replay the WAL into memtables without flushing them to L0 at open: a
	// restart after kill -9 serves as soon as the replay is done.
	fast, err := grocksdb.GetOptionsFromString(e.dbOpts, "avoid_flush_during_recovery=true")
	if err != nil {
		e.dbOpts.Destroy()
		e.cache.Destroy()
		return nil, fmt.Errorf("storage: options: %w", err)
	}
	e.dbOpts.Destroy()
	e.dbOpts = fast
	switch opts.WALRecovery {
	case WALRecoverPointInTime:
		e.dbOpts.SetWALRecoveryMode(grocksdb.PointInTimeRecovery)
	default:
		e.dbOpts.SetWALRecoveryMode(grocksdb.TolerateCorruptedTailRecordsRecovery)
	}

	names := []string{"default"}
	cfOpts := []*grocksdb.Options{newCFOpts(false)}
	for cf := CF(0); cf < numCFs; cf++ {
		o := newCFOpts(cf == CFMeta || cf == CFData)
		if cf == CFData || cf == CFScore {
			f := &staleMemberFilter{name: "pika.stale-members." + cfNames[cf]}
			e.filters = append(e.filters, f)
			o.SetCompactionFilter(f)
		}
		names = append(names, cfNames[cf])
		cfOpts = append(cfOpts, o)
	}
	e.cfOpts = cfOpts

	db, handles, err := grocksdb.OpenDbColumnFamilies(e.dbOpts, filepath.Clean(opts.Dir), names, cfOpts)
	if err != nil {
		e.destroyOptions()
		if opts.WALRecovery == WALRecoverTornTail && strings.HasPrefix(err.Error(), "Corruption:") {
			return nil, &WALCorruptionError{Dir: opts.Dir, Err: err}
		}
		return nil, fmt.Errorf("storage: open %s: %w", opts.Dir, err)
	}
	e.db = db
	e.dflt = handles[0]
	copy(e.cfs[:], handles[1:])
	if opts.WALRecovery == WALRecoverPointInTime {
		// The replay kept what came before the damage, in memtables only
		// (avoid_flush_during_recovery): flush them, so that the damaged
		// WAL is no longer needed and a crash before the next flush is not
		// refused again over the loss the operator accepted.
		fo := grocksdb.NewDefaultFlushOptions()
		fo.SetWait(true)
		var err error
		for _, h := range handles {
			if err == nil {
				err = db.FlushCF(h, fo)
			}
		}
		fo.Destroy()
		if err != nil {
			for _, h := range handles {
				h.Destroy()
			}
			db.Close()
			e.destroyOptions()
			return nil, fmt.Errorf("storage: flush after point-in-time recovery of %s: %w", opts.Dir, err)
		}
	}
	e.ro = grocksdb.NewDefaultReadOptions()
	e.wo = grocksdb.NewDefaultWriteOptions()
	e.wo.SetSync(opts.Fsync == FsyncAlways)
	e.woRaft = grocksdb.NewDefaultWriteOptions()
	e.woRaft.SetSync(opts.Fsync != FsyncNo)
	e.syncStop, e.syncDone = make(chan struct{}), make(chan struct{})
	if opts.Fsync == FsyncEverySec {
		go e.syncLoop()
	} else {
		close(e.syncDone)
	}
	_ = os.RemoveAll(e.loadDir()) // slot loads a crash interrupted
	for _, f := range e.filters {
		f.engine.Store(e)
	}
	e.disk.init(opts.Dir, opts.MinFreeDisk, opts.FreeDiskBytes, opts.OnDiskLevel)
	e.commitCh = make(chan *commitReq, maxCommitGroup)
	e.commitDone = make(chan struct{})
	go e.commitLoop()
	if err := e.versions.init(e); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// syncLoop syncs the WAL once a second until Close (FsyncEverySec). A
// sync of a WAL with nothing new is cheap; one that fails is logged by
// RocksDB and tried again a second later.
func (e *Engine) syncLoop() {
	defer close(e.syncDone)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-e.syncStop:
			return
		case <-t.C:
			_ = e.db.FlushWAL(true)
		}
	}
}

func (e *Engine) destroyOptions() {
	for _, o := range e.cfOpts {
		o.Destroy()
	}
	e.dbOpts.Destroy()
	e.cache.Destroy()
}

// Close waits for in-flight writes (every stripe is taken once), flushes
// the memtables so the next Open has no WAL to replay (a clean restart
// serves at once), and releases RocksDB. Nothing depends on the flush: the
// WAL already holds every acknowledged write.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	for i := range e.stripes {
		e.stripes[i].Lock()
	}
	e.records.Lock()
	close(e.commitCh) // no commit is in flight: every stripe is held, and records
	<-e.commitDone
	e.records.Unlock() // a record's writer that comes later finds the engine closed
	close(e.syncStop)
	<-e.syncDone
	e.disk.close()
	fo := grocksdb.NewDefaultFlushOptions()
	fo.SetWait(true)
	for _, h := range e.cfs {
		_ = e.db.FlushCF(h, fo) // best effort: the WAL covers a failure
	}
	fo.Destroy()
	for _, f := range e.filters {
		f.engine.Store(nil)
	}
	e.db.CancelAllBackgroundWork(true)
	e.ro.Destroy()
	e.wo.Destroy()
	e.woRaft.Destroy()
	for _, h := range e.cfs {
		h.Destroy()
	}
	e.dflt.Destroy()
	e.db.Close()
	e.destroyOptions()
	for i := range e.stripes {
		e.stripes[i].Unlock()
	}
	return nil
}

// NowMS is the engine's clock in unix milliseconds.
func (e *Engine) NowMS() int64 { return e.opts.Now() }

// get reads one key. Every read of the data goes through get or
// Txn.iterate, which refuse a closed engine (ErrClosed). Close must still
// come after the engine's last user has stopped (the node's shutdown
// orders it so): a read already past the check when Close runs is not
// waited for.
func (e *Engine) get(cf CF, key []byte) ([]byte, bool, error) {
	if e.closed.Load() {
		return nil, false, ErrClosed
	}
	s, err := e.db.GetPinnedCF(e.ro, e.cfs[cf], key)
	if err != nil {
		return nil, false, fmt.Errorf("storage: get: %w", err)
	}
	defer s.Destroy()
	if !s.Exists() {
		return nil, false, nil
	}
	return append([]byte(nil), s.Data()...), true, nil
}

func (e *Engine) stripeOf(t TableID, s SlotID) int {
	return int((uint64(t)*0x9E3779B1 + uint64(s)) % lockStripes)
}

// stripesOf returns the lock stripes of slots, ascending and unique; taking
// them in this order is deadlock-free.
func (e *Engine) stripesOf(t TableID, slots []SlotID) []int {
	idx := make([]int, 0, len(slots))
	for _, s := range slots {
		idx = append(idx, e.stripeOf(t, s))
	}
	sort.Ints(idx)
	out := idx[:0]
	for i, v := range idx {
		if i > 0 && v == idx[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

func (e *Engine) unlock(stripes []int) {
	for i := len(stripes) - 1; i >= 0; i-- {
		e.stripes[stripes[i]].Unlock()
	}
}

// Update evaluates one write command: it locks the given slots of table (so
// writes to one slot are serialized), runs fn, and commits the effects of
// every Txn fn used in one atomic RocksDB batch before unlocking. If fn
// returns an error nothing is written. Writes to different slots run in
// parallel, and the committer (commitLoop) writes concurrent commits in one
// RocksDB batch (group commit). Update returns after the batch is in the WAL.
//
// Update commits locally: a raft slot's writes need their Committer
// (UpdateWith).
func (e *Engine) Update(t TableID, slots []SlotID, fn func(*Update) error) error {
	return e.UpdateWith(nil, t, slots, fn)
}

// UpdateWith is Update with the tables' Committers (nil: local).
func (e *Engine) UpdateWith(commits func(TableID) Committer, t TableID, slots []SlotID, fn func(*Update) error) error {
	b := Batch{e: e, commits: commits}
	done := false
	defer func() {
		if !done { // fn failed or panicked: unlock without writing
			b.release()
		}
	}()
	if err := b.Update(t, slots, fn); err != nil {
		return err
	}
	done = true
	return b.Commit()
}

// Update hands out the write Txns of one command.
type Update struct {
	e     *Engine
	batch *Batch
	table TableID
	slots []SlotID
	nowMS int64
	txns  []*Txn
}

// Txn returns the write Txn of slot, which must be one of the slots passed
// to Engine.Update (else it panics: the command's key spec is wrong).
func (u *Update) Txn(s SlotID) *Txn {
	for _, t := range u.txns {
		if t.slot == s {
			return t
		}
	}
	declared := false
	for _, d := range u.slots {
		if d == s {
			declared = true
			break
		}
	}
	if !declared {
		panic(fmt.Sprintf("storage: slot %d written but not locked", s))
	}
	t := &Txn{e: u.e, table: u.table, slot: s, nowMS: u.nowMS, write: true, base: u.batch.txn(s)}
	if t.base != nil {
		t.image = t.base.image
	}
	u.txns = append(u.txns, t)
	return t
}

// NowMS is the command's clock, fixed for its whole evaluation.
func (u *Update) NowMS() int64 { return u.nowMS }

// Batch accumulates the effects of several write commands, all committed in
// one RocksDB write: a connection uses it for the writes of one pipeline,
// so sixteen pipelined SETs cost one WAL write instead of sixteen. The
// slots' locks are held from each command's evaluation until Commit, so
// later commands of the batch, and nobody else, see its pending writes.
//
// Deadlock freedom: Update blocks on a lock only while the batch holds
// none; otherwise it only try-locks and answers ErrBatchBusy, and the
// caller commits and retries. A Batch is used by one goroutine; its zero
// value is not usable, get one from Engine.NewBatch.
type Batch struct {
	e     *Engine
	table TableID
	held  []int  // stripes held, ascending
	txns  []*Txn // pending effects, one Txn per slot
	cmds  int
	done  chan error // reused for every commit of the batch
	// commits gives a table's Committer (nil, or nil for a table: the
	// local commit); committer is the one of the batch's table.
	commits   func(TableID) Committer
	committer Committer
	// images are the slots of the batch's table read from copies of
	// another node's data (UseImage, image.go): never locked, admitted
	// or committed here.
	images []*SlotImage
	// admitted is the term of each slot's first admission (AdmittedTerm).
	admitted []admission
}

type admission struct {
	slot SlotID
	term uint64
}

// ErrBatchBusy means Update would have to wait for a lock while the batch
// holds others: Commit the batch, then run the command again.
var ErrBatchBusy = errors.New("storage: batch must commit before this command")

// NewBatch returns an empty batch.
// commits gives each table's Committer (nil: every write commits locally).
func (e *Engine) NewBatch(commits func(TableID) Committer) *Batch {
	return &Batch{e: e, commits: commits}
}

// Len is the number of commands waiting in the batch.
func (b *Batch) Len() int { return b.cmds }

// Idle reports whether the batch holds no lock, no effect and no image (a
// command that failed after locking its slots leaves the locks held until
// Commit).
func (b *Batch) Idle() bool { return len(b.held) == 0 && len(b.txns) == 0 && len(b.images) == 0 }

// Ops is the number of pending operations.
func (b *Batch) Ops() int {
	n := 0
	for _, t := range b.txns {
		n += len(t.eff.Ops)
	}
	return n
}

func (b *Batch) txn(s SlotID) *Txn {
	if b == nil {
		return nil
	}
	for _, t := range b.txns {
		if t.slot == s {
			return t
		}
	}
	t := &Txn{e: b.e, table: b.table, slot: s, write: true, image: b.imageOf(s)}
	b.txns = append(b.txns, t)
	return t
}

// Update evaluates one write command into the batch: like Engine.Update,
// but the effects wait for Commit. If fn fails, its writes are dropped and
// the batch keeps the earlier commands' writes. Image slots (UseImage)
// among slots are neither locked nor admitted.
func (b *Batch) Update(t TableID, slots []SlotID, fn func(*Update) error) error {
	if b.e.closed.Load() {
		return ErrClosed
	}
	if (len(b.held) > 0 || len(b.images) > 0) && t != b.table {
		return ErrBatchBusy
	}
	local := b.localSlots(slots)
	need := b.e.stripesOf(t, local)
	if len(b.held) == 0 {
		for _, i := range need {
			b.e.stripes[i].Lock()
		}
		b.held = need
		b.committer = nil
		if b.commits != nil {
			b.committer = b.commits(t)
		}
	} else {
		var got []int
		for _, i := range need {
			if b.holds(i) {
				continue
			}
			if !b.e.stripes[i].TryLock() {
				for _, j := range got {
					b.e.stripes[j].Unlock()
				}
				return ErrBatchBusy
			}
			got = append(got, i)
		}
		b.held = append(b.held, got...)
		sort.Ints(b.held)
	}
	b.table = t
	if b.e.closed.Load() {
		return ErrClosed
	}
	// A slot pending on a unit is written once the unit is resolved
	// (unitrecords.go).
	if err := b.e.awaitParts(t, local); err != nil {
		return err
	}
	// Image slots are not admitted: another node leads them (a command
	// of image slots alone is not admitted at all).
	if b.committer != nil && (len(local) > 0 || len(local) == len(slots)) {
		terms, err := b.committer.Admit(t, local)
		if err != nil {
			return err
		}
		b.noteAdmitted(local, terms)
	}
	u := Update{e: b.e, batch: b, table: t, slots: slots, nowMS: b.e.NowMS()}
	if err := fn(&u); err != nil {
		return err
	}
	for _, child := range u.txns {
		child.base.absorb(child)
	}
	b.cmds++
	return nil
}

// Hold locks the slots of table t for the batch, waiting for them (in
// stripe order, so with no risk of deadlock), and admits them: the
// commands of a unit over those slots (a MULTI ... EXEC block) then run on
// the batch without waiting or failing busy. The batch must hold nothing
// (but images, UseImage: their slots are neither locked nor admitted);
// after an error it may hold the locks: Release it.
func (b *Batch) Hold(t TableID, slots []SlotID) error {
	if b.e.closed.Load() {
		return ErrClosed
	}
	if len(b.held) > 0 || len(b.txns) > 0 || (len(b.images) > 0 && t != b.table) {
		return ErrBatchBusy
	}
	slots = b.localSlots(slots) // image slots are neither locked nor admitted
	need := b.e.stripesOf(t, slots)
	for _, i := range need {
		b.e.stripes[i].Lock()
	}
	b.held, b.table = need, t
	b.committer = nil
	if b.commits != nil {
		b.committer = b.commits(t)
	}
	if b.e.closed.Load() {
		return ErrClosed
	}
	if err := b.e.awaitParts(t, slots); err != nil {
		return err
	}
	if b.committer != nil && len(slots) > 0 {
		terms, err := b.committer.Admit(t, slots)
		if err != nil {
			return err
		}
		b.noteAdmitted(slots, terms)
	}
	return nil
}

// noteAdmitted keeps the term in which the committer first admitted each
// slot for the batch (AdmittedTerm); terms is nil when it has none.
func (b *Batch) noteAdmitted(slots []SlotID, terms []uint64) {
	if terms == nil {
		return
	}
	for i, s := range slots {
		if b.AdmittedTerm(s) == 0 {
			b.admitted = append(b.admitted, admission{slot: s, term: terms[i]})
		}
	}
}

// AdmittedTerm is the term in which the batch's Committer first admitted
// slot s (0: none, or a committer without terms). A raft commit proposes
// the slot's effect, and confirms its reads, in that term only: what was
// evaluated while this node led the slot in one term must not be
// committed, nor answered, after it lost and regained the lead (another
// leader may have written the slot in between).
func (b *Batch) AdmittedTerm(s SlotID) uint64 {
	for _, a := range b.admitted {
		if a.slot == s {
			return a.term
		}
	}
	return 0
}

func (b *Batch) holds(stripe int) bool {
	for _, h := range b.held {
		if h == stripe {
			return true
		}
	}
	return false
}

// Commit commits every pending effect and releases the locks: by the
// batch's Committer, or else in one local RocksDB write (the slot log
// appended for logged slots). After an error nothing of the batch was
// written.
//
// Image slots (UseImage) are not this node's to commit: Commit refuses a
// batch where one has an effect (ErrImageCommit, and releases it); image
// slots that were only read are left out. The coordinator takes such a
// batch's Effects and then Releases it.
func (b *Batch) Commit() error {
	if err := b.dropImages(); err != nil {
		return err
	}
	if b.committer != nil {
		return b.committer.Commit(b)
	}
	return b.CommitLocal()
}

// CommitLocal writes every pending effect in one local RocksDB write (the
// slot log appended for logged slots) and releases the locks: the commit
// of a Committer that only admits.
func (b *Batch) CommitLocal() error {
	defer b.release()
	if err := b.dropImages(); err != nil {
		return err
	}
	if len(b.txns) == 0 {
		return nil
	}
	if b.done == nil {
		b.done = make(chan error, 1)
	}
	return b.e.commit(b.txns, b.done)
}

// Release unlocks and empties the batch without writing anything (a
// Committer calls it once the effects are committed its own way), and
// forgets its images.
func (b *Batch) Release() { b.release() }

// release unlocks and empties the batch without writing.
func (b *Batch) release() {
	b.e.unlock(b.held)
	b.held, b.txns, b.cmds, b.images, b.admitted = nil, nil, 0, nil, b.admitted[:0]
}

// Table is the table of the batch's pending writes.
func (b *Batch) Table() TableID { return b.table }

// SlotEffect is one slot's part of a batch: the effect its commands
// produced, in order.
type SlotEffect struct {
	Slot SlotID
	// Effect is the encoded Effect; nil when the commands changed
	// nothing there (they only read: a replicated commit confirms its
	// reads instead).
	Effect []byte
}

// Effects returns the batch's pending effects, one per slot written,
// image slots included (each is what its leader applies: DecodeEffect).
func (b *Batch) Effects() []SlotEffect {
	out := make([]SlotEffect, 0, len(b.txns))
	for _, t := range b.txns {
		se := SlotEffect{Slot: t.slot}
		if !t.eff.Empty() {
			se.Effect = t.eff.Encode(nil)
		}
		out = append(out, se)
	}
	return out
}

// Committer admits and commits the writes of a batch another way than the
// engine's local commit: a raft table's slots are committed by their raft
// groups (replication/multiraft). The caller chooses it per table.
type Committer interface {
	// Admit runs under the slots' locks before a command is evaluated:
	// nil once this node may evaluate a write of them (it leads them and
	// has applied every earlier write, so the evaluation sees it). It
	// returns the term in which it admitted each slot, or nil when the
	// committer has no terms; Commit finds them in Batch.AdmittedTerm.
	Admit(t TableID, slots []SlotID) (terms []uint64, err error)
	// Commit makes b's effects durable and releases b (b.Release), or
	// returns why not: nothing of b applied, or, when its slots commit
	// each on its own, a *CommitError naming the slots that failed (the
	// others' effects are committed).
	Commit(b *Batch) error
}

// CommitError is a Committer's failure to commit some slots of a batch
// whose slots commit each on its own (a raft table: a group per slot), so
// the other slots' effects are committed. A pipeline's batch holds many
// commands: each is answered by the outcome of its own slots (For), and
// one whose slots committed is never run again — a SET answered "moved"
// after its entry committed was run again on the new leader, over an
// APPEND acknowledged in between, which it then erased.
type CommitError struct {
	// Failed are the slots that failed, with why, in the batch's order.
	Failed []SlotError
	// Effects is the number of the batch's slots that had an effect.
	Effects int
}

// SlotError is one slot's failure in a CommitError.
type SlotError struct {
	Slot SlotID
	// Effect: the slot had an effect (else its reads were confirmed).
	Effect bool
	Err    error
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("storage: %d of a batch's slots failed to commit: slot %d: %v", len(e.Failed), e.Failed[0].Slot, e.Failed[0].Err)
}

// RedisError is the first failure's reply, when it knows one.
func (e *CommitError) RedisError() string {
	var re interface{ RedisError() string }
	if errors.As(e.Failed[0].Err, &re) {
		return re.RedisError()
	}
	return "ERR " + e.Failed[0].Err.Error()
}

// Unapplied reports whether nothing of the batch was applied, nor ever
// will be: every slot with an effect failed, each failure unapplied.
func (e *CommitError) Unapplied() bool {
	effects := 0
	for _, f := range e.Failed {
		var u interface{ Unapplied() bool }
		if !errors.As(f.Err, &u) || !u.Unapplied() {
			return false
		}
		if f.Effect {
			effects++
		}
	}
	return effects == e.Effects
}

// For is the outcome of a command of the batch over slots: nil when each
// of them committed (or was confirmed), else the first one's failure.
func (e *CommitError) For(slots []SlotID) error {
	for _, f := range e.Failed {
		if slices.Contains(slots, f.Slot) {
			return f.Err
		}
	}
	return nil
}

// ErrRaftSlot is a local commit of a raft slot: only its raft group
// writes it (a Committer was missing).
var ErrRaftSlot = errors.New("storage: a raft slot's writes are committed by its group")

// commit hands the effects of one command (or one pipeline batch) to the
// committer and waits on done (buffered, capacity 1) until they are in the
// WAL. The caller holds the
// stripes of every slot in txns, so no other commit touches them meanwhile.
func (e *Engine) commit(txns []*Txn, done chan error) error {
	return e.commitWith(txns, nil, done)
}

// commitWith is commit with sys, ops on the system CF written in the same
// RocksDB write (not logged).
func (e *Engine) commitWith(txns []*Txn, sys []Op, done chan error) error {
	for _, t := range txns {
		if e.isRaft(t.table, t.slot) {
			return ErrRaftSlot
		}
	}
	empty := true
	for _, t := range txns {
		if !t.eff.Empty() {
			empty = false
			break
		}
	}
	if empty && len(sys) == 0 {
		return nil
	}
	e.commitCh <- &commitReq{txns: txns, sys: sys, done: done}
	return <-done
}

// commitReq is one caller's effects waiting for the committer.
type commitReq struct {
	txns []*Txn
	sys  []Op // system CF ops of the same write
	// records: the txns are unit records written without their slots'
	// stripe locks (WriteUnitRecord); the committer applies the records'
	// rules to them and never writes one in the same group as another
	// request of its slot.
	records bool
	done    chan error
}

// startedHere reports whether req is a write a client started on this
// node (a command on slots it leads), not one completing work under way:
// a leader's entry applied as its follower, a unit's record. A disk
// running low refuses the first kind only (diskguard.go).
func (req *commitReq) startedHere() bool {
	if req.records {
		return false
	}
	for _, t := range req.txns {
		if !t.eff.Empty() && t.replicated == nil {
			return true
		}
	}
	return false
}

// slotUpdate is one slot's counts and log entry in the batch.
type slotUpdate struct {
	c      *slotCounts
	t      TableID
	s      SlotID
	n      [2]int64
	count  bool // the counts changed
	logged bool
	index  LogIndex
	epoch  Epoch
	ms     int64

	// replicated: the entry is a leader's, applied here as its
	// follower (ApplyLogEntry), not this node's own write.
	replicated bool
	// txn is the write; dropped: the records' rules dropped it
	// (filterRecords): it is not written.
	txn     *Txn
	dropped bool
}

// maxCommitGroup bounds how many requests one RocksDB write carries.
const maxCommitGroup = 512

// commitLoop is the group committer: it takes every request waiting, writes
// them all in one RocksDB batch, and answers each. Why our own instead of
// RocksDB's write groups: there, every waiting writer is an OS thread
// parked (or spinning) inside a cgo call; with fifty connections on a
// 2-core machine that meant fifty threads and p99 latencies of milliseconds.
// Here waiting writers are parked goroutines and one thread does the write.
// The requests' slots are disjoint (each holds its slots' stripes), so their
// order inside the batch does not matter; a unit record's write, which
// holds no stripe (WriteUnitRecord), goes in a group where no other request
// has its slot.
func (e *Engine) commitLoop() {
	defer close(e.commitDone)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	var group, carry []*commitReq
	var updates []slotUpdate
	var entry []byte
	for {
		// A unit record's request meeting another of its slot in a
		// group is carried to the next one, which starts with them.
		group = append(group[:0], carry...)
		carry = carry[:0]
		carriedOver := len(group)
		if len(group) == 0 {
			first, ok := <-e.commitCh
			if !ok {
				return
			}
			group = append(group, first)
		}
	drain:
		for len(group) < maxCommitGroup {
			select {
			case r, ok := <-e.commitCh:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		// The requests carried over first, then those holding their
		// slots' locks (disjoint), then the new record requests. Once a
		// record request is in the group, each request is checked against
		// the slots already in it.
		hasRecords := false
		for _, r := range group {
			hasRecords = hasRecords || r.records
		}
		if hasRecords {
			slices.SortStableFunc(group[carriedOver:], func(a, b *commitReq) int {
				switch {
				case a.records == b.records:
					return 0
				case b.records:
					return -1
				}
				return 1
			})
		}
		wb.Clear()
		updates = updates[:0]
		records := unitRecordApply{e: e}
		nowMS := e.opts.Now()
		var failed map[*commitReq]error
		var carried map[*commitReq]bool
		written := 0
		disk := e.disk.state()
		for _, req := range group {
			if disk.Level != DiskOK {
				if derr := e.disk.refuseAt(disk, req.startedHere()); derr != nil {
					if failed == nil {
						failed = map[*commitReq]error{}
					}
					failed[req] = derr
					continue
				}
			}
			if hasRecords && slotInGroup(req, updates) {
				carry = append(carry, req)
				if carried == nil {
					carried = map[*commitReq]bool{}
				}
				carried[req] = true
				continue
			}
			// Look up every slot first, so a request for an unloaded
			// table (a bug elsewhere) fails alone, before any of it is
			// in the batch; the rest of the group is written.
			mark := len(updates)
			var reqErr error
			for _, t := range req.txns {
				if t.eff.Empty() {
					continue
				}
				c, err := e.slotCount(t.table, t.slot)
				if err != nil {
					reqErr = err
					break
				}
				u := slotUpdate{c: c, t: t.table, s: t.slot, txn: t,
					n:      [2]int64{c.keys.Load() + t.eff.KeyDelta, c.expires.Load() + t.eff.ExpireDelta},
					count:  t.eff.KeyDelta != 0 || t.eff.ExpireDelta != 0,
					logged: c.logged.Load(),
					index:  LogIndex(c.logLast.Load() + 1), epoch: Epoch(c.epoch.Load()), ms: nowMS}
				if r := t.replicated; r != nil {
					if r.Index != u.index {
						reqErr = fmt.Errorf("%w: table %d slot %d: entry %d after %d", ErrLogGap, t.table, t.slot, r.Index, u.index-1)
						break
					}
					u.logged, u.replicated, u.epoch, u.ms = true, true, r.Epoch, r.UnixMS
				}
				updates = append(updates, u)
			}
			if reqErr != nil {
				updates = updates[:mark]
				if failed == nil {
					failed = map[*commitReq]error{}
				}
				failed[req] = fmt.Errorf("storage: commit: %w", reqErr)
				continue
			}
			if req.records {
				if ferr := filterRecords(&records, req, updates[mark:]); ferr != nil {
					updates = updates[:mark]
					if failed == nil {
						failed = map[*commitReq]error{}
					}
					failed[req] = fmt.Errorf("storage: commit: %w", ferr)
					continue
				}
			}
			i := mark
			for _, t := range req.txns {
				if t.eff.Empty() {
					continue
				}
				u := updates[i]
				i++
				if u.dropped {
					continue
				}
				if !req.records {
					records.track(u.t, u.s, &t.eff)
				}
				if u.count {
					wb.PutCF(e.cfs[CFSystem], countKey(u.t, u.s), encodeCounts(u.n))
				}
				t.eff.addTo(wb, &e.cfs)
				written += t.eff.size()
				if u.logged {
					// The slot's log entry goes in the same batch as the data.
					entry = appendLogEntry(entry[:0], u.epoch, u.ms, &t.eff)
					wb.PutCF(e.cfs[CFLog], logKey(u.t, u.s, u.index), entry)
				}
			}
			sys := Effect{Ops: req.sys}
			sys.addTo(wb, &e.cfs)
		}
		var err error
		if wb.Count() > 0 { // nothing to write when every request was refused
			err = e.db.Write(e.wo, wb)
			e.disk.wrote(written)
		}
		if err != nil {
			err = fmt.Errorf("storage: write: %w", err)
		} else {
			wrote := false
			for _, u := range updates {
				if u.dropped {
					continue
				}
				u.c.keys.Store(u.n[0])
				u.c.expires.Store(u.n[1])
				if u.logged {
					u.c.logLast.Store(uint64(u.index))
					u.c.logEpoch.Store(uint64(u.epoch))
					u.c.logFirst.CompareAndSwap(0, uint64(u.index))
					wrote = wrote || !u.replicated
					u.txn.logIndex = u.index
				}
			}
			if wrote { // after the bounds moved: the woken reader sees them
				e.notifyLogWritten()
			}
			// The writes written: neither a failed or carried request's
			// nor one the records' rules dropped (an end of a part ended
			// already must not put the part's values back in the cache).
			for _, u := range updates {
				if u.dropped {
					continue
				}
				e.cacheEffect(u.t, u.s, &u.txn.eff)
				e.touchEffect(&u.txn.eff)
			}
			// After the caches: a read the part's gate held sees the
			// part's end applied.
			records.noted()
		}
		if cap(entry) > 1<<20 {
			entry = nil // do not keep a huge effect's buffer
		}
		for _, req := range group {
			if carried[req] {
				continue
			}
			if ferr := failed[req]; ferr != nil {
				req.done <- ferr
			} else {
				req.done <- err
			}
		}
	}
}

// slotInGroup reports whether a slot of req is among the group's updates
// so far.
func slotInGroup(req *commitReq, updates []slotUpdate) bool {
	for _, t := range req.txns {
		for _, u := range updates {
			if u.t == t.table && u.s == t.slot {
				return true
			}
		}
	}
	return false
}

// filterRecords applies the rules of unit records to a record request's
// effects (ups are their updates, in order): an end of a part not
// recorded is dropped (the update marked), a decision is not written
// over a recorded one.
func filterRecords(a *unitRecordApply, req *commitReq, ups []slotUpdate) error {
	i := 0
	for _, t := range req.txns {
		if t.eff.Empty() {
			continue
		}
		keep, err := a.filter(t.table, t.slot, &t.eff)
		if err != nil {
			return err
		}
		if !keep {
			ups[i].dropped = true
		}
		i++
	}
	return nil
}

// cacheEffect brings the meta cache of slot up to date with a committed
// effect. The caller holds the slot's stripe lock.
func (e *Engine) cacheEffect(t TableID, s SlotID, eff *Effect) {
	if e.mcache.maxShardBytes == 0 {
		return
	}
	for _, op := range eff.Ops {
		if op.CF != CFMeta {
			continue
		}
		switch op.Kind {
		case OpPut:
			e.mcache.shard(op.Key).store(op.Key, op.Value, true, e.mcache.maxShardBytes)
		case OpDelete:
			e.mcache.shard(op.Key).store(op.Key, nil, false, e.mcache.maxShardBytes)
		case OpDeleteRange:
			e.mcache.clearAll()
		}
	}
}

// getMeta reads a meta value through the cache. locked says whether the
// caller holds the key's stripe lock.
func (e *Engine) getMeta(t TableID, s SlotID, mk []byte, locked bool) ([]byte, bool, error) {
	if e.closed.Load() {
		return nil, false, ErrClosed // not even from the cache
	}
	if e.mcache.maxShardBytes == 0 || e.isRaft(t, s) {
		// Raft slots are applied by the group's driver without the
		// slot's lock, which the cache's coherence needs: no cache.
		return e.get(CFMeta, mk)
	}
	st := &e.stripes[e.stripeOf(t, s)]
	sh := e.mcache.shard(mk)
	if v, ok := sh.lookup(mk); ok {
		return v, v != nil, nil
	}
	if !locked {
		if !st.TryLock() {
			return e.get(CFMeta, mk)
		}
		defer st.Unlock()
	}
	v, ok, err := e.get(CFMeta, mk)
	if err == nil {
		sh.store(mk, v, ok, e.mcache.maxShardBytes)
	}
	return v, ok, err
}

// View returns a read-only view of table. Reads see every committed write;
// a View holds no locks and no snapshot.
func (e *Engine) View(t TableID) *View { return &View{e: e, table: t, nowMS: e.NowMS()} }

// View hands out read Txns.
type View struct {
	e     *Engine
	table TableID
	nowMS int64
}

// Txn returns a read-only Txn on slot s.
// It waits while a unit's part is pending on the slot (unitrecords.go).
func (v *View) Txn(s SlotID) *Txn {
	v.e.awaitGate(v.table, s)
	return &Txn{e: v.e, table: v.table, slot: s, nowMS: v.nowMS}
}

// NowMS is the view's clock.
func (v *View) NowMS() int64 { return v.nowMS }

// ---- key counts ----

// slotCounts are a slot's number of keys and of keys with a TTL, kept in
// memory and written in the same batch as every change that moves them.
// slotCounts is one slot's in-memory state: its key counts and its log's
// bounds (slotlog.go). Counts and the log's last index change only in the
// committer, under the slot's stripe lock held by the committing caller.
type slotCounts struct {
	keys    atomic.Int64
	expires atomic.Int64

	logFirst atomic.Uint64 // first retained entry, 0 when the log is empty
	logLast  atomic.Uint64 // last entry, 0 when none was ever written
	logEpoch atomic.Uint64 // epoch of the last entry
	epoch    atomic.Uint64 // the epoch new entries are stamped with
	logged   atomic.Bool   // writes are logged (the slot has, or may get, followers)
	follower atomic.Bool   // this node follows the slot: only ApplyLogEntry writes it
	raft     atomic.Bool   // the slot is a raft group's: written by ApplyRaft only
}

func countKey(t TableID, s SlotID) []byte {
	return append([]byte("count|"), SlotPrefix(t, s)...)
}

// encodeCounts is the system CF value: keys u64 BE | expires u64 BE.
func encodeCounts(n [2]int64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(n[0]))
	return binary.BigEndian.AppendUint64(b, uint64(n[1]))
}

// EnsureTable loads (or initializes) the per-slot counts of a table with
// the given slot count. Call it before serving the table.
func (e *Engine) EnsureTable(t TableID, slots uint32) error {
	e.countsMu.Lock()
	defer e.countsMu.Unlock()
	if _, ok := e.counts[t]; ok {
		return nil
	}
	c := make([]slotCounts, slots)
	parts := e.db.NewIteratorCF(e.ro, e.cfs[CFData]) // the slots' unit part records
	defer parts.Close()
	for s := range c {
		v, ok, err := e.get(CFSystem, countKey(t, SlotID(s)))
		if err != nil {
			return err
		}
		if ok && len(v) == 16 {
			c[s].keys.Store(int64(binary.BigEndian.Uint64(v)))
			c[s].expires.Store(int64(binary.BigEndian.Uint64(v[8:])))
		}
		if err := e.loadLogBounds(t, SlotID(s), &c[s]); err != nil {
			return err
		}
		if err := e.loadRaftPosition(t, SlotID(s), &c[s]); err != nil {
			return err
		}
		if err := e.loadPartsWith(parts, t, SlotID(s)); err != nil {
			return err
		}
	}
	e.counts[t] = c
	return nil
}

func (e *Engine) slotCount(t TableID, s SlotID) (*slotCounts, error) {
	e.countsMu.RLock()
	defer e.countsMu.RUnlock()
	c := e.counts[t]
	if int(s) >= len(c) {
		return nil, fmt.Errorf("storage: table %d slot %d is not loaded", t, s)
	}
	return &c[s], nil
}

// KeyCount returns the number of keys of a table, counting keys that have
// expired but were not yet removed, as Redis's DBSIZE does.
func (e *Engine) KeyCount(t TableID) int64 {
	keys, _ := e.Counts(t)
	return keys
}

// Counts returns the number of keys of a table and how many of them have a
// TTL (INFO keyspace's keys and expires).
func (e *Engine) Counts(t TableID) (keys, expires int64) {
	e.countsMu.RLock()
	defer e.countsMu.RUnlock()
	for i := range e.counts[t] {
		keys += e.counts[t][i].keys.Load()
		expires += e.counts[t][i].expires.Load()
	}
	return keys, expires
}

// CountsWhere sums the key and TTL counts of the slots of table t that
// owns accepts (all when owns is nil): a node's share of a table.
func (e *Engine) CountsWhere(t TableID, owns func(SlotID) bool) (keys, expires int64) {
	if owns == nil {
		return e.Counts(t)
	}
	e.countsMu.RLock()
	defer e.countsMu.RUnlock()
	for i := range e.counts[t] {
		if owns(SlotID(i)) {
			keys += e.counts[t][i].keys.Load()
			expires += e.counts[t][i].expires.Load()
		}
	}
	return keys, expires
}

// lockSlot locks slot s of table t (its stripe) and returns its state and
// the function that unlocks it.
func (e *Engine) lockSlot(t TableID, s SlotID) (*slotCounts, func(), error) {
	c, err := e.slotCount(t, s)
	if err != nil {
		return nil, nil, err
	}
	st := &e.stripes[e.stripeOf(t, s)]
	st.Lock()
	return c, st.Unlock, nil
}

// SlotKeyCount returns the key count of one slot.
func (e *Engine) SlotKeyCount(t TableID, s SlotID) int64 {
	c, err := e.slotCount(t, s)
	if err != nil {
		return 0
	}
	return c.keys.Load()
}

// SlotCounts returns the key count of one slot and how many of its keys
// have a TTL.
func (e *Engine) SlotCounts(t TableID, s SlotID) (keys, expires int64) {
	c, err := e.slotCount(t, s)
	if err != nil {
		return 0, 0
	}
	return c.keys.Load(), c.expires.Load()
}

// FlushTable removes every key of table t: three DeleteRanges and the counts,
// in one batch, with every slot of the table locked.
func (e *Engine) FlushTable(t TableID) error {
	if e.closed.Load() {
		return ErrClosed
	}
	for i := range e.stripes {
		e.stripes[i].Lock()
	}
	defer func() {
		for i := range e.stripes {
			e.stripes[i].Unlock()
		}
	}()
	if e.closed.Load() { // Close may have come in while we waited
		return ErrClosed
	}
	e.touchTable(t)
	start := TablePrefix(t)
	end := prefixEnd(start)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, cf := range []CF{CFMeta, CFData, CFScore} {
		wb.DeleteRangeCF(e.cfs[cf], start, end)
	}
	cstart := countKey(t, 0)
	wb.DeleteRangeCF(e.cfs[CFSystem], cstart, prefixEnd(cstart[:len(cstart)-4]))
	if err := e.db.Write(e.wo, wb); err != nil {
		return fmt.Errorf("storage: flush table %d: %w", t, err)
	}
	e.mcache.clearAll()
	e.countsMu.RLock()
	for i := range e.counts[t] {
		e.counts[t][i].keys.Store(0)
		e.counts[t][i].expires.Store(0)
	}
	e.countsMu.RUnlock()
	return nil
}

// Stats returns a RocksDB property (e.g. "rocksdb.estimate-num-keys") of the
// meta column family, or "" when unknown.
func (e *Engine) Stats(property string) string {
	if e.closed.Load() {
		return ""
	}
	return e.db.GetPropertyCF(property, e.cfs[CFMeta])
}

// SSTFiles returns how many SST files the database has now. RocksDB keeps
// every one of them open (max_open_files is left at its default, -1: a
// table's reader is never evicted), so this is most of the file
// descriptors the engine holds; the rest are a few (WAL, MANIFEST, LOG).
func (e *Engine) SSTFiles() int {
	if e.closed.Load() {
		return 0
	}
	return len(e.db.GetLiveFilesMetaData())
}

// ApproximateDiskBytes returns the size of live SST files of all families.
func (e *Engine) ApproximateDiskBytes() uint64 {
	var n uint64
	if e.closed.Load() {
		return 0
	}
	for _, h := range e.cfs {
		v, _ := strconv.ParseUint(e.db.GetPropertyCF("rocksdb.total-sst-files-size", h), 10, 64)
		n += v
	}
	return n
}
