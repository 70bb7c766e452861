package manager

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// leadership is the manager role held by this node. Every write it makes
// is guarded by its election key's create revision.
type leadership struct {
	m     *Member
	elect *concurrency.Election
	key   string
	rev   int64
}

// opsPerTxn stays under etcd's default --max-txn-ops (128).
const opsPerTxn = 100

func errf(code int, format string, args ...any) *api.Error {
	return &api.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

var errDeposed = errf(http.StatusServiceUnavailable, "this node lost the manager role during the operation; retry")

func unavailable(err error) *api.Error {
	return errf(http.StatusServiceUnavailable, "etcd: %v", err)
}

// txn commits ops if this node still holds the role and cmps hold. It
// returns false (and no error) when only cmps failed.
func (l *leadership) txn(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	ok, _, err := l.txnAt(ctx, cmps, ops...)
	return ok, err
}

// txnAt is txn that also returns the etcd revision the transaction
// committed at (when ok): a node whose metadata has reached it sees the
// write.
func (l *leadership) txnAt(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (bool, int64, error) {
	guard := clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.rev)
	resp, err := l.m.cli.Txn(ctx).If(append([]clientv3.Cmp{guard}, cmps...)...).Then(ops...).Commit()
	if err != nil {
		return false, 0, unavailable(err)
	}
	if resp.Succeeded {
		return true, resp.Header.Revision, nil
	}
	g, err := l.m.cli.Get(ctx, l.key)
	if err != nil {
		return false, 0, unavailable(err)
	}
	if len(g.Kvs) == 0 || g.Kvs[0].CreateRevision != l.rev {
		return false, 0, errDeposed
	}
	return false, 0, nil
}

// putChunks writes ops in guarded transactions of opsPerTxn.
func (l *leadership) putChunks(ctx context.Context, ops []clientv3.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), opsPerTxn)
		if _, err := l.txn(ctx, nil, ops[:n]...); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

func (l *leadership) load(ctx context.Context) (*meta.State, error) {
	st, err := meta.Load(ctx, l.m.cli, l.m.cfg.Layout)
	if err != nil {
		return nil, unavailable(err)
	}
	return st, nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // records are plain structs
	}
	return string(b)
}

// takeOver runs when the role is won: finish what a previous manager left
// half done, then create the bootstrap table if the cluster never had one.
func (l *leadership) takeOver(ctx context.Context) error {
	l.m.opMu.Lock()
	defer l.m.opMu.Unlock()
	st, err := l.load(ctx)
	if err != nil {
		return err
	}
	jobs := slices.Collect(maps.Values(st.Jobs))
	slices.SortFunc(jobs, func(a, b meta.Job) int { return a.Created.Compare(b.Created) })
	for _, j := range jobs {
		if j.Kind == meta.JobMoveSlot {
			continue // moveLoop runs them
		}
		l.m.log.Info("resuming job", "job", j.ID, "kind", j.Kind, "table", j.Table.Name)
		switch j.Kind {
		case meta.JobCreateTable:
			_, err = l.finishCreate(ctx, j)
		case meta.JobDropTable:
			_, err = l.finishDrop(ctx, j)
		default:
			l.m.log.Warn("unknown job kind left as is", "job", j.ID, "kind", j.Kind)
		}
		if err != nil {
			return fmt.Errorf("job %s: %w", j.ID, err)
		}
	}
	if st.Secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		lay := l.m.cfg.Layout
		if _, err := l.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(lay.Secret()), "=", 0)},
			clientv3.OpPut(lay.Secret(), hex.EncodeToString(b))); err != nil {
			return fmt.Errorf("create the cluster secret: %w", err)
		}
	}
	if err := l.ensureAdminToken(ctx, st); err != nil {
		return err
	}
	if st.NextTableID == 0 && len(st.Tables) == 0 && len(jobs) == 0 {
		if want := l.m.cfg.BootstrapExpect; len(st.Alive) < want {
			l.m.log.Info("waiting for nodes before creating the bootstrap table", "alive", len(st.Alive), "expect", want)
			if _, err := l.m.WaitState(ctx, func(s *meta.State) bool { return len(s.Alive) >= want }); err != nil {
				return err
			}
		}
		b := l.m.cfg.Bootstrap
		req := api.CreateTable{Name: b.Name, Slots: b.Slots, Replicas: b.Replicas, Mode: b.Mode, Password: l.m.cfg.BootstrapPassword}
		if _, _, err := l.createTable(ctx, req, true); err != nil {
			return fmt.Errorf("create bootstrap table %s: %w", b.Name, err)
		}
		l.m.log.Info("cluster bootstrapped", "table", b.Name, "slots", b.Slots)
	}
	return nil
}

