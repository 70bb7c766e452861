package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/etcdconn"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/tlsconf"
)

// backend is what the commands need from the cluster. Both
// implementations answer with the API's values and errors, so the
// commands and the output do not know which one they use.
type backend interface {
	Status(ctx context.Context) (api.Status, error)
	Nodes(ctx context.Context) ([]api.Node, error)
	RemoveNode(ctx context.Context, id meta.NodeID, force bool) error
	Tables(ctx context.Context) ([]api.Table, error)
	Table(ctx context.Context, name string) (api.Table, error)
	CreateTable(ctx context.Context, req api.CreateTable) (api.Table, error)
	DropTable(ctx context.Context, name string) (api.Dropped, error)
	Slots(ctx context.Context, table string) ([]api.Slot, error)
	Slot(ctx context.Context, table string, n meta.SlotID) (api.Slot, error)
	Check(ctx context.Context, table string, slot *meta.SlotID) ([]api.SlotCheck, error)
	Failover(ctx context.Context, table string, slot meta.SlotID, to meta.NodeID) (api.Switchover, error)
	Drain(ctx context.Context, node meta.NodeID) (api.Drain, error)
	MoveSlot(ctx context.Context, req api.MoveSlot) (meta.Job, error)
	Jobs(ctx context.Context) ([]meta.Job, error)
	CancelJob(ctx context.Context, id string) (meta.Job, error)
	Rebalance(ctx context.Context, table string, exclude []meta.NodeID) (api.Plan, error)
	Evacuate(ctx context.Context, node meta.NodeID) (api.Plan, error)
	RotateAdminToken(ctx context.Context) (api.AdminToken, error)
	SetTablePassword(ctx context.Context, table, password string) (api.Table, error)
	Close() error
}

// target is where the commands go: a node's HTTP address, or etcd
// endpoints.
type target struct {
	server string
	https  bool // --server https://...
	etcd   []string
}

// resolveTarget checks the global options and picks the target. serverSet
// and etcdSet say whether --server and --etcd were on the command line: a
// flag wins over the other's environment variable, and two flags, or two
// environment variables and no flag, are a usage error.
func resolveTarget(o options, serverSet, etcdSet bool) (target, error) {
	if o.timeout <= 0 {
		return target{}, &usageError{msg: fmt.Sprintf("--timeout %s: must be positive", o.timeout)}
	}
	useEtcd := false
	switch {
	case serverSet && etcdSet:
		return target{}, &usageError{msg: "--server and --etcd are exclusive: give one"}
	case etcdSet:
		useEtcd = true
	case serverSet:
	case o.envServer != "" && o.envEtcd != "":
		return target{}, &usageError{msg: "both PIKACTL_SERVER and PIKACTL_ETCD are set: unset one, or choose with --server or --etcd"}
	default:
		useEtcd = o.envEtcd != ""
	}
	if useEtcd {
		eps := etcdconn.Split(o.etcd)
		if len(eps) == 0 {
			return target{}, &usageError{msg: "--etcd: no endpoints given"}
		}
		if o.cluster == "" {
			return target{}, &usageError{msg: "--cluster must not be empty"}
		}
		return target{etcd: eps}, nil
	}
	addr, https, err := serverAddr(o.server)
	if err != nil {
		return target{}, &usageError{msg: err.Error()}
	}
	return target{server: addr, https: https}, nil
}

