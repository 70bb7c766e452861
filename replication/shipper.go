package replication

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/router/forward"
	"github.com/pika-node/pika-node/storage"
)

// Config tunes a Shipper.
type Config struct {
	// Self is this node.
	Self meta.NodeID
	// Interval is how often slots are checked for new entries. Default 2ms.
	Interval time.Duration
	// MaxBytes bounds the entries sent for one slot in one round. Default 256 KiB.
	MaxBytes int
	// Timeout bounds the wait for a follower's answer. Default 5s.
	Timeout time.Duration
	Log     *slog.Logger
}

// Shipper sends the slots this node leads to their followers.
type Shipper struct {
	cfg  Config
	eng  *storage.Engine
	pool *forward.Pool
	snap func() *router.Snapshot
	// next is, per follower and slot, the next index to send (0: unknown,
	// ask the follower).
	next map[target]storage.LogIndex
	// behind remembers the slots reported as needing a full sync.
	behind map[target]bool
}

type target struct {
	node  meta.NodeID
	table storage.TableID
	slot  storage.SlotID
}

// NewShipper returns a shipper reading eng's slot logs and sending over pool.
func NewShipper(cfg Config, eng *storage.Engine, pool *forward.Pool, snap func() *router.Snapshot) *Shipper {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Millisecond
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 10
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Shipper{cfg: cfg, eng: eng, pool: pool, snap: snap, next: map[target]storage.LogIndex{}, behind: map[target]bool{}}
}

// Run ships until ctx is done.
func (s *Shipper) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if snap := s.snap(); snap != nil {
			s.round(ctx, snap)
		}
	}
}

type sent struct {
	to   target
	fut  *forward.Future
	last storage.LogIndex // the last index sent, 0 for a probe
}

// round sends every follower what it lacks, then reads the answers.
func (s *Shipper) round(ctx context.Context, snap *router.Snapshot) {
	var out []sent
	live := map[target]bool{}
	for _, tb := range snap.Tables() {
		if tb.Replicas < 2 {
			continue
		}
		for i := range tb.Slots {
			slot := storage.SlotID(i)
			r := tb.Route(slot)
			if r.Leader != s.cfg.Self || len(r.Replicas) < 2 {
				continue
			}
			first, last, _ := s.eng.LogBounds(tb.ID, slot)
			for _, f := range r.Replicas {
				if f == s.cfg.Self {
					continue
				}
				info, ok := snap.Node(f)
				if !ok {
					continue // down: resumes from its answer when back
				}
				to := target{f, tb.ID, slot}
				live[to] = true
				next := s.next[to]
				args := [][]byte{[]byte("REPLICATE"), strconv.AppendUint(nil, uint64(tb.ID), 10),
					strconv.AppendUint(nil, uint64(slot), 10), strconv.AppendUint(nil, uint64(r.Epoch), 10)}
				var lastSent storage.LogIndex
				switch {
				case next == 0: // probe: where is the follower?
				case next > last:
					continue // up to date
				case next < first:
					if !s.behind[to] {
						s.behind[to] = true
						s.cfg.Log.Warn("follower is behind the retained log: it needs a full sync (not built yet)",
							"follower", f, "table", tb.Name, "slot", slot, "follower_next", next, "log_first", first)
					}
					continue
				default:
					entries, err := s.eng.ReadLog(tb.ID, slot, next, s.cfg.MaxBytes)
					if err != nil || len(entries) == 0 {
						continue
					}
					for _, en := range entries {
						args = append(args, storage.EncodeLogEntry(nil, en))
					}
					lastSent = entries[len(entries)-1].Index
				}
				out = append(out, sent{to: to, fut: s.pool.Do(info.Peer, uint32(slot), args), last: lastSent})
			}
		}
	}
	for to := range s.next { // forget followers that no longer are
		if !live[to] {
			delete(s.next, to)
			delete(s.behind, to)
		}
	}
	for _, x := range out {
		x.fut.Flush()
	}
	for _, x := range out {
		raw, err := x.fut.Wait(ctx, s.cfg.Timeout)
		switch {
		case err != nil:
			s.next[x.to] = 0
		case len(raw) > 0 && raw[0] == ':':
			if v, err := forward.Int(raw); err == nil {
				s.next[x.to] = storage.LogIndex(v) + 1
				delete(s.behind, x.to)
			}
		case bytes.HasPrefix(raw, []byte("-REPLGAP ")):
			if v, err := strconv.ParseUint(string(bytes.TrimSpace(raw[9:])), 10, 64); err == nil {
				s.next[x.to] = storage.LogIndex(v) + 1
			}
		default: // refused (routing moved) or an error: ask again next round
			s.next[x.to] = 0
		}
	}
}