// place spreads each slot's replicas over nodes in contiguous ranges, as
// Redis Cluster does: slots [0, S/N) are led by nodes[off], the next range
// by nodes[off+1], ..., and a slot's other replicas are the following
// nodes. Leaders and replicas are even to within one slot; contiguous
// ranges let a cluster-wide SCAN visit each node once per pass instead of
// once per slot.
func place(nodes []meta.NodeID, t meta.TableInfo) []meta.SlotInfo {
	if len(nodes) == 0 {
		return nil
	}
	k := min(t.Replicas, len(nodes))
	off := int(t.ID) // tables start at different nodes, so small tables spread too
	out := make([]meta.SlotInfo, t.Slots)
	for n := range out {
		base := int(uint64(n) * uint64(len(nodes)) / uint64(t.Slots))
		reps := make([]meta.NodeID, k)
		for i := range reps {
			reps[i] = nodes[(base+off+i)%len(nodes)]
		}
		out[n] = meta.SlotInfo{Epoch: 1, Leader: reps[0], Replicas: reps, State: meta.SlotServing}
	}
	return out
}

// createTable creates a table and returns it with the etcd revision at
// which it became complete.
func (l *leadership) createTable(ctx context.Context, req api.CreateTable, bootstrap bool) (meta.TableInfo, int64, error) {
	if err := meta.ValidateTable(req.Name, req.Slots, req.Replicas, req.Mode); err != nil {
		return meta.TableInfo{}, 0, errf(http.StatusBadRequest, "%v", err)
	}
	st, err := l.load(ctx)
	if err != nil {
		return meta.TableInfo{}, 0, err
	}
	if _, ok := st.Tables[req.Name]; ok {
		return meta.TableInfo{}, 0, errf(http.StatusConflict, "table %q already exists", req.Name)
	}
	for _, j := range st.Jobs {
		if (j.Kind == meta.JobCreateTable || j.Kind == meta.JobDropTable) && j.Table.Name == req.Name {
			return meta.TableInfo{}, 0, errf(http.StatusConflict, "table %q is being created or dropped (job %s)", req.Name, j.ID)
		}
	}
	lay := l.m.cfg.Layout
	id := max(st.NextTableID, 1)
	counterCmp := clientv3.Compare(clientv3.Value(lay.TableIDCounter()), "=", strconv.FormatUint(uint64(st.NextTableID), 10))
	if st.NextTableID == 0 {
		counterCmp = clientv3.Compare(clientv3.CreateRevision(lay.TableIDCounter()), "=", 0)
	}
	if bootstrap {
		id = 0
	}
	t := meta.TableInfo{ID: id, Name: req.Name, Slots: req.Slots, Replicas: req.Replicas, Mode: req.Mode, CreatedAt: time.Now().UTC()}
	if req.Password != "" {
		t.PasswordHash = meta.HashPasswordCost(req.Password, l.m.passwordCost())
	}
	nodes := st.PlaceableNodes()
	if len(nodes) == 0 {
		nodes = []meta.NodeID{l.m.cfg.Self.ID}
	}
	job := meta.Job{
		ID:      fmt.Sprintf("%d-create-%d", time.Now().UnixNano(), id),
		Kind:    meta.JobCreateTable,
		Table:   t,
		Created: time.Now().UTC(),
		Nodes:   nodes,
	}
	ok, err := l.txn(ctx,
		[]clientv3.Cmp{counterCmp, clientv3.Compare(clientv3.CreateRevision(lay.Table(t.Name)), "=", 0)},
		clientv3.OpPut(lay.TableIDCounter(), strconv.FormatUint(uint64(id)+1, 10)),
		clientv3.OpPut(lay.Job(job.ID), jsonString(job)),
	)
	if err != nil {
		return meta.TableInfo{}, 0, err
	}
	if !ok {
		return meta.TableInfo{}, 0, errf(http.StatusConflict, "table %q: the metadata changed during the create; retry", req.Name)
	}
	rev, err := l.finishCreate(ctx, job)
	if err != nil {
		return meta.TableInfo{}, 0, err
	}
	l.m.log.Info("table created", "table", t.Name, "id", t.ID, "slots", t.Slots, "replicas", t.Replicas,
		"mode", t.Mode, "password", t.HasPassword(), "nodes", len(nodes))
	return t, rev, nil
}

