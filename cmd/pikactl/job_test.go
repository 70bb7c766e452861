package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// The commands that follow jobs, run in-process against a node's API
// served by fakeCluster (see rebalance_test.go).

func (f *fakeCluster) CancelJob(_ context.Context, id string) (meta.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, j := range f.jobs {
		if j.ID != id {
			continue
		}
		if j.Move.Step.Final() {
			return j, &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("job %s is over (%s)", id, j.Move.Step)}
		}
		mv := *j.Move
		mv.Cancel = true
		f.jobs[i].Move = &mv
		return f.jobs[i], nil
	}
	return meta.Job{}, &api.Error{Code: http.StatusNotFound, Message: fmt.Sprintf("no job %q", id)}
}

func (f *fakeCluster) Rebalance(_ context.Context, table string, exclude []meta.NodeID) (api.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("rebalance table=%q exclude=%v", table, exclude))
	return f.plan, nil
}

func (f *fakeCluster) Evacuate(_ context.Context, node meta.NodeID) (api.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("evacuate %s", node))
	return f.plan, nil
}

func (f *fakeCluster) RemoveNode(_ context.Context, id meta.NodeID, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("remove %s force=%v", id, force))
	return nil
}

func (f *fakeCluster) called() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

// serve answers the API paths pikactl uses from f.
func (f *fakeCluster) serve(t *testing.T) string {
	reply := func(w http.ResponseWriter, v any, err error) {
		var ae *api.Error
		if errors.As(err, &ae) {
			w.WriteHeader(ae.Code)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: ae.Message})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathMoves, func(w http.ResponseWriter, r *http.Request) {
		var req api.MoveSlot
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("move body: %v", err)
		}
		if req.From == "" {
			req.From = "n1" // the slot's leader
		}
		j, err := f.MoveSlot(ctx, req)
		reply(w, j, err)
	})
	mux.HandleFunc("GET "+api.PathJobs, func(w http.ResponseWriter, r *http.Request) {
		js, err := f.Jobs(ctx)
		reply(w, js, err)
	})
	mux.HandleFunc("DELETE "+api.PathJobs+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		j, err := f.CancelJob(ctx, r.PathValue("id"))
		reply(w, j, err)
	})
	mux.HandleFunc("GET "+api.PathRebalance, func(w http.ResponseWriter, r *http.Request) {
		var ex []meta.NodeID
		for _, id := range r.URL.Query()["exclude"] {
			ex = append(ex, meta.NodeID(id))
		}
		if r.URL.Query().Get("evacuate") == "true" && len(ex) == 1 {
			p, err := f.Evacuate(ctx, ex[0])
			reply(w, p, err)
			return
		}
		p, err := f.Rebalance(ctx, r.URL.Query().Get("table"), ex)
		reply(w, p, err)
	})
	mux.HandleFunc("POST "+api.PathTables+"/{table}/slots/{n}/failover", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		sw, err := f.Failover(ctx, r.PathValue("table"), meta.SlotID(n), meta.NodeID(r.URL.Query().Get("to")))
		reply(w, sw, err)
	})
	mux.HandleFunc("DELETE "+api.PathNodes+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
		reply(w, map[string]any{"ok": true}, f.RemoveNode(ctx, meta.NodeID(r.PathValue("id")), force))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestSlotMove(t *testing.T) {
	f := &fakeCluster{}
	getenv := env("PIKACTL_SERVER", f.serve(t))

	r := runCLI(t, getenv, "", false, "slot", "move", "users", "17", "--to", "n4")
	if r.code != exitOK {
		t.Fatalf("move: exit %d, stderr %q", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	want := []string{"job j00: move slot 17 of users from n1 to n4 (1.0 MB)", "job j00: add", "job j00: catch-up", "job j00: remove", "job j00: done (after "}
	if len(lines) != len(want) {
		t.Fatalf("move printed:\n%s\nwant %d lines", r.out, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], w)
		}
	}

	// A move that rolls back exits 1 with its error.
	r = runCLI(t, getenv, "", false, "slot", "move", "users", "18", "--to", "bad")
	if r.code != exitRefused || !strings.Contains(r.err, "job j01 rolled-back: the target is down") ||
		!strings.Contains(r.out, "job j01: rollback: the target is down") {
		t.Errorf("rolled back: exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}

	// --json: the last record only.
	r = runCLI(t, getenv, "", false, "--json", "slot", "move", "users", "19", "--to", "n4")
	var j meta.Job
	if err := json.Unmarshal([]byte(r.out), &j); err != nil || r.code != exitOK || j.Move == nil || j.Move.Step != meta.MoveDone {
		t.Errorf("--json: exit %d, %v, stdout %q", r.code, err, r.out)
	}

	// --wait=false returns at once.
	r = runCLI(t, getenv, "", false, "slot", "move", "users", "20", "--to", "n4", "--wait=false")
	if r.code != exitOK || !strings.Contains(r.out, "job j03: add\n") || strings.Contains(r.out, "catch-up") ||
		!strings.Contains(r.out, "pikactl job cancel j03") {
		t.Errorf("--wait=false: exit %d, stdout %q", r.code, r.out)
	}

	// Refused at once: exit 1.
	f.set(func(f *fakeCluster) { f.refuse = map[meta.SlotID]bool{21: true} })
	r = runCLI(t, getenv, "", false, "slot", "move", "users", "21", "--to", "n4")
	if r.code != exitRefused || !strings.Contains(r.err, "already moving") {
		t.Errorf("refused: exit %d, stderr %q", r.code, r.err)
	}
}

func TestJobListAndCancel(t *testing.T) {
	f := &fakeCluster{}
	getenv := env("PIKACTL_SERVER", f.serve(t))
	if r := runCLI(t, getenv, "", false, "slot", "move", "users", "1", "--to", "n4"); r.code != exitOK {
		t.Fatalf("move: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, getenv, "", false, "slot", "move", "users", "2", "--to", "n4", "--wait=false"); r.code != exitOK {
		t.Fatalf("move: exit %d, %q", r.code, r.err)
	}

	// j00 is done, j01 in flight (each read of the list moves it a step).
	r := runCLI(t, getenv, "", false, "job", "list")
	if r.code != exitOK || strings.Contains(r.out, "j00") || !strings.Contains(r.out, "j01") || !strings.HasPrefix(r.out, "ID ") {
		t.Errorf("job list: exit %d, stdout\n%s", r.code, r.out)
	}
	r = runCLI(t, getenv, "", false, "--json", "job", "list", "--all")
	var jobs []meta.Job
	if err := json.Unmarshal([]byte(r.out), &jobs); err != nil || len(jobs) != 2 {
		t.Errorf("job list --all --json: %v, stdout\n%s", err, r.out)
	}

	r = runCLI(t, getenv, "", false, "job", "cancel", "j01")
	if r.code != exitOK || !strings.Contains(r.out, "job j01: cancel asked") || !strings.Contains(r.out, "Cancel asked:  yes") {
		t.Errorf("cancel: exit %d, stdout\n%s", r.code, r.out)
	}
	for _, id := range []string{"j00", "nope"} {
		r = runCLI(t, getenv, "", false, "job", "cancel", id)
		if r.code != exitRefused {
			t.Errorf("cancel %s: exit %d, stderr %q; want 1", id, r.code, r.err)
		}
	}
}

func TestRebalance(t *testing.T) {
	f := &fakeCluster{plan: samplePlan()}
	getenv := env("PIKACTL_SERVER", f.serve(t))

	r := runCLI(t, getenv, "", false, "rebalance", "users", "--dry-run", "--exclude", "n5,n6")
	if r.code != exitOK || !strings.HasPrefix(r.out, "plan: 2 slot move(s), 1 leader hand-over(s)\n") || strings.Contains(r.out, "summary") {
		t.Errorf("--dry-run: exit %d, stdout\n%s", r.code, r.out)
	}
	if got := f.called(); got != `rebalance table="users" exclude=[n5 n6]` {
		t.Errorf("planned with %s", got)
	}

	r = runCLI(t, getenv, "", false, "rebalance")
	if r.code != exitOK {
		t.Fatalf("rebalance: exit %d, stderr %q", r.code, r.err)
	}
	for _, want := range []string{
		"plan: 2 slot move(s)", "n1     10 -> 9    5 -> 4\n", "! skipped: slot 7 of users",
		"move 1/2 done: users/17 n1->n4 (1.0 MB, ", "move 2/2 done: db0/3 n2->n4 (1.0 MB, ",
		"leader 1/1 done: users/5 n1->n4 (", "summary: 3 step(s) planned, 3 done, 0 failed, 0 rolled back; 2.0 MB copied in ",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("rebalance output lacks %q:\n%s", want, r.out)
		}
	}

	// --json: the summary and nothing else; a rolled-back move exits 1.
	f.set(func(f *fakeCluster) { f.plan.Steps[0].To = "bad" })
	r = runCLI(t, getenv, "", false, "--json", "rebalance")
	var sum planSummary
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil {
		t.Fatalf("--json: %v, stdout\n%s", err, r.out)
	}
	if r.code != exitRefused || sum.Planned != 3 || sum.Done != 2 || sum.RolledBack != 1 || sum.Bytes != 1e6 {
		t.Errorf("--json: exit %d, summary %+v", r.code, sum)
	}
}

func TestNodeRemove(t *testing.T) {
	f := &fakeCluster{plan: movePlan(2)}
	getenv := env("PIKACTL_SERVER", f.serve(t))

	r := runCLI(t, getenv, "", false, "node", "remove", "n3", "--concurrency", "1")
	if r.code != exitOK || !strings.Contains(r.out, "move 2/2 done") || !strings.HasSuffix(r.out, "node n3 removed\n") {
		t.Errorf("remove: exit %d, stdout\n%s\nstderr %q", r.code, r.out, r.err)
	}
	if got := f.called(); got != `evacuate n3; remove n3 force=false` {
		t.Errorf("calls: %s", got)
	}

	// A step that does not succeed keeps the node.
	f.set(func(f *fakeCluster) { f.calls, f.plan.Steps[1].To = nil, "bad" })
	r = runCLI(t, getenv, "", false, "node", "remove", "n3")
	if r.code != exitRefused || !strings.Contains(r.err, "node n3 not removed: 1 of 2 step(s) failed or rolled back") {
		t.Errorf("failed plan: exit %d, stderr %q", r.code, r.err)
	}
	if got := f.called(); strings.Contains(got, "remove n3") {
		t.Errorf("node removed after a failed plan: %s", got)
	}

	// --force: no plan.
	f.set(func(f *fakeCluster) { f.calls = nil })
	r = runCLI(t, getenv, "", false, "--json", "node", "remove", "n3", "--force")
	if r.code != exitOK || r.out != "{\n  \"ok\": true,\n  \"removed\": \"n3\"\n}\n" || f.called() != "remove n3 force=true" {
		t.Errorf("--force: exit %d, stdout %q, calls %s", r.code, r.out, f.called())
	}
}
