package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/api"
)

// unreachable is a --server nothing listens on: a command that wrongly got
// past its argument checks fails fast with exit status 3 instead of
// talking to whatever node runs on the default port.
const unreachable = "127.0.0.1:1"

// env returns a getenv over the given variables.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

type result struct {
	code     int
	out, err string
}

// runCLI runs pikactl in-process with stdin in (a terminal if term).
func runCLI(t *testing.T, getenv func(string) string, in string, term bool, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, streams{
		in: strings.NewReader(in), out: &out, err: &errb, inTerminal: term,
	}, getenv)
	return result{code: code, out: out.String(), err: errb.String()}
}

func TestExitCode(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{&usageError{msg: "bad"}, exitUsage},
		{fmt.Errorf("context: %w", &usageError{msg: "bad"}), exitUsage},
		{&api.Error{Code: 400, Message: "invalid table"}, exitRefused},
		{&api.Error{Code: 404, Message: "no such table"}, exitRefused},
		{fmt.Errorf("wrapped: %w", &api.Error{Code: 409, Message: "exists"}), exitRefused},
		{&notFoundError{msg: "table \"x\" not found"}, exitRefused},
		{&api.Error{Code: 503, Message: "no manager"}, exitUnavailable},
		{&api.Error{Code: 500, Message: "boom"}, exitUnavailable},
		{&api.Error{Code: 302, Message: "moved"}, exitUnavailable},
		{fmt.Errorf("%w in cluster", errNoManager), exitUnavailable},
		{context.DeadlineExceeded, exitUnavailable},
		{fmt.Errorf("no answer within --timeout 1s: %w", context.DeadlineExceeded), exitUnavailable},
		{dialErr, exitUnavailable},
		{errors.New("decode answer: unexpected EOF"), exitUnavailable},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// Mistakes on the command line exit 2 before anything is sent, with
// "pikactl: " on stderr and nothing on stdout.
func TestUsageErrorsExitTwo(t *testing.T) {
	getenv := env("PIKACTL_SERVER", unreachable)
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"stauts"}, `unknown command "stauts"`},
		{[]string{"node", "lsit"}, `did you mean list?`},
		{[]string{"table", "frobnicate"}, `unknown command "frobnicate" for "pikactl table"`},
		{[]string{"--bogus", "status"}, "unknown flag: --bogus"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
		{[]string{"node", "remove"}, "missing ID"},
		{[]string{"node", "remove", ""}, "ID must not be empty"},
		{[]string{"table", "show"}, "missing NAME"},
		{[]string{"table", "show", "a", "b"}, `unexpected argument "b"`},
		{[]string{"table", "create", "t", "--mode", "paxos"}, `--mode "paxos": want async or raft`},
		{[]string{"table", "create", "t", "--slots", "-5"}, "invalid argument"},
		{[]string{"table", "create", "t", "--replicas", "three"}, "invalid argument"},
		{[]string{"table", "drop", "t"}, "without --yes"},
		{[]string{"slot", "show"}, "missing TABLE"},
		{[]string{"slot", "show", "t", "x"}, `slot "x": want a non-negative integer`},
		{[]string{"slot", "show", "t", "1.5"}, "want a non-negative integer"},
		{[]string{"slot", "show", "t", "4294967296"}, "want a non-negative integer"},
		{[]string{"slot", "show", "t", "-1"}, "unknown shorthand flag"},
		{[]string{"slot", "show", "t", "1", "2"}, `unexpected argument "2"`},
		{[]string{"--server", "a:1", "--etcd", "b:2", "status"}, "exclusive"},
		{[]string{"--etcd", " , ", "status"}, "no endpoints"},
		{[]string{"--server", "nohostport", "status"}, "want host:port"},
		{[]string{"--server", "h:0", "status"}, "bad port"},
		{[]string{"--timeout", "0s", "status"}, "must be positive"},
		{[]string{"--timeout", "soon", "status"}, "invalid argument"},
		{[]string{"slot", "move", "t", "1"}, "missing --to NODE"},
		{[]string{"slot", "move", "t", "1", "--to", " "}, "missing --to NODE"},
		{[]string{"slot", "move", "t"}, "missing SLOT"},
		{[]string{"slot", "move", "t", "x", "--to", "n4"}, `slot "x": want a non-negative integer`},
		{[]string{"slot", "move", "t", "1", "--to", "n4", "--timeout-move", "-1s"}, "--timeout-move -1s: must not be negative"},
		{[]string{"slot", "move", "t", "1", "--to", "n4", "--wait=maybe"}, "invalid argument"},
		{[]string{"job", "lsit"}, "did you mean list?"},
		{[]string{"job", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"job", "cancel"}, "missing ID"},
		{[]string{"job", "cancel", ""}, "ID must not be empty"},
		{[]string{"rebalance", "a", "b"}, `unexpected argument "b"`},
		{[]string{"rebalance", "--concurrency", "0"}, "--concurrency 0: want 1 or more"},
		{[]string{"rebalance", "--concurrency", "two"}, "invalid argument"},
		{[]string{"rebalance", "--limit-mbps", "-5"}, "--limit-mbps -5: want 0 (no limit) or a positive rate"},
		{[]string{"rebalance", "--limit-mbps", "NaN"}, "--limit-mbps NaN"},
		{[]string{"rebalance", "--exclude", "n1,,n2"}, "--exclude: empty node id"},
		{[]string{"node", "remove", "n3", "--concurrency", "-1"}, "--concurrency -1"},
		{[]string{"node", "remove", "n3", "--limit-mbps", "-1"}, "--limit-mbps -1"},
	} {
		r := runCLI(t, getenv, "", false, tc.args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", tc.args, r.code, exitUsage, r.err)
			continue
		}
		if !strings.HasPrefix(r.err, "pikactl: ") || !strings.Contains(r.err, tc.want) {
			t.Errorf("%q: stderr %q, want \"pikactl: ...%s...\"", tc.args, r.err, tc.want)
		}
		if r.out != "" {
			t.Errorf("%q: stdout %q, want nothing (no usage dump on errors)", tc.args, r.out)
		}
	}
}

