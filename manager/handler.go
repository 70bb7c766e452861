package manager

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// forwardedHeader marks a request one node forwarded to the manager, so
// that it is never forwarded twice (a loop while the role moves).
const forwardedHeader = "X-Pika-Forwarded"

// maxBody bounds a request body: a table create is a few hundred bytes.
const maxBody = 1 << 20

// Handler serves the JSON API of package api. Reads are answered from
// this node's metadata; writes run here when this node is the manager and
// are forwarded to the manager otherwise.
func (m *Member) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathStatus, m.read(func(st *meta.State, _ *http.Request) (any, error) {
		return api.StatusOf(m.cfg.Layout.Cluster, st), nil
	}))
	mux.HandleFunc("GET "+api.PathNodes, m.read(func(st *meta.State, _ *http.Request) (any, error) {
		return api.NodesOf(st), nil
	}))
	mux.HandleFunc("GET "+api.PathTables, m.read(func(st *meta.State, _ *http.Request) (any, error) {
		return api.TablesOf(st), nil
	}))
	mux.HandleFunc("GET "+api.PathTables+"/{name}", m.read(func(st *meta.State, r *http.Request) (any, error) {
		st, t, err := m.tableOf(st, r)
		if err != nil {
			return nil, err
		}
		return api.TableOf(st, t), nil
	}))
	mux.HandleFunc("GET "+api.PathTables+"/{name}/slots", m.read(func(st *meta.State, r *http.Request) (any, error) {
		st, t, err := m.tableOf(st, r)
		if err != nil {
			return nil, err
		}
		return api.SlotsOf(st, t), nil
	}))
	mux.HandleFunc("GET "+api.PathTables+"/{name}/slots/{slot}", m.read(func(st *meta.State, r *http.Request) (any, error) {
		st, t, err := m.tableOf(st, r)
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(r.PathValue("slot"), 10, 32)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "slot %q: not a slot number", r.PathValue("slot"))
		}
		s, ok := api.SlotOf(st, t, meta.SlotID(n))
		if !ok {
			return nil, errf(http.StatusNotFound, "table %s has no slot %d (slots 0..%d)", t.Name, n, t.Slots-1)
		}
		s.Positions = m.replicaPositions(r.Context(), st, t.ID, s)
		return s, nil
	}))
	mux.HandleFunc("GET "+api.PathTables+"/{name}/check", m.handleCheck)
	mux.HandleFunc("GET "+api.PathApplied, m.handleApplied)
	mux.HandleFunc("POST "+api.PathTables+"/{name}/slots/{slot}/failover", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		n, err := strconv.ParseUint(r.PathValue("slot"), 10, 32)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "slot %q: not a slot number", r.PathValue("slot"))
		}
		return m.Switchover(ctx, r.PathValue("name"), meta.SlotID(n), meta.NodeID(r.URL.Query().Get("to")))
	}, func(*http.Request) func(*meta.State) bool { return func(*meta.State) bool { return true } }))
	mux.HandleFunc("POST "+api.PathNodes+"/{id}/drain", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		return m.Drain(ctx, meta.NodeID(r.PathValue("id")))
	}, func(*http.Request) func(*meta.State) bool { return func(*meta.State) bool { return true } }))
	mux.HandleFunc("POST "+api.PathRaftLeaders, func(w http.ResponseWriter, r *http.Request) {
		if err := cmp.Or(m.authorize(r, true), requireJSON(r)); err != nil {
			writeError(w, err)
			return
		}
		var reports []api.RaftLeader
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&reports); err != nil {
			writeError(w, errf(http.StatusBadRequest, "raft leaders: %v", err))
			return
		}
		l, err := m.leading()
		if err != nil {
			writeError(w, err)
			return
		}
		if err := l.followRaftLeaders(r.Context(), reports); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("GET "+api.PathJobs, m.read(func(st *meta.State, _ *http.Request) (any, error) {
		return jobsOf(st), nil
	}))
	mux.HandleFunc("GET "+api.PathRebalance, m.read(func(st *meta.State, r *http.Request) (any, error) {
		evacuate, _ := strconv.ParseBool(r.URL.Query().Get("evacuate"))
		return rebalancePlan(st, r.URL.Query().Get("table"), r.URL.Query()["exclude"], evacuate)
	}))
	mux.HandleFunc("POST "+api.PathMoves, m.write(func(ctx context.Context, r *http.Request) (any, error) {
		var req api.MoveSlot
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return m.StartMove(ctx, req)
	}, func(*http.Request) func(*meta.State) bool { return func(*meta.State) bool { return true } }))
	mux.HandleFunc("DELETE "+api.PathJobs+"/{id}", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		return m.CancelMove(ctx, r.PathValue("id"))
	}, func(*http.Request) func(*meta.State) bool { return func(*meta.State) bool { return true } }))
	mux.HandleFunc("POST "+api.PathTables, m.write(func(ctx context.Context, r *http.Request) (any, error) {
		var req api.CreateTable
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		t, rev, err := m.createTableAt(ctx, req)
		if err != nil {
			return nil, err
		}
		// Answer once every live node serves the table (or name those
		// that do not yet), with the table's health (under-replicated?)
		// as this node's view has it.
		lagging := m.waitApplied(ctx, rev)
		out := api.TableRecord(t)
		if st := m.State(); st != nil && st.Revision >= rev {
			if x, ok := st.Tables[t.Name]; ok && x.ID == t.ID {
				out = api.TableOf(st, x)
			}
		}
		out.Lagging = lagging
		return out, nil
	}, func(r *http.Request) func(*meta.State) bool {
		name := r.Header.Get(tableHeader)
		return func(st *meta.State) bool { x, ok := st.Tables[name]; return ok && st.Complete(x) }
	}))
	mux.HandleFunc("PUT "+api.PathTables+"/{name}/password", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		var req api.SetPassword
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		t, err := m.setTablePassword(ctx, r.PathValue("name"), req.Password)
		if err != nil {
			return nil, err
		}
		return api.TableRecord(t), nil
	}, func(r *http.Request) func(*meta.State) bool {
		name := r.PathValue("name")
		var old string
		if st := m.State(); st != nil {
			old = st.Tables[name].PasswordHash
		}
		return func(st *meta.State) bool { return st.Tables[name].PasswordHash != old }
	}))
	mux.HandleFunc("DELETE "+api.PathTables+"/{name}", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		name := r.PathValue("name")
		rev, err := m.dropTableAt(ctx, name)
		if err != nil {
			return nil, err
		}
		// Answer once no live node serves the table (or name those that
		// still do).
		return api.Dropped{OK: true, Dropped: name, Lagging: m.waitApplied(ctx, rev)}, nil
	}, func(r *http.Request) func(*meta.State) bool {
		name := r.PathValue("name")
		return func(st *meta.State) bool { _, ok := st.Tables[name]; return !ok }
	}))
	mux.HandleFunc("POST "+api.PathAdminToken, m.write(func(ctx context.Context, _ *http.Request) (any, error) {
		return m.rotateAdminToken(ctx)
	}, func(*http.Request) func(*meta.State) bool {
		var old string
		if st := m.State(); st != nil {
			old = st.AdminTokenHash
		}
		return func(st *meta.State) bool { return st.AdminTokenHash != old }
	}))
	mux.HandleFunc("DELETE "+api.PathNodes+"/{id}", m.write(func(ctx context.Context, r *http.Request) (any, error) {
		id := meta.NodeID(r.PathValue("id"))
		force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
		if err := m.RemoveNode(ctx, id, force); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "removed": id}, nil
	}, func(r *http.Request) func(*meta.State) bool {
		id := meta.NodeID(r.PathValue("id"))
		return func(st *meta.State) bool { _, ok := st.Members[id]; return !ok }
	}))
	return mux
}

