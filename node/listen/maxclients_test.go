package listen

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// maxclients within the open file limit is kept; CONFIG SET maxclients
// past any limit the process can reach fails with Redis's reply and keeps
// the old value, and a lower one is taken.
func TestMaxClients(t *testing.T) {
	m, err := NewMaxClients(10, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Load() != 10 {
		t.Fatalf("maxclients %d, want 10", m.Load())
	}
	if err := m.Set(1 << 40); err == nil || !strings.HasPrefix(err.Error(), errOSClients+", try with ") {
		t.Fatalf("Set(1<<40): %v, want %q", err, errOSClients)
	}
	if m.Load() != 10 {
		t.Fatalf("maxclients %d after a refused Set, want 10", m.Load())
	}
	if err := m.Set(5); err != nil || m.Load() != 5 {
		t.Fatalf("Set(5): %v, maxclients %d", err, m.Load())
	}
}
