// Command pubsubbench measures pub/sub: one publisher sends PUBLISH after
// PUBLISH (each waiting for its reply) to subscribers spread over the
// given addresses, for a while, and prints "messages/s delivered/s lost"
// on one line: messages published per second, messages received per
// second by all subscribers, and how many published messages some
// subscriber did not receive (0 when all arrive). scripts/bench-pubsub.sh
// runs it against redis-server and pika-node.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	pubAddr := flag.String("pub", "127.0.0.1:6379", "the publisher's server")
	subAddrs := flag.String("sub", "127.0.0.1:6379", "the subscribers' servers, comma separated (round robin)")
	db := flag.Int("db", 0, "the database (table) to SELECT")
	subs := flag.Int("subscribers", 50, "subscribers")
	size := flag.Int("size", 64, "message bytes")
	dur := flag.Duration("for", 10*time.Second, "how long to publish")
	flag.Parse()
	if err := run(*pubAddr, strings.Split(*subAddrs, ","), *db, *subs, *size, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "pubsubbench:", err)
		os.Exit(1)
	}
}

func run(pubAddr string, subAddrs []string, db, subs, size int, dur time.Duration) error {
	// received counts the messages the subscribers read; once the
	// publisher is done, target is what they should read in all, and
	// arrived is closed when they have.
	var received, target atomic.Int64
	arrived := make(chan struct{})
	var arrivedOnce sync.Once
	check := func(n int64) {
		if t := target.Load(); t > 0 && n >= t {
			arrivedOnce.Do(func() { close(arrived) })
		}
	}
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, subs)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}()
	for i := range subs {
		c, err := net.Dial("tcp", subAddrs[i%len(subAddrs)])
		if err != nil {
			return err
		}
		conns = append(conns, c)
		r := bufio.NewReaderSize(c, 64<<10)
		fmt.Fprintf(c, "*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n", len(strconv.Itoa(db)), db)
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			return fmt.Errorf("SELECT %d: %q, %v", db, line, err)
		}
		if err := skipFrame(r); err != nil { // the confirmation
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for skipFrame(r) == nil {
				check(received.Add(1))
			}
		}()
	}
	pub := redis.NewClient(&redis.Options{Addr: pubAddr, DB: db})
	defer pub.Close()
	ctx := context.Background()
	msg := strings.Repeat("x", size)
	var sent int64
	start := time.Now()
	for time.Since(start) < dur {
		n, err := pub.Publish(ctx, "bench", msg).Result()
		if err != nil {
			return err
		}
		if int(n) != subs {
			return fmt.Errorf("PUBLISH reached %d subscribers, want %d", n, subs)
		}
		sent++
	}
	elapsed := time.Since(start)
	// Let the last messages arrive (10 s at most).
	want := sent * int64(subs)
	if want > 0 {
		target.Store(want)
		check(received.Load())
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
		}
	}
	got := received.Load()
	fmt.Printf("%.0f %.0f %d\n", float64(sent)/elapsed.Seconds(), float64(got)/elapsed.Seconds(), want-got)
	return nil
}

// skipFrame reads one RESP2 array of bulk strings (a message) or an
// integer/simple line.
func skipFrame(r *bufio.Reader) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if line[0] != '*' {
		return nil
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return err
	}
	for range n {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if line[0] != '$' {
			continue
		}
		l, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return err
		}
		if _, err := r.Discard(l + 2); err != nil {
			return err
		}
	}
	return nil
}
