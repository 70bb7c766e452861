// Command txnbench measures multi-key units through one address: MSET of
// 10 keys, or MULTI with 4 SETs and EXEC (go-redis's TxPipelined, as an
// application sends it), with the keys of each unit in one slot (a hash
// tag) or spread over random slots, from many clients at once for a while.
// It prints one line: operations per second, p50 and p99 latency in ms,
// and the number of failed operations. make bench-txn (scripts/bench-txn.sh)
// runs it against redis-server, one pika-node and a 3-node cluster.
//
//	go run ./bench/txnbench -addr 127.0.0.1:9221 -db 0 -op multi4 -keys spread -for 10s [-clients 32]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9221", "address to send through")
	db := flag.Int("db", 0, "database (table id)")
	op := flag.String("op", "mset10", "mset10: MSET of 10 keys; multi4: MULTI, 4 SETs, EXEC")
	keys := flag.String("keys", "spread", "spread: each key in a random slot; tag: a unit's keys share a hash tag")
	space := flag.Int("space", 100000, "distinct keys (and tags)")
	clients := flag.Int("clients", 32, "concurrent clients")
	dur := flag.Duration("for", 10*time.Second, "how long to run")
	flag.Parse()
	per := map[string]int{"mset10": 10, "multi4": 4}[*op]
	if per == 0 || (*keys != "spread" && *keys != "tag") {
		fmt.Fprintln(os.Stderr, "txnbench: -op mset10|multi4, -keys spread|tag")
		os.Exit(2)
	}
	c := redis.NewClient(&redis.Options{Addr: *addr, DB: *db, PoolSize: *clients, MaxRetries: -1,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "txnbench:", err)
		os.Exit(1)
	}
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	var firstErr error
	var wg sync.WaitGroup
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			bad := 0
			var myErr error
			names := make([]string, per)
			for time.Since(start) < *dur {
				tag := rand.IntN(*space)
				for i := range names {
					if *keys == "tag" {
						names[i] = "{t" + strconv.Itoa(tag) + "}k" + strconv.Itoa(i)
					} else {
						names[i] = "k" + strconv.Itoa(rand.IntN(*space))
					}
				}
				t0 := time.Now()
				var err error
				if *op == "mset10" {
					args := make([]any, 0, 2*per)
					for _, n := range names {
						args = append(args, n, "v")
					}
					err = c.MSet(ctx, args...).Err()
				} else {
					_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
						for _, n := range names {
							p.Set(ctx, n, "v", 0)
						}
						return nil
					})
				}
				if err != nil {
					bad++
					if myErr == nil {
						myErr = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			if firstErr == nil {
				firstErr = myErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	fmt.Printf("%.0f %.2f %.2f %d\n", float64(len(lat))/took.Seconds(), q(0.5), q(0.99), failed)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "first error:", firstErr)
	}
}