// finishCreate writes a create job's slot records, then the table record
// and removes the job in one transaction: the table appears complete. It
// returns the revision of that last transaction.
func (l *leadership) finishCreate(ctx context.Context, j meta.Job) (int64, error) {
	lay := l.m.cfg.Layout
	placement := place(j.Nodes, j.Table)
	ops := make([]clientv3.Op, 0, len(placement))
	for n, si := range placement {
		ops = append(ops, clientv3.OpPut(lay.Slot(j.Table.ID, meta.SlotID(n)), jsonString(si)))
	}
	if err := l.putChunks(ctx, ops); err != nil {
		return 0, err
	}
	ok, rev, err := l.txnAt(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(lay.Table(j.Table.Name)), "=", 0)},
		clientv3.OpPut(lay.Table(j.Table.Name), jsonString(j.Table)),
		clientv3.OpDelete(lay.Job(j.ID)),
	)
	if err != nil || ok {
		return rev, err
	}
	// The table record is already there (a previous manager got that far).
	_, rev, err = l.txnAt(ctx, nil, clientv3.OpDelete(lay.Job(j.ID)))
	return rev, err
}

// setTablePassword replaces a table's password record ("" removes the
// password). Connections that opened the table with the old one must
// AUTH again: a node's grant is for a record (node/conn.go, tableOpen).
func (l *leadership) setTablePassword(ctx context.Context, name, password string) (meta.TableInfo, error) {
	lay := l.m.cfg.Layout
	g, err := l.m.cli.Get(ctx, lay.Table(name))
	if err != nil {
		return meta.TableInfo{}, unavailable(err)
	}
	if len(g.Kvs) == 0 {
		return meta.TableInfo{}, errf(http.StatusNotFound, "no table %q", name)
	}
	var t meta.TableInfo
	if err := json.Unmarshal(g.Kvs[0].Value, &t); err != nil {
		return meta.TableInfo{}, errf(http.StatusInternalServerError, "table %q: bad record: %v", name, err)
	}
	t.PasswordHash = ""
	if password != "" {
		t.PasswordHash = meta.HashPasswordCost(password, l.m.passwordCost())
	}
	ok, err := l.txn(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(lay.Table(name)), "=", g.Kvs[0].ModRevision)},
		clientv3.OpPut(lay.Table(name), jsonString(t)))
	if err != nil {
		return meta.TableInfo{}, err
	}
	if !ok {
		return meta.TableInfo{}, errf(http.StatusConflict, "table %q changed meanwhile; retry", name)
	}
	l.m.log.Info("table password changed", "table", name, "has_password", password != "")
	return t, nil
}

// dropTable drops a table and returns the etcd revision at which its
// records were all gone.
func (l *leadership) dropTable(ctx context.Context, name string) (int64, error) {
	if name == l.m.cfg.Bootstrap.Name {
		return 0, errf(http.StatusBadRequest, "table %s is the default table and cannot be dropped (FLUSHDB empties it)", name)
	}
	lay := l.m.cfg.Layout
	g, err := l.m.cli.Get(ctx, lay.Table(name))
	if err != nil {
		return 0, unavailable(err)
	}
	if len(g.Kvs) == 0 {
		return 0, errf(http.StatusNotFound, "no table %q", name)
	}
	var t meta.TableInfo
	if err := json.Unmarshal(g.Kvs[0].Value, &t); err != nil {
		return 0, errf(http.StatusInternalServerError, "table %q: bad record: %v", name, err)
	}
	job := meta.Job{ID: fmt.Sprintf("%d-drop-%d", time.Now().UnixNano(), t.ID), Kind: meta.JobDropTable, Table: t, Created: time.Now().UTC()}
	ok, err := l.txn(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(lay.Table(name)), "=", g.Kvs[0].ModRevision)},
		clientv3.OpPut(lay.Job(job.ID), jsonString(job)),
		clientv3.OpDelete(lay.Table(name)),
	)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errf(http.StatusConflict, "table %q changed during the drop; retry", name)
	}
	rev, err := l.finishDrop(ctx, job)
	if err != nil {
		return 0, err
	}
	l.m.log.Info("table dropped", "table", name, "id", t.ID)
	return rev, nil
}

