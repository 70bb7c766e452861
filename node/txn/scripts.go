package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pika-node/pika-node/node/acl"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/node/script"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Scripts (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT) as units
// (docs/scripting.md): a script runs on the node its client is connected
// to (or, when one other node leads all its declared keys, on that node,
// to which the router forwards it), over one storage.Batch holding its
// slots here, or over the images of a unit across the nodes leading
// them. Its keys are found as it runs: a command naming a key the unit
// does not hold stops the run (nothing of it was written), and the unit
// runs again with that key added.

// scriptCacheBytes bounds a node's cache of script bodies.
const scriptCacheBytes = 64 << 20

// maxScriptRuns and maxScriptSlots bound the runs of a script whose keys
// keep growing, and the slots of its unit.
const (
	maxScriptRuns  = 8
	maxScriptSlots = 1024
)

// scriptFetchWait bounds the wait for peers' answers to USCRIPT.
const scriptFetchWait = 2 * time.Second

// errScriptGrows stops a run that named a key outside its unit: the unit
// runs again with it.
var errScriptGrows = errors.New("the script touched keys its unit does not hold")

// The errors a script's commands get, as Redis words them.
const (
	errScriptUnknown  = "-ERR Unknown Redis command called from script\r\n"
	errScriptArity    = "-ERR Wrong number of args calling Redis command from script\r\n"
	errScriptDenied   = "-ERR This Redis command is not allowed from script\r\n"
	errScriptReadOnly = "-ERR Write commands are not allowed from read-only scripts.\r\n"
)

// noScript are the commands Redis does not let scripts call (its
// noscript flag); for CLIENT, CONFIG and the other containers every
// subcommand of ours is among them.
var noScript = map[string]bool{
	"auth": true, "hello": true, "multi": true, "exec": true, "discard": true, "watch": true, "unwatch": true,
	"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true, "fcall": true, "fcall_ro": true,
	"script": true, "function": true, "client": true, "config": true, "acl": true, "latency": true,
	"module": true, "debug": true, "monitor": true, "shutdown": true, "save": true, "bgsave": true,
	"bgrewriteaof": true, "replicaof": true, "slaveof": true, "sync": true, "psync": true, "replconf": true,
	"role": true, "failover": true, "wait": true, "quit": true, "reset": true,
	"subscribe": true, "unsubscribe": true, "psubscribe": true, "punsubscribe": true,
	"ssubscribe": true, "sunsubscribe": true,
	"blpop": true, "brpop": true, "brpoplpush": true, "blmove": true, "bzpopmin": true, "bzpopmax": true,
}

// registerScripts adds the scripting commands to the command table.
func (t *Txns) registerScripts() {
	evalKeys := func(args [][]byte) ([][]byte, error) {
		n, err := scriptKeyCount(args)
		if err != nil {
			return nil, err
		}
		return args[3 : 3+n], nil
	}
	eval := func(name string, bySHA, readOnly bool) command.Spec {
		return command.Spec{
			Name: name, Arity: -3, Flags: command.OwnLocks | command.Stale, Keys: evalKeys,
			Cluster: router.Keyed,
			Handler: func(c *command.Ctx) error { return t.cmdEval(c, bySHA, readOnly) },
		}
	}
	t.cmds.Register(
		eval("eval", false, false),
		eval("evalsha", true, false),
		eval("eval_ro", false, true),
		eval("evalsha_ro", true, true),
		command.Spec{Name: "script", Arity: -2, Flags: command.Stale, Cluster: router.Server, Handler: t.cmdScript},
	)
}

// scriptKeyCount reads EVAL's numkeys, with Redis's errors.
func scriptKeyCount(args [][]byte) (int, error) {
	n, err := strconv.ParseInt(string(args[2]), 10, 64)
	switch {
	case err != nil:
		return 0, command.ErrNotInt
	case n < 0:
		return 0, command.Error("ERR Number of keys can't be negative")
	case n > int64(len(args)-3):
		return 0, command.Error("ERR Number of keys can't be greater than number of args")
	}
	return int(n), nil
}

