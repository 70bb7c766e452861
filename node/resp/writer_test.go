package resp

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// A queue past the soft limit is allowed for softFor; a reply queued
// after that cuts the client off.
func TestWriterSoftLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // never reads: the server's socket fills
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	var netOut atomic.Int64
	w := NewWriter(server, 10*time.Second, 1<<30, NewBudget(1<<30), &netOut)
	defer w.Stop()
	now := time.Unix(1000, 0)
	w.now = func() time.Time { return now }
	w.SetLimits(1<<30, 1<<20, time.Minute)

	chunk := make([]byte, 256<<10)
	queuedPast := func() {
		t.Helper()
		for {
			queued, err := w.Send(chunk)
			if err != nil {
				t.Fatalf("cut off before the soft limit's time: %v", err)
			}
			if queued {
				w.mu.Lock()
				over := !w.overSince.IsZero()
				w.mu.Unlock()
				if over {
					return
				}
			}
		}
	}
	queuedPast()
	now = now.Add(59 * time.Second)
	if _, err := w.Send(chunk); err != nil {
		t.Fatalf("cut off within the soft limit's time: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := w.Send(chunk); !errors.Is(err, ErrOutputLimit) {
		t.Fatalf("past the soft limit for 61 s: %v, want ErrOutputLimit", err)
	}
}

// A Reply with Max stops growing once past it (the client is cut off
// rather than sent a reply the node built whole).
func TestReplyMax(t *testing.T) {
	r := Reply{Max: 1000}
	elem := make([]byte, 100)
	r.Array(100000)
	for range 100000 {
		r.Bulk(elem)
	}
	if !r.Over || r.Len() > 1000+len(elem)+16 {
		t.Fatalf("Over %v, %d bytes; want Over and about Max bytes", r.Over, r.Len())
	}
	u := Reply{}
	for range 100 {
		u.Bulk(elem)
	}
	if u.Over || u.Len() < 100*len(elem) {
		t.Fatalf("without Max: Over %v, %d bytes", u.Over, u.Len())
	}
}
