package node

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"github.com/pika-node/pika-node/manager/meta"
)

// maxCachedPasswords bounds passwordCache: past it the cache starts over
// (hashes of dropped tables and old passwords leave that way).
const maxCachedPasswords = 4096

// passwordCache remembers which password matched which table password
// record, so that AUTH on every new connection does not pay bcrypt
// (meta.HashPassword) again: a verified password's SHA-256 per record.
// Concurrent verifications of one password against one record run once
// (50 connections opening at once with a new password pay bcrypt once);
// different passwords are verified side by side, so that guesses of a
// wrong one never queue a right one behind them (the AUTH limiter bounds
// the guesses per address). A password found wrong for a record is
// remembered too (records never change: a new password is a new record),
// so that a client retrying a wrong one in a loop costs bcrypt once. What
// it keeps is as sensitive as a fast hash of the passwords, in this
// process's memory only.
type passwordCache struct {
	mu       sync.Mutex
	verified map[string][sha256.Size]byte // record -> SHA-256 of the password it matched
	refused  map[attempt]bool             // passwords found wrong for a record
	running  map[attempt]*verification    // verifications in flight
	verify   func(hash, pw string) bool   // meta.CheckPassword
}

type attempt struct {
	hash string
	sum  [sha256.Size]byte
}

// verification is one slow check; done closes when ok is set.
type verification struct {
	done chan struct{}
	ok   bool
}

func newPasswordCache() *passwordCache {
	return &passwordCache{verified: map[string][sha256.Size]byte{}, refused: map[attempt]bool{}, running: map[attempt]*verification{}, verify: meta.CheckPassword}
}

// check reports whether pw matches the record hash (meta.CheckPassword).
func (c *passwordCache) check(hash, pw string) bool {
	a := attempt{hash, sha256.Sum256([]byte(pw))}
	c.mu.Lock()
	if v, ok := c.verified[hash]; ok && subtle.ConstantTimeCompare(v[:], a.sum[:]) == 1 {
		c.mu.Unlock()
		return true
	}
	if c.refused[a] {
		c.mu.Unlock()
		return false
	}
	if v := c.running[a]; v != nil {
		c.mu.Unlock()
		<-v.done
		return v.ok
	}
	v := &verification{done: make(chan struct{})}
	c.running[a] = v
	c.mu.Unlock()

	v.ok = c.verify(hash, pw)
	c.mu.Lock()
	delete(c.running, a)
	if v.ok {
		if len(c.verified) >= maxCachedPasswords {
			clear(c.verified)
		}
		c.verified[hash] = a.sum
	} else {
		if len(c.refused) >= maxCachedPasswords {
			clear(c.refused)
		}
		c.refused[a] = true
	}
	c.mu.Unlock()
	close(v.done)
	return v.ok
}
