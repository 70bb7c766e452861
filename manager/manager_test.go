package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/internal/testproc"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/embedetcd"
	"github.com/pika-node/pika-node/manager/meta"
)

// endpoint is the embedded etcd every test uses, each in its own cluster.
var endpoint string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "manager-etcd-")
	if err != nil {
		panic(err)
	}
	srv, err := embedetcd.Start(embedetcd.Config{Dir: dir, ClientAddr: freeAddr(), PeerAddr: freeAddr()})
	if err != nil {
		panic(err)
	}
	endpoint = srv.Endpoint()
	code := m.Run()
	srv.Close()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var clusterSeq atomic.Int64

func newCluster(t *testing.T) meta.Layout {
	return meta.Layout{Cluster: fmt.Sprintf("c%d-%d", os.Getpid(), clusterSeq.Add(1))}
}

func newClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

var db0 = meta.TableInfo{ID: 0, Name: "db0", Slots: 16, Replicas: 1, Mode: meta.ModeAsync}

// testMember is a Member running until stop (a clean stop) or crash (its
// etcd client closed without revoking: the lease expires as after kill -9).
type testMember struct {
	*Member
	cli    *clientv3.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(t *testing.T, l meta.Layout, id string, ttl time.Duration) *testMember {
	t.Helper()
	return startMemberExpecting(t, l, id, ttl, 1)
}

func startMemberExpecting(t *testing.T, l meta.Layout, id string, ttl time.Duration, expect int) *testMember {
	t.Helper()
	cli := newClient(t)
	m := NewMember(Config{
		Layout:          l,
		Self:            meta.NodeInfo{ID: meta.NodeID(id), RESP: "127.0.0.1:1", HTTP: "127.0.0.1:2", Version: "test"},
		LeaseTTL:        ttl,
		Bootstrap:       db0,
		BootstrapExpect: expect,
		AdminTokenFile:  adminTokenFile(t),
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, cli, nil)
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMember{Member: m, cli: cli, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		m.Run(ctx)
	}()
	t.Cleanup(tm.stop)
	return tm
}

func (tm *testMember) stop() {
	tm.cancel()
	<-tm.done
	tm.cli.Close()
}

// crash stops the member without revoking its lease.
func (tm *testMember) crash() {
	tm.cli.Close()
	tm.cancel()
	<-tm.done
}

func waitManager(t *testing.T, ms ...*testMember) *testMember {
	t.Helper()
	var got *testMember
	testproc.WaitFor(t, "a manager", 20*time.Second, func() bool {
		for _, m := range ms {
			if m.IsManager() {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func load(t *testing.T, l meta.Layout) *meta.State {
	t.Helper()
	cli := newClient(t)
	defer cli.Close()
	st, err := meta.Load(context.Background(), cli, l)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func apiCode(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

func TestBootstrapCreatesDB0(t *testing.T) {
	l := newCluster(t)
	a := startMember(t, l, "a", 2*time.Second)
	waitManager(t, a)
	st, err := a.WaitState(context.Background(), func(st *meta.State) bool { _, ok := st.Tables["db0"]; return ok })
	if err != nil {
		t.Fatal(err)
	}
	if tb := st.Tables["db0"]; tb.ID != 0 || !st.Complete(tb) || st.NextTableID != 1 {
		t.Fatalf("db0 = %+v complete=%v next id %d", tb, st.Complete(tb), st.NextTableID)
	}
	if st.Manager() != "a" {
		t.Fatalf("manager %q, want a", st.Manager())
	}
	if _, ok := st.Alive["a"]; !ok {
		t.Fatal("a is not registered")
	}
}

func TestTakeoverAfterCrash(t *testing.T) {
	l := newCluster(t)
	ttl := 2 * time.Second
	a := startMember(t, l, "a", ttl)
	waitManager(t, a)
	b := startMember(t, l, "b", ttl)
	c := startMember(t, l, "c", ttl)
	testproc.WaitFor(t, "b and c registered", 10*time.Second, func() bool {
		st := a.State()
		_, okb := st.Alive["b"]
		_, okc := st.Alive["c"]
		return okb && okc
	})
	start := time.Now()
	a.crash()
	next := waitManager(t, b, c)
	took := time.Since(start)
	t.Logf("manager takeover after a crash took %s (lease TTL %s)", took, ttl)
	if took > 3*ttl {
		t.Errorf("takeover took %s, more than 3 lease TTLs", took)
	}
	st, err := next.WaitState(context.Background(), func(st *meta.State) bool { return st.Manager() == next.Self().ID })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Alive["a"]; ok {
		t.Error("crashed node a still alive after takeover")
	}
	// The new manager can write.
	if _, err := next.CreateTable(context.Background(), api.CreateTable{Name: "t1", Slots: 8, Replicas: 2, Mode: meta.ModeAsync}); err != nil {
		t.Fatalf("create after takeover: %v", err)
	}
}

func TestDeposedManagerWriteFails(t *testing.T) {
	l := newCluster(t)
	a := startMember(t, l, "a", 2*time.Second)
	waitManager(t, a)
	lead := a.lead.Load()
	b := startMember(t, l, "b", 2*time.Second)
	// Depose a: revoke its lease behind its back (as when etcd expired it
	// while a was paused), so b wins while a still holds its leadership value.
	cli := newClient(t)
	defer cli.Close()
	resp, err := cli.Get(context.Background(), lead.key)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("election key: %v", err)
	}
	if _, err := cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitManager(t, b)
	// b finishes any job a left (a's bootstrap of db0 may still be one), or
	// bootstraps db0 itself when a was deposed before writing anything:
	// wait for db0 and no job before counting.
	testproc.WaitFor(t, "db0 and no job in flight", 10*time.Second, func() bool {
		st := load(t, l)
		_, ok := st.Tables["db0"]
		return ok && len(st.Jobs) == 0
	})
	before := load(t, l)
	_, _, err = lead.createTable(context.Background(), api.CreateTable{Name: "late", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}, false)
	if apiCode(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "manager role") {
		t.Fatalf("deposed create: %v, want the lost-role error", err)
	}
	after := load(t, l)
	if len(after.Jobs) != len(before.Jobs) || after.NextTableID != before.NextTableID {
		t.Fatalf("deposed manager wrote: jobs %d -> %d, next id %d -> %d", len(before.Jobs), len(after.Jobs), before.NextTableID, after.NextTableID)
	}
	if _, ok := after.Tables["late"]; ok {
		t.Fatal("deposed manager created a table")
	}
}

func TestTableLifecycle(t *testing.T) {
	l := newCluster(t)
	a := startMember(t, l, "a", 2*time.Second)
	waitManager(t, a)
	b := startMember(t, l, "b", 2*time.Second)
	c := startMember(t, l, "c", 2*time.Second)
	testproc.WaitFor(t, "3 nodes alive", 10*time.Second, func() bool { return len(a.State().Alive) == 3 })
	ctx := context.Background()

	bad := []api.CreateTable{
		{Name: "", Slots: 8, Replicas: 1, Mode: "async"},
		{Name: "9lives", Slots: 8, Replicas: 1, Mode: "async"},
		{Name: "has space", Slots: 8, Replicas: 1, Mode: "async"},
		{Name: "ok", Slots: 0, Replicas: 1, Mode: "async"},
		{Name: "ok", Slots: meta.MaxSlots + 1, Replicas: 1, Mode: "async"},
		{Name: "ok", Slots: 8, Replicas: 0, Mode: "async"},
		{Name: "ok", Slots: 8, Replicas: meta.MaxReplicas + 1, Mode: "async"},
		{Name: "ok", Slots: 8, Replicas: 1, Mode: "paxos"},
	}
	for _, req := range bad {
		if _, err := a.CreateTable(ctx, req); apiCode(err) != http.StatusBadRequest {
			t.Errorf("create %+v: %v, want 400", req, err)
		}
	}
	if st := load(t, l); len(st.Jobs) != 0 || st.NextTableID != 1 || len(st.Tables) != 1 {
		t.Fatalf("failed creates left state: jobs %v next id %d tables %d", st.Jobs, st.NextTableID, len(st.Tables))
	}

	tb, err := a.CreateTable(ctx, api.CreateTable{Name: "orders", Slots: 30, Replicas: 2, Mode: meta.ModeAsync, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if tb.ID != 1 || !tb.HasPassword() || strings.Contains(tb.PasswordHash, "s3cret") || !meta.CheckPassword(tb.PasswordHash, "s3cret") {
		t.Fatalf("created %+v", tb)
	}
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "orders", Slots: 8, Replicas: 1, Mode: meta.ModeAsync}); apiCode(err) != http.StatusConflict {
		t.Fatalf("duplicate create: %v, want 409", err)
	}
	// Every member's view gets the complete table.
	for _, m := range []*testMember{a, b, c} {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := m.WaitState(wctx, func(st *meta.State) bool { x, ok := st.Tables["orders"]; return ok && st.Complete(x) })
		cancel()
		if err != nil {
			t.Fatalf("%s never saw the table: %v", m.Self().ID, err)
		}
	}
	st := load(t, l)
	leads := map[meta.NodeID]int{}
	holds := map[meta.NodeID]int{}
	for n := range uint32(30) {
		si := st.Slots[tb.ID][meta.SlotID(n)]
		if len(si.Replicas) != 2 || si.Replicas[0] == si.Replicas[1] || si.Leader != si.Replicas[0] || si.Epoch != 1 {
			t.Fatalf("slot %d = %+v", n, si)
		}
		leads[si.Leader]++
		for _, r := range si.Replicas {
			holds[r]++
		}
	}
	for _, id := range []meta.NodeID{"a", "b", "c"} {
		if leads[id] != 10 || holds[id] != 20 {
			t.Errorf("node %s leads %d holds %d, want 10 and 20", id, leads[id], holds[id])
		}
	}
	// More replicas than nodes: created, under-replicated, and status says so.
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "wide", Slots: 4, Replicas: 5, Mode: meta.ModeRaft}); err != nil {
		t.Fatal(err)
	}
	s := api.StatusOf(l.Cluster, load(t, l))
	var wide api.Table
	for _, x := range s.Tables {
		if x.Name == "wide" {
			wide = x
		}
	}
	if wide.Health != api.HealthDegraded || wide.UnderReplicated != 4 || s.Health != api.HealthDegraded {
		t.Fatalf("status of under-replicated table: %+v, cluster %s", wide, s.Health)
	}

	if err := a.DropTable(ctx, "db0"); apiCode(err) != http.StatusBadRequest {
		t.Fatalf("drop db0: %v, want 400", err)
	}
	if err := a.DropTable(ctx, "nope"); apiCode(err) != http.StatusNotFound {
		t.Fatalf("drop unknown: %v, want 404", err)
	}
	if err := a.DropTable(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	st = load(t, l)
	if _, ok := st.Tables["orders"]; ok || len(st.Slots[tb.ID]) != 0 || len(st.Jobs) != 0 {
		t.Fatalf("after drop: table present %v, %d slot records, jobs %v", ok, len(st.Slots[tb.ID]), st.Jobs)
	}
	// Ids are not reused.
	again, err := a.CreateTable(ctx, api.CreateTable{Name: "orders", Slots: 4, Replicas: 1, Mode: meta.ModeAsync})
	if err != nil || again.ID != 3 {
		t.Fatalf("re-create: %+v %v, want id 3", again, err)
	}
	// Only the manager writes.
	if _, err := b.CreateTable(ctx, api.CreateTable{Name: "x", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}); apiCode(err) != http.StatusServiceUnavailable {
		t.Fatalf("create on a non-manager: %v, want 503", err)
	}
}

// A manager that died in the middle of a create (its job and some slot
// records written, no table record) is replaced by one that finishes it;
// one that died in the middle of a drop, by one that finishes the drop.
func TestResumeHalfDoneJobs(t *testing.T) {
	l := newCluster(t)
	cli := newClient(t)
	defer cli.Close()
	ctx := context.Background()
	half := meta.TableInfo{ID: 1, Name: "half", Slots: 20, Replicas: 1, Mode: meta.ModeAsync}
	create := meta.Job{ID: "1-create-1", Kind: meta.JobCreateTable, Table: half, Created: time.Now(), Nodes: []meta.NodeID{"gone"}}
	gone := meta.TableInfo{ID: 2, Name: "gone", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}
	drop := meta.Job{ID: "2-drop-2", Kind: meta.JobDropTable, Table: gone, Created: time.Now()}
	ops := []clientv3.Op{
		clientv3.OpPut(l.TableIDCounter(), "3"),
		clientv3.OpPut(l.Job(create.ID), jsonString(create)),
		clientv3.OpPut(l.Job(drop.ID), jsonString(drop)),
		clientv3.OpPut(l.Table("db0"), jsonString(db0)),
	}
	for n := range 16 {
		ops = append(ops, clientv3.OpPut(l.Slot(0, meta.SlotID(n)), jsonString(meta.SlotInfo{Epoch: 1, Leader: "gone", Replicas: []meta.NodeID{"gone"}})))
	}
	for n := range 7 { // part of the create's slots
		ops = append(ops, clientv3.OpPut(l.Slot(1, meta.SlotID(n)), jsonString(meta.SlotInfo{Epoch: 1, Leader: "gone", Replicas: []meta.NodeID{"gone"}})))
	}
	for n := range 4 { // the dropped table's slots, its record already deleted
		ops = append(ops, clientv3.OpPut(l.Slot(2, meta.SlotID(n)), jsonString(meta.SlotInfo{Epoch: 1, Leader: "gone", Replicas: []meta.NodeID{"gone"}})))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	a := startMember(t, l, "a", 2*time.Second)
	waitManager(t, a)
	st, err := a.WaitState(ctx, func(st *meta.State) bool { return len(st.Jobs) == 0 })
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := st.Tables["half"]; !ok || !st.Complete(x) {
		t.Fatalf("half-created table not finished: %+v, %d slots", x, len(st.Slots[1]))
	}
	if len(st.Slots[2]) != 0 {
		t.Fatalf("half-dropped table keeps %d slot records", len(st.Slots[2]))
	}
	if _, ok := st.Tables["db0"]; !ok || st.NextTableID != 3 {
		t.Fatalf("bootstrap ran again or counter moved: next id %d", st.NextTableID)
	}
}

func TestRemoveNode(t *testing.T) {
	l := newCluster(t)
	a := startMember(t, l, "a", 1*time.Second)
	waitManager(t, a)
	b := startMember(t, l, "b", 1*time.Second)
	testproc.WaitFor(t, "b alive", 10*time.Second, func() bool { return len(a.State().Alive) == 2 })
	ctx := context.Background()
	if _, err := a.CreateTable(ctx, api.CreateTable{Name: "t", Slots: 10, Replicas: 2, Mode: meta.ModeAsync}); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveNode(ctx, "b", true); apiCode(err) != http.StatusConflict {
		t.Fatalf("remove live node: %v, want 409", err)
	}
	if err := a.RemoveNode(ctx, "zz", false); apiCode(err) != http.StatusNotFound {
		t.Fatalf("remove unknown node: %v, want 404", err)
	}
	b.crash()
	testproc.WaitFor(t, "b's lease to expire", 10*time.Second, func() bool { _, ok := a.State().Alive["b"]; return !ok })
	if err := a.RemoveNode(ctx, "b", false); apiCode(err) != http.StatusConflict {
		t.Fatalf("remove node holding replicas without force: %v, want 409", err)
	}
	before := load(t, l)
	if err := a.RemoveNode(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	st := load(t, l)
	if _, ok := st.Members["b"]; ok {
		t.Fatal("b still a member")
	}
	tb := st.Tables["t"]
	for n := range tb.Slots {
		old, si := before.Slots[tb.ID][meta.SlotID(n)], st.Slots[tb.ID][meta.SlotID(n)]
		if len(si.Replicas) != 1 || si.Replicas[0] != "a" || si.Leader != "a" || si.Epoch != old.Epoch+1 {
			t.Fatalf("slot %d after removing b: %+v (was %+v)", n, si, old)
		}
	}
}

func TestBootstrapExpect(t *testing.T) {
	l := newCluster(t)
	a := startMemberExpecting(t, l, "a", 2*time.Second, 2)
	waitManager(t, a)
	testproc.WaitFor(t, "a registered", 5*time.Second, func() bool { st := a.State(); return st != nil && len(st.Alive) == 1 })
	if _, ok := a.State().Tables["db0"]; ok {
		t.Fatal("db0 created before the expected nodes joined")
	}
	startMemberExpecting(t, l, "b", 2*time.Second, 2)
	st, err := a.WaitState(context.Background(), func(st *meta.State) bool { x, ok := st.Tables["db0"]; return ok && st.Complete(x) })
	if err != nil {
		t.Fatal(err)
	}
	leads := map[meta.NodeID]int{}
	for _, si := range st.Slots[0] {
		leads[si.Leader]++
	}
	if leads["a"] != 8 || leads["b"] != 8 {
		t.Fatalf("db0 leaders %v, want 8 each", leads)
	}
}

// testAdminToken is the admin token of the test members' clusters.
const testAdminToken = "manager-test-admin-token"

// adminTokenFile writes testAdminToken to a file for Config.AdminTokenFile.
func adminTokenFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(f, []byte(testAdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
