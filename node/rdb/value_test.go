package rdb

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// randItem returns a random string: often an integer, sometimes long.
func randItem(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return strconv.FormatInt(r.Int64N(200)-100, 10)
	case 1:
		return strconv.FormatInt(r.Int64()-r.Int64(), 10)
	case 2:
		return strconv.FormatInt(r.Int64N(1<<24), 10)
	case 3:
		return strings.Repeat("x", r.IntN(200))
	}
	b := make([]byte, r.IntN(20))
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func randScore(r *rand.Rand) float64 {
	switch r.IntN(5) {
	case 0:
		return float64(r.IntN(100))
	case 1:
		return math.Inf(1 - 2*r.IntN(2))
	case 2:
		return r.NormFloat64() * 1e20
	}
	return r.NormFloat64()
}

// TestEncodeMatchesRedis builds values in redis-server in an order whose
// encoding Redis keeps deterministic (a list by RPUSH, a hash and a sorted
// set in member order, any set), and checks that Encode writes
// redis-server's own DUMP payload byte for byte (hash tables aside, whose
// order is Redis's: those are compared through Decode), and that Decode
// reads Redis's payload back to the same value.
func TestEncodeMatchesRedis(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	lim := DefaultLimits()
	sizes := []int{1, 2, 5, 50, 127, 128, 129, 200, 511, 512, 513, 1000, 3000}
	for i := 0; i < 160; i++ {
		n := sizes[i%len(sizes)]
		key := fmt.Sprintf("k%d", i)
		var v Value
		switch i % 5 {
		case 0:
			v.Kind = KindString
			v.Str = []byte(randItem(r) + strings.Repeat("ab", r.IntN(3)*n))
			if r.IntN(3) == 0 {
				v.Str = []byte(randItem(r))
			}
			must(t, c.Set(ctx, key, v.Str, 0).Err())
		case 1:
			v.Kind = KindList
			args := []any{}
			for j := 0; j < n; j++ {
				it := randItem(r)
				v.Items = append(v.Items, []byte(it))
				args = append(args, it)
			}
			must(t, c.RPush(ctx, key, args...).Err())
		case 2:
			v.Kind = KindSet
			seen := map[string]bool{}
			allInt := r.IntN(2) == 0
			for j := 0; j < n; j++ {
				it := randItem(r)
				if allInt {
					it = strconv.FormatInt(r.Int64N(1<<40)-1<<39, 10)
				}
				if !seen[it] {
					seen[it] = true
					v.Items = append(v.Items, []byte(it))
					must(t, c.SAdd(ctx, key, it).Err())
				}
			}
		case 3:
			v.Kind = KindHash
			seen := map[string]bool{}
			for j := 0; j < n; j++ {
				f := randItem(r)
				if !seen[f] {
					seen[f] = true
					v.Fields = append(v.Fields, [2][]byte{[]byte(f), []byte(randItem(r))})
				}
			}
			slices.SortFunc(v.Fields, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
			for _, f := range v.Fields {
				must(t, c.HSet(ctx, key, f[0], f[1]).Err())
			}
		case 4:
			v.Kind = KindZSet
			seen := map[string]bool{}
			for j := 0; j < n; j++ {
				m := randItem(r)
				if !seen[m] {
					seen[m] = true
					s := randScore(r)
					v.ZSet = append(v.ZSet, ZMember{[]byte(m), s})
					must(t, c.ZAdd(ctx, key, redis.Z{Score: s, Member: m}).Err())
				}
			}
		}
		got := Encode(&v, lim)
		want, err := c.Dump(ctx, key).Result()
		must(t, err)
		hashTable := (v.Kind == KindHash && len(want) > 0 && want[0] == typeHash) ||
			(v.Kind == KindSet && want[0] == typeSet)
		if !hashTable && !bytes.Equal(got, []byte(want)) && !bytes.Equal(rawForm(t, got), rawForm(t, []byte(want))) {
			t.Fatalf("%s (kind %d, %d): Encode\n%q\nredis-server\n%q", key, v.Kind, n, got, want)
		}
		if hashTable && got[0] != want[0] {
			t.Fatalf("%s: type %d, redis-server %d", key, got[0], want[0])
		}
		dec, err := Decode([]byte(want))
		if err != nil {
			t.Fatalf("%s: Decode(redis-server's payload): %v", key, err)
		}
		if !sameValue(dec, &v) {
			t.Fatalf("%s: Decode gives another value", key)
		}
		// And redis-server takes ours.
		must(t, c.Restore(ctx, key+"r", 0, string(got)).Err())
		back, err := c.Dump(ctx, key+"r").Result()
		must(t, err)
		if dec2, err := Decode([]byte(back)); err != nil || !sameValue(dec2, &v) {
			t.Fatalf("%s: redis-server's RESTORE of Encode's payload differs (%v)", key, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameValue compares two values as their types do: sets and hashes
// whatever the order, sorted sets by member and score.
func sameValue(a, b *Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	sorted := func(items [][]byte) []string {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = string(it)
		}
		slices.Sort(out)
		return out
	}
	switch a.Kind {
	case KindString:
		return bytes.Equal(a.Str, b.Str)
	case KindList:
		return slices.EqualFunc(a.Items, b.Items, bytes.Equal)
	case KindSet:
		return slices.Equal(sorted(a.Items), sorted(b.Items))
	case KindHash:
		fa, fb := map[string]string{}, map[string]string{}
		for _, f := range a.Fields {
			fa[string(f[0])] = string(f[1])
		}
		for _, f := range b.Fields {
			fb[string(f[0])] = string(f[1])
		}
		return len(a.Fields) == len(b.Fields) && fmt.Sprint(fa) == fmt.Sprint(fb)
	case KindZSet:
		za, zb := slices.Clone(a.ZSet), slices.Clone(b.ZSet)
		SortZSet(za)
		SortZSet(zb)
		return slices.EqualFunc(za, zb, func(x, y ZMember) bool {
			return bytes.Equal(x.Member, y.Member) && x.Score == y.Score
		})
	}
	return false
}

// rawForm rewrites a payload's body with every string uncompressed:
// Redis's LZF does not clear its hash table between calls, so a stale
// slot can make it pick another, equally valid, back-reference for the
// same bytes (seen on lists of 1000 items); the layout must still agree.
func rawForm(t *testing.T, p []byte) []byte {
	t.Helper()
	body, _, err := Open(p)
	must(t, err)
	d := NewDecoder(body)
	typ, _ := d.ReadByte()
	out := []byte{typ}
	str := func() {
		s, err := d.ReadString()
		must(t, err)
		out = AppendString(out, s, false)
	}
	ln := func() uint64 {
		n, _, err := d.ReadLen()
		must(t, err)
		out = AppendLen(out, n)
		return n
	}
	switch typ {
	case typeListQuicklist2:
		for n := ln(); n > 0; n-- {
			ln()
			str()
		}
	case typeZSet2:
		for n := ln(); n > 0; n-- {
			str()
			b, _ := d.next(8)
			out = append(out, b...)
		}
	case typeSet, typeHash:
		n := ln()
		if typ == typeHash {
			n *= 2
		}
		for ; n > 0; n-- {
			str()
		}
	default:
		str()
	}
	return out
}
