package storage

import (
	"hash/maphash"
	"sync"
)

// metaCache keeps recently used meta values (and absences) in memory, so a
// GET or the existence check of a SET does not pay a RocksDB lookup: on a
// 2-core machine that lookup was 60% of a GET's CPU.
//
// Shards are picked by a hash of the key, not by slot: a table of 1024 slots
// uses only a quarter of the lock stripes, and sharding by stripe left three
// quarters of the budget idle while the rest thrashed. Coherence still comes
// from the slot's stripe lock, which every change of a key's entry holds:
//   - every committed write updates the key's entry while still
//     holding the slot's stripe lock, after db.Write returned;
//   - a reader fills the cache from RocksDB only while holding that stripe
//     lock (taken with TryLock, so a reader never waits behind a writer; if
//     the lock is busy it reads RocksDB and fills nothing), so no write can
//     commit between its RocksDB read and its fill.
//
// A reader may still see the old value after a write reached RocksDB but
// before the cache update — the write has not been acknowledged yet then,
// so the read is ordered before it. Cached slices are never modified.
type metaCache struct {
	maxShardBytes int // 0: disabled
	seed          maphash.Seed
	shards        [cacheShards]cacheShard
}

const cacheShards = 1024

func (c *metaCache) init(totalBytes int64) {
	c.maxShardBytes = int(totalBytes / cacheShards)
	c.seed = maphash.MakeSeed()
}

func (c *metaCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

func (c *metaCache) clearAll() {
	for i := range c.shards {
		c.shards[i].clear()
	}
}

type cacheShard struct {
	mu    sync.Mutex
	m     map[string][]byte // nil value: known absent
	bytes int
}

// cacheEntryOverhead approximates an entry's memory beyond its key and
// value bytes: the map slot, two slice headers, allocator rounding.
const cacheEntryOverhead = 112

// maxCachedValue keeps big keys and strings out of the cache.
const maxCachedValue = 4 << 10

func (c *cacheShard) lookup(key []byte) ([]byte, bool) {
	c.mu.Lock()
	v, ok := c.m[string(key)]
	c.mu.Unlock()
	return v, ok
}

// store records key's committed value; the caller holds the write lock of
// the key's slot stripe.
func (c *cacheShard) store(key, v []byte, exists bool, max int) {
	if max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[string(key)]; ok {
		c.bytes -= len(key) + len(old) + cacheEntryOverhead
		delete(c.m, string(key))
	}
	if len(key)+len(v) > maxCachedValue {
		return // big keys and values are not worth their memory here
	}
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if !exists {
		v = nil
	} else if v == nil {
		v = []byte{}
	}
	c.m[string(key)] = v
	c.bytes += len(key) + len(v) + cacheEntryOverhead
	// Evict arbitrary entries (map order is random) until under budget.
	for k, old := range c.m {
		if c.bytes <= max {
			break
		}
		c.bytes -= len(k) + len(old) + cacheEntryOverhead
		delete(c.m, k)
	}
}

func (c *cacheShard) clear() {
	c.mu.Lock()
	c.m, c.bytes = nil, 0
	c.mu.Unlock()
}
