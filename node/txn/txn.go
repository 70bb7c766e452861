package txn

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/acl"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/script"
	"github.com/pika-node/pika-node/node/script/bitop"
	"github.com/pika-node/pika-node/node/script/cjson"
	"github.com/pika-node/pika-node/node/script/cmsgpack"
	"github.com/pika-node/pika-node/node/script/structlib"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/replication"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
	"github.com/pika-node/pika-node/unit"
)

// Services is what the transactions need of the node that runs them.
type Services struct {
	// Self is this node's id.
	Self meta.NodeID
	// Engine is the node's storage.
	Engine *storage.Engine
	// Commits gives a table's storage.Committer (the node's commit
	// policy): a unit run here commits through it, and a ULOCK is
	// admitted by it.
	Commits func(storage.TableID) storage.Committer
	// Proxy holds the routing and carries out what runs on other nodes.
	Proxy *router.Proxy
	// Links are the connections to the other nodes' peer ports.
	Links *peer.Links
	// Raft returns the node's raft mode: nil until the node's Run starts
	// it, which is before the participant serves or resolves anything.
	Raft func() *replication.Raft
	// Shipper returns the node's shipper of async slots' logs, made by
	// the node's Run before the participant serves or resolves anything.
	Shipper func() *replication.Shipper
	// Commands is the node's command table: Register adds the
	// transaction commands to it, and the commands of a block another
	// node forwards (UNIT) are looked up in it.
	Commands *command.Table
	// Logger logs the units (with component=units).
	Logger *slog.Logger
	// MaxQueryBytes bounds the queued arguments of a MULTI block, as it
	// bounds one query (client-query-buffer-limit).
	MaxQueryBytes int64
	// UnitStepPause makes every unit this node coordinates wait before
	// each of its steps (tests; unit.Coordinator.StepPause).
	UnitStepPause time.Duration
	// CatchUp waits, bounded well within a peer's forward timeout, until
	// this node's routing is as new as the peer's in what b names (a
	// UNIT this node refused may be its own stale routing's doing).
	CatchUp func(b *router.Behind)
	// Ready returns once the node has the cluster's routing: the
	// participant's resolvers wait for it (unit.ParticipantConfig.Ready).
	Ready func(ctx context.Context) error
	// ScriptACL checks a command a script calls (redis.call, and
	// redis.acl_check_cmd) against the ACL of the connection conn running
	// it (c.Conn: a Conn, or another node's forward): nil when allowed.
	// A refusal is logged in ACL LOG (context "lua") when log is set.
	ScriptACL func(conn any, args [][]byte, log bool) *acl.Denied
	// KeyAccess reports whether the ACL of connection conn lets the
	// command line args read any key (SORT's BY and GET patterns); nil:
	// always.
	KeyAccess func(conn any, args [][]byte) bool
	// Account counts one command's call, time and failure (its reply,
	// from mark on in c.R, is an error) in the node's command stats.
	Account func(spec *command.Spec, began time.Time, c *command.Ctx, mark int)
	// UnknownCommand counts a command the table does not have in the
	// node's stats and returns its error reply.
	UnknownCommand func(args [][]byte) string
	// Classify is what routing needs of a command: its class and keys.
	Classify func(spec *command.Spec, args [][]byte) router.Command
	// ScriptMemory is how much the heap may grow while a script runs
	// before it is stopped (0: scriptMemoryLimit).
	ScriptMemory int64
	// Functions keeps the cluster's FUNCTION libraries (nil: FUNCTION
	// commands that change them fail).
	Functions FunctionStore
}

// Conn is what the transactions need of a client connection (package
// node's client). A connection's methods are called by its own goroutine
// only.
type Conn interface {
	// Transaction is the connection's MULTI block and WATCH, kept by the
	// connection for its life.
	Transaction() *Transaction
	// Table is the connection's current table (SELECT changes it, also
	// while EXEC runs a block).
	Table() storage.TableID
	// Runner runs the proxy's parts of the connection's commands here.
	Runner() router.Runner
	// ID is the connection's id on this node (CLIENT ID).
	ID() uint64
}

// connOf is the connection a transaction command was sent on.
func connOf(c *command.Ctx) Conn { return c.Conn.(Conn) }

// Txns runs the node's transactions and multi-slot commands, and takes
// part in the units other nodes coordinate.
type Txns struct {
	self          meta.NodeID
	eng           *storage.Engine
	commits       func(storage.TableID) storage.Committer
	proxy         *router.Proxy
	links         *peer.Links
	raft          func() *replication.Raft
	shipper       func() *replication.Shipper
	cmds          *command.Table
	maxQueryBytes int64
	account       func(spec *command.Spec, began time.Time, c *command.Ctx, mark int)
	unknown       func(args [][]byte) string
	catchUp       func(b *router.Behind)
	classify      func(spec *command.Spec, args [][]byte) router.Command

	logger *slog.Logger
	// runner runs the scripts, cached by SHA1 in scripts (scripts.go).
	runner  *script.Runner
	scripts *script.Cache
	// functions are the FUNCTION libraries compiled here, from funcStore
	// (functions.go).
	functions functionRegistry
	funcStore FunctionStore
	scriptACL func(conn any, args [][]byte, log bool) *acl.Denied
	keyAccess func(conn any, args [][]byte) bool
	// running are the scripts running here (running.go); counts what
	// ScriptCounts reports.
	running runningScripts
	counts  scriptCounters

	// units is this node's part in units over several nodes; coord runs
	// its clients' (units.go).
	units *unit.Participant
	coord *unit.Coordinator
}

// New builds the node's transactions over s, with the unit participant
// and coordinator. The participant resolves nothing before Recover.
func New(s Services) *Txns {
	t := &Txns{
		self:          s.Self,
		eng:           s.Engine,
		commits:       s.Commits,
		proxy:         s.Proxy,
		links:         s.Links,
		raft:          s.Raft,
		shipper:       s.Shipper,
		cmds:          s.Commands,
		maxQueryBytes: s.MaxQueryBytes,
		account:       s.Account,
		unknown:       s.UnknownCommand,
		catchUp:       s.CatchUp,
		classify:      s.Classify,
		logger:        s.Logger,
		runner:        script.NewRunner(cjson.Open, cmsgpack.Open, bitop.Open, structlib.Open),
		scripts:       script.NewCache(scriptCacheBytes),
		funcStore:     s.Functions,
		scriptACL:     s.ScriptACL,
		keyAccess:     s.KeyAccess,
	}
	t.newUnits(s.Logger.With("component", "units"), s.Ready, s.UnitStepPause)
	t.running.threshold.Store(defaultBusyThreshold.Milliseconds())
	t.running.memory = cmp.Or(uint64(max(s.ScriptMemory, 0)), scriptMemoryLimit)
	return t
}

// Recover starts the participant's resolver of the unit parts pending
// here (unit.Participant.Recover): call it once, before serving, once the
// routing is in and raft mode runs.
func (t *Txns) Recover() { t.units.Recover() }

// Close stops the participant's resolvers, awaiting them, and releases
// its holds (unit.Participant.Close): call it once no peer connection
// serves it any more. A prepared part stays recorded for the next start.
func (t *Txns) Close() { t.units.Close() }

// Drain sends what the coordinator still owes its finished units (their
// queued UFORGETs) and stops it (unit.Coordinator.Close): call it once
// no client runs a unit, before the peer links close.
func (t *Txns) Drain() { t.coord.Close() }

// End forgets the connection's MULTI block and its WATCH (its watches
// leave the registry): the connection closes.
func (t *Txns) End(cl Conn) { t.endTransaction(cl) }
