package manager

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The lease fence (docs/replication.md, "Lease fence"): what this node
// knows for sure of its etcd lease, so that a leader cut off from etcd
// stops acknowledging writes before the manager can promote another
// replica.

// leaseFence says until when the node's lease lives for sure, and the
// etcd revision of the node's registration under it: the node's routing
// must have reached it before the node leads again (a failover made
// while it was away is then in its routing).
type leaseFence struct {
	validUntil  time.Time
	minRevision int64
}

// LeaseHeld reports whether this node may act as the leader of a slot
// another replica could take over: its lease lives for sure beyond a
// margin of a tenth of its TTL (clock rates differ), and routing revision
// rev has reached its registration.
func (m *Member) LeaseHeld(rev int64) bool {
	f := m.fence.Load()
	if f == nil || rev < f.minRevision {
		return false
	}
	return time.Now().Before(f.validUntil.Add(-m.cfg.LeaseTTL / 10))
}

// extendFence moves validUntil forward to until (never back).
func (m *Member) extendFence(until time.Time) {
	for {
		f := m.fence.Load()
		if f == nil || !until.After(f.validUntil) {
			return
		}
		next := &leaseFence{validUntil: until, minRevision: f.minRevision}
		if m.fence.CompareAndSwap(f, next) {
			return
		}
	}
}

// renewLease renews lease every ttl/6 until ctx is done, each renewal
// extending the fence to the time its request was sent + the TTL etcd
// answers. It runs beside the etcd client's own keepalive stream, whose
// answers do not say when their requests were sent.
func (m *Member) renewLease(ctx context.Context, wg *sync.WaitGroup, lease clientv3.LeaseID, ttl time.Duration) {
	wg.Go(func() {
		tick := time.NewTicker(max(ttl/6, 50*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, ttl)
			resp, err := m.cli.KeepAliveOnce(rctx, lease)
			cancel()
			if err == nil && resp.TTL > 0 {
				m.extendFence(sent.Add(time.Duration(resp.TTL) * time.Second))
			}
		}
	})
}
