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
		case len(raw) > 0 && raw[0] == '*':
			last, epoch, err := position(raw)
			if err != nil {
				s.next[x.to] = 0
				continue
			}
			if x.last == 0 && !s.consistent(x.to, last, epoch) { // a probe's answer
				s.next[x.to] = 0
				if !s.behind[x.to] {
					s.behind[x.to] = true
					s.cfg.Log.Warn("follower has diverged from this leader's log: it needs a full sync (not built yet); nothing is shipped to it",
						"follower", x.to.node, "table", x.to.table, "slot", x.to.slot, "follower_last", last, "follower_epoch", epoch)
				}
				continue
			}
			s.next[x.to] = last + 1
			delete(s.behind, x.to)
		case bytes.HasPrefix(raw, []byte("-REPLGAP ")):
			if v, err := strconv.ParseUint(string(bytes.TrimSpace(raw[9:])), 10, 64); err == nil {
				s.next[x.to] = storage.LogIndex(v) + 1
			}
		default: // refused (routing moved) or an error: ask again next round
			s.next[x.to] = 0
		}
	}
}

// position reads a REPLICATE answer: [last index, its epoch].
func position(raw []byte) (storage.LogIndex, storage.Epoch, error) {
	el, err := forward.Elems(raw)
	if err != nil || len(el) != 2 {
		return 0, 0, forward.ErrProtocol
	}
	last, err1 := forward.Int(el[0])
	epoch, err2 := forward.Int(el[1])
	if err1 != nil || err2 != nil {
		return 0, 0, forward.ErrProtocol
	}
	return storage.LogIndex(last), storage.Epoch(epoch), nil
}

// consistent reports whether a follower at (last, epoch) holds a prefix of
// this leader's log: the leader has an entry at last with that epoch (or
// the follower is empty).
func (s *Shipper) consistent(to target, last storage.LogIndex, epoch storage.Epoch) bool {
	if last == 0 {
		return true
	}
	first, mine, _ := s.eng.LogBounds(to.table, to.slot)
	if last > mine {
		return false // it has entries this leader never wrote
	}
	if last < first {
		return true // trimmed here: cannot check; the gap is found when shipping
	}
	entries, err := s.eng.ReadLog(to.table, to.slot, last, 1)
	return err == nil && len(entries) > 0 && entries[0].Index == last && entries[0].Epoch == epoch
}
