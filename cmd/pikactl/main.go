// Command pikactl is the operator CLI of a pika-node cluster: it shows the
// cluster's status, nodes, tables and slot placement, creates and drops
// tables, moves slots, rebalances the cluster, removes nodes, and copies
// data in from and out to a redis-server (import, export).
//
//	pikactl [--server host:port | --etcd host:2379,...] [--cluster NAME] [--json] [--timeout 30s] <noun> <verb>
//
// With --server (the default, 127.0.0.1:29221) it calls the JSON API of
// any node's HTTP port, which forwards writes to the elected manager. With
// --etcd it reads the cluster's metadata straight from etcd, which works
// while no node answers, and sends writes to the manager it finds there.
//
// Output is human-readable tables, or with --json the API's values as
// indented JSON. The exit status is a contract for scripts:
//
//	0  success
//	1  the cluster refused the operation (invalid request, not found, conflict),
//	   or did only part of it (a slot move rolled back or failed)
//	2  usage error (bad flags or arguments, a drop without --yes)
//	3  the cluster is unreachable or has no manager (network errors, timeouts, server errors)
//
// Errors go to stderr as "pikactl: <message>".
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/etcdconn"
	"github.com/pika-node/pika-node/manager/meta"
)

// Exit statuses; see the package comment.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitUnavailable = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{
		in:          os.Stdin,
		out:         os.Stdout,
		err:         os.Stderr,
		inTerminal:  isatty.IsTerminal(os.Stdin.Fd()),
		outTerminal: isatty.IsTerminal(os.Stdout.Fd()),
	}, os.Getenv)
	stop()
	os.Exit(code)
}

// streams are the process's standard files, passed in so that tests run
// the command tree in-process.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
	// inTerminal says whether in is a terminal, where a drop may ask the
	// operator to confirm instead of requiring --yes.
	inTerminal bool
	// outTerminal says whether out is a terminal, where a rebalance shows
	// a progress bar instead of a line per finished move.
	outTerminal bool
}