// serverAddr checks a --server value: host:port, optionally written as
// http://host:port, or https://host:port for a node whose HTTP port
// serves TLS (--http-tls).
func serverAddr(s string) (addr string, https bool, err error) {
	addr = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(addr, "https://"); ok {
		addr, https = rest, true
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
	_, port, err := net.SplitHostPort(addr)
	if err != nil || strings.ContainsAny(addr, "/?#") {
		return "", false, fmt.Errorf("--server %q: want host:port", s)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", false, fmt.Errorf("--server %q: bad port", s)
	}
	return addr, https, nil
}

// open connects to the target; token is the admin token the writes send
// ("" for none). warn receives notes for the operator that are not errors.
//
// httpsCfg is the TLS of the nodes' HTTP ports: used with an https://
// --server, and for the manager's port with --etcd when set (--cacert).
func (t target) open(cluster, token string, httpsCfg *tls.Config, etcdAuth etcdconn.Options, warn io.Writer) (backend, error) {
	if t.etcd == nil {
		c := api.NewClient(t.server)
		if t.https {
			if httpsCfg == nil {
				httpsCfg = &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots
			}
			c = c.WithTLS(httpsCfg)
		}
		if token != "" {
			c = c.WithToken(token)
		}
		return httpBackend{c}, nil
	}
	etcdAuth.Endpoints = t.etcd
	b, err := openEtcd(etcdAuth, cluster, warn)
	if err != nil {
		return nil, err
	}
	b.token, b.https = token, httpsCfg
	return b, nil
}

// httpsConfig is the TLS of the nodes' HTTP ports that --cacert names,
// nil without it.
func (a *app) httpsConfig() (*tls.Config, error) {
	if a.opts.cacert == "" {
		return nil, nil
	}
	pool, err := tlsconf.LoadCAs(a.opts.cacert)
	if err != nil {
		return nil, &usageError{msg: fmt.Sprintf("--cacert: %v", err)}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// httpBackend calls a node's API.
type httpBackend struct{ *api.Client }

func (httpBackend) Close() error { return nil }

// etcdBackend reads the metadata from etcd on every call (one read each,
// so every answer is one consistent revision) and sends writes to the
// manager's API.
type etcdBackend struct {
	cli       *clientv3.Client
	endpoints string
	cluster   string
	layout    meta.Layout
	token     string      // the admin token writes send, "" for none
	https     *tls.Config // the manager's HTTP port's TLS, nil for plain HTTP
	warn      io.Writer
	warned    bool
	// badJobs are the job records already warned about as undecodable
	// (a command that follows jobs reads them every 200 ms).
	badJobs map[string]bool
}

func openEtcd(o etcdconn.Options, cluster string, warn io.Writer) (*etcdBackend, error) {
	cfg := clientv3.Config{
		DialTimeout: 5 * time.Second,
		// The client's own log (retries, balancer) would interleave with
		// our output; its errors reach us as return values.
		Logger: zap.NewNop(),
	}
	if err := o.Apply(&cfg); err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	endpoints := o.Endpoints
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	return &etcdBackend{
		cli:       cli,
		endpoints: strings.Join(endpoints, ","),
		cluster:   cluster,
		layout:    meta.Layout{Cluster: cluster},
		warn:      warn,
	}, nil
}

func (b *etcdBackend) Close() error { return b.cli.Close() }

func (b *etcdBackend) load(ctx context.Context) (*meta.State, error) {
	st, err := meta.Load(ctx, b.cli, b.layout)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", b.endpoints, err)
	}
	if isEmpty(st) && !b.warned {
		// A typo in --cluster reads an empty cluster without any error.
		b.warned = true
		fmt.Fprintf(b.warn, "pikactl: warning: etcd %s holds nothing under %s; is --cluster %q right?\n",
			b.endpoints, b.layout.Root(), b.cluster)
	}
	return st, nil
}

// isEmpty reports whether st holds no record at all.
func isEmpty(st *meta.State) bool {
	return len(st.Alive) == 0 && len(st.Members) == 0 && len(st.Tables) == 0 &&
		len(st.Slots) == 0 && len(st.Jobs) == 0 && st.Manager() == "" && st.NextTableID == 0
}

// table finds a table by name, as the API does.
func table(st *meta.State, name string) (meta.TableInfo, error) {
	if t, ok := st.Tables[name]; ok {
		return t, nil
	}
	return meta.TableInfo{}, &notFoundError{msg: fmt.Sprintf("no table %q", name)}
}

func (b *etcdBackend) Status(ctx context.Context) (api.Status, error) {
	st, err := b.load(ctx)
	if err != nil {
		return api.Status{}, err
	}
	return api.StatusOf(b.cluster, st), nil
}

func (b *etcdBackend) Nodes(ctx context.Context) ([]api.Node, error) {
	st, err := b.load(ctx)
	if err != nil {
		return nil, err
	}
	return api.NodesOf(st), nil
}

func (b *etcdBackend) Tables(ctx context.Context) ([]api.Table, error) {
	st, err := b.load(ctx)
	if err != nil {
		return nil, err
	}
	return api.TablesOf(st), nil
}

func (b *etcdBackend) Table(ctx context.Context, name string) (api.Table, error) {
	st, err := b.load(ctx)
	if err != nil {
		return api.Table{}, err
	}
	t, err := table(st, name)
	if err != nil {
		return api.Table{}, err
	}
	return api.TableOf(st, t), nil
}

func (b *etcdBackend) Slots(ctx context.Context, name string) ([]api.Slot, error) {
	st, err := b.load(ctx)
	if err != nil {
		return nil, err
	}
	t, err := table(st, name)
	if err != nil {
		return nil, err
	}
	return api.SlotsOf(st, t), nil
}

func (b *etcdBackend) Slot(ctx context.Context, name string, n meta.SlotID) (api.Slot, error) {
	st, err := b.load(ctx)
	if err != nil {
		return api.Slot{}, err
	}
	t, err := table(st, name)
	if err != nil {
		return api.Slot{}, err
	}
	if uint32(n) >= t.Slots {
		return api.Slot{}, &notFoundError{msg: fmt.Sprintf("table %s has no slot %d (it has %d, numbered from 0)", t.Name, n, t.Slots)}
	}
	s, ok := api.SlotOf(st, t, n)
	if !ok {
		return api.Slot{}, &notFoundError{msg: fmt.Sprintf("slot %d of table %q has no record yet", n, t.Name)}
	}
	return s, nil
}

// manager returns a client of the elected manager's API, for writes.
func (b *etcdBackend) manager(ctx context.Context) (*api.Client, error) {
	st, err := b.load(ctx)
	if err != nil {
		return nil, err
	}
	id := st.Manager()
	if id == "" {
		return nil, fmt.Errorf("%w in cluster %q (etcd %s): writes need one", errNoManager, b.cluster, b.endpoints)
	}
	info, ok := st.Alive[id]
	if !ok || info.HTTP == "" {
		return nil, fmt.Errorf("%w: manager %s registered no HTTP address", errNoManager, id)
	}
	c := api.NewClient(info.HTTP).WithTLS(b.https)
	if b.token != "" {
		c = c.WithToken(b.token)
	}
	return c, nil
}

func (b *etcdBackend) SetTablePassword(ctx context.Context, table, password string) (api.Table, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Table{}, err
	}
	return c.SetTablePassword(ctx, table, password)
}

func (b *etcdBackend) RotateAdminToken(ctx context.Context) (api.AdminToken, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.AdminToken{}, err
	}
	return c.RotateAdminToken(ctx)
}