// decodeBody reads a request's JSON body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(http.StatusBadRequest, "bad request body: %v", err)
	}
	return nil
}

// jobsOf lists the jobs, the oldest first.
func jobsOf(st *meta.State) []meta.Job {
	out := make([]meta.Job, 0, len(st.Jobs))
	for _, j := range st.Jobs {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b meta.Job) int { return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID)) })
	return out
}

// rebalancePlan plans a rebalance of table (every table when "") over
// the placeable nodes, with no replica left on the exclude nodes; with
// evacuate, only the moves off the exclude nodes.
func rebalancePlan(st *meta.State, table string, exclude []string, evacuate bool) (api.Plan, error) {
	tables := st.SortedTables()
	if table != "" {
		t, ok := st.Tables[table]
		if !ok {
			return api.Plan{}, errf(http.StatusNotFound, "no table %q", table)
		}
		tables = []meta.TableInfo{t}
	}
	ex := map[meta.NodeID]bool{}
	for _, id := range exclude {
		if _, ok := st.Members[meta.NodeID(id)]; !ok {
			return api.Plan{}, errf(http.StatusNotFound, "no node %q", id)
		}
		ex[meta.NodeID(id)] = true
	}
	nodes := st.PlaceableNodes()
	for id := range ex {
		if !slices.Contains(nodes, id) {
			nodes = append(nodes, id)
		}
	}
	return planRebalance(st, tables, nodes, ex, !evacuate), nil
}

// tableOf finds the table named in the path in st, or, when st has no
// such table, in the state after catching up with etcd (a table just
// created through another node); it returns the state it found it in.
func (m *Member) tableOf(st *meta.State, r *http.Request) (*meta.State, meta.TableInfo, error) {
	t, err := tableOf(st, r)
	if err == nil {
		return st, t, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), catchUpReadTimeout)
	defer cancel()
	if m.CatchUpTables(ctx) != nil {
		return st, t, err
	}
	st = m.State()
	t, err = tableOf(st, r)
	return st, t, err
}

