package clustertest

import (
	"context"
	"fmt"
	"strings"
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