func TestEnvironmentTargets(t *testing.T) {
	// Both variables and no flag: ambiguous.
	r := runCLI(t, env("PIKACTL_SERVER", unreachable, "PIKACTL_ETCD", "e:2379"), "", false, "status")
	if r.code != exitUsage || !strings.Contains(r.err, "PIKACTL_SERVER and PIKACTL_ETCD") {
		t.Errorf("both env: exit %d, stderr %q; want a usage error naming both", r.code, r.err)
	}
	// A flag wins over the other's variable.
	r = runCLI(t, env("PIKACTL_SERVER", "a:1", "PIKACTL_ETCD", "e:2379"), "", false, "--server", unreachable, "--timeout", "5s", "status")
	if r.code != exitUnavailable || !strings.Contains(r.err, unreachable) {
		t.Errorf("--server over PIKACTL_ETCD: exit %d, stderr %q; want the server tried (exit 3)", r.code, r.err)
	}
}

func TestResolveTarget(t *testing.T) {
	base := options{server: defaultServer, cluster: defaultCluster, timeout: time.Second}
	with := func(f func(*options)) options { o := base; f(&o); return o }
	for _, tc := range []struct {
		name                string
		o                   options
		serverSet, etcdSet  bool
		wantServer, wantErr string
		wantHTTPS           bool
		wantEtcd            []string
	}{
		{name: "default", o: base, wantServer: defaultServer},
		{name: "server flag", o: with(func(o *options) { o.server = "http://h:29221/" }), serverSet: true, wantServer: "h:29221"},
		{name: "etcd flag", o: with(func(o *options) { o.etcd = "a:2379, b:2379,," }), etcdSet: true, wantEtcd: []string{"a:2379", "b:2379"}},
		{name: "etcd env", o: with(func(o *options) { o.etcd, o.envEtcd = "a:2379", "a:2379" }), wantEtcd: []string{"a:2379"}},
		{name: "server env", o: with(func(o *options) { o.server, o.envServer = "s:1", "s:1" }), wantServer: "s:1"},
		{name: "etcd flag over server env", o: with(func(o *options) { o.server, o.envServer, o.etcd = "s:1", "s:1", "a:2379" }), etcdSet: true, wantEtcd: []string{"a:2379"}},
		{name: "server flag over etcd env", o: with(func(o *options) { o.etcd, o.envEtcd = "a:2379", "a:2379" }), serverSet: true, wantServer: defaultServer},
		{name: "both flags", o: with(func(o *options) { o.etcd = "a:2379" }), serverSet: true, etcdSet: true, wantErr: "exclusive"},
		{name: "empty cluster", o: with(func(o *options) { o.etcd, o.cluster = "a:2379", "" }), etcdSet: true, wantErr: "--cluster"},
		{name: "https", o: with(func(o *options) { o.server = "https://h:1/" }), serverSet: true, wantServer: "h:1", wantHTTPS: true},
		{name: "https path", o: with(func(o *options) { o.server = "https://h:1/api" }), serverSet: true, wantErr: "host:port"},
		{name: "path", o: with(func(o *options) { o.server = "h:1/api" }), serverSet: true, wantErr: "host:port"},
		{name: "negative timeout", o: with(func(o *options) { o.timeout = -time.Second }), wantErr: "--timeout"},
	} {
		got, err := resolveTarget(tc.o, tc.serverSet, tc.etcdSet)
		if tc.wantErr != "" {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want a usage error about %s", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got.server != tc.wantServer || got.https != tc.wantHTTPS || strings.Join(got.etcd, " ") != strings.Join(tc.wantEtcd, " ") {
			t.Errorf("%s: target %+v, want server %q etcd %q", tc.name, got, tc.wantServer, tc.wantEtcd)
		}
	}
}

