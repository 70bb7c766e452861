// Command txnbench measures multi-key units through one address: MSET of
// 10 keys, or MULTI with 4 SETs and EXEC (go-redis's TxPipelined, as an
// application sends it), with the keys of each unit in one slot (a hash
// tag) or spread over random slots, from many clients at once for a while;
// or a job queue's push (-op queue: MULTI, SADD queues <q>, LPUSH
// queue:<q> <job>, EXEC, as Sidekiq sends it) onto -queues queues filled
// with -queue-len jobs first; or a script of 2 keys called by its SHA1
// (-op script2: GET, INCR, SET; go-redis's Script, EVALSHA).
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
	op := flag.String("op", "mset10", "mset10: MSET of 10 keys; multi4: MULTI, 4 SETs, EXEC; queue; script2: EVALSHA of a 2-key script")
	keys := flag.String("keys", "spread", "spread: each key in a random slot; tag: a unit's keys share a hash tag")
	space := flag.Int("space", 100000, "distinct keys (and tags)")
	clients := flag.Int("clients", 32, "concurrent clients")
	dur := flag.Duration("for", 10*time.Second, "how long to run")
	queues := flag.Int("queues", 8, "queue: how many queues")
	queueLen := flag.Int("queue-len", 20000, "queue: jobs in each queue before the run")
	flag.Parse()
	per := map[string]int{"mset10": 10, "multi4": 4, "queue": 2, "script2": 2}[*op]
	if per == 0 || (*keys != "spread" && *keys != "tag") || *queues < 1 || *queueLen < 0 {
		fmt.Fprintln(os.Stderr, "txnbench: -op mset10|multi4|queue|script2, -keys spread|tag, -queues >= 1, -queue-len >= 0")
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
	if *op == "queue" {
		if err := fillQueues(ctx, c, *queues, *queueLen); err != nil {
			fmt.Fprintln(os.Stderr, "txnbench: filling the queues:", err)
			os.Exit(1)
		}
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
				switch *op {
				case "queue":
					q := "q" + strconv.Itoa(rand.IntN(*queues))
					_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.SAdd(ctx, "queues", q)
						p.LPush(ctx, "queue:"+q, `{"class":"Job","args":[1]}`)
						return nil
					})
				case "script2":
					// The counted key's name is apart from the written one's.
					names[1] = "c" + names[1]
					err = script2.Run(ctx, c, names, "v").Err()
					if err == redis.Nil {
						err = nil
					}
				case "mset10":
					args := make([]any, 0, 2*per)
					for _, n := range names {
						args = append(args, n, "v")
					}
					err = c.MSet(ctx, args...).Err()
				default:
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

// script2 is the script of -op script2: it reads one key, counts in the
// other and writes the first.
var script2 = redis.NewScript(`local v = redis.call('get', KEYS[1])
redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1])
return v`)

// fillQueues pushes jobs onto queue:q0 ... queue:q<n-1> until each holds
// length of them.
func fillQueues(ctx context.Context, c *redis.Client, n, length int) error {
	job := make([]any, 1000)
	for i := range job {
		job[i] = `{"class":"Job","args":[0]}`
	}
	for q := range n {
		key := "queue:q" + strconv.Itoa(q)
		if err := c.Del(ctx, key).Err(); err != nil {
			return err
		}
		for have := 0; have < length; have += len(job) {
			if err := c.RPush(ctx, key, job[:min(len(job), length-have)]...).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
