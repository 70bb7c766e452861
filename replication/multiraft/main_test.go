package multiraft_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a Host starts ends before its Run returns: none may be
// left once the tests' hosts have stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
