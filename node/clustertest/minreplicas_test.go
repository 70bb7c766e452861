package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
)

// TestMinReplicasPausedFollowers is min-replicas-to-write and WAIT under
// a fault (docs/replication.md, "WAIT and min-replicas-to-write"): clients
// write to a leader whose followers are paused (SIGSTOP). With
// min-replicas-to-write 1 and min-replicas-max-lag 1, set through another
// node, the leader stops acknowledging writes (NOREPLICAS) within the lag
// of its followers' last answer, where it would otherwise acknowledge
// writes no other replica has; once they resume it takes writes again,
// and WAIT 2 answers 2 once both hold them.
func TestMinReplicasPausedFollowers(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "mr", 3)
	tb := createTable(t, nodes, "mr", 8, 3)
	leader, followers := nodes[2], nodes[:2]
	leaderID := func() string { h, _, _ := leader.Health(); return h.Node }()
	ctx := context.Background()

	keys, _ := keysLedBy(t, nodes[0], tb, leaderID, "m", 4)

	admin := redisClient(t, nodes[0], nil)
	if err := admin.ConfigSet(ctx, "min-replicas-max-lag", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	c := redisClient(t, leader, &redis.Options{DB: int(tb.ID), MaxRetries: -1, ReadTimeout: 10 * time.Second})
	for _, k := range keys {
		if err := c.Set(ctx, k, "before", 0).Err(); err != nil {
			t.Fatalf("SET %s with both followers up: %v", k, err)
		}
	}
	if n, err := c.Do(ctx, "WAIT", "2", "10000").Int(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 10000 with both followers up: %d, %v", n, err)
	}

	for _, f := range followers {
		if err := f.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Signal(syscall.SIGCONT) })
	}
	paused := time.Now()
	var lastAck time.Time
	acked, refused := 0, 0
	var otherErr []string
	for i := 0; refused < 20 && time.Since(paused) < 20*time.Second; i++ {
		err := c.Set(ctx, keys[i%len(keys)], fmt.Sprint("during-", i), 0).Err()
		switch {
		case err == nil:
			acked++
			lastAck = time.Now()
		case err.Error() == "NOREPLICAS Not enough good replicas to write.":
			refused++
		default:
			if len(otherErr) < 5 {
				otherErr = append(otherErr, err.Error())
			}
		}
	}
	late := lastAck.Sub(paused)
	if lastAck.IsZero() {
		late = 0
	}
	t.Logf("MEASURED followers paused at 0: %d writes acknowledged, the last at %v; then %d refused with NOREPLICAS; other errors %q",
		acked, late.Round(time.Millisecond), refused, otherErr)
	if refused == 0 {
		t.Fatalf("no write refused with both followers paused for %v", time.Since(paused).Round(time.Millisecond))
	}
	// The lag (1 s) after the followers' last answer, plus the time a
	// reply takes on this loaded machine: never the whole pause.
	if late > 3*time.Second {
		t.Errorf("a write was acknowledged %v after both followers were paused, past min-replicas-max-lag 1", late)
	}

	for _, f := range followers {
		if err := f.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	testproc.WaitFor(t, "the leader to take writes again", 30*time.Second, func() bool {
		err := c.Set(ctx, keys[0], "after", 0).Err()
		if err != nil && !strings.HasPrefix(err.Error(), "NOREPLICAS") && !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
			t.Logf("SET after the followers resumed: %v", err)
		}
		return err == nil
	})
	testproc.WaitFor(t, "WAIT 2 to answer 2", 30*time.Second, func() bool {
		n, err := c.Do(ctx, "WAIT", "2", "2000").Int()
		return err == nil && n == 2
	})
}

