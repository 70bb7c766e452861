package compat

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestDumpRestoreRoundTrip fills redis-server with random values of every
// type and size (small, and past the listpack and intset thresholds),
// moves each one to pika-node with DUMP and RESTORE, back to redis-server
// from pika-node's DUMP, and compares the contents at each step
// (GET, HGETALL, SMEMBERS, ZRANGE WITHSCORES, LRANGE, PTTL).
func TestDumpRestoreRoundTrip(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: redisSrv.addr, Protocol: 2})
	defer rc.Close()
	pc := redis.NewClient(&redis.Options{Addr: pikaSrv.addr, Protocol: 2})
	defer pc.Close()
	r := rand.New(rand.NewPCG(7, 11))
	item := func() string {
		switch r.IntN(5) {
		case 0:
			return strconv.FormatInt(r.Int64N(1000)-500, 10)
		case 1:
			return strconv.FormatInt(r.Int64()-r.Int64(), 10)
		case 2:
			return strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(300))
		}
		b := make([]byte, r.IntN(30))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	sizes := []int{1, 3, 100, 128, 129, 511, 512, 513, 2000}
	contents := func(c *redis.Client, key string) any {
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = c.Get(ctx, key).Result()
		case "list":
			v, err = c.LRange(ctx, key, 0, -1).Result()
		case "hash":
			v, err = c.HGetAll(ctx, key).Result()
		case "set":
			var m []string
			m, err = c.SMembers(ctx, key).Result()
			slices.Sort(m)
			v = m
		case "zset":
			v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
		default:
			t.Fatalf("%s: type %q", key, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		return []any{typ, v}
	}
	prefix := fmt.Sprintf("dumprt:%d:", r.Uint32())
	n, deterministic, differ := 0, 0, 0
	for round := 0; round < 3; round++ {
		for _, size := range sizes {
			for typ := 0; typ < 6; typ++ {
				key := prefix + strconv.Itoa(n)
				n++
				var err error
				switch typ {
				case 0:
					err = rc.Set(ctx, key, item()+strings.Repeat("xy", size), 0).Err()
				case 1:
					args := make([]any, size)
					for i := range args {
						args[i] = item()
					}
					err = rc.RPush(ctx, key, args...).Err()
				case 2, 3: // a set of integers (intset), or of anything
					args := make([]any, size)
					for i := range args {
						if typ == 2 {
							args[i] = r.Int64N(1 << 40)
						} else {
							args[i] = item()
						}
					}
					err = rc.SAdd(ctx, key, args...).Err()
				case 4:
					args := make([]any, 0, 2*size)
					for i := 0; i < size; i++ {
						args = append(args, item(), item())
					}
					err = rc.HSet(ctx, key, args...).Err()
				case 5:
					zs := make([]redis.Z, size)
					for i := range zs {
						s := r.NormFloat64() * 1e6
						if r.IntN(10) == 0 {
							s = math.Inf(1 - 2*r.IntN(2))
						}
						zs[i] = redis.Z{Score: s, Member: item()}
					}
					err = rc.ZAdd(ctx, key, zs...).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.IntN(3) == 0 {
					if err := rc.PExpire(ctx, key, 1e8).Err(); err != nil {
						t.Fatal(err)
					}
				}
				want := contents(rc, key)
				payload, err := rc.Dump(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				pttl, err := rc.PTTL(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				ttl := max(pttl, 0)
				if err := pc.Do(ctx, "RESTORE", key, ttl.Milliseconds(), payload, "REPLACE").Err(); err != nil {
					t.Fatalf("%s: pika-node RESTORE of redis-server's DUMP: %v", key, err)
				}
				if got := contents(pc, key); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: pika-node holds another value after RESTORE", key)
				}
				if ttl > 0 {
					if p, err := pc.PTTL(ctx, key).Result(); err != nil || p <= 0 || p > ttl {
						t.Fatalf("%s: PTTL %v after RESTORE with %v (%v)", key, p, ttl, err)
					}
				}
				// Encodings agree (the value was written once, in order).
				we, err := rc.ObjectEncoding(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				if ge, err := pc.ObjectEncoding(ctx, key).Result(); err != nil || ge != we {
					t.Fatalf("%s: OBJECT ENCODING %q, redis-server %q (%v)", key, ge, we, err)
				}
				back, err := pc.Dump(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				if err := rc.Do(ctx, "RESTORE", key+":back", 0, back).Err(); err != nil {
					t.Fatalf("%s: redis-server RESTORE of pika-node's DUMP: %v", key, err)
				}
				if got := contents(rc, key+":back"); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: redis-server holds another value after RESTORE of pika-node's DUMP", key)
				}
				if payload[0] != 2 && payload[0] != 4 {
					// Every layout but a hash table's (RDB types 2 and 4)
					// is deterministic: strings, RPUSH lists, listpacks,
					// intsets, skiplists. The payloads must be
					// redis-server's bytes.
					deterministic++
					if back != payload {
						differ++
						t.Errorf("%s: DUMP differs from redis-server's (RDB type %d, %d and %d bytes)", key, payload[0], len(back), len(payload))
					}
				}
			}
		}
	}
	t.Logf("%d keys moved redis-server -> pika-node -> redis-server; %d of %d deterministic payloads differ from redis-server's bytes", n, differ, deterministic)
}
