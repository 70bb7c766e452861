package command

import "testing"

func TestStringBasics(t *testing.T) {
	n := newTestNode(t)
	n.expect("$-1", "get", "k")
	n.expect("+OK", "set", "k", "v")
	n.expect("$v", "get", "k")
	n.expect("$-1", "set", "k", "w", "nx")
	n.expect("$v", "set", "k", "w", "get")
	n.expect(":1", "incr", "n")
	n.expect(":11", "incrby", "n", "10")
	n.expect("-ERR value is not an integer or out of range", "incr", "k")
	n.expect("$3.5", "incrbyfloat", "f", "3.5")
	n.expect("$3.6", "incrbyfloat", "f", "0.1")
	n.expect(":5", "append", "k", "xxxx")
	n.expect("$wx", "getrange", "k", "0", "1")
	n.expect(":1", "del", "k")
	n.expect(":0", "exists", "k")
	n.expect("+OK", "mset", "a", "1", "b", "2")
	n.expect("*3 $1 $2 $-1", "mget", "a", "b", "c")
	n.expect(":4", "dbsize")
	n.expect("-ERR string exceeds maximum allowed size (proto-max-bulk-len)", "setrange", "k", "9223372036854775807", "x")
}

func TestExpiryIsInvisibleAtOnce(t *testing.T) {
	n := newTestNode(t)
	n.expect("+OK", "set", "k", "v", "px", "100")
	n.expect(":100", "pttl", "k")
	n.nowMS += 100
	n.expect("$-1", "get", "k")
	n.expect(":-2", "ttl", "k")
	n.expect(":0", "exists", "k")
	// DBSIZE counts it until it is removed, as Redis does.
	n.expect(":1", "dbsize")
	if keys, expires := n.eng.Counts(0); keys != 1 || expires != 1 {
		t.Fatalf("counts before the sweep: %d keys, %d with TTL", keys, expires)
	}
	if _, deleted, err := n.eng.SweepOnceForTest(nil, 100); err != nil || deleted != 1 {
		t.Fatalf("sweep deleted %d, err %v", deleted, err)
	}
	n.expect(":0", "dbsize")
	// Gaining and losing a TTL moves the expires count.
	n.expect("+OK", "set", "a", "1")
	n.expect(":1", "expire", "a", "100")
	n.expect("+OK", "set", "b", "1", "ex", "100")
	n.expect(":1", "persist", "b")
	n.expect("+OK", "set", "c", "1", "ex", "100")
	n.expect("+OK", "set", "c", "2") // SET without KEEPTTL drops the TTL
	n.expect(":1", "pexpire", "b", "50")
	n.expect(":1", "del", "b")
	if keys, expires := n.eng.Counts(0); keys != 2 || expires != 1 {
		t.Fatalf("counts: %d keys, %d with TTL; want 2, 1", keys, expires)
	}
}

func TestScanVisitsEveryKeyOnce(t *testing.T) {
	n := newTestNode(t)
	want := map[string]bool{}
	for i := 0; i < 300; i++ {
		k := "key:" + string(rune('a'+i%26)) + string(rune('0'+i/26))
		want[k] = true
		n.expect("+OK", "set", k, "v")
	}
	got := map[string]int{}
	cursor := "0"
	for {
		reply := n.do("scan", cursor, "count", "7")
		var c string
		var keys []string
		parseScanReply(t, reply, &c, &keys)
		for _, k := range keys {
			got[k]++
		}
		if c == "0" {
			break
		}
		cursor = c
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("key %s seen %d times", k, got[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("saw %d keys, want %d", len(got), len(want))
	}
}