// TestMinReplicasLeaderLost counts what a leader cut off from its
// followers loses when it dies (issue 17's partitioned async leader):
// clients write to it, each SET followed by WAIT 1 100; both followers
// are paused (SIGSTOP: from the leader's side, a partition), the leader
// goes on until min-replicas-to-write 1 (max lag 1 s) refuses, then it
// is killed (kill -9) and the followers resume: the manager promotes them.
// Writes a follower confirmed (WAIT answered 1) are never lost; writes
// acknowledged without that, in the lag's window, are, and are counted.
func TestMinReplicasLeaderLost(t *testing.T) {
	needSetup(t)
	_, nodes := startNodes(t, "ml", 3)
	tb := createTable(t, nodes, "ml", 8, 2)
	leader, followers := nodes[2], nodes[:2]
	leaderID := func() string { h, _, _ := leader.Health(); return h.Node }()
	ctx := context.Background()
	keys, _ := keysLedBy(t, nodes[0], tb, leaderID, "w", 2)

	admin := redisClient(t, nodes[0], nil)
	for _, kv := range [][2]string{{"min-replicas-max-lag", "1"}, {"min-replicas-to-write", "1"}} {
		if err := admin.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// One writer per key, in order: n is the key's write counter. For
	// each key: the last write acknowledged, the last one a follower
	// confirmed (WAIT 1), the first one whose outcome is unknown.
	type keyLog struct{ acked, confirmed, unknownFrom atomic.Int64 }
	logs := make([]keyLog, len(keys))
	var refused sync.Map // key index -> true once NOREPLICAS was seen
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for i, k := range keys {
		l := &logs[i]
		l.acked.Store(-1)
		l.confirmed.Store(-1)
		l.unknownFrom.Store(-1)
		writers.Go(func() {
			c := redisClient(t, leader, &redis.Options{DB: int(tb.ID), MaxRetries: -1, ReadTimeout: 3 * time.Second})
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := c.Set(ctx, k, strconv.Itoa(n), 0).Err()
				switch {
				case err == nil:
					l.acked.Store(int64(n))
					if w, err := c.Do(ctx, "WAIT", "1", "100").Int(); err == nil && w >= 1 {
						l.confirmed.Store(int64(n))
					}
				case strings.HasPrefix(err.Error(), "NOREPLICAS"):
					refused.Store(i, true)
				default:
					l.unknownFrom.Store(int64(n))
					return // the leader is gone
				}
			}
		})
	}
	testproc.WaitFor(t, "every key to have a confirmed write", 20*time.Second, func() bool {
		for i := range logs {
			if logs[i].confirmed.Load() < 0 {
				return false
			}
		}
		return true
	})
	for _, f := range followers {
		if err := f.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Signal(syscall.SIGCONT) })
	}
	testproc.WaitFor(t, "the leader to refuse writes (NOREPLICAS)", 20*time.Second, func() bool {
		n := 0
		refused.Range(func(any, any) bool { n++; return true })
		return n == len(keys)
	})
	leader.Kill()
	for _, f := range followers {
		if err := f.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	writers.Wait()

	c := redisClient(t, nodes[0], &redis.Options{DB: int(tb.ID), MaxRetries: -1})
	lostAcked, lostWrites, lostConfirmed := 0, 0, 0
	for i, k := range keys {
		var v string
		testproc.WaitFor(t, "the slot of "+k+" to be led by a follower", 60*time.Second, func() bool {
			var err error
			v, err = c.Get(ctx, k).Result()
			return err == nil
		})
		got, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("GET %s: %q", k, v)
		}
		acked, confirmed, unknownFrom := int(logs[i].acked.Load()), int(logs[i].confirmed.Load()), int(logs[i].unknownFrom.Load())
		if got < confirmed {
			lostConfirmed++
			t.Errorf("key %s: write %d, confirmed by WAIT 1, lost: the promoted replica has %d", k, confirmed, got)
		}
		if got < acked {
			lostAcked++
			lostWrites += acked - got
		}
		if got > acked && got != unknownFrom {
			t.Errorf("key %s holds write %d, never acknowledged (last acknowledged %d, unknown outcome %d)", k, got, acked, unknownFrom)
		}
	}
	t.Logf("MEASURED leader cut off from its followers, then killed, min-replicas-to-write 1, max lag 1 s: "+
		"%d of %d keys lost their last acknowledged writes (%d writes, acknowledged within the lag before NOREPLICAS), %d lost a write WAIT 1 confirmed",
		lostAcked, len(keys), lostWrites, lostConfirmed)
}