func (b *etcdBackend) RemoveNode(ctx context.Context, id meta.NodeID, force bool) error {
	c, err := b.manager(ctx)
	if err != nil {
		return err
	}
	return c.RemoveNode(ctx, id, force)
}

func (b *etcdBackend) CreateTable(ctx context.Context, req api.CreateTable) (api.Table, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Table{}, err
	}
	return c.CreateTable(ctx, req)
}

// Check asks a node: checksums need the nodes, not only the metadata.
func (b *etcdBackend) Check(ctx context.Context, table string, slot *meta.SlotID) ([]api.SlotCheck, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return nil, err
	}
	return c.Check(ctx, table, slot)
}

func (b *etcdBackend) Failover(ctx context.Context, table string, slot meta.SlotID, to meta.NodeID) (api.Switchover, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Switchover{}, err
	}
	return c.Failover(ctx, table, slot, to)
}

func (b *etcdBackend) Drain(ctx context.Context, node meta.NodeID) (api.Drain, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Drain{}, err
	}
	return c.Drain(ctx, node)
}

func (b *etcdBackend) DropTable(ctx context.Context, name string) (api.Dropped, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Dropped{}, err
	}
	return c.DropTable(ctx, name)
}

func (b *etcdBackend) MoveSlot(ctx context.Context, req api.MoveSlot) (meta.Job, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return meta.Job{}, err
	}
	return c.MoveSlot(ctx, req)
}

func (b *etcdBackend) CancelJob(ctx context.Context, id string) (meta.Job, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return meta.Job{}, err
	}
	return c.CancelJob(ctx, id)
}

// Rebalance asks the manager: the planner is its code, not metadata.
func (b *etcdBackend) Rebalance(ctx context.Context, table string, exclude []meta.NodeID) (api.Plan, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Plan{}, err
	}
	return c.Rebalance(ctx, table, exclude)
}

// Evacuate asks the manager for the moves that empty node.
func (b *etcdBackend) Evacuate(ctx context.Context, node meta.NodeID) (api.Plan, error) {
	c, err := b.manager(ctx)
	if err != nil {
		return api.Plan{}, err
	}
	return c.Evacuate(ctx, node)
}

// Jobs reads the job records, the oldest first, as the API lists them:
// the manager keeps the finished moves there too, for a while. It reads
// the jobs/ prefix only, not the whole metadata, since the commands that
// follow jobs call it every 200 ms.
func (b *etcdBackend) Jobs(ctx context.Context) ([]meta.Job, error) {
	prefix := b.layout.Jobs()
	resp, err := b.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcd %s: read jobs under %s: %w", b.endpoints, prefix, err)
	}
	jobs := make([]meta.Job, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var j meta.Job
		if err := json.Unmarshal(kv.Value, &j); err != nil {
			b.warnBadJob(string(kv.Key), err)
			continue
		}
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(x, y meta.Job) int {
		return cmp.Or(x.Created.Compare(y.Created), cmp.Compare(x.ID, y.ID))
	})
	return jobs, nil
}

// warnBadJob notes, once per key, a job record that could not be decoded.
func (b *etcdBackend) warnBadJob(key string, err error) {
	if b.badJobs[key] {
		return
	}
	if b.badJobs == nil {
		b.badJobs = map[string]bool{}
	}
	b.badJobs[key] = true
	fmt.Fprintf(b.warn, "pikactl: warning: etcd %s: job record %s skipped: %v\n", b.endpoints, key, err)
}