// finishDrop removes a dropped table's slot records and the job, and
// returns the revision of that transaction. Nodes delete the table's data
// when its record disappears.
func (l *leadership) finishDrop(ctx context.Context, j meta.Job) (int64, error) {
	lay := l.m.cfg.Layout
	_, rev, err := l.txnAt(ctx, nil,
		clientv3.OpDelete(lay.TableSlots(j.Table.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(lay.Job(j.ID)),
	)
	return rev, err
}

func (l *leadership) removeNode(ctx context.Context, id meta.NodeID, force bool) error {
	st, err := l.load(ctx)
	if err != nil {
		return err
	}
	_, alive := st.Alive[id]
	type ref struct {
		t meta.TableID
		n meta.SlotID
		s meta.SlotInfo
	}
	var refs []ref
	leads := 0
	for t, slots := range st.Slots {
		for n, si := range slots {
			if slices.Contains(si.Replicas, id) || slices.Contains(si.Learners, id) {
				refs = append(refs, ref{t, n, si})
				if si.Leader == id {
					leads++
				}
			}
		}
	}
	if _, ok := st.Members[id]; !ok && len(refs) == 0 {
		return errf(http.StatusNotFound, "no node %s", id)
	}
	if len(refs) > 0 && alive {
		return errf(http.StatusConflict, "node %s is alive and holds %d slot replicas (%d of them leaders): move them off first (pikactl node remove without --force does), or stop it and use --force", id, len(refs), leads)
	}
	if len(refs) > 0 && !force {
		return errf(http.StatusConflict, "node %s is down and holds %d slot replicas (%d of them leaders); use --force to drop them from the placement (a dead replica is also re-created elsewhere after --replica-down-timeout)", id, len(refs), leads)
	}
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.n, b.n)) })
	lay := l.m.cfg.Layout
	ops := make([]clientv3.Op, 0, len(refs)+1)
	for _, r := range refs {
		si := r.s
		si.Replicas = slices.DeleteFunc(slices.Clone(si.Replicas), func(n meta.NodeID) bool { return n == id })
		si.Learners = slices.DeleteFunc(slices.Clone(si.Learners), func(n meta.NodeID) bool { return n == id })
		if si.Leader == id {
			si.Leader = ""
			if len(si.Replicas) > 0 {
				si.Leader = si.Replicas[0]
			}
		}
		si.Epoch++
		ops = append(ops, clientv3.OpPut(lay.Slot(r.t, r.n), jsonString(si)))
	}
	ops = append(ops, clientv3.OpDelete(lay.Member(id)))
	if err := l.putChunks(ctx, ops); err != nil {
		return err
	}
	l.m.log.Info("node removed", "node", id, "alive", alive, "replicas_dropped", len(refs), "leaders_moved", leads)
	return nil
}

// asManager runs op with the manager role, one operation at a time; on
// a node without the role it fails with errNotManager.
func asManager[T any](m *Member, op func(*leadership) (T, error)) (T, error) {
	l, err := m.leading()
	if err != nil {
		var zero T
		return zero, err
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	return op(l)
}

// CreateTable creates a table; only the manager may.
func (m *Member) CreateTable(ctx context.Context, req api.CreateTable) (meta.TableInfo, error) {
	t, _, err := m.createTableAt(ctx, req)
	return t, err
}

// createTableAt is CreateTable that also returns the etcd revision at
// which the table became complete.
func (m *Member) createTableAt(ctx context.Context, req api.CreateTable) (meta.TableInfo, int64, error) {
	var rev int64
	t, err := asManager(m, func(l *leadership) (t meta.TableInfo, err error) {
		t, rev, err = l.createTable(ctx, req, false)
		return t, err
	})
	return t, rev, err
}

// setTablePassword is leadership.setTablePassword on the manager.
func (m *Member) setTablePassword(ctx context.Context, name, password string) (meta.TableInfo, error) {
	return asManager(m, func(l *leadership) (meta.TableInfo, error) { return l.setTablePassword(ctx, name, password) })
}

// DropTable drops a table; only the manager may.
func (m *Member) DropTable(ctx context.Context, name string) error {
	_, err := m.dropTableAt(ctx, name)
	return err
}

// dropTableAt is DropTable that also returns the etcd revision at which
// the table's records were all gone.
func (m *Member) dropTableAt(ctx context.Context, name string) (int64, error) {
	return asManager(m, func(l *leadership) (int64, error) { return l.dropTable(ctx, name) })
}

// RemoveNode removes a dead node; only the manager may.
func (m *Member) RemoveNode(ctx context.Context, id meta.NodeID, force bool) error {
	_, err := asManager(m, func(l *leadership) (struct{}, error) { return struct{}{}, l.removeNode(ctx, id, force) })
	return err
}

// errNotManager is returned by operations called on a node that does not
// hold the role (Handler forwards them instead).
var errNotManager = errf(http.StatusServiceUnavailable, "this node is not the manager")

func (m *Member) leading() (*leadership, error) {
	l := m.lead.Load()
	if l == nil {
		return nil, errNotManager
	}
	return l, nil
}
