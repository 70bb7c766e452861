package txn

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/rdb"
	"github.com/pika-node/pika-node/node/script"
	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/router"
)

// FUNCTION and FCALL (docs/scripting.md, "Functions"): the cluster's
// libraries live in etcd, in one record (meta.Layout.Functions), which
// FUNCTION LOAD, DELETE, FLUSH and RESTORE change by compare-and-swap;
// every node compiles what its metadata watch delivers (SetFunctions),
// and a node that answers FUNCTION LOAD has the library before it
// answers. FCALL runs a function as EVAL runs a script.

// FunctionStore is where the cluster's FUNCTION libraries are kept.
type FunctionStore interface {
	// Read returns the libraries' record.
	Read(ctx context.Context) (meta.FunctionsRecord, error)
	// Write replaces the libraries with libs if their record is still at
	// (modification) revision rev; ok false when it changed since. It
	// returns the store's revision after the write.
	Write(ctx context.Context, libs meta.Functions, rev int64) (newRev int64, ok bool, err error)
}

// functionStoreWait bounds a FUNCTION command's reads and writes of the
// store.
const functionStoreWait = 5 * time.Second

// functionRegistry is this node's compiled libraries, as of a revision of
// the store (a metadata State's, or a read's or write's).
type functionRegistry struct {
	mu   sync.Mutex
	rev  int64
	libs map[string]*script.Library
	fns  map[string]*script.Function
}

// SetFunctions makes the node's libraries those of a metadata State (libs
// at its revision rev), unless the node has them as of a newer revision
// (it wrote or read them itself since). Libraries whose code did not
// change keep their compiled form.
func (t *Txns) SetFunctions(libs meta.Functions, rev int64) {
	t.installFunctions(libs, rev)
}

func (t *Txns) installFunctions(libs meta.Functions, rev int64) {
	r := &t.functions
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev < r.rev {
		return
	}
	next := map[string]*script.Library{}
	fns := map[string]*script.Function{}
	for name, code := range libs {
		lib := r.libs[name]
		if lib == nil || lib.Code != code {
			var err error
			if lib, err = t.runner.CompileLibrary([]byte(code)); err != nil {
				t.logger.Error("a stored FUNCTION library does not load", "library", name, "err", err)
				continue
			}
		}
		next[name] = lib
		for _, f := range lib.Functions {
			fns[f.Name] = f
		}
	}
	r.rev, r.libs, r.fns = rev, next, fns
}

// function returns the function named name; on a miss it reads the store
// once (the watch may not have delivered a library just loaded through
// another node).
func (t *Txns) function(name string) *script.Function {
	r := &t.functions
	r.mu.Lock()
	f := r.fns[name]
	r.mu.Unlock()
	if f != nil || t.funcStore == nil {
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), functionStoreWait)
	defer cancel()
	rec, err := t.funcStore.Read(ctx)
	if err != nil {
		return nil
	}
	t.installFunctions(rec.Libraries, rec.Revision)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fns[name]
}

