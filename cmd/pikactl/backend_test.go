package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pika-node/pika-node/manager/embedetcd"
	"github.com/pika-node/pika-node/manager/etcdconn"
	"github.com/pika-node/pika-node/manager/meta"
)

func TestTableLookup(t *testing.T) {
	st := meta.NewState()
	st.Tables["db0"] = meta.TableInfo{ID: 0, Name: "db0", Slots: 4}
	st.Tables["users"] = meta.TableInfo{ID: 7, Name: "users", Slots: 8}
	for _, tc := range []struct {
		arg, want string
	}{
		{"users", "users"},
		{"db0", "db0"},
	} {
		got, err := table(st, tc.arg)
		if err != nil || got.Name != tc.want {
			t.Errorf("table(%q) = %q, %v; want %q", tc.arg, got.Name, err, tc.want)
		}
	}
	for _, arg := range []string{"nope", "7", "DB0"} {
		_, err := table(st, arg)
		var nf *notFoundError
		if !errors.As(err, &nf) || exitCode(err) != exitRefused {
			t.Errorf("table(%q): err %v, want not found (exit 1)", arg, err)
		}
	}
}

func TestIsEmpty(t *testing.T) {
	st := meta.NewState()
	st.Revision = 9 // etcd has a revision even when our prefix is empty
	if !isEmpty(st) {
		t.Error("a state without records is not empty")
	}
	st.Members["n1"] = meta.NodeInfo{ID: "n1"}
	if isEmpty(st) {
		t.Error("a state with a member is empty")
	}
}

// The etcd backend reads the job records itself, the oldest first, and
// skips (with one warning) a record it cannot decode.
func TestEtcdJobs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	caddr, paddr := l.Addr().String(), peer.Addr().String()
	l.Close()
	peer.Close()
	srv, err := embedetcd.Start(embedetcd.Config{Dir: t.TempDir(), ClientAddr: caddr, PeerAddr: paddr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	var warn bytes.Buffer
	be, err := openEtcd(etcdconn.Options{Endpoints: []string{srv.Endpoint()}}, "c", &warn)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	lay := meta.Layout{Cluster: "c"}
	put := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := be.cli.Put(context.Background(), key, string(b)); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	newer := moveJob("b", 2, meta.MoveDone, 0, "")
	newer.Created = t0.Add(time.Minute)
	older := moveJob("z", 1, meta.MoveCatchUp, 0, "")
	older.Created = t0
	put(lay.Job("b"), newer)
	put(lay.Job("z"), older)
	put(lay.Job("broken"), "not a job")

	for range 2 {
		jobs, err := be.Jobs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0].ID != "z" || jobs[1].ID != "b" {
			t.Errorf("jobs %+v, want z then b", jobs)
		}
	}
	if strings.Count(warn.String(), "warning") != 1 || !strings.Contains(warn.String(), "/pika/c/jobs/broken") {
		t.Errorf("warnings: %q, want one about the broken record", warn.String())
	}

	// job list through --etcd: finished moves only with --all.
	r := runCLI(t, env(), "", false, "--etcd", srv.Endpoint(), "--cluster", "c", "job", "list")
	if r.code != exitOK || !strings.Contains(r.out, "catch-up") || strings.Contains(r.out, "done") {
		t.Errorf("job list: exit %d, stdout\n%s\nstderr %s", r.code, r.out, r.err)
	}
	r = runCLI(t, env(), "", false, "--etcd", srv.Endpoint(), "--cluster", "c", "job", "list", "--all")
	if r.code != exitOK || !strings.Contains(r.out, "done") {
		t.Errorf("job list --all: exit %d, stdout\n%s", r.code, r.out)
	}
}
