package node

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// CLIENT TRACKING on one node, in process (under -race): go-redis's
// client-side cache read concurrently with writers catches up with the
// last writes, and
// tracking-table-max-keys bounds the keys remembered (docs/tracking.md).
func TestTrackingInProcess(t *testing.T) {
	n, addr, _ := startNodeN(t, t.TempDir(), nil)
	ctx := context.Background()
	cached := newClient(t, addr, &redis.Options{Protocol: 3, ClientSideCacheConfig: &redis.ClientSideCacheConfig{}})
	plain := newClient(t, addr, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := "tk:" + strconv.Itoa(i%10)
				if err := plain.Set(ctx, k, strconv.Itoa(w*1000+i), 0).Err(); err != nil {
					t.Error(err)
					return
				}
				if err := cached.Get(ctx, k).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		k := "tk:" + strconv.Itoa(i)
		if err := plain.Set(ctx, k, "final", 0).Err(); err != nil {
			t.Fatal(err)
		}
		// go-redis reads the invalidation when it next uses its
		// connection (redis-server alike): the cache answers "final"
		// within a second.
		deadline := time.Now().Add(time.Second)
		for {
			got, err := cached.Get(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got == "final" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cache still answers %q", k, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if st := cached.CSCStats(); st.Hits == 0 {
		t.Fatalf("the cache served nothing: %+v", st)
	}
	if got := n.tracking.Clients(); got < 1 { // one per connection of its pool
		t.Fatalf("tracking clients %d", got)
	}

	// The bound: three keys read, two kept, the third's client told.
	raw := newClient(t, addr, &redis.Options{Protocol: 2})
	if err := raw.ConfigSet(ctx, "tracking-table-max-keys", "2").Err(); err != nil {
		t.Fatal(err)
	}
	defer raw.ConfigSet(ctx, "tracking-table-max-keys", "1000000")
	if got := raw.ConfigGet(ctx, "tracking-table-max-keys").Val()["tracking-table-max-keys"]; got != "2" {
		t.Fatalf("CONFIG GET %q", got)
	}
	for _, k := range []string{"m1", "m2", "m3"} {
		cached.Get(ctx, k)
	}
	info := raw.Info(ctx, "stats").Val()
	if !strings.Contains(info, "tracking_total_keys:2\r\n") && !strings.Contains(info, "tracking_total_keys:1\r\n") {
		t.Fatalf("over the bound: %s", info)
	}
}
