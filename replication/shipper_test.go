package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// A follower is consistent with the leader when the leader's log has the
// follower's last entry with the same epoch; anything else is divergence.
func TestConsistent(t *testing.T) {
	eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.EnsureTable(1, 4); err != nil {
		t.Fatal(err)
	}
	write := func(epoch storage.Epoch, n int) {
		eng.SetSlotRole(1, 2, storage.SlotRole{Logged: true, Epoch: epoch})
		for i := range n {
			err := eng.Update(1, []storage.SlotID{2}, func(u *storage.Update) error {
				return u.Txn(2).PutMeta([]byte(fmt.Sprint(epoch, "-", i)), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	write(1, 2) // entries 1, 2 at epoch 1
	write(2, 2) // entries 3, 4 at epoch 2
	s := NewShipper(Config{}, eng, nil, nil)
	to := target{"f", 1, 2}
	for _, c := range []struct {
		last  storage.LogIndex
		epoch storage.Epoch
		want  bool
	}{
		{0, 0, true},  // empty follower
		{2, 1, true},  // a prefix
		{4, 2, true},  // up to date
		{3, 1, false}, // entry 3 written at epoch 1 elsewhere: diverged
		{5, 2, false}, // entries the leader never wrote
	} {
		if got := s.consistent(to, c.last, c.epoch); got != c.want {
			t.Errorf("follower at (%d, epoch %d): consistent = %v, want %v", c.last, c.epoch, got, c.want)
		}
	}
}

// idleStore hands the test a token each time the shipper starts waiting
// for a wake (it reads LogWritten only then), and holds the shipper there
// until the test takes it.
type idleStore struct {
	ShipperStore
	ctx  context.Context
	idle chan struct{}
}

func (s idleStore) LogWritten() <-chan struct{} {
	select {
	case s.idle <- struct{}{}:
	case <-s.ctx.Done():
	}
	return s.ShipperStore.LogWritten()
}

// A commit wakes the shipper: with its fallback an hour, each write made
// while the shipper waits idle still reaches the follower.
func TestShipperWokenByCommit(t *testing.T) {
	open := func() *storage.Engine {
		eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		if err := eng.EnsureTable(1, 1); err != nil {
			t.Fatal(err)
		}
		return eng
	}
	leader, follower := open(), open()
	leader.SetSlotRole(1, 0, storage.SlotRole{Logged: true, Epoch: 1})
	follower.SetSlotRole(1, 0, storage.SlotRole{Logged: true, Follower: true, Epoch: 1})
	write := func(k string) {
		t.Helper()
		if err := leader.Update(1, []storage.SlotID{0}, func(u *storage.Update) error {
			return u.Txn(0).PutMeta([]byte(k), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Both start at entry 1: the first probe finds the follower up to
	// date, with no full sync.
	write("a")
	log, err := leader.ReadLog(1, 0, 1, 1<<20)
	if err != nil || len(log) != 1 {
		t.Fatalf("leader's log: %d entries, %v", len(log), err)
	}
	if err := follower.ApplyLogEntry(1, 0, log[0]); err != nil {
		t.Fatal(err)
	}
	// Take the wake "a" left pending: otherwise the shipper's first idle
	// wait returns at once, before the test's write, and waits idle again
	// (for a token the test no longer takes) with "b" unshipped.
	select {
	case <-leader.LogWritten():
	default:
	}

	// The follower's peer port: each REPLICATE's answer is followed by
	// the follower's last index on applied.
	applied, stop := make(chan storage.LogIndex), make(chan struct{})
	defer close(stop) // before serveFollower's cleanup waits for its goroutines
	st := &meta.State{
		Alive:  map[meta.NodeID]meta.NodeInfo{"L": {ID: "L"}, "F": {ID: "F"}},
		Tables: map[string]meta.TableInfo{"t": {ID: 1, Name: "t", Slots: 1, Replicas: 2, Mode: meta.ModeAsync}},
		Slots:  map[meta.TableID]map[meta.SlotID]meta.SlotInfo{1: {0: {Epoch: 1, Leader: "L", Replicas: []meta.NodeID{"L", "F"}}}},
		Secret: "s",
	}
	followerView := router.NewSnapshot(st, "F")
	addr := serveFollower(t, NewFollower("F", follower, func() *router.Snapshot { return followerView }, nil), func() {
		_, last, _ := follower.LogBounds(1, 0)
		select {
		case applied <- last:
		case <-stop:
		}
	})
	st.Alive["F"] = meta.NodeInfo{ID: "F", Peer: addr}
	snap := router.NewSnapshot(st, "L")
	links := peer.NewLinks(peer.LinksConfig{Self: "L"})
	links.SetSecret(snap.Secret)
	defer links.Close()
	ctx, cancel := context.WithCancel(context.Background())
	store := idleStore{ShipperStore: leader, ctx: ctx, idle: make(chan struct{})}
	s := NewShipper(Config{Self: "L", Fallback: time.Hour}, store, links, func() *router.Snapshot { return snap })
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	timeout := time.After(30 * time.Second) // a bound for failing, not a wait
	reached := func(want storage.LogIndex) {
		t.Helper()
		for {
			select {
			case last := <-applied:
				if last >= want {
					return
				}
			case <-timeout:
				t.Fatalf("the follower never reached entry %d", want)
			}
		}
	}
	reached(1) // the probe's answer
	for i, k := range []string{"b", "c", "d"} {
		// The shipper waits for a wake only after a round that moved
		// no follower (one that did is followed by another), so it
		// shipped everything: only the commit can wake it now.
		select {
		case <-store.idle:
		case <-timeout:
			t.Fatal("the shipper never went idle")
		}
		write(k)
		reached(storage.LogIndex(i + 2))
	}
	if n := follower.SlotKeyCount(1, 0); n != 4 {
		t.Fatalf("follower has %d keys, want 4", n)
	}
}

// serveFollower serves f's REPLICATE on a peer port of its own until the
// test ends (accepting PEERAUTH without a check); answered runs after
// each answer is written. It returns the port's address.
func serveFollower(t *testing.T, f *Follower, answered func()) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := peer.NewMux(func(r *resp.Reply, reply string) { r.Error(reply) })
	peer.Handle(m, peer.ParseReplicate, f.Replicate)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				rd := resp.NewReader(c, resp.Limits{Budget: resp.NewBudget(1 << 30)})
				defer rd.Release()
				if _, err := rd.ReadCommand(); err != nil { // PEERAUTH
					return
				}
				if _, err := c.Write([]byte("+OK\r\n")); err != nil {
					return
				}
				var out resp.Reply
				for {
					args, err := rd.ReadCommand()
					if err != nil {
						return
					}
					out.Reset()
					m.Serve(&out, args)
					rd.Release()
					if _, err := c.Write(out.B); err != nil {
						return
					}
					answered()
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// AwaitAcked waits for every live follower in the log's stream: until its
// acknowledgement reaches the index, or ctx ends (an unknown position,
// one that did not answer, counts as not there yet); a follower being
// copied (a full sync) and one whose node is not alive are not waited
// for; a slot this node does not lead is refused.
func TestAwaitAcked(t *testing.T) {
	st := &meta.State{
		Alive:  map[meta.NodeID]meta.NodeInfo{"L": {ID: "L"}, "F": {ID: "F"}, "G": {ID: "G"}},
		Tables: map[string]meta.TableInfo{"t": {ID: 1, Name: "t", Slots: 2, Replicas: 3, Mode: meta.ModeAsync}},
		Slots: map[meta.TableID]map[meta.SlotID]meta.SlotInfo{1: {
			0: {Epoch: 1, Leader: "L", Replicas: []meta.NodeID{"L", "F", "G"}},
			1: {Epoch: 1, Leader: "F", Replicas: []meta.NodeID{"F", "L"}},
		}},
	}
	snap := router.NewSnapshot(st, "L")
	s := NewShipper(Config{Self: "L"}, nil, nil, func() *router.Snapshot { return snap })
	f, g := target{"F", 1, 0}, target{"G", 1, 0}
	await := func(index storage.LogIndex) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		return s.AwaitAcked(ctx, 1, 0, index)
	}
	// Positions unknown: not acknowledged.
	if err := await(5); err == nil {
		t.Fatal("acknowledged with no follower's position known")
	}
	s.next[f], s.next[g] = 6, 4 // F has 5, G has 3
	s.publishAcked()
	if err := await(5); err == nil {
		t.Fatal("acknowledged while G has entry 3 only")
	}
	if err := await(3); err != nil {
		t.Fatalf("entry 3, which both have: %v", err)
	}
	// G catches up while one waits: the wait ends with the round.
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waited <- s.AwaitAcked(ctx, 1, 0, 5)
	}()
	s.next[g] = 6
	s.publishAcked()
	if err := <-waited; err != nil {
		t.Fatalf("after G acknowledged 5: %v", err)
	}
	// G needs a full sync (behind the retained log): not waited for.
	s.behind[g] = true
	s.publishAcked()
	if err := await(6); err == nil {
		t.Fatal("acknowledged 6, which F has not")
	}
	s.next[f] = 7
	s.publishAcked()
	if err := await(6); err != nil {
		t.Fatalf("entry 6 with F up to date and G being copied: %v", err)
	}
	// G copied, back in the stream at 5: waited for again.
	delete(s.behind, g)
	s.next[g] = 6
	s.publishAcked()
	if err := await(6); err == nil {
		t.Fatal("acknowledged 6 with G at 5 after its copy")
	}
	// G's node not alive: not waited for.
	delete(st.Alive, "G")
	snap = router.NewSnapshot(st, "L")
	if err := await(6); err != nil {
		t.Fatalf("with G's node gone: %v", err)
	}
	// Slot 1 is F's.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.AwaitAcked(ctx, 1, 1, 1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a slot another node leads: %v, want ErrNotLeader", err)
	}
}