// cmdEval runs EVAL, EVALSHA (bySHA) and their _RO forms.
func (t *Txns) cmdEval(c *command.Ctx, bySHA, readOnly bool) error {
	n, err := scriptKeyCount(c.Args)
	if err != nil {
		return err
	}
	s, err := t.findScript(c.Args[1], bySHA)
	if err != nil {
		return err
	}
	if readOnly && s.Shebang && !s.ReadOnly() {
		return errROWrites
	}
	return t.start(c, &scriptRun{script: s, name: s.SHA, readOnly: readOnly || s.ReadOnly()}, n)
}

// start runs a script or function call whose first n arguments after
// numkeys are its KEYS, the rest its ARGV.
func (t *Txns) start(c *command.Ctx, run *scriptRun, n int) error {
	t.counts.runs.Add(1)
	run.keys = router.CopyArgs(c.Args[3 : 3+n])
	run.args = router.CopyArgs(c.Args[3+n:])
	if b := c.UnitBatch(); b != nil {
		// Inside MULTI ... EXEC: the block's unit holds the declared
		// keys' slots; the script's commands join its batch.
		return t.runScriptIn(c, b, run, nil)
	}
	return t.runScript(c, run)
}

// findScript returns the script EVAL sends (compiled and cached here) or
// EVALSHA names (from this node's cache, else from a peer's).
func (t *Txns) findScript(arg []byte, bySHA bool) (*script.Script, error) {
	if !bySHA {
		if s := t.scripts.Get(script.SHA1Hex(arg)); s != nil {
			return s, nil
		}
		s, err := script.Compile(arg)
		if err != nil {
			return nil, scriptError(err)
		}
		t.scripts.Put(s)
		return s, nil
	}
	sha := strings.ToLower(string(arg))
	if len(sha) == 40 {
		if s := t.scripts.Get(sha); s != nil {
			return s, nil
		}
		if s := t.fetchScript(sha); s != nil {
			return s, nil
		}
	}
	return nil, command.Error("NOSCRIPT No matching script. Please use EVAL.")
}

// scriptError is the reply error of a script package error.
func scriptError(err error) error {
	var se script.Error
	if errors.As(err, &se) {
		return command.Error(se)
	}
	return err
}

// fetchScript asks every peer for the script sha at once and caches the
// first body that compiles to it; nil when none has it.
func (t *Txns) fetchScript(sha string) *script.Script {
	ctx, cancel := context.WithTimeout(context.Background(), scriptFetchWait)
	defer cancel()
	for _, f := range t.askPeers(peer.ScriptFetch{SHA: sha}) {
		raw, err := f.Wait(ctx, scriptFetchWait)
		if err != nil || peer.IsError(raw) {
			continue
		}
		body, err := peer.Bulk(raw)
		if err != nil || body == nil || script.SHA1Hex(body) != sha {
			continue
		}
		s, err := script.Compile(body)
		if err != nil {
			continue
		}
		t.scripts.Put(s)
		t.counts.fetched.Add(1)
		return s
	}
	return nil
}

// scriptRun is one EVAL or FCALL: its script or function, KEYS and ARGV,
// and what its runs found.
type scriptRun struct {
	script *script.Script
	fn     *script.Function
	// name is what its errors call it: the script's SHA1, the function's
	// name.
	name     string
	keys     [][]byte
	args     [][]byte
	readOnly bool
	// unit are the keys the unit holds, by slot: KEYS, then those that
	// stopped a run (errScriptGrows).
	unit map[storage.SlotID][][]byte
	// wrote: the run called a write command (read by SCRIPT KILL).
	wrote atomic.Bool
}

// addKey adds key (of slot s) to the unit's keys; it reports whether the
// key is new.
func (r *scriptRun) addKey(s storage.SlotID, key []byte) bool {
	if r.unit == nil {
		r.unit = map[storage.SlotID][][]byte{}
	}
	if slices.ContainsFunc(r.unit[s], func(k []byte) bool { return string(k) == string(key) }) {
		return false
	}
	r.unit[s] = append(r.unit[s], slices.Clone(key))
	return true
}