// libraries returns the node's libraries, sorted by name.
func (t *Txns) libraries() []*script.Library {
	r := &t.functions
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Collect(maps.Values(r.libs))
	slices.SortFunc(out, func(a, b *script.Library) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// changeFunctions applies change to the stored libraries by
// compare-and-swap, retrying while another node changes them meanwhile,
// and installs the result here. change returns the next libraries, or an
// error reply (nothing is written).
func (t *Txns) changeFunctions(change func(cur meta.Functions) (meta.Functions, error)) error {
	if t.funcStore == nil {
		return command.Error("ERR functions are not available: no metadata store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), functionStoreWait)
	defer cancel()
	for {
		rec, err := t.funcStore.Read(ctx)
		if err != nil {
			return command.Error("CLUSTERDOWN reading the function libraries: " + err.Error())
		}
		next, err := change(rec.Libraries)
		if err != nil {
			return err
		}
		newRev, ok, err := t.funcStore.Write(ctx, next, rec.ModRevision)
		if err != nil {
			return command.Error("CLUSTERDOWN writing the function libraries: " + err.Error())
		}
		if ok {
			t.installFunctions(next, newRev)
			t.announceFunctions(newRev)
			return nil
		}
	}
}

// announceFunctions has every other live node install the libraries as
// of revision rev before it returns (UFUNCTIONS; bounded: a node that
// does not answer gets them by its metadata watch).
func (t *Txns) announceFunctions(rev int64) {
	t.broadcast(peer.FunctionsAt{Revision: rev})
}

// serveFunctionsAt answers UFUNCTIONS: the libraries here are as of the
// revision asked at least, read from the store when they were older.
func (t *Txns) serveFunctionsAt(c *command.Ctx, req peer.FunctionsAt) {
	r := &t.functions
	r.mu.Lock()
	have := r.rev
	r.mu.Unlock()
	if have < req.Revision && t.funcStore != nil {
		ctx, cancel := context.WithTimeout(context.Background(), functionStoreWait)
		rec, err := t.funcStore.Read(ctx)
		cancel()
		if err != nil {
			c.R.Error("ERR reading the function libraries: " + err.Error())
			return
		}
		t.installFunctions(rec.Libraries, rec.Revision)
	}
	c.R.OK()
}

// compiled returns the library of code named name: the node's compiled
// one when it is the same code, else compiled now.
func (t *Txns) compiled(name, code string) (*script.Library, error) {
	r := &t.functions
	r.mu.Lock()
	lib := r.libs[name]
	r.mu.Unlock()
	if lib != nil && lib.Code == code {
		return lib, nil
	}
	return t.runner.CompileLibrary([]byte(code))
}

// withLibrary returns cur with lib added (replacing one of its name when
// replace), or Redis's error for a library or function that exists.
func (t *Txns) withLibrary(cur meta.Functions, lib *script.Library, replace bool) (meta.Functions, error) {
	if _, ok := cur[lib.Name]; ok && !replace {
		return nil, command.Error("ERR Library '" + lib.Name + "' already exists")
	}
	for name, code := range cur {
		if name == lib.Name {
			continue
		}
		other, err := t.compiled(name, code)
		if err != nil {
			continue // a library that does not load registers nothing
		}
		for _, f := range lib.Functions {
			if slices.ContainsFunc(other.Functions, func(g *script.Function) bool { return g.Name == f.Name }) {
				return nil, command.Error("ERR Function " + f.Name + " already exists")
			}
		}
	}
	next := maps.Clone(cur)
	if next == nil {
		next = meta.Functions{}
	}
	next[lib.Name] = lib.Code
	return next, nil
}

// registerFunctions adds FCALL, FCALL_RO and FUNCTION to the command
// table.
func (t *Txns) registerFunctions() {
	fcallKeys := func(args [][]byte) ([][]byte, error) {
		n, err := functionKeyCount(args)
		if err != nil {
			return nil, err
		}
		return args[3 : 3+n], nil
	}
	fcall := func(name string, readOnly bool) command.Spec {
		return command.Spec{
			Name: name, Arity: -3, Flags: command.OwnLocks | command.Stale, Keys: fcallKeys,
			Cluster: router.Keyed,
			Handler: func(c *command.Ctx) error { return t.cmdFcall(c, readOnly) },
		}
	}
	t.cmds.Register(
		fcall("fcall", false),
		fcall("fcall_ro", true),
		command.Spec{Name: "function", Arity: -2, Flags: command.Stale, Cluster: router.Server, Handler: t.cmdFunction},
	)
}

// functionKeyCount reads FCALL's numkeys, with Redis's errors.
func functionKeyCount(args [][]byte) (int, error) {
	n, err := strconv.ParseInt(string(args[2]), 10, 64)
	switch {
	case err != nil:
		return 0, command.Error("ERR Bad number of keys provided")
	case n < 0:
		return 0, command.Error("ERR Number of keys can't be negative")
	case n > int64(len(args)-3):
		return 0, command.Error("ERR Number of keys can't be greater than number of args")
	}
	return int(n), nil
}

// errROWrites answers a *_RO call of a script or function that may write.
const errROWrites command.Error = "ERR Can not execute a script with write flag using *_ro command."

func (t *Txns) cmdFcall(c *command.Ctx, readOnly bool) error {
	n, err := functionKeyCount(c.Args)
	if err != nil {
		return err
	}
	f := t.function(string(c.Args[1]))
	if f == nil {
		return command.Error("ERR Function not found")
	}
	if readOnly && !f.ReadOnly() {
		return errROWrites
	}
	return t.start(c, &scriptRun{fn: f, name: f.Name, readOnly: readOnly || f.ReadOnly()}, n)
}

// cmdFunction is FUNCTION LOAD / DELETE / FLUSH / LIST / DUMP / RESTORE /
// STATS / KILL / HELP.
func (t *Txns) cmdFunction(c *command.Ctx) error {
	sub := strings.ToLower(string(c.Args[1]))
	args := c.Args[2:]
	wrongArgs := command.Error("ERR wrong number of arguments for 'function|" + sub + "' command")
	switch sub {
	case "load":
		replace := false
		if len(args) == 2 && strings.EqualFold(string(args[0]), "replace") {
			replace, args = true, args[1:]
		}
		if len(args) != 1 {
			if len(args) == 0 {
				return wrongArgs
			}
			return command.Error("ERR Unknown option given: " + string(args[0]))
		}
		lib, err := t.runner.CompileLibrary(args[0])
		if err != nil {
			return scriptError(err)
		}
		if err := t.changeFunctions(func(cur meta.Functions) (meta.Functions, error) {
			return t.withLibrary(cur, lib, replace)
		}); err != nil {
			return err
		}
		c.R.BulkString(lib.Name)
	case "delete":
		if len(args) != 1 {
			return wrongArgs
		}
		name := string(args[0])
		if err := t.changeFunctions(func(cur meta.Functions) (meta.Functions, error) {
			if _, ok := cur[name]; !ok {
				return nil, command.Error("ERR Library not found")
			}
			next := maps.Clone(cur)
			delete(next, name)
			return next, nil
		}); err != nil {
			return err
		}
		c.R.OK()
	case "flush":
		if len(args) > 1 {
			return wrongArgs
		}
		if len(args) == 1 {
			if mode := strings.ToLower(string(args[0])); mode != "async" && mode != "sync" {
				return command.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
			}
		}
		if err := t.changeFunctions(func(meta.Functions) (meta.Functions, error) { return meta.Functions{}, nil }); err != nil {
			return err
		}
		c.R.OK()
	case "list":
		return t.functionList(c, args)
	case "stats":
		if len(args) != 0 {
			return wrongArgs
		}
		libs := t.libraries()
		nfns := 0
		for _, l := range libs {
			nfns += len(l.Functions)
		}
		c.R.Map(2)
		c.R.BulkString("running_script")
		c.R.Null()
		c.R.BulkString("engines")
		c.R.Map(1)
		c.R.BulkString("LUA")
		c.R.Map(2)
		c.R.BulkString("libraries_count")
		c.R.Int(int64(len(libs)))
		c.R.BulkString("functions_count")
		c.R.Int(int64(nfns))
	case "kill":
		if len(args) != 0 {
			return wrongArgs
		}
		return t.killEverywhere(c, false)
	case "dump", "restore":
		return t.functionDumpRestore(c, sub, args)
	case "help":
		if len(args) != 0 {
			return wrongArgs
		}
		c.R.SimpleArray(functionHelp)
	default:
		return command.Error("ERR unknown subcommand '" + truncateArg(c.Args[1]) + "'. Try FUNCTION HELP.")
	}
	return nil
}

// functionList is FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
func (t *Txns) functionList(c *command.Ctx, args [][]byte) error {
	withCode := false
	var pattern []byte
	for i := 0; i < len(args); i++ {
		switch a := strings.ToLower(string(args[i])); {
		case a == "withcode" && !withCode:
			withCode = true
		case a == "libraryname" && pattern == nil:
			if i+1 >= len(args) {
				return command.Error("ERR library name argument was not given")
			}
			pattern = args[i+1]
			i++
		default:
			return command.Error("ERR Unknown argument " + string(args[i]))
		}
	}
	var libs []*script.Library
	for _, l := range t.libraries() {
		if pattern == nil || command.GlobMatch(pattern, []byte(l.Name)) {
			libs = append(libs, l)
		}
	}
	c.R.Array(len(libs))
	for _, l := range libs {
		n := 3
		if withCode {
			n = 4
		}
		c.R.Map(n)
		c.R.BulkString("library_name")
		c.R.BulkString(l.Name)
		c.R.BulkString("engine")
		c.R.BulkString("LUA")
		c.R.BulkString("functions")
		c.R.Array(len(l.Functions))
		for _, f := range l.Functions {
			c.R.Map(3)
			c.R.BulkString("name")
			c.R.BulkString(f.Name)
			c.R.BulkString("description")
			if f.Description == "" {
				c.R.Null()
			} else {
				c.R.BulkString(f.Description)
			}
			c.R.BulkString("flags")
			c.R.Set(len(f.FlagNames))
			for _, fl := range f.FlagNames {
				c.R.Simple(fl)
			}
		}
		if withCode {
			c.R.BulkString("library_code")
			c.R.BulkString(l.Code)
		}
	}
	return nil
}

var functionHelp = []string{
	"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"LOAD [REPLACE] <FUNCTION CODE>",
	"    Create a new library with the given library name and code.",
	"DELETE <LIBRARY NAME>",
	"    Delete the given library.",
	"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
	"    Return general information on all the libraries:",
	"    * Library name",
	"    * The engine used to run the Library",
	"    * Library description",
	"    * Functions list",
	"    * Library code (if WITHCODE is given)",
	"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
	"STATS",
	"    Return information about the current function running:",
	"    * Function name",
	"    * Command used to run the function",
	"    * Duration in MS that the function is running",
	"    If no function is running, return nil",
	"    In addition, returns a list of available engines.",
	"KILL",
	"    Kill the current running function.",
	"FLUSH [ASYNC|SYNC]",
	"    Delete all the libraries.",
	"    When called without the optional mode argument, the behavior is determined by the",
	"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
	"    * ASYNC: Asynchronously flush the libraries.",
	"    * SYNC: Synchronously flush the libraries.",
	"DUMP",
	"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
	"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
	"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
	"    control how to handle existing libraries (default APPEND):",
	"    * FLUSH: delete all existing libraries.",
	"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
	"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
	"      libraries with the new libraries (notice that even on this option there is a chance of failure",
	"      in case of functions name collision with another library).",
	"HELP",
	"    Prints this help.",
}

// functionDumpRestore is FUNCTION DUMP and FUNCTION RESTORE, in
// redis-server 7.0's payload format (package rdb): payloads move both
// ways between it and pika-node.
func (t *Txns) functionDumpRestore(c *command.Ctx, sub string, args [][]byte) error {
	if sub == "dump" {
		if len(args) != 0 {
			return command.Error("ERR wrong number of arguments for 'function|dump' command")
		}
		libs := t.libraries()
		codes := make([]string, len(libs))
		for i, l := range libs {
			codes[i] = l.Code
		}
		c.R.Bulk(rdb.EncodeFunctions(codes))
		return nil
	}
	if len(args) == 0 {
		return command.Error("ERR wrong number of arguments for 'function|restore' command")
	}
	if len(args) > 2 {
		return command.Error("ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.")
	}
	policy := "append"
	if len(args) == 2 {
		policy = strings.ToLower(string(args[1]))
		if policy != "flush" && policy != "append" && policy != "replace" {
			return command.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
		}
	}
	codes, decodeErr := rdb.DecodeFunctions(args[0])
	// Redis compiles each library as it reads it: one that does not
	// compile answers before a fault further on.
	var restored []*script.Library
	for _, code := range codes {
		lib, err := t.runner.CompileLibrary([]byte(code))
		if err != nil {
			return scriptError(err)
		}
		if slices.ContainsFunc(restored, func(l *script.Library) bool { return l.Name == lib.Name }) {
			return command.Error("ERR Library " + lib.Name + " already exists")
		}
		restored = append(restored, lib)
	}
	var re rdb.Error
	if errors.As(decodeErr, &re) {
		return command.Error(re)
	} else if decodeErr != nil {
		return decodeErr
	}
	if err := t.changeFunctions(func(cur meta.Functions) (meta.Functions, error) {
		next := meta.Functions{}
		if policy != "flush" {
			next = maps.Clone(cur)
		}
		for _, lib := range restored {
			if _, ok := next[lib.Name]; ok && policy == "append" {
				return nil, command.Error("ERR Library " + lib.Name + " already exists")
			}
			delete(next, lib.Name)
		}
		for _, lib := range restored {
			var err error
			if next, err = t.withLibrary(next, lib, false); err != nil {
				return nil, err
			}
		}
		return next, nil
	}); err != nil {
		return err
	}
	c.R.OK()
	return nil
}