func TestDropConfirmation(t *testing.T) {
	getenv := env("PIKACTL_SERVER", unreachable)
	// A wrong answer on a terminal drops nothing: usage error.
	r := runCLI(t, getenv, "users2\n", true, "table", "drop", "users")
	if r.code != exitUsage || !strings.Contains(r.err, "Type the table name to confirm") || !strings.Contains(r.err, "not dropped") {
		t.Errorf("wrong answer: exit %d, stderr %q", r.code, r.err)
	}
	// End of input without an answer, too.
	r = runCLI(t, getenv, "", true, "table", "drop", "users")
	if r.code != exitUsage {
		t.Errorf("no answer: exit %d, want %d", r.code, exitUsage)
	}

	// The right answer lets the drop through.
	var out, errb bytes.Buffer
	a := &app{s: streams{in: strings.NewReader("users\n"), out: &out, err: &errb, inTerminal: true}}
	if err := a.confirmDrop(&cobra.Command{Use: "drop"}, "users"); err != nil {
		t.Errorf("right answer: %v", err)
	}
	a.s.in = strings.NewReader("  users  ") // no newline at EOF, spaces around
	if err := a.confirmDrop(&cobra.Command{Use: "drop"}, "users"); err != nil {
		t.Errorf("right answer at EOF: %v", err)
	}
}

// Every command's --help shows examples; the root's documents the exit
// statuses and the environment.
func TestHelp(t *testing.T) {
	root := newRootCmd(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}}, env())
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" {
				walk(sub, append(append([]string(nil), path...), sub.Name()))
			}
		}
	}
	walk(root, nil)
	if len(paths) < 20 {
		t.Fatalf("found %d commands, want the root, 4 nouns, 12 verbs and 3 top-level commands: %q", len(paths), paths)
	}
	for _, p := range paths {
		r := runCLI(t, env(), "", false, append(p, "--help")...)
		if r.code != exitOK || !strings.Contains(r.out, "Examples:\n  pikactl ") {
			t.Errorf("pikactl %s --help: exit %d, want 0 and an Examples section; got\n%s", strings.Join(p, " "), r.code, r.out)
		}
	}
	r := runCLI(t, env(), "", false, "--help")
	for _, want := range []string{"rebalance", "job", "slot move", "Exit status", "0  success", "1  the cluster refused", "2  usage error", "3  the cluster is unreachable",
		"PIKACTL_SERVER", "PIKACTL_ETCD", "PIKACTL_CLUSTER", "--server", "--etcd", "--cluster", "--json", "--timeout",
		"--token", "PIKA_ADMIN_TOKEN", "--token-file", "--etcd-ca", "--etcd-user", "token rotate"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("root --help lacks %q", want)
		}
	}
	// A noun without a verb shows its help and succeeds.
	r = runCLI(t, env(), "", false, "table")
	if r.code != exitOK || !strings.Contains(r.out, "Available Commands") {
		t.Errorf("pikactl table: exit %d, out %q", r.code, r.out)
	}
}

// The environment fills the flag defaults that --help shows.
func TestEnvironmentDefaults(t *testing.T) {
	r := runCLI(t, env("PIKACTL_SERVER", "10.1.1.1:29221", "PIKACTL_CLUSTER", "prod"), "", false, "--help")
	if !strings.Contains(r.out, `(default "10.1.1.1:29221")`) || !strings.Contains(r.out, `(default "prod")`) {
		t.Errorf("--help does not show the environment's defaults:\n%s", r.out)
	}
}

// Secrets from the environment never show in --help (cobra prints flag
// defaults there).
func TestHelpHidesSecrets(t *testing.T) {
	getenv := env("PIKA_ADMIN_TOKEN", "admin-secret-123", "PIKACTL_ETCD_USER", "root:etcd-secret", "PIKACTL_TABLE_PASSWORD", "table-secret")
	for _, args := range [][]string{{"--help"}, {"table", "set-password", "--help"}, {"token", "rotate", "--help"}} {
		r := runCLI(t, getenv, "", false, args...)
		for _, secret := range []string{"admin-secret-123", "etcd-secret", "table-secret"} {
			if strings.Contains(r.out+r.err, secret) {
				t.Errorf("pikactl %v shows %q", args, secret)
			}
		}
	}
}