func (r *scriptRun) slots() []storage.SlotID {
	out := make([]storage.SlotID, 0, len(r.unit))
	for s := range r.unit {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// runScript runs a script outside MULTI as one unit: here when this node
// leads every slot of its keys, else across the nodes leading them;
// again with more keys while its runs find keys it did not declare.
func (t *Txns) runScript(c *command.Ctx, run *scriptRun) error {
	table := c.Table
	var tb *router.Table
	for _, k := range run.keys {
		run.addKey(router.SlotOf(k, c.Slots), k)
	}
	deadline := time.Now().Add(unitRouteWait)
	var busyAt string
	for runs, attempt := 0, 0; ; attempt++ {
		snap := t.proxy.Routing()
		var ok bool
		if tb, ok = snap.Table(table); !ok {
			return command.Error(router.DroppedTable(table))
		}
		slots := run.slots()
		leader, msg, wait := unitPlace(snap, tb, slots, !run.readOnly)
		var err error
		switch {
		case wait:
			if time.Now().After(deadline) {
				return command.Error("CLUSTERDOWN the slots of the script are moving; retry")
			}
			t.proxy.AwaitNewer(snap.Revision, time.Until(deadline))
			continue
		case msg == "" && leader == snap.Self:
			err = t.runScriptHere(c, tb, slots, run)
		case msg == "" || msg == router.ErrCrossSlot:
			if down := unitDown(snap, tb, slots); down != "" {
				return command.Error(down)
			}
			var retry bool
			retry, err = t.runScriptAcross(c, snap, tb, slots, run, attempt, &busyAt)
			if retry {
				if time.Now().After(deadline) {
					return command.Error("CLUSTERDOWN the slots of the script stayed busy; retry")
				}
				continue
			}
		default:
			return command.Error(msg)
		}
		if !errors.Is(err, errScriptGrows) {
			return err
		}
		t.counts.reruns.Add(1)
		runs++
		if runs >= maxScriptRuns || len(run.unit) > maxScriptSlots {
			return command.Error("ERR the script touched keys it did not declare too many times")
		}
		deadline = time.Now().Add(unitRouteWait)
	}
}

// runScriptHere runs a script over slots of tb, which this node leads,
// under their locks, and commits what it wrote.
func (t *Txns) runScriptHere(c *command.Ctx, tb *router.Table, slots []storage.SlotID, run *scriptRun) error {
	b := t.eng.NewBatch(t.commits)
	if err := b.Hold(tb.ID, slots); err != nil {
		b.Release()
		return err
	}
	start := markOf(c)
	if err := t.runScriptIn(c, b, run, slots); err != nil {
		b.Release()
		start.undo(c)
		return err
	}
	if err := b.Commit(); err != nil {
		start.undo(c)
		return err
	}
	return nil
}

// runScriptAcross runs a script over slots of several nodes, as a unit
// across them (runUnitAcross has the same shape for a MULTI block):
// retry says nothing ran and the caller should route again.
func (t *Txns) runScriptAcross(c *command.Ctx, snap *router.Snapshot, tb *router.Table, slots []storage.SlotID, run *scriptRun, attempt int, busyAt *string) (retry bool, err error) {
	shares, ok := t.sharesOf(snap, tb, slots, run.unit, nil)
	if !ok {
		return true, nil
	}
	start := markOf(c)
	eval := func(images map[storage.SlotID]*storage.SlotImage) ([]storage.SlotEffect, error) {
		start.undo(c)
		b := t.eng.NewBatch(nil)
		defer b.Release()
		for _, im := range images {
			if err := b.UseImage(im); err != nil {
				return nil, err
			}
		}
		if err := t.runScriptIn(c, b, run, slots); err != nil {
			return nil, err
		}
		return b.Effects(), nil
	}
	err = t.coord.RunWaitingOn(context.Background(), tb.ID, shares, eval, *busyAt)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errScriptGrows):
		start.undo(c)
		return false, err
	}
	start.undo(c)
	return t.afterUnit(err, snap, attempt, busyAt, "the script's unit")
}

