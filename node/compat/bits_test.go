package compat

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// TestBitsRandom sends the same random BITFIELD, BITCOUNT, BITPOS, BITOP and LCS commands
// over random strings to redis-server and to pika-node and compares the replies: every field
// width signed and unsigned, offsets across byte boundaries, the three overflow modes, BYTE
// and BIT ranges with negative ends.
func TestBitsRandom(t *testing.T) {
	needServers(t)
	r := rand.New(rand.NewPCG(7, 11))
	redisSide, pikaSide := &side{srv: redisSrv}, &side{srv: pikaSrv}
	defer redisSide.close()
	defer pikaSide.close()
	both := func(args ...string) {
		t.Helper()
		a, errA := redisSide.do(args...)
		b, errB := pikaSide.do(args...)
		if errA != nil || errB != nil {
			t.Fatalf("%q: %v / %v", args, errA, errB)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: redis=%v pika=%v", args, a, b)
		}
	}
	randBytes := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = 0
			case 1:
				b[i] = 0xff
			default:
				b[i] = byte(r.Uint32())
			}
		}
		return string(b)
	}
	num := func() string {
		switch r.IntN(5) {
		case 0:
			return strconv.FormatInt(r.Int64N(21)-10, 10)
		case 1:
			return strconv.FormatInt(int64(r.Uint64()), 10)
		case 2:
			sh := uint(r.IntN(64))
			return strconv.FormatInt(int64(uint64(1)<<sh)+r.Int64N(3)-1, 10)
		case 3:
			sh := uint(r.IntN(64))
			return strconv.FormatInt(-int64(uint64(1)<<sh)+r.Int64N(3)-1, 10)
		}
		return strconv.FormatInt(r.Int64N(1000)-500, 10)
	}
	idx := func(n int) string { return strconv.Itoa(r.IntN(2*n+6) - n - 3) }
	for round := 0; round < 300; round++ {
		n := r.IntN(12)
		both("SET", "rb1", randBytes(n))
		both("SET", "rb2", randBytes(r.IntN(12)))
		cmd := []string{"BITFIELD", "rb1"}
		for range 1 + r.IntN(6) {
			typ := "u" + strconv.Itoa(1+r.IntN(63))
			if r.IntN(2) == 0 {
				typ = "i" + strconv.Itoa(1+r.IntN(64))
			}
			off := strconv.Itoa(r.IntN(n*8 + 16))
			if r.IntN(4) == 0 {
				off = "#" + strconv.Itoa(r.IntN(4))
			}
			switch r.IntN(5) {
			case 0:
				cmd = append(cmd, "GET", typ, off)
			case 1:
				cmd = append(cmd, "SET", typ, off, num())
			case 2:
				cmd = append(cmd, "INCRBY", typ, off, num())
			default:
				cmd = append(cmd, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)], "INCRBY", typ, off, num())
			}
		}
		both(cmd...)
		both("GET", "rb1")
		unit := []string{}
		if r.IntN(2) == 0 {
			unit = []string{[]string{"BYTE", "BIT"}[r.IntN(2)]}
		}
		both(append([]string{"BITCOUNT", "rb1", idx(n * 8), idx(n * 8)}, unit...)...)
		both(append([]string{"BITPOS", "rb1", strconv.Itoa(r.IntN(2)), idx(n * 8), idx(n * 8)}, unit...)...)
		both("BITPOS", "rb1", strconv.Itoa(r.IntN(2)), idx(n))
		both("BITPOS", "rb1", strconv.Itoa(r.IntN(2)))
		both("BITOP", []string{"AND", "OR", "XOR"}[r.IntN(3)], "rbd", "rb1", "rb2")
		both("GET", "rbd")
		both("LCS", "rb1", "rb2", "IDX", "WITHMATCHLEN", "MINMATCHLEN", fmt.Sprint(r.IntN(3)))
		both("LCS", "rb1", "rb2")
	}
	both("DEL", "rb1", "rb2", "rbd")
}
