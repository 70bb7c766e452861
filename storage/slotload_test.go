package storage

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// A slot copied with SlotLoad (SST files ingested) has the source's data,
// counts and position; the load's files are gone; stale data of the slot
// on the target is replaced; keys out of order or of another slot are
// refused.
func TestSlotLoadCopiesASlot(t *testing.T) {
	now := int64(5000)
	src := openTest(t, t.TempDir(), &now)
	defer src.Close()
	dst := openTest(t, t.TempDir(), &now)
	defer dst.Close()
	for i := range 3000 {
		setKey(t, src, 3, fmt.Sprintf("k%05d", i), fmt.Sprintf("v%d", i))
	}
	setKey(t, src, 4, "other", "x")
	setKey(t, dst, 3, "stale", "gone after the load")
	src.SetSlotRole(DefaultTable, 3, SlotRole{Logged: true, Epoch: 2})
	setKey(t, src, 3, "logged", "1")

	ss, err := src.OpenSlotSnapshot(DefaultTable, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	load, err := dst.BeginSlotLoad(DefaultTable, 3)
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for {
		ops, done, err := ss.Next(16 << 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) > 0 {
			chunks++
			if err := load.Add(ops); err != nil {
				t.Fatal(err)
			}
		}
		if done {
			break
		}
	}
	if err := load.Finish(ss.Index, ss.Epoch, ss.Keys, ss.Expires); err != nil {
		t.Fatal(err)
	}
	if chunks < 2 {
		t.Fatalf("%d chunks: the test did not load in several", chunks)
	}
	a, err := src.SlotChecksum(DefaultTable, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dst.SlotChecksum(DefaultTable, 3)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || b.Keys != 3001 {
		t.Fatalf("source %+v, copy %+v", a, b)
	}
	if keys, _ := dst.SlotCounts(DefaultTable, 3); keys != 3001 {
		t.Fatalf("copy counts %d keys", keys)
	}
	if _, last, _ := dst.LogBounds(DefaultTable, 3); last != ss.Index || last == 0 {
		t.Fatalf("copy at position %d, source %d", last, ss.Index)
	}
	if ents, _ := os.ReadDir(dst.loadDir()); len(ents) != 0 {
		t.Fatalf("load files left: %v", ents)
	}

	bad, err := dst.BeginSlotLoad(DefaultTable, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Abort()
	k1, k2 := append(SlotPrefix(DefaultTable, 5), "b"...), append(SlotPrefix(DefaultTable, 5), "a"...)
	if err := bad.Add([]Op{{Kind: OpPut, CF: CFMeta, Key: k1, Value: []byte("x")}, {Kind: OpPut, CF: CFMeta, Key: k2, Value: []byte("x")}}); !errors.Is(err, ErrCorruptEffect) {
		t.Fatalf("keys out of order: %v", err)
	}
	other := append(SlotPrefix(DefaultTable, 6), "a"...)
	if err := bad.Add([]Op{{Kind: OpPut, CF: CFMeta, Key: other, Value: []byte("x")}}); !errors.Is(err, ErrCorruptEffect) {
		t.Fatalf("a key of another slot: %v", err)
	}
}