// run executes the command line args and returns the exit status. Errors
// are printed to s.err; getenv supplies the PIKACTL_* environment.
func run(ctx context.Context, args []string, s streams, getenv func(string) string) int {
	root := newRootCmd(s, getenv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(s.err, "pikactl: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd != "" {
		fmt.Fprintf(s.err, "Run '%s --help' for usage.\n", ue.cmd)
	}
	return exitCode(err)
}

// exitCode maps an error of a command to the exit status scripts rely on.
// Anything not known to be a refusal or a usage error counts as the
// cluster being unreachable: transport errors, timeouts, etcd errors and
// answers that could not be decoded all mean "try again later or
// elsewhere", never "your request is wrong".
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var nf *notFoundError
	if errors.As(err, &nf) {
		return exitRefused
	}
	var pe *errPartial
	if errors.As(err, &pe) {
		return exitRefused
	}
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 500 {
		return exitRefused
	}
	return exitUnavailable
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct {
	msg string
	// cmd is the command path whose --help explains the usage, or "".
	cmd string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError about cmd's command line.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	e := &usageError{msg: fmt.Sprintf(format, args...)}
	if cmd != nil {
		e.cmd = cmd.CommandPath()
	}
	return e
}

// notFoundError is the etcd backend's "no such table or slot", which the
// HTTP API answers with 404: exit status 1.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// errNoManager is returned for a write while no manager is elected (or
// the elected one registered no HTTP address): exit status 3.
var errNoManager = errors.New("no manager elected")

// Defaults of the global flags.
const (
	defaultServer  = "127.0.0.1:29221"
	defaultCluster = "pika"
	defaultTimeout = 30 * time.Second
)

// options are the global flags. The environment (PIKACTL_SERVER,
// PIKACTL_ETCD, PIKACTL_CLUSTER) supplies their defaults; a flag on the
// command line wins over it.
type options struct {
	server  string
	etcd    string
	cluster string
	json    bool
	timeout time.Duration
	// token is --token; PIKA_ADMIN_TOKEN, else the file tokenFile
	// (--token-file) names, when it is empty (adminToken).
	token, tokenFile string
	// etcdAuth is --etcd-cert, --etcd-key, --etcd-ca and --etcd-user
	// (env PIKACTL_ETCD_USER), for --etcd.
	etcdAuth etcdconn.Options
	// cacert is --cacert (env PIKACTL_CACERT): the CA of the nodes' HTTPS
	// ports (--http-tls).
	cacert string
	// envServer and envEtcd are PIKACTL_SERVER and PIKACTL_ETCD: when only
	// the environment names a target, both set is ambiguous.
	envServer, envEtcd string
}

// app is one command tree's state. Each newRootCmd makes its own, so a
// test can build and run as many trees as it likes.
type app struct {
	opts   options
	s      streams
	getenv func(string) string
}

const rootLong = `pikactl operates a pika-node cluster: it shows the cluster's status, nodes,
tables and slot placement, creates and drops tables, moves slots between
nodes, rebalances the cluster, removes nodes, and copies a table from or to
a redis-server (import, export).

Where it connects:
  --server host:port   a node's HTTP port (default ` + defaultServer + `); any node
                       answers reads and forwards writes to the elected manager.
  --etcd host:2379,... the cluster's etcd: reads come straight from the metadata
                       (useful when no node answers), writes go to the manager
                       found there. --cluster names the cluster (default "` + defaultCluster + `").
  The two are exclusive. The environment supplies defaults: PIKACTL_SERVER,
  PIKACTL_ETCD, PIKACTL_CLUSTER; a flag on the command line wins over them.

Every change (create, drop, move, failover, remove, token rotate) needs the
cluster's admin token: --token, else PIKA_ADMIN_TOKEN, else the file named by
--token-file. The node that bootstrapped the cluster wrote it to
<data>/admin.token (its log names the file). Reads need none.

Output is human-readable; --json prints the API's values as indented JSON for
scripts. Errors go to stderr as "pikactl: <message>".

Exit status:
  0  success
  1  the cluster refused the operation: invalid request, no such table, node,
     slot or job, conflict (table exists, node still alive and holding
     replicas, slot already moving); or did only part of it: a slot move
     rolled back or failed, a leadership not moved, replicas not proven equal
  2  usage error: bad flags or arguments, a drop without --yes
  3  the cluster is unreachable or has no manager: network errors, timeouts,
     server-side errors`

const rootExample = `  pikactl status
  pikactl --server 10.0.0.5:29221 table list
  pikactl --etcd 10.0.0.1:2379,10.0.0.2:2379 --cluster prod status
  pikactl --token-file /var/lib/pika/admin.token table create users --slots 1024 --replicas 3 --mode raft
  pikactl --json slot show users 17
  pikactl slot move users 17 --to n4
  pikactl rebalance --dry-run
  pikactl job list --all`

// newRootCmd builds the command tree, writing to s and reading its
// environment through getenv.
func newRootCmd(s streams, getenv func(string) string) *cobra.Command {
	a := &app{s: s, getenv: getenv}
	a.opts.envServer = getenv("PIKACTL_SERVER")
	a.opts.envEtcd = getenv("PIKACTL_ETCD")
	root := &cobra.Command{
		Use:           "pikactl",
		Short:         "Operate a pika-node cluster",
		Long:          rootLong,
		Example:       rootExample,
		Args:          unknownVerb,
		RunE:          showHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Suggest "status" for "stauts" and the like.
		SuggestionsMinimumDistance: 2,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef(c, "%v", err)
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.opts.server, "server", cmp.Or(a.opts.envServer, defaultServer),
		"a node's HTTP address, host:port (env PIKACTL_SERVER)")
	pf.StringVar(&a.opts.etcd, "etcd", a.opts.envEtcd,
		"read the metadata from these etcd endpoints, comma-separated, instead of --server (env PIKACTL_ETCD)")
	pf.StringVar(&a.opts.cluster, "cluster", cmp.Or(getenv("PIKACTL_CLUSTER"), defaultCluster),
		"the cluster's name in etcd; only with --etcd (env PIKACTL_CLUSTER)")
	pf.StringVar(&a.opts.etcdAuth.CertFile, "etcd-cert", "", "client certificate for --etcd (PEM)")
	pf.StringVar(&a.opts.etcdAuth.KeyFile, "etcd-key", "", "the key of --etcd-cert (PEM)")
	pf.StringVar(&a.opts.etcdAuth.CAFile, "etcd-ca", "", "CA that signed --etcd's certificate (PEM); any of the three turns TLS on")
	// Secrets are read from the environment when used, not as flag
	// defaults: --help prints the defaults.
	pf.StringVar(&a.opts.etcdAuth.User, "etcd-user", "", "name:password for --etcd's authentication (env PIKACTL_ETCD_USER)")
	pf.StringVar(&a.opts.cacert, "cacert", getenv("PIKACTL_CACERT"), "CA (PEM) of the nodes' HTTPS ports: with --server https://..., and with --etcd for the manager's port (env PIKACTL_CACERT)")
	pf.BoolVar(&a.opts.json, "json", false, "print JSON instead of tables")
	pf.StringVar(&a.opts.token, "token", "",
		"the cluster's admin token, which every change needs (env PIKA_ADMIN_TOKEN)")
	pf.StringVar(&a.opts.tokenFile, "token-file", "",
		"read the admin token from this file when --token and PIKA_ADMIN_TOKEN give none (the first manager wrote it to <data>/admin.token)")
	pf.DurationVar(&a.opts.timeout, "timeout", defaultTimeout, "give up on the cluster after this long (on each request, for the commands that follow jobs)")

	root.AddCommand(a.statusCmd(), a.nodeCmd(), a.tableCmd(), a.slotCmd(), a.failoverCmd(),
		a.jobCmd(), a.rebalanceCmd(), a.tokenCmd(), a.importCmd(), a.exportCmd())
	return root
}

// showHelp is the action of the root and of the nouns: with no verb, show
// what there is.
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// unknownVerb rejects an argument to a command that only has subcommands:
// cobra would otherwise show the help and exit 0 for "pikactl node lsit".
func unknownVerb(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(sug, ", "))
	}
	return usagef(cmd, "%s", msg)
}

