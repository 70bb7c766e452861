package compat

import (
	"fmt"
	"testing"
)

// XREAD BLOCK and XREADGROUP BLOCK wait until an XADD, end by CLIENT
// UNBLOCK as a timeout or with -UNBLOCKED, and an XREADGROUP waiting on a
// stream whose group is destroyed, or that is deleted, gets Redis 7.0's
// errors: on redis-server and pika-node alike, the waiter counted in
// blocked_clients while it waits.
func TestStreamBlocking(t *testing.T) {
	blockingSides(t, func(t *testing.T, srv *server) {
		waiter, other := dialT(t, srv), dialT(t, srv)
		mustDo(t, other, "+OK", "FLUSHALL")
		id, err := waiter.Do("CLIENT", "ID")
		if err != nil {
			t.Fatal(err)
		}
		sid := fmt.Sprint(id.Int)
		wait := func(args ...string) {
			t.Helper()
			if err := waiter.Send(args...); err != nil {
				t.Fatal(err)
			}
			if err := awaitBlocked(srv, 1); err != nil {
				t.Fatal(err)
			}
		}
		answer := func(want string) {
			t.Helper()
			r, err := waiter.Read()
			if err != nil || r.String() != want {
				t.Fatalf("the waiter: %s, %v; want %s", r, err, want)
			}
			if err := awaitBlocked(srv, 0); err != nil {
				t.Fatal(err)
			}
		}
		mustDo(t, other, `"1-1"`, "XADD", "xb", "1-1", "a", "1")
		wait("XREAD", "BLOCK", "0", "STREAMS", "xb", "$")
		mustDo(t, other, `"2-1"`, "XADD", "xb", "2-1", "b", "2")
		answer(`[["xb" [["2-1" ["b" "2"]]]]]`)

		wait("XREAD", "BLOCK", "0", "STREAMS", "xb", "$")
		mustDo(t, other, ":1", "CLIENT", "UNBLOCK", sid)
		answer("(nil-array)")
		wait("XREAD", "BLOCK", "0", "STREAMS", "xb", "$")
		mustDo(t, other, ":1", "CLIENT", "UNBLOCK", sid, "ERROR")
		answer("-UNBLOCKED client unblocked via CLIENT UNBLOCK")

		mustDo(t, other, "+OK", "XGROUP", "CREATE", "xb", "g", "$")
		wait("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "xb", ">")
		mustDo(t, other, `"3-1"`, "XADD", "xb", "3-1", "c", "3")
		answer(`[["xb" [["3-1" ["c" "3"]]]]]`)
		mustDo(t, other, `[:1 "3-1" "3-1" [["c" "1"]]]`, "XPENDING", "xb", "g")

		wait("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "xb", ">")
		mustDo(t, other, ":1", "XGROUP", "DESTROY", "xb", "g")
		answer("-NOGROUP the consumer group this client was blocked on no longer exists")

		mustDo(t, other, "+OK", "XGROUP", "CREATE", "xb", "g", "$")
		wait("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "xb", ">")
		mustDo(t, other, ":1", "DEL", "xb")
		answer("-UNBLOCKED the stream key no longer exists")

		mustDo(t, other, "+OK", "XGROUP", "CREATE", "xb", "g", "$", "MKSTREAM")
		wait("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "xb", ">")
		mustDo(t, other, "+OK", "SET", "xb", "v")
		answer("-UNBLOCKED the stream key no longer exists")
	})
}
