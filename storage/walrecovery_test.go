package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// crashCopy copies the files of a running engine's directory to a new
// one, as a kill -9 would leave them (the WAL not yet flushed to tables).
func crashCopy(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		dst.Close()
	}
	return to
}

// newestWAL is the newest *.log file of dir.
func newestWAL(t *testing.T, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(logs)
	if len(logs) == 0 {
		t.Fatal("no WAL file")
	}
	return logs[len(logs)-1]
}

// keysIn counts the string keys k0..k<n-1> an engine opened on dir serves.
func keysIn(t *testing.T, e *Engine, n int) int {
	t.Helper()
	found := 0
	for i := range n {
		if _, ok := getString(t, e.View(DefaultTable).Txn(1), fmt.Sprintf("k%d", i)); ok {
			found++
		}
	}
	return found
}

// A WAL damaged in its middle (16 bytes overwritten, the issue's
// reproduction) makes Open fail with a WALCorruptionError that says how
// to accept the loss; with WALRecoverPointInTime it opens and serves what
// came before the damage. A torn tail (the last record cut short, what
// kill -9 during a write leaves) opens, losing that record only.
func TestWALCorruptionRefused(t *testing.T) {
	now := int64(0)
	dir := t.TempDir()
	e := openTest(t, dir, &now)
	defer e.Close()
	const n = 245
	for i := range n {
		if err := e.Update(DefaultTable, []SlotID{1}, func(u *Update) error {
			putString(t, u, 1, fmt.Sprintf("k%d", i), strings.Repeat("v", 100))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	damaged := crashCopy(t, dir)
	wal := newestWAL(t, damaged)
	st, err := os.Stat(wal)
	if err != nil || st.Size() < 4096 {
		t.Fatalf("WAL %s: %v, %d bytes", wal, err, st.Size())
	}
	f, err := os.OpenFile(wal, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("0123456789abcdef"), st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(Options{Dir: damaged, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return now }})
	var ce *WALCorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("Open of a WAL damaged in its middle: %v, want a WALCorruptionError", err)
	}
	if !strings.Contains(err.Error(), "--wal-recovery point-in-time") {
		t.Errorf("the error does not say how to accept the loss: %v", err)
	}
	t.Logf("refused: %v", err)
	pit, err := Open(Options{Dir: damaged, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return now }, WALRecovery: WALRecoverPointInTime})
	if err != nil {
		t.Fatalf("Open accepting the loss: %v", err)
	}
	got := keysIn(t, pit, n)
	pit.Close()
	if got == 0 || got >= n {
		t.Fatalf("point-in-time recovery served %d of %d keys, want some lost", got, n)
	}

	torn := crashCopy(t, dir)
	wal = newestWAL(t, torn)
	st, _ = os.Stat(wal)
	if err := os.Truncate(wal, st.Size()-10); err != nil {
		t.Fatal(err)
	}
	e2, err := Open(Options{Dir: torn, BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, Now: func() int64 { return now }})
	if err != nil {
		t.Fatalf("Open after a torn tail: %v", err)
	}
	got = keysIn(t, e2, n)
	e2.Close()
	if got != n-1 {
		t.Fatalf("after a torn tail %d of %d keys, want all but the last", got, n)
	}
}
