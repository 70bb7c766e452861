package node

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/config"
)

// The HTTP API's writes need the admin token (issue 17, item 1): the
// reproductions of the issue (a DELETE that dropped a table, a text/plain
// POST from a web page, a raft leader report from anyone) are refused.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	addr, _ := startNode(t, dir, func(c *config.Config) {
		c.AdminTokenFile = "" // the first manager makes one
		c.MetricsBind = metricsAddr
	})
	open := tableAPI(t, addr) // waits until db0 exists: the token does too
	ctx := context.Background()

	// The generated token, in clear only in the data directory, 0600.
	file := filepath.Join(dir, manager.AdminTokenFileName)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want mode 0600", file, err, fi.Mode())
	}
	token, err := manager.ReadAdminTokenFile(file)
	if err != nil || len(token) != 64 {
		t.Fatalf("token %q: %v", token, err)
	}

	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(port+20000))
	send := func(method, path, auth, ctype, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	create := `{"name":"web","slots":4,"replicas":1,"mode":"async"}`
	bearer := api.AuthAdmin + " " + token
	for _, c := range []struct {
		name, method, path, auth, ctype, body string
		want                                  int
	}{
		{"drop db0, no token", "DELETE", api.PathTables + "/db0", "", "", "", http.StatusUnauthorized},
		{"drop db0, wrong token", "DELETE", api.PathTables + "/db0", api.AuthAdmin + " " + strings.Repeat("0", 64), "", "", http.StatusUnauthorized},
		{"create from a web page", "POST", api.PathTables, "", "text/plain", create, http.StatusUnauthorized},
		{"create, token, text/plain", "POST", api.PathTables, bearer, "text/plain", create, http.StatusUnsupportedMediaType},
		{"move, no token", "POST", api.PathMoves, "", "application/json", `{}`, http.StatusUnauthorized},
		{"failover, no token", "POST", api.PathTables + "/db0/slots/0/failover", "", "", "", http.StatusUnauthorized},
		{"remove node, no token", "DELETE", api.PathNodes + "/x", "", "", "", http.StatusUnauthorized},
		{"cancel job, no token", "DELETE", api.PathJobs + "/x", "", "", "", http.StatusUnauthorized},
		{"rotate, no token", "POST", api.PathAdminToken, "", "", "", http.StatusUnauthorized},
		{"raft leaders, no credential", "POST", api.PathRaftLeaders, "", "application/json", `[{"table":0,"slot":0,"leader":"x","term":1000000}]`, http.StatusUnauthorized},
		{"raft leaders, another cluster's", "POST", api.PathRaftLeaders, api.AuthPeer + " " + meta.PeerHTTPCredential("other"), "application/json", `[]`, http.StatusUnauthorized},
		{"raft leaders, the token as a peer's", "POST", api.PathRaftLeaders, api.AuthPeer + " " + token, "application/json", `[]`, http.StatusUnauthorized},
		{"status, no token", "GET", api.PathStatus, "", "", "", http.StatusOK},
		{"tables, no token", "GET", api.PathTables, "", "", "", http.StatusOK},
		{"healthz", "GET", "/healthz", "", "", "", http.StatusOK},
		{"metrics", "GET", "/metrics", "", "", "", http.StatusOK},
	} {
		if got, body := send(c.method, c.path, c.auth, c.ctype, c.body); got != c.want {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, got, body, c.want)
		}
	}
	if ts, err := open.Tables(ctx); err != nil || len(ts) != 1 || ts[0].Name != "db0" {
		t.Fatalf("tables after the refused writes: %+v, %v; want db0 alone", ts, err)
	}
	if _, err := open.CreateTable(ctx, api.CreateTable{Name: "web", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}); !isHTTP(err, http.StatusUnauthorized) {
		t.Fatalf("create without the token: %v", err)
	}

	// With the token: a create, then a rotation; the old token is
	// refused from then on, the new one works.
	admin := open.WithToken(token)
	if _, err := admin.CreateTable(ctx, api.CreateTable{Name: "web", Slots: 4, Replicas: 1, Mode: meta.ModeAsync}); err != nil {
		t.Fatalf("create with the token: %v", err)
	}
	rot, err := admin.RotateAdminToken(ctx)
	if err != nil || len(rot.Token) != 64 || rot.Token == token {
		t.Fatalf("rotate: %+v, %v", rot, err)
	}
	if _, err := admin.DropTable(ctx, "web"); !isHTTP(err, http.StatusUnauthorized) {
		t.Fatalf("drop with the old token: %v", err)
	}
	if _, err := open.WithToken(rot.Token).DropTable(ctx, "web"); err != nil {
		t.Fatalf("drop with the new token: %v", err)
	}

	// --metrics-bind serves the probes and nothing else.
	for path, want := range map[string]int{"/metrics": http.StatusOK, "/healthz": http.StatusOK, api.PathStatus: http.StatusNotFound} {
		resp, err := http.Get("http://" + metricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("metrics-bind %s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func isHTTP(err error, code int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Code == code
}

// An --admin-token-file too short to be a secret stops the start.
func TestAdminTokenFileTooShort(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Data = dir
	cfg.AdminTokenFile = filepath.Join(dir, "short.token")
	if err := os.WriteFile(cfg.AdminTokenFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("New: %v, want a refusal of the short token", err)
	}
}
