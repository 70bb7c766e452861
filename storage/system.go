package storage

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/linxGnu/grocksdb"
)

// nodeKeyPrefix keeps the node's own records (its id, ...) apart from the
// engine's keys in the system column family.
const nodeKeyPrefix = "node|"

// NodeValue returns a value the node stored with SetNodeValue.
func (e *Engine) NodeValue(name string) ([]byte, bool, error) {
	if e.closed.Load() {
		return nil, false, ErrClosed
	}
	return e.get(CFSystem, []byte(nodeKeyPrefix+name))
}

// SetNodeValue stores a small value of the node (its id, ...) durably: the
// write is synced before it returns.
func (e *Engine) SetNodeValue(name string, v []byte) error {
	if e.closed.Load() {
		return ErrClosed
	}
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	wo.SetSync(true)
	if err := e.db.PutCF(wo, e.cfs[CFSystem], []byte(nodeKeyPrefix+name), v); err != nil {
		return fmt.Errorf("storage: put node value %s: %w", name, err)
	}
	return nil
}

// TablesOnDisk returns the ids of every table that has keys in the meta,
// data or score column family, in ascending order. A node compares them
// with the cluster's tables to drop what was dropped while it was away.
// It seeks once per table, not once per key.
func (e *Engine) TablesOnDisk() ([]TableID, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	seen := map[TableID]bool{}
	for _, cf := range []CF{CFMeta, CFData, CFScore, CFLog} {
		ro := grocksdb.NewDefaultReadOptions()
		ro.SetFillCache(false)
		it := e.db.NewIteratorCF(ro, e.cfs[cf])
		for it.SeekToFirst(); it.Valid(); {
			k := it.Key()
			if len(k.Data()) < 4 {
				k.Free()
				it.Next()
				continue
			}
			t := TableID(binary.BigEndian.Uint32(k.Data()))
			k.Free()
			seen[t] = true
			end := prefixEnd(TablePrefix(t))
			if end == nil {
				break
			}
			it.Seek(end)
		}
		err := it.Err()
		it.Close()
		ro.Destroy()
		if err != nil {
			return nil, fmt.Errorf("storage: list tables: %w", err)
		}
	}
	ids := make([]TableID, 0, len(seen))
	for t := range seen {
		ids = append(ids, t)
	}
	slices.Sort(ids)
	return ids, nil
}

// DropTable removes every key of table t (FlushTable) and its slot logs,
// and forgets its slot counts, so the table is no longer served from this
// engine.
func (e *Engine) DropTable(t TableID) error {
	if err := e.FlushTable(t); err != nil {
		return err
	}
	start := TablePrefix(t)
	if err := e.db.DeleteRangeCF(e.wo, e.cfs[CFLog], start, prefixEnd(start)); err != nil {
		return fmt.Errorf("storage: drop the log of table %d: %w", t, err)
	}
	if err := e.dropRaftState(t); err != nil {
		return fmt.Errorf("storage: drop the raft state of table %d: %w", t, err)
	}
	e.countsMu.Lock()
	delete(e.counts, t)
	e.countsMu.Unlock()
	e.forgetParts(t, 0, true)
	return nil
}

// HasTable reports whether EnsureTable loaded table t.
func (e *Engine) HasTable(t TableID) bool {
	e.countsMu.RLock()
	defer e.countsMu.RUnlock()
	_, ok := e.counts[t]
	return ok
}
