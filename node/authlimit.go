package node

import (
	"net"
	"sync"
	"time"
)

// authLimiter bounds failed AUTH attempts per source address: each
// address has a bucket of authBurst failures, refilled at authRefill a
// second; while it is empty, AUTH from that address is refused without
// looking at the password, so guessing passwords costs an attacker time
// (a password is still tried at authRefill a second at most). A success
// takes nothing. Loopback addresses are not limited: a client on the
// node's own host is trusted as protected mode trusts it (and the
// differential tests fail passwords from there on purpose). Safe for
// concurrent use.
type authLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	sources map[string]*authBucket
}

type authBucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

const (
	authBurst  = 20
	authRefill = 10.0 // failures a second
	// maxAuthSources bounds the addresses remembered: past it, those
	// whose bucket has refilled are forgotten, then all if need be.
	maxAuthSources = 4096
)

func newAuthLimiter() *authLimiter {
	return &authLimiter{now: time.Now, sources: map[string]*authBucket{}}
}

// hostOf is the address part of a client's host:port.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// refill brings b up to now; l.mu is held.
func (b *authBucket) refill(now time.Time) {
	b.tokens = min(authBurst, b.tokens+now.Sub(b.at).Seconds()*authRefill)
	b.at = now
}

// limited reports whether host's failures are limited (it is not a
// loopback address).
func limited(host string) bool {
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// allowed reports whether host may try a password now.
func (l *authLimiter) allowed(host string) bool {
	if !limited(host) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[host]
	if b == nil {
		return true
	}
	b.refill(l.now())
	return b.tokens >= 1
}

// failed takes a failure from host's bucket.
func (l *authLimiter) failed(host string) {
	if !limited(host) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.sources[host]
	if b == nil {
		if len(l.sources) >= maxAuthSources {
			for h, o := range l.sources {
				if o.refill(now); o.tokens >= authBurst {
					delete(l.sources, h)
				}
			}
			if len(l.sources) >= maxAuthSources {
				clear(l.sources)
			}
		}
		b = &authBucket{tokens: authBurst, at: now}
		l.sources[host] = b
	}
	b.refill(now)
	b.tokens = max(0, b.tokens-1)
}