// positional returns a validator for between min and max positional arguments,
// named by names in the messages ("missing NAME"); every argument must be
// non-empty.
func positional(min, max int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min {
			return usagef(cmd, "missing %s", strings.Join(names[len(args):min], " and "))
		}
		if len(args) > max {
			return usagef(cmd, "unexpected argument %q", args[max])
		}
		for i, arg := range args {
			if strings.TrimSpace(arg) == "" {
				return usagef(cmd, "%s must not be empty", names[i])
			}
		}
		return nil
	}
}

// parseSlot reads a slot number argument.
func parseSlot(cmd *cobra.Command, s string) (meta.SlotID, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, usagef(cmd, "slot %q: want a non-negative integer", s)
	}
	return meta.SlotID(n), nil
}

// call runs fn against the backend the global flags name, under the
// --timeout deadline, and closes the backend afterwards.
func (a *app) call(cmd *cobra.Command, fn func(ctx context.Context, b backend) error) error {
	return a.callLong(cmd, func(ctx context.Context, b backend) error {
		return within(ctx, a.opts.timeout, func(ctx context.Context) error { return fn(ctx, b) })
	})
}

// callLong is call for the commands that follow jobs for longer than
// --timeout (slot move --wait, rebalance, node remove): fn runs without a
// deadline and bounds each of its requests with a.request.
func (a *app) callLong(cmd *cobra.Command, fn func(ctx context.Context, b backend) error) error {
	t, err := resolveTarget(a.opts, cmd.Flags().Changed("server"), cmd.Flags().Changed("etcd"))
	if err != nil {
		return err
	}
	if t.etcd == nil && cmd.Flags().Changed("cluster") {
		fmt.Fprintf(a.s.err, "pikactl: warning: --cluster is ignored with --server (the node knows its cluster)\n")
	}
	token, err := a.adminToken()
	if err != nil {
		return err
	}
	etcdAuth := a.opts.etcdAuth
	if etcdAuth.User == "" {
		etcdAuth.User = a.getenv("PIKACTL_ETCD_USER")
	}
	httpsCfg, err := a.httpsConfig()
	if err != nil {
		return err
	}
	b, err := t.open(a.opts.cluster, token, httpsCfg, etcdAuth, a.s.err)
	if err != nil {
		return err
	}
	defer b.Close()
	return fn(cmd.Context(), b)
}

// request runs one request of a callLong command under --timeout.
func (a *app) request(ctx context.Context, fn func(ctx context.Context) error) error {
	return within(ctx, a.opts.timeout, fn)
}

// within runs fn under a deadline of d, the --timeout; an error past the
// deadline says so.
func within(ctx context.Context, d time.Duration, fn func(ctx context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(rctx)
	if err != nil && ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within --timeout %s: %w", d, err)
	}
	return err
}
