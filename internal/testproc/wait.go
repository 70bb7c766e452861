package testproc

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often WaitFor and Poll try their condition.
const pollEvery = 20 * time.Millisecond

// WaitFor polls cond until it holds, failing t after limit with what it
// waited for. Wait for a condition, not a guess at a delay.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(pollEvery)
	}
}

// Poll is WaitFor outside a test (in a TestMain) and for conditions that
// say what is missing: it calls cond until it returns nil and returns nil,
// or returns cond's last error after limit, or at once when that error
// wraps ErrExited (a process that has exited will not come up).
func Poll(limit time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrExited) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", limit, err)
		}
		time.Sleep(pollEvery)
	}
}
