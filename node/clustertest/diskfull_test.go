package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
)

// misconf is redis-server's reply to a write while it cannot write its
// AOF, and a node's while its disk is below --min-free-disk.
const misconf = "MISCONF Errors writing to the AOF file: No space left on device"

// TestDiskFull fills the disk of one node of three under load (its data
// directory on a small tmpfs): it must keep running (RocksDB as Debian
// builds it aborts the process on a WAL write that finds no space), refuse
// writes to the slots it leads with MISCONF, say so in /healthz, INFO and
// `pikactl status`, hand the slots it leads to replicas that can write,
// and take writes again once space is back. No acknowledged write is
// lost. Mounting the tmpfs needs root (CI runs as root).
func TestDiskFull(t *testing.T) {
	needSetup(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "tmpfs")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the full disk (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { // after the nodes stopped (cleanups run last first)
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	const reserve = 48 << 20
	etcd := testproc.StartEtcd(t, dir, testproc.Port(t), testproc.Port(t))
	flags := []string{"--etcd", etcd.Endpoint(), "--cluster", "df", "--lease-ttl", leaseTTL}
	var nodes []*testproc.Node
	for i := range 2 {
		nd := startNode(t, dir, fmt.Sprintf("n%d", i+1), flags...)
		nd.WaitHealthy(t)
		nodes = append(nodes, nd)
	}
	full := testproc.StartNode(t, testproc.NodeSpec{Bin: pikaBin, Name: "n3", Dir: dir, Data: filepath.Join(mnt, "n3"),
		Flags: append([]string{"--bind", "127.0.0.1", "--block-cache-mb", "16", "--write-buffer-mb", "4",
			"--min-free-disk", fmt.Sprint(reserve)}, flags...)})
	full.WaitHealthy(t)
	nodes = append(nodes, full)
	waitAlive(t, nodes[0], 3)
	fullID := func() string { h, _, _ := full.Health(); return h.Node }()
	ctx := context.Background()

	// Table "two" has a follower for every slot: the manager hands the
	// full node's slots over. Table "one" has none: its slots there
	// refuse writes until space is back.
	two := createTable(t, nodes, "two", 8, 2)
	one := createTable(t, nodes, "one", 8, 1)
	twoKeys, _ := keysLedBy(t, nodes[0], two, fullID, "k", 3)
	oneKeys, _ := keysLedBy(t, nodes[0], one, fullID, "o", 1)
	twoC := redisClient(t, nodes[0], &redis.Options{DB: int(two.ID), MaxRetries: -1})
	oneC := redisClient(t, nodes[1], &redis.Options{DB: int(one.ID), MaxRetries: -1})
	for _, k := range oneKeys {
		if err := oneC.Set(ctx, k, "before", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// Clients write the keys the full node leads, each key by one
	// goroutine in order: the last acknowledged value of each, and the
	// values whose outcome is unknown (an error other than MISCONF).
	type keyLog struct {
		acked   string
		unknown []string
		misconf int
	}
	logs := make([]keyLog, len(twoKeys))
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for i, k := range twoKeys {
		writers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("%d-%s", n, strings.Repeat("x", 2000))
				switch err := twoC.Set(ctx, k, v, 0).Err(); {
				case err == nil:
					logs[i].acked, logs[i].unknown = v, nil
				case err.Error() == misconf:
					logs[i].misconf++
				default:
					logs[i].unknown = append(logs[i].unknown, v)
				}
			}
		})
	}
	stopWriters := sync.OnceFunc(func() { close(stop); writers.Wait() })
	t.Cleanup(stopWriters)

	// Fill the disk to just under the reserve.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	free := int64(st.Bavail) * st.Bsize
	if err := exec.Command("fallocate", "-l", fmt.Sprint(free-reserve+(4<<20)), filler).Run(); err != nil {
		t.Fatalf("fallocate %d bytes: %v", free-reserve, err)
	}
	filled := time.Now()

	testproc.WaitFor(t, "n3's /healthz to say its disk is low", 10*time.Second, func() bool {
		h, _, err := full.Health()
		return err == nil && h.Status == "degraded" && strings.Contains(h.Reason, "disk")
	})
	for _, k := range oneKeys { // no replica to take over: refused, through another node
		if err := oneC.Set(ctx, k, "during", 0).Err(); err == nil || err.Error() != misconf {
			t.Fatalf("SET %s in a slot the full node leads alone: %v, want %s", k, err, misconf)
		}
	}
	info, err := redisClient(t, full, nil).Info(ctx, "persistence").Result()
	if err != nil || !strings.Contains(info, "aof_last_write_status:err") || !strings.Contains(info, "pika_disk:") {
		t.Fatalf("INFO persistence on the full node: %v\n%s", err, info)
	}
	var status api.Status
	testproc.WaitFor(t, "pikactl status to name the full node", 10*time.Second, func() bool {
		pikactlJSON(t, &status, "--server", nodes[0].HTTPAddr(), "status")
		return strings.Contains(strings.Join(status.Problems, "\n"), "node "+fullID+": disk below")
	})
	testproc.WaitFor(t, "the full node's slots of table two to move to its followers", 30*time.Second, func() bool {
		var slots []api.Slot
		pikactlJSON(t, &slots, "--server", nodes[0].HTTPAddr(), "slot", "show", two.Name)
		for _, s := range slots {
			if string(s.Leader) == fullID {
				return false
			}
		}
		return true
	})
	handedOver := time.Since(filled)
	// Writes to those keys go on at their new leaders.
	testproc.WaitFor(t, "writes to the handed-over slots to be acknowledged again", 10*time.Second, func() bool {
		return twoC.Set(ctx, twoKeys[0], "probe", 0).Err() == nil
	})
	if err := full.Running(); err != nil {
		t.Fatalf("the node with the full disk stopped: %v\n%s", err, full.Tail(40))
	}

	if err := os.Remove(filler); err != nil { // space back
		t.Fatal(err)
	}
	testproc.WaitFor(t, "n3's /healthz to say ok again", 10*time.Second, func() bool {
		h, _, err := full.Health()
		return err == nil && h.Status == "ok" && h.Disk == "ok"
	})
	testproc.WaitFor(t, "the table without replicas to take writes on n3 again", 10*time.Second, func() bool {
		return oneC.Set(ctx, oneKeys[0], "after", 0).Err() == nil
	})
	stopWriters()

	misconfs := 0
	for i, k := range twoKeys {
		misconfs += logs[i].misconf
		got, err := twoC.Get(ctx, k).Result()
		if k == twoKeys[0] && got == "probe" {
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET %s: %v", k, err)
		}
		if got != logs[i].acked && !slices.Contains(logs[i].unknown, got) {
			t.Errorf("key %s holds %.12q, not its last acknowledged value %.12q (nor one of %d unknown outcomes)", k, got, logs[i].acked, len(logs[i].unknown))
		}
	}
	if got, err := oneC.Get(ctx, oneKeys[0]).Result(); err != nil || got != "after" {
		t.Fatalf("GET %s after space came back: %q %v", oneKeys[0], got, err)
	}
	if err := full.Running(); err != nil {
		t.Fatalf("the node with the full disk stopped: %v", err)
	}
	t.Logf("MEASURED disk filled under load: %d writes refused with MISCONF, the full node's slots of a 2-replica table handed over %v after the fill, writes taken again once space was back",
		misconfs, handedOver.Round(time.Millisecond))
}
