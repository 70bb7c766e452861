package node

import (
	"testing"
	"time"
)

// 20 failures in a burst, then refused until the bucket refills (10 a
// second); another address is not affected.
func TestAuthLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAuthLimiter()
	l.now = func() time.Time { return now }
	for i := range authBurst {
		if !l.allowed("10.0.0.1") {
			t.Fatalf("refused after %d failures, want %d allowed", i, authBurst)
		}
		l.failed("10.0.0.1")
	}
	if l.allowed("10.0.0.1") {
		t.Fatal("allowed after a burst of failures")
	}
	if !l.allowed("10.0.0.2") {
		t.Fatal("another address refused")
	}
	for range 3 * authBurst {
		l.failed("127.0.0.1")
	}
	if !l.allowed("127.0.0.1") {
		t.Fatal("a loopback address is limited")
	}
	now = now.Add(150 * time.Millisecond) // 1.5 failures' worth
	if !l.allowed("10.0.0.1") {
		t.Fatal("still refused after the bucket refilled one")
	}
	l.failed("10.0.0.1")
	if l.allowed("10.0.0.1") {
		t.Fatal("allowed twice on one refill")
	}
}
