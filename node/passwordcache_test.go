package node

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
)

func TestPasswordCache(t *testing.T) {
	c := newPasswordCache()
	var slow atomic.Int64
	c.verify = func(hash, pw string) bool { slow.Add(1); return meta.CheckPassword(hash, pw) }
	h := meta.HashPassword("s3cret")

	// 50 connections at once with the right password: one bcrypt.
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for range 50 {
		wg.Go(func() {
			if !c.check(h, "s3cret") {
				wrong.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() != 0 || slow.Load() != 1 {
		t.Fatalf("%d refused, %d slow verifications; want 0 and 1", wrong.Load(), slow.Load())
	}
	// A wrong password is verified once, then refused from memory; each
	// new guess costs a verification; the right one stays known.
	for _, guess := range []string{"guess", "guess", "guess", "other"} {
		if c.check(h, guess) {
			t.Fatalf("wrong password %q passed", guess)
		}
	}
	if !c.check(h, "s3cret") || slow.Load() != 3 {
		t.Fatalf("after 2 distinct wrong guesses: %d slow verifications, want 3", slow.Load())
	}
	// A new record for the same password (set-password): verified once
	// more; the old record's right password is wrong for a record of
	// another one.
	h2 := meta.HashPassword("n3w")
	first, again := c.check(h2, "n3w"), c.check(h2, "n3w") // the second from memory
	if !first || !again || c.check(h2, "s3cret") || slow.Load() != 5 {
		t.Fatalf("new record: %d slow verifications, want 5", slow.Load())
	}
	// Bounded: past maxCachedPasswords records it starts over.
	c.verify = func(string, string) bool { return true }
	for i := range maxCachedPasswords + 1 {
		c.check(fmt.Sprint("record", i), "x")
	}
	c.verify = func(string, string) bool { return false }
	for i := range maxCachedPasswords + 1 {
		c.check("r", fmt.Sprint("guess", i))
	}
	c.mu.Lock()
	n := max(len(c.verified), len(c.refused))
	c.mu.Unlock()
	if n > maxCachedPasswords {
		t.Fatalf("%d records kept, more than %d", n, maxCachedPasswords)
	}
}
