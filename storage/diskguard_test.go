package storage

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A disk running low refuses the writes clients start, then every write,
// and takes them again once space is back; what was refused is not
// written. The free space is injected: filling a real filesystem is the
// process test's (node/clustertest TestDiskFull).
func TestDiskGuard(t *testing.T) {
	const reserve = 4 << 20
	var free atomic.Int64
	free.Store(64 << 20)
	leader, levels := openGuarded(t, reserve, &free)

	set := func(key string) error {
		return leader.Update(DefaultTable, []SlotID{2}, func(u *Update) error {
			return u.Txn(2).PutMeta([]byte(key), &Meta{Type: TypeString, Value: []byte("v")})
		})
	}
	await := func(want DiskLevel) {
		t.Helper()
		select {
		case got := <-levels:
			if got != want {
				t.Fatalf("level %v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change of level to %v", want)
		}
	}
	if err := set("before"); err != nil {
		t.Fatal(err)
	}

	free.Store(reserve - 1) // low
	await(DiskLow)
	err := set("refused")
	var full *DiskFullError
	if !errors.As(err, &full) || full.Level != DiskLow || full.Reserve != reserve {
		t.Fatalf("a client's write while low: %v", err)
	}
	if got := full.RedisError(); got != "MISCONF Errors writing to the AOF file: No space left on device" {
		t.Fatalf("reply %q", got)
	}
	if leader.ClientWritesRefused() == nil || leader.DiskState().Level != DiskLow {
		t.Fatalf("ClientWritesRefused nil, state %+v", leader.DiskState())
	}
	le, err := leader.ReadLog(DefaultTable, 2, 1, 1<<20)
	if err != nil || len(le) != 1 {
		t.Fatalf("leader log: %d entries, %v (the refused write must not be logged)", len(le), err)
	}
	// A follower whose disk runs low applies its leader's entries (work
	// under way) and refuses its own clients' writes.
	var ffree atomic.Int64
	ffree.Store(reserve - 1)
	f2, flevels := openGuarded(t, reserve, &ffree)
	if st := f2.DiskState(); st.Level != DiskLow || <-flevels != DiskLow { // measured and told at Open
		t.Fatalf("measured at open: %+v", st)
	}
	if err := f2.ApplyLogEntry(DefaultTable, 2, le[0]); err != nil {
		t.Fatalf("a leader's entry applied while low: %v", err)
	}
	own := f2.Update(DefaultTable, []SlotID{2}, func(u *Update) error {
		return u.Txn(2).PutMeta([]byte("own"), &Meta{Type: TypeString, Value: []byte("v")})
	})
	if err := own; !errors.As(err, &full) {
		t.Fatalf("its own client's write while low: %v", err)
	}
	ffree.Store(reserve/2 - 1) // critical
	select {
	case l := <-flevels:
		if l != DiskCritical {
			t.Fatalf("level %v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change to critical")
	}
	if err := f2.ApplyLogEntry(DefaultTable, 2, le[0]); !errors.As(err, &full) || full.Level != DiskCritical {
		t.Fatalf("an entry applied while critical: %v", err)
	}
	if _, err := f2.BeginSlotLoad(DefaultTable, 3); !errors.As(err, &full) {
		t.Fatalf("a slot load while critical: %v", err)
	}

	free.Store(64 << 20) // space back
	await(DiskOK)
	if err := set("after"); err != nil {
		t.Fatalf("after space came back: %v", err)
	}
	v := leader.View(DefaultTable).Txn(2)
	for key, want := range map[string]bool{"before": true, "refused": false, "after": true} {
		if _, ok, err := v.Meta([]byte(key)); err != nil || ok != want {
			t.Errorf("key %s present %v (%v), want %v", key, ok, err, want)
		}
	}
}

// openGuarded opens an engine whose disk guard measures *free, with
// slot 2 of the default table logged; the channel gets its changes of
// level.
func openGuarded(t *testing.T, reserve int64, free *atomic.Int64) (*Engine, chan DiskLevel) {
	t.Helper()
	levels := make(chan DiskLevel, 16)
	e, err := Open(Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20, MinFreeDisk: reserve,
		FreeDiskBytes: func(string) (int64, error) { return free.Load(), nil },
		OnDiskLevel:   func(st DiskState) { levels <- st.Level }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.EnsureTable(DefaultTable, 16); err != nil {
		t.Fatal(err)
	}
	e.SetSlotRole(DefaultTable, 2, SlotRole{Logged: true, Epoch: 1})
	return e, levels
}

// The bytes written between two measurements count twice against the
// free space, so a burst cannot run past the reserve unseen.
func TestDiskGuardCountsWrites(t *testing.T) {
	g := diskGuard{dir: "d", reserve: 4 << 20}
	g.free.Store(5 << 20)
	if st := g.state(); st.Level != DiskOK {
		t.Fatalf("%+v", st)
	}
	g.wrote(600 << 10) // 1.2 MB counted: 3.8 MB left
	if st := g.state(); st.Level != DiskLow || st.Free != 5<<20-1200<<10 {
		t.Fatalf("%+v", st)
	}
	if err := g.refuse(false); err != nil {
		t.Fatalf("low refuses only clients' writes: %v", err)
	}
	g.wrote(1 << 20)
	if err := g.refuse(false); err == nil {
		t.Fatalf("critical took a write: %+v", g.state())
	} else if want := fmt.Sprintf("under the reserve of %d bytes", 4<<20); !strings.Contains(err.Error(), want) {
		t.Fatalf("%v", err)
	}
	off := diskGuard{reserve: -1}
	off.wrote(1 << 30)
	if off.refuse(true) != nil || off.state().Level != DiskOK {
		t.Fatal("a guard turned off refused")
	}
}