// runScriptIn runs a script over batch b, whose slots the unit holds, and
// appends its reply to c.R. slots are the slots b holds (nil: inside a
// MULTI block, whose batch answers for the slots it holds); a command
// naming a key of any other slot, or (on an image) a key the image does
// not cover, stops the run with errScriptGrows after adding the key.
func (t *Txns) runScriptIn(c *command.Ctx, b *storage.Batch, run *scriptRun, slots []storage.SlotID) error {
	cc := command.Ctx{Engine: t.eng, Table: c.Table, Slots: c.Slots, Cursors: c.Cursors, Conn: c.Conn, Commits: c.Commits, Events: c.Events, Config: c.Config, Script: true}
	var tmp resp.Reply
	cc.R = &tmp
	call := func(args [][]byte, resp3 bool) ([]byte, error) {
		tmp.Reset()
		tmp.Resp3 = resp3
		spec := t.cmds.Lookup(args[0])
		switch {
		case noScript[strings.ToLower(string(args[0]))]:
			return []byte(errScriptDenied), nil
		case spec == nil:
			return []byte(errScriptUnknown), nil
		case !spec.ArityOK(len(args)):
			return []byte(errScriptArity), nil
		case t.scriptACL != nil:
			if d := t.scriptACL(c.Conn, args, true); d != nil {
				return []byte("-" + scriptDenied(d) + "\r\n"), nil
			}
		}
		switch {
		case spec.Flags&command.Write != 0 && run.readOnly:
			return []byte(errScriptReadOnly), nil
		}
		cc.Args = args
		switch spec.Cluster {
		case router.Server:
			if spec.Name == "select" {
				return []byte("-ERR SELECT is not supported inside scripts by pika-node\r\n"), nil
			}
			command.Run(spec, &cc)
			return tmp.B, nil
		case router.TableWide:
			return []byte("-ERR commands over the whole database are not supported inside scripts by pika-node\r\n"), nil
		}
		if spec.Elsewhere != nil && spec.Elsewhere(args, c.Table) {
			return []byte("-ERR commands writing another database are not supported inside scripts by pika-node\r\n"), nil
		}
		if slots != nil {
			keys, err := spec.KeysOf(args)
			if err == nil {
				grows := false
				for _, k := range keys {
					s := router.SlotOf(k, c.Slots)
					if !slices.Contains(slots, s) || !b.Covers(s, k) {
						grows = run.addKey(s, k) || grows
					}
				}
				if grows {
					return nil, errScriptGrows
				}
			}
		}
		if spec.Flags&command.Write != 0 {
			run.wrote.Store(true)
		}
		command.RunInUnit(spec, &cc, b)
		return tmp.B, nil
	}
	ctx, end := t.startRun(run, c.Table, slots)
	defer end()
	env := script.Env{
		ACLCheck: func(args [][]byte) (known, allowed bool) {
			if t.cmds.Lookup(args[0]) == nil {
				return false, false
			}
			return true, t.scriptACL == nil || t.scriptACL(c.Conn, args, false) == nil
		},
		Name: run.name,
		Keys: run.keys,
		Args: run.args,
		Call: call,
		Log:  t.scriptLog,
		Ctx:  ctx,
	}
	if run.fn != nil {
		return t.runner.RunFunction(run.fn, &env, c.R)
	}
	return t.runner.Run(run.script, &env, c.R)
}

// scriptDenied is the error redis.call answers for a command the
// script's user may not run, as Redis 7.0 words it.
func scriptDenied(d *acl.Denied) string {
	switch d.Reason {
	case acl.ReasonKey:
		return "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
	case acl.ReasonChannel:
		return "ERR The user executing the script can't publish to the channel mentioned in the command"
	}
	return "ERR The user executing the script can't run this command or subcommand"
}

// scriptLog writes a redis.log line to the node's log.
func (t *Txns) scriptLog(level script.Level, msg string) {
	l := slog.LevelInfo
	switch level {
	case script.LogDebug, script.LogVerbose:
		l = slog.LevelDebug
	case script.LogWarning:
		l = slog.LevelWarn
	}
	t.logger.Log(context.Background(), l, msg, "source", "script")
}