// tableOf finds the table named in the path, by name or else by id.
func tableOf(st *meta.State, r *http.Request) (meta.TableInfo, error) {
	name := r.PathValue("name")
	if t, ok := st.Tables[name]; ok {
		return t, nil
	}
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		if t, ok := st.TableByID(meta.TableID(id)); ok {
			return t, nil
		}
	}
	return meta.TableInfo{}, errf(http.StatusNotFound, "no table %q", name)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		ae = &api.Error{Code: http.StatusInternalServerError, Message: err.Error()}
	}
	writeJSON(w, ae.Code, api.ErrorBody{Error: ae.Message})
}

func (m *Member) read(fn func(*meta.State, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := m.State()
		if st == nil {
			writeError(w, errf(http.StatusServiceUnavailable, "this node has not loaded the cluster metadata yet (etcd: %s)", m.LastError()))
			return
		}
		v, err := fn(st, r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// tableHeader carries a create's table name from the request body to
// the seen check.
const tableHeader = "X-Pika-Table"

// write runs fn on the manager (here, or forwarded) and then waits, up to
// a few seconds, until this node's own metadata shows the change (seen,
// asked before the write), so that a read through the same node right
// after sees it. Every write needs the admin token, and a body must be
// JSON.
func (m *Member) write(fn func(context.Context, *http.Request) (any, error), seen func(*http.Request) func(*meta.State) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := m.authorize(r, false); err != nil {
			writeError(w, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, errf(http.StatusBadRequest, "read request body: %v", err))
			return
		}
		if len(body) > 0 {
			if err := requireJSON(r); err != nil {
				writeError(w, err)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		var peek struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(body, &peek) == nil {
			r.Header.Set(tableHeader, peek.Name)
		}
		done := seen(r)
		wait := func() {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			_, _ = m.WaitState(ctx, done)
		}
		if !m.IsManager() {
			m.forward(w, r, wait)
			return
		}
		v, err := fn(r.Context(), r)
		if err != nil {
			writeError(w, err)
			return
		}
		wait()
		writeJSON(w, http.StatusOK, v)
	}
}

// forward relays a write to the elected manager's HTTP address and, when
// it succeeded, calls wait before answering.
func (m *Member) forward(w http.ResponseWriter, r *http.Request, wait func()) {
	if r.Header.Get(forwardedHeader) != "" {
		writeError(w, errf(http.StatusServiceUnavailable, "node %s was asked as the manager but does not hold the role (it moved); retry", m.cfg.Self.ID))
		return
	}
	st := m.State()
	if st == nil {
		writeError(w, errf(http.StatusServiceUnavailable, "this node has not loaded the cluster metadata yet"))
		return
	}
	mgr := st.Manager()
	info, ok := st.Alive[mgr]
	if mgr == "" || !ok || info.HTTP == "" {
		writeError(w, errf(http.StatusServiceUnavailable, "no manager is elected right now; retry in a few seconds"))
		return
	}
	target := &url.URL{Scheme: "http", Host: info.HTTP}
	var transport http.RoundTripper
	if m.cfg.HTTPTLS != nil {
		target.Scheme = "https"
		transport = &http.Transport{TLSClientConfig: m.cfg.HTTPTLS}
	}
	proxy := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, string(m.cfg.Self.ID))
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode/100 == 2 {
				wait()
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, errf(http.StatusServiceUnavailable, "forward to manager %s at %s: %v", mgr, info.HTTP, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// replicaPositions asks each replica of a slot for its log position.
func (m *Member) replicaPositions(ctx context.Context, st *meta.State, t meta.TableID, s api.Slot) []api.ReplicaPosition {
	if m.cfg.Positions == nil {
		return nil
	}
	out := make([]api.ReplicaPosition, 0, len(s.Replicas))
	var leaderIndex uint64
	known := false
	for _, r := range s.Replicas {
		p := api.ReplicaPosition{Node: r, Lag: -1}
		info, alive := st.Alive[r]
		if !alive {
			p.Error = "node is down"
			out = append(out, p)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		got, err := m.cfg.Positions(pctx, info, t, []meta.SlotID{s.Slot})
		cancel()
		if err != nil {
			p.Error = err.Error()
			out = append(out, p)
			continue
		}
		p.Index, p.Epoch = got[s.Slot].Index, got[s.Slot].Epoch
		if r == s.Leader {
			leaderIndex, known = p.Index, true
		}
		out = append(out, p)
	}
	for i := range out {
		if known && out[i].Error == "" {
			out[i].Lag = max(int64(leaderIndex)-int64(out[i].Index), 0)
		}
	}
	return out
}

// apiClient is a client of another node's HTTP API.
func (m *Member) apiClient(addr string) *api.Client {
	return api.NewClient(addr).WithTLS(m.cfg.HTTPTLS)
}
