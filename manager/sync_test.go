package manager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// gate holds a member's watch: while held, its onState callback (and so
// every later state) blocks, as on a node whose watch lags.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

func (g *gate) pass(*meta.State) {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// httpMember is a member serving its API on a real HTTP port (its
// registered HTTP address), whose watch can be held.
type httpMember struct {
	*testMember
	gate *gate
	api  *api.Client
}

func startHTTPMember(t *testing.T, l meta.Layout, id string, applyWait time.Duration) *httpMember {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	g := &gate{}
	cli := newClient(t)
	m := NewMember(Config{
		Layout:          l,
		Self:            meta.NodeInfo{ID: meta.NodeID(id), RESP: "127.0.0.1:1", HTTP: srv.Listener.Addr().String(), Version: "test"},
		LeaseTTL:        2 * time.Second,
		Bootstrap:       db0,
		BootstrapExpect: 1,
		ApplyWait:       applyWait,
		AdminTokenFile:  adminTokenFile(t),
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, cli, g.pass)
	srv.Config.Handler = m.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMember{Member: m, cli: cli, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		g.release() // a held watch would never let Run return
		tm.stop()
		srv.Close()
	})
	return &httpMember{testMember: tm, gate: g, api: api.NewClient(srv.Listener.Addr().String()).WithToken(testAdminToken)}
}

func hasTable(st *meta.State, name string) bool {
	x, ok := st.Tables[name]
	return ok && st.Complete(x)
}

// A member asked for a table it does not know catches up with etcd: the
// callers wait (all of them on one or two etcd reads) until its watch
// delivers the table, and no longer than their deadline.
func TestCatchUpTables(t *testing.T) {
	l := newCluster(t)
	a := startHTTPMember(t, l, "a", time.Second)
	waitManager(t, a.testMember)
	b := startHTTPMember(t, l, "b", time.Second)
	ctx := context.Background()
	if _, err := b.WaitState(ctx, func(st *meta.State) bool { return hasTable(st, "db0") }); err != nil {
		t.Fatal(err)
	}
	// Nothing to catch up: it returns at once.
	if err := b.CatchUpTables(ctx); err != nil {
		t.Fatal(err)
	}

	b.gate.hold()
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "t1", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}); err != nil {
		t.Fatal(err)
	}
	if hasTable(b.State(), "t1") {
		t.Fatal("b has t1 with its watch held")
	}
	reads := b.catchUpReads()
	const callers = 50
	errs := make(chan error, callers)
	start := make(chan struct{})
	for range callers {
		go func() {
			<-start
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err := b.CatchUpTables(cctx)
			if err == nil && !hasTable(b.State(), "t1") {
				err = errors.New("caught up without t1")
			}
			errs <- err
		}()
	}
	close(start) // all at once, so that most arrive while one read is in flight
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-errs:
		t.Fatalf("a catch-up returned while the watch was held: %v", err)
	default:
	}
	// Callers arriving while a read is in flight share the next one: a
	// few reads for all of them (a loaded machine spreads the goroutines'
	// starts over several reads: CI saw 6), not one each.
	if n := b.catchUpReads() - reads; n < 1 || n > callers/5 {
		t.Fatalf("%d concurrent catch-ups made %d etcd reads, want 1 to %d", callers, n, callers/5)
	}
	b.gate.release()
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	// A watch that stays behind: the catch-up gives up at its deadline.
	b.gate.hold()
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "t2", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.CatchUpTables(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("catch-up with the watch held: %v, want the deadline", err)
	}
	b.gate.release()
}

// A table create or drop answers once every live node applied it, or
// names the nodes that had not after ApplyWait.
func TestTableChangesWaitForEveryNode(t *testing.T) {
	l := newCluster(t)
	a := startHTTPMember(t, l, "a", 500*time.Millisecond)
	waitManager(t, a.testMember)
	b := startHTTPMember(t, l, "b", 500*time.Millisecond)
	c := startHTTPMember(t, l, "c", 500*time.Millisecond)
	all := []*httpMember{a, b, c}
	ctx := context.Background()
	for _, m := range all {
		if _, err := m.WaitState(ctx, func(st *meta.State) bool { return len(st.Alive) == 3 && hasTable(st, "db0") }); err != nil {
			t.Fatal(err)
		}
	}

	// Every node serves the table when the create answers, through the
	// manager or through another node (forwarded).
	for i, via := range []*httpMember{a, b} {
		name := []string{"t1", "t2"}[i]
		tb, err := via.api.CreateTable(ctx, api.CreateTable{Name: name, Slots: 8, Replicas: 1, Mode: meta.ModeAsync})
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Lagging) != 0 {
			t.Fatalf("create %s: lagging %v", name, tb.Lagging)
		}
		for _, m := range all {
			if !hasTable(m.State(), name) {
				t.Fatalf("create of %s answered, %s does not have it", name, m.Self().ID)
			}
		}
	}

	// A node whose watch lags is named, after ApplyWait; the table exists.
	c.gate.hold()
	start := time.Now()
	tb, err := b.api.CreateTable(ctx, api.CreateTable{Name: "t3", Slots: 8, Replicas: 1, Mode: meta.ModeAsync})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tb.Lagging, []meta.NodeID{"c"}) || tb.Name != "t3" {
		t.Fatalf("create with c's watch held: %+v", tb)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("create with a lagging node answered after %s (ApplyWait 500ms)", took)
	}
	// The node's own endpoint says so too.
	ap, err := c.api.Applied(ctx, 1<<40, 50*time.Millisecond)
	if err != nil || ap.Applied || ap.Node != "c" {
		t.Fatalf("applied on a lagging node: %+v %v", ap, err)
	}
	c.gate.release()
	if _, err := c.WaitState(ctx, func(st *meta.State) bool { return hasTable(st, "t3") }); err != nil {
		t.Fatal(err)
	}

	// A drop answers once no node serves the table.
	for _, name := range []string{"t1", "t2"} {
		d, err := c.api.DropTable(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !d.OK || d.Dropped != name || len(d.Lagging) != 0 {
			t.Fatalf("drop %s: %+v", name, d)
		}
		for _, m := range all {
			if _, ok := m.State().Tables[name]; ok {
				t.Fatalf("drop of %s answered, %s still has it", name, m.Self().ID)
			}
		}
	}
	b.gate.hold()
	d, err := a.api.DropTable(ctx, "t3")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Lagging, []meta.NodeID{"b"}) {
		t.Fatalf("drop with b's watch held: %+v", d)
	}
	b.gate.release()

	// A read of a table this node does not know yet catches up first.
	c.gate.hold()
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "t4", Slots: 8, Replicas: 1, Mode: meta.ModeAsync}); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		tb, err := c.api.Table(ctx, "t4")
		if err == nil && tb.Name != "t4" {
			err = errors.New("wrong table")
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	c.gate.release()
	if err := <-got; err != nil {
		t.Fatalf("table show of a table created through another node: %v", err)
	}
	if _, err := c.api.Table(ctx, "nope"); apiCode(err) != http.StatusNotFound {
		t.Fatalf("table show of no table: %v, want 404", err)
	}
}