// cmdScript is SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP.
func (t *Txns) cmdScript(c *command.Ctx) error {
	sub := strings.ToLower(string(c.Args[1]))
	wrongArgs := command.Error("ERR wrong number of arguments for 'script|" + sub + "' command")
	switch sub {
	case "load":
		if len(c.Args) != 3 {
			return wrongArgs
		}
		s, err := t.findScript(c.Args[2], false)
		if err != nil {
			return err
		}
		c.R.BulkString(s.SHA)
	case "exists":
		if len(c.Args) < 3 {
			return wrongArgs
		}
		c.R.Array(len(c.Args) - 2)
		for _, a := range c.Args[2:] {
			sha := strings.ToLower(string(a))
			if t.scripts.Get(sha) != nil || (len(sha) == 40 && t.fetchScript(sha) != nil) {
				c.R.Int(1)
			} else {
				c.R.Int(0)
			}
		}
	case "flush":
		if len(c.Args) > 3 {
			return wrongArgs
		}
		if len(c.Args) == 3 {
			if mode := strings.ToLower(string(c.Args[2])); mode != "async" && mode != "sync" {
				return command.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
			}
		}
		t.scripts.Flush()
		t.flushPeers()
		c.R.OK()
	case "kill":
		if len(c.Args) != 2 {
			return wrongArgs
		}
		return t.killEverywhere(c, true)
	case "help":
		if len(c.Args) != 2 {
			return wrongArgs
		}
		help := []string{
			"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"EXISTS <sha1> [<sha1> ...]",
			"    Return information about the existence of the scripts in the script cache.",
			"FLUSH [ASYNC|SYNC]",
			"    Flush the Lua scripts cache. Very dangerous on replicas.",
			"    When called without the optional mode argument, the behavior is determined by the",
			"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
			"    * ASYNC: Asynchronously flush the scripts cache.",
			"    * SYNC: Synchronously flush the scripts cache.",
			"KILL",
			"    Kill the currently executing Lua script.",
			"LOAD <script>",
			"    Load a script into the scripts cache without executing it.",
			"HELP",
			"    Prints this help.",
		}
		c.R.SimpleArray(help)
	default:
		return command.Error(fmt.Sprintf("ERR unknown subcommand '%s'. Try SCRIPT HELP.", truncateArg(c.Args[1])))
	}
	return nil
}

func truncateArg(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// flushPeers sends USCRIPTFLUSH to every other live node and waits for
// their answers (bounded): SCRIPT FLUSH empties the cluster's cache.
func (t *Txns) flushPeers() { t.broadcast(peer.ScriptFlush{}) }

// askPeers sends req to every other live node at once and returns their
// future replies.
func (t *Txns) askPeers(req peer.Request) []*peer.Future {
	snap := t.proxy.Routing()
	if snap == nil {
		return nil
	}
	var futures []*peer.Future
	for _, info := range snap.Nodes() {
		if info.ID == t.self {
			continue
		}
		f := t.links.Do(info.Peer, peer.ClassUnit, 0, req)
		f.Flush()
		futures = append(futures, f)
	}
	return futures
}

// broadcast sends req to every other live node at once and waits for
// their answers, at most scriptFetchWait: their replies, nil for a node
// that did not answer.
func (t *Txns) broadcast(req peer.Request) [][]byte {
	futures := t.askPeers(req)
	ctx, cancel := context.WithTimeout(context.Background(), scriptFetchWait)
	defer cancel()
	replies := make([][]byte, len(futures))
	for i, f := range futures {
		replies[i], _ = f.Wait(ctx, scriptFetchWait)
	}
	return replies
}

// serveScriptFetch answers USCRIPT: the body of a script cached here.
func (t *Txns) serveScriptFetch(c *command.Ctx, req peer.ScriptFetch) {
	if s := t.scripts.Get(req.SHA); s != nil {
		c.R.BulkString(s.Body)
		return
	}
	c.R.B = append(c.R.B, "$-1\r\n"...)
}
