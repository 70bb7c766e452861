package storage

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/linxGnu/grocksdb"
)

// SlotLoad loads a full sync of a slot as SST files, one per column
// family, ingested when the copy is complete: the copied data never goes
// through the memtable, the WAL or level-0 compactions (a 1 GB slot is
// written once). The leader sends each column family's keys in order, as
// SST files need.
type SlotLoad struct {
	e       *Engine
	t       TableID
	s       SlotID
	dir     string
	writers [numCFs]*grocksdb.SSTFileWriter
	env     *grocksdb.EnvOptions
	last    [numCFs][]byte
}

// loadDir holds the SST files of loads in progress (under the data
// directory, so that ingestion moves them instead of copying).
func (e *Engine) loadDir() string { return filepath.Join(e.opts.Dir, "slot-loads") }

// BeginSlotLoad empties slot s (ResetSlot) and starts loading it.
func (e *Engine) BeginSlotLoad(t TableID, s SlotID) (*SlotLoad, error) {
	if err := e.disk.refuse(false); err != nil {
		return nil, err
	}
	if err := e.ResetSlot(t, s); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.loadDir(), fmt.Sprintf("%d-%d", t, s))
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("storage: slot load dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: slot load dir: %w", err)
	}
	return &SlotLoad{e: e, t: t, s: s, dir: dir, env: grocksdb.NewDefaultEnvOptions()}, nil
}

// Add writes puts of the slot (each column family's keys ascending).
func (l *SlotLoad) Add(ops []Op) error {
	// A file writer that failed for want of space aborts the process
	// when written again (diskguard.go): stop before.
	if err := l.e.disk.refuse(false); err != nil {
		return err
	}
	prefix := SlotPrefix(l.t, l.s)
	n := 0
	defer func() { l.e.disk.wrote(n) }()
	for _, op := range ops {
		n += len(op.Key) + len(op.Value)
		if op.Kind != OpPut || op.CF > CFScore || len(op.Key) < prefixLen || string(op.Key[:prefixLen]) != string(prefix) {
			return fmt.Errorf("%w: full sync op outside table %d slot %d", ErrCorruptEffect, l.t, l.s)
		}
		if prev := l.last[op.CF]; prev != nil && string(op.Key) <= string(prev) {
			return fmt.Errorf("%w: full sync keys out of order", ErrCorruptEffect)
		}
		w := l.writers[op.CF]
		if w == nil {
			w = grocksdb.NewSSTFileWriter(l.env, l.e.cfOpts[1+int(op.CF)])
			if err := w.Open(l.path(op.CF)); err != nil {
				w.Destroy()
				return fmt.Errorf("storage: slot load: %w", err)
			}
			l.writers[op.CF] = w
		}
		if err := w.Put(op.Key, op.Value); err != nil {
			return fmt.Errorf("storage: slot load: %w", err)
		}
		l.last[op.CF] = append(l.last[op.CF][:0], op.Key...)
	}
	return nil
}

func (l *SlotLoad) path(cf CF) string { return filepath.Join(l.dir, cfNames[cf]+".sst") }

// Finish ingests the files and records the slot's counts and position
// (FinishSlotLoad); the load is over either way.
func (l *SlotLoad) Finish(index LogIndex, epoch Epoch, keys, expires int64) error {
	defer l.Abort()
	io := grocksdb.NewDefaultIngestExternalFileOptions()
	defer io.Destroy()
	io.SetMoveFiles(true)
	for cf, w := range l.writers {
		if w == nil {
			continue
		}
		if err := w.Finish(); err != nil {
			return fmt.Errorf("storage: slot load: finish %s: %w", cfNames[cf], err)
		}
		if err := l.e.db.IngestExternalFileCF(l.e.cfs[cf], []string{l.path(CF(cf))}, io); err != nil {
			return fmt.Errorf("storage: slot load: ingest %s: %w", cfNames[cf], err)
		}
	}
	l.e.mcache.clearAll()
	l.e.touchSlot(l.t, l.s)
	return l.e.FinishSlotLoad(l.t, l.s, index, epoch, keys, expires)
}

// Abort drops the load's files (the slot keeps what was ingested, if
// anything; a new full sync resets it).
func (l *SlotLoad) Abort() {
	for i, w := range l.writers {
		if w != nil {
			w.Destroy()
			l.writers[i] = nil
		}
	}
	if l.env != nil {
		l.env.Destroy()
		l.env = nil
	}
	_ = os.RemoveAll(l.dir)
}
