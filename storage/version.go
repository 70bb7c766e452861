package storage

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// versionAllocator hands out collection versions. A version must never be
// reused while members of an older collection with that version may still be
// on disk, or a deleted collection's members would come back. Versions start
// above both the wall clock in nanoseconds and a floor persisted in the
// system CF; the floor is moved ahead in large reservations, so a restart
// (even with the clock set back) never reissues a version.
type versionAllocator struct {
	next  atomic.Uint64
	mu    sync.Mutex
	floor atomic.Uint64 // versions below floor are reserved by the persisted value
	e     *Engine
}

const versionReservation = 1 << 32

var versionFloorKey = []byte("version-floor")

func (v *versionAllocator) init(e *Engine) error {
	v.e = e
	val, ok, err := e.get(CFSystem, versionFloorKey)
	if err != nil {
		return err
	}
	start := uint64(time.Now().UnixNano())
	if ok && len(val) == 8 {
		if f := binary.BigEndian.Uint64(val); f > start {
			start = f
		}
	}
	v.next.Store(start)
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reserveLocked(start + versionReservation)
}

func (v *versionAllocator) reserveLocked(floor uint64) error {
	wo := v.e.wo
	if err := v.e.db.PutCF(wo, v.e.cfs[CFSystem], versionFloorKey, binary.BigEndian.AppendUint64(nil, floor)); err != nil {
		return fmt.Errorf("storage: persist version floor: %w", err)
	}
	v.floor.Store(floor)
	return nil
}

func (v *versionAllocator) newVersion() (uint64, error) {
	n := v.next.Add(1)
	if n < v.floor.Load()-versionReservation/2 {
		return n, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if n >= v.floor.Load()-versionReservation/2 {
		if err := v.reserveLocked(n + versionReservation); err != nil {
			return 0, err
		}
	}
	return n, nil
}
