package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// A create or drop the manager answered before some live node applied it
// succeeds (the change is made) and names those nodes on stderr.
func TestTableLaggingWarning(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathTables, func(w http.ResponseWriter, r *http.Request) {
		var req api.CreateTable
		_ = json.NewDecoder(r.Body).Decode(&req)
		_ = json.NewEncoder(w).Encode(api.Table{ID: 3, Name: req.Name, Slots: req.Slots, Replicas: req.Replicas, Mode: req.Mode, Health: api.HealthOK, Lagging: []meta.NodeID{"n3"}})
	})
	mux.HandleFunc("DELETE "+api.PathTables+"/{name}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Dropped{OK: true, Dropped: r.PathValue("name"), Lagging: []meta.NodeID{"n2", "n3"}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	getenv := env("PIKACTL_SERVER", strings.TrimPrefix(srv.URL, "http://"))

	r := runCLI(t, getenv, "", false, "table", "create", "mv", "--slots", "8")
	if r.code != exitOK || !strings.Contains(r.out, "table mv created") || !strings.Contains(r.err, "warning: node(s) n3 did not serve table mv yet when the manager answered") {
		t.Fatalf("create: exit %d\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}
	r = runCLI(t, getenv, "", false, "--json", "table", "create", "mv", "--slots", "8")
	var tb api.Table
	if err := json.Unmarshal([]byte(r.out), &tb); r.code != exitOK || err != nil || len(tb.Lagging) != 1 || !strings.Contains(r.err, "n3") {
		t.Fatalf("create --json: exit %d %v\nstdout %q\nstderr %q", r.code, err, r.out, r.err)
	}
	r = runCLI(t, getenv, "", false, "table", "drop", "mv", "--yes")
	if r.code != exitOK || r.out != "table mv dropped\n" || !strings.Contains(r.err, "warning: node(s) n2, n3 still served table mv when the manager answered") {
		t.Fatalf("drop: exit %d\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}
	r = runCLI(t, getenv, "", false, "--json", "table", "drop", "mv", "--yes")
	var d okResult
	if err := json.Unmarshal([]byte(r.out), &d); r.code != exitOK || err != nil || !d.OK || d.Dropped != "mv" || len(d.Lagging) != 2 {
		t.Fatalf("drop --json: exit %d %v\nstdout %q", r.code, err, r.out)
	}
}
