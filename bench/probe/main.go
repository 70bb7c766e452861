// Command probe writes keys spread over (nearly) every slot of a table
// through one node, with many clients at once, for a while, and prints how
// many writes failed and when the last one failed (seconds after it
// started): bench-raft starts it, kills a node, and reads from it when
// every slot was writable again. redis-cli is no good for that: its
// pipelined replies come back in order, so one held command hides when the
// others succeeded.
//
//	go run ./bench/probe -addr 127.0.0.1:9221 -db 3 -for 10s [-keys 16384] [-clients 32]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9221", "node to write through")
	db := flag.Int("db", 0, "table id")
	keys := flag.Int("keys", 16384, "keys probe{0}..probe{keys-1} (16384 cover 1024 slots with near certainty)")
	clients := flag.Int("clients", 32, "concurrent clients")
	dur := flag.Duration("for", 10*time.Second, "how long to keep writing")
	flag.Parse()
	c := redis.NewClient(&redis.Options{Addr: *addr, DB: *db, MaxRetries: -1, PoolSize: *clients,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second})
	defer c.Close()
	start := time.Now()
	var failed, writes, lastFail atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for w := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Since(start) < *dur; i += *clients {
				err := c.Set(context.Background(), fmt.Sprintf("probe{%d}", i%*keys), "x", 0).Err()
				writes.Add(1)
				if err != nil {
					failed.Add(1)
					lastFail.Store(int64(time.Since(start)))
					first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%d %.3f %d\n", failed.Load(), time.Duration(lastFail.Load()).Seconds(), writes.Load())
	if e := first.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "first error:", e)
	}
}
