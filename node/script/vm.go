package script

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/pika-node/pika-node/node/resp"
)

// Level is a redis.log level.
type Level int

// The levels of redis.log, as redis.LOG_DEBUG ... redis.LOG_WARNING.
const (
	LogDebug Level = iota
	LogVerbose
	LogNotice
	LogWarning
)

// Env is what one run of a script is given.
type Env struct {
	// Name is what errors call the script ("script: <name>"): its SHA1,
	// or a function's name.
	Name string
	// Keys and Args are KEYS and ARGV.
	Keys, Args [][]byte
	// Call runs one of the script's commands (redis.call, redis.pcall)
	// and returns its reply, encoded in RESP3 when resp3 (the script's
	// redis.setresp), else RESP2. A non-nil error stops the run: the
	// script cannot catch it, and Run returns it with no reply.
	Call func(args [][]byte, resp3 bool) ([]byte, error)
	// ACLCheck answers redis.acl_check_cmd: whether the command exists,
	// and whether the script's user may run it (nil: every command may).
	ACLCheck func(args [][]byte) (known, allowed bool)
	// Log writes a redis.log line (nil: dropped).
	Log func(level Level, msg string)
	// Ctx, when done, stops the run as a Call error would (Run returns
	// context.Cause(Ctx)); nil: never.
	Ctx context.Context
}

// Interrupt is the cause of Env.Ctx that stops a script as an error it
// raised where it was (SCRIPT KILL, the memory bound): Run then answers
// "ERR <Reason> script: <name>, on @<source>:<line>." instead of
// returning a stop.
type Interrupt struct{ Reason string }

func (i *Interrupt) Error() string { return i.Reason }

// Runner runs scripts on a pool of sandboxed Lua states. Safe for
// concurrent use: each run has a state of its own.
type Runner struct {
	libs []Opener
	pool sync.Pool
	// rand is math.random's generator: one sequence for every script the
	// runner runs, as a redis-server has one (it is not reseeded per
	// script: scripts are replicated by their effects).
	randMu sync.Mutex
	rand   lrand48
}

// Opener opens one of the Lua libraries Redis loads in a new state: it
// sets its global (cjson, cmsgpack, bit, struct), which the state then
// makes read-only.
type Opener func(L *lua.LState)

// NewRunner returns a Runner whose states have Lua's libraries, the redis
// table and libs. No state is made before a run needs one.
func NewRunner(libs ...Opener) *Runner {
	r := &Runner{libs: libs}
	r.rand.seed(0)
	return r
}

// state is one sandboxed Lua state and the run it serves.
type state struct {
	L *lua.LState
	// globals is the table behind the read-only _G the script sees.
	globals *lua.LTable
	// env is the read-only _G: the environment of the scripts' functions.
	env *lua.LTable
	// handler is the error handler a run is called under: it records
	// where an error was raised.
	handler *lua.LFunction
	// fns are this state's closures of the scripts it ran, by SHA1.
	fns map[string]*lua.LFunction
	run *run
	// runner owns math.random's generator.
	runner *Runner
	// redisLib is the redis table behind its read-only proxy.
	redisLib *lua.LTable
	// libs are the libraries loaded in this state, with their
	// functions' closures (RunFunction).
	libs map[string]*loadedLibrary
	// registering collects what redis.register_function registers while
	// a library of registeringLib loads (nil otherwise).
	registering    *[]registered
	registeringLib *Library
}

// loadedLibrary is a library as loaded in one state.
type loadedLibrary struct {
	lib       *Library
	callbacks map[string]*lua.LFunction
}

// run is one run's state.
type run struct {
	env   *Env
	resp3 bool  // redis.setresp(3)
	stop  error // a Call error or the context's: the run is unwinding
	// cancel stops the state's main loop at its next instruction.
	cancel context.CancelFunc
}

// maxFns bounds the closures a state keeps; past it they are dropped
// (they are rebuilt from the Script's compiled form when next run).
const maxFns = 1024

// Run runs s under env and appends its reply to out, in out's protocol.
// An error is a stop (Env.Call's error, or Env.Ctx's cause): nothing was
// appended. A script's own errors are replies, not errors.
func (r *Runner) Run(s *Script, env *Env, out *resp.Reply) error {
	return r.withState(func(st *state) error { return st.runScript(s, env, out) })
}

// withState runs fn on a state of the pool, or a new one.
func (r *Runner) withState(fn func(st *state) error) error {
	st, _ := r.pool.Get().(*state)
	if st == nil {
		st = newState(r)
	}
	if err := fn(st); err != nil {
		// A stopped run unwound through whatever the script was doing:
		// the state is not reused.
		st.L.Close()
		return err
	}
	r.pool.Put(st)
	return nil
}

func (st *state) runScript(s *Script, env *Env, out *resp.Reply) error {
	return st.execute(env, out, func(L *lua.LState) (*lua.LFunction, []lua.LValue, error) {
		st.globals.RawSetString("KEYS", stringArray(L, env.Keys))
		st.globals.RawSetString("ARGV", stringArray(L, env.Args))
		fn := st.fns[s.SHA]
		if fn == nil {
			if len(st.fns) >= maxFns {
				clear(st.fns)
			}
			fn = L.NewFunctionFromProto(s.proto)
			fn.Env = st.env
			st.fns[s.SHA] = fn
		}
		return fn, nil, nil
	})
}

// RunFunction runs fn (FCALL) under env and appends its reply to out, as
// Run does a script: its callback gets KEYS and ARGV as its arguments.
func (r *Runner) RunFunction(fn *Function, env *Env, out *resp.Reply) error {
	return r.withState(func(st *state) error { return st.runFunction(fn, env, out) })
}

func (st *state) runFunction(f *Function, env *Env, out *resp.Reply) error {
	return st.execute(env, out, func(L *lua.LState) (*lua.LFunction, []lua.LValue, error) {
		st.globals.RawSetString("KEYS", lua.LNil) // a function's are its arguments
		st.globals.RawSetString("ARGV", lua.LNil)
		loaded := st.libs[f.Library.Name]
		if loaded == nil || loaded.lib != f.Library {
			// The library as this state has it: loaded here once (its
			// local state is this state's own).
			regs, err := st.loadLibrary(f.Library)
			if err != nil {
				return nil, nil, err
			}
			loaded = &loadedLibrary{lib: f.Library, callbacks: map[string]*lua.LFunction{}}
			for _, r := range regs {
				loaded.callbacks[r.fn.Name] = r.callback
			}
			st.libs[f.Library.Name] = loaded
		}
		cb := loaded.callbacks[f.Name]
		if cb == nil {
			return nil, nil, Error("ERR Function not found")
		}
		return cb, []lua.LValue{stringArray(L, env.Keys), stringArray(L, env.Args)}, nil
	})
}

// execute runs the function prepare returns, with its arguments, as one
// run under env, and appends its reply to out (see Run).
func (st *state) execute(env *Env, out *resp.Reply, prepare func(L *lua.LState) (*lua.LFunction, []lua.LValue, error)) error {
	L := st.L
	parent := env.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	rn := &run{env: env, cancel: cancel}
	st.run = rn
	defer func() { st.run = nil }()
	L.SetContext(ctx)
	defer L.RemoveContext()

	fn, args, err := prepare(L)
	if err != nil {
		var se Error
		if errors.As(err, &se) {
			out.Error(string(se))
			return nil
		}
		return err
	}
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	callErr := L.PCall(len(args), 1, st.handler)
	var interrupt *Interrupt
	if rn.stop == nil && ctx.Err() != nil {
		rn.stop = context.Cause(parent)
		if rn.stop == nil {
			rn.stop = ctx.Err()
		}
		if errors.As(rn.stop, &interrupt) && callErr != nil {
			// Stopped as if it raised the error where it was.
			rn.stop = nil
			var apiErr *lua.ApiError
			if errors.As(callErr, &apiErr) {
				if t, ok := apiErr.Object.(*lua.LTable); ok {
					t.RawSetString("err", lua.LString("ERR "+interrupt.Reason))
				}
			}
		}
	}
	if rn.stop != nil {
		L.SetTop(0)
		return rn.stop
	}
	if callErr != nil {
		var apiErr *lua.ApiError
		var obj lua.LValue = lua.LString(callErr.Error())
		if errors.As(callErr, &apiErr) {
			obj = apiErr.Object
		}
		L.SetTop(0)
		out.Error(raisedMessage(obj, env.Name))
		return nil
	}
	v := L.Get(-1)
	L.SetTop(0)
	writeValue(out, L, v, rn.resp3, 0)
	return nil
}

// raisedMessage is the reply to an error a script raised and did not
// catch: the handler made it a table {err=, source=, line=}.
func raisedMessage(obj lua.LValue, name string) string {
	t, ok := obj.(*lua.LTable)
	if !ok {
		return "ERR Error running script " + name + ", " + truncate(lua.LVAsString(obj), 100)
	}
	msg, _ := t.RawGetString("err").(lua.LString)
	out := string(msg)
	src, okSrc := t.RawGetString("source").(lua.LString)
	line, okLine := t.RawGetString("line").(lua.LNumber)
	if okSrc && okLine {
		out += " script: " + name + ", on " + string(src) + ":" + strconv.Itoa(int(line)) + "."
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func stringArray(L *lua.LState, items [][]byte) *lua.LTable {
	t := L.CreateTable(len(items), 0)
	for _, it := range items {
		t.Append(lua.LString(it))
	}
	return t
}

// newState builds a sandboxed state: Lua's base (without what reaches
// files or changes environments), string, table, math and coroutine,
// Redis's libraries, and the redis table, all read-only, under a _G that
// refuses new globals and the reading of unknown ones.
func newState(r *Runner) *state {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   1024,
		RegistrySize:    1024,
		RegistryMaxSize: 1 << 20,
	})
	st := &state{L: L, fns: map[string]*lua.LFunction{}, runner: r, libs: map[string]*loadedLibrary{}}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, open := range r.libs {
		open(L)
	}
	g := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "print", "_printregs", "getfenv", "setfenv",
		"module", "require", "newproxy", "_GOPHER_LUA_VERSION", "package", "channel"} {
		g.RawSetString(name, lua.LNil)
	}
	g.RawSetString("pcall", L.NewFunction(st.pcall))
	g.RawSetString("error", L.NewFunction(luaError))
	g.RawSetString("tostring", L.NewFunction(luaToString))
	g.RawSetString("gcinfo", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(0))
		return 1
	}))
	st.addCompat(g)
	st.redisLib = st.redisTable()
	g.RawSetString("redis", st.redisLib)
	st.globals = g
	st.handler = L.NewFunction(st.errorHandler)

	// Read-only libraries: each is seen through a proxy.
	for _, name := range []string{"string", "table", "math", "coroutine", "redis", "cjson", "cmsgpack", "bit", "struct"} {
		if lib, ok := g.RawGetString(name).(*lua.LTable); ok {
			g.RawSetString(name, readOnly(L, lib))
		}
	}
	// Strings' methods too, and their metatable, which getmetatable('')
	// returns: read-only, so that no script changes what the next one
	// finds.
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__index", g.RawGetString("string"))
		mt.RawSetString("__metatable", readOnly(L, mt))
	}
	// The environment: reads fall through to globals, whose own misses
	// are errors; writes are errors.
	missing := L.NewTable()
	missing.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
		return 0
	}))
	L.SetMetatable(g, missing)
	st.env = readOnly(L, g)
	g.RawSetString("_G", st.env)
	L.Env = st.env
	return st
}

// readOnly is a proxy of t that reads t and refuses writes, and whose
// metatable cannot be replaced.
func readOnly(L *lua.LState, t *lua.LTable) *lua.LTable {
	proxy := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Attempt to modify a readonly table")
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(proxy, mt)
	return proxy
}

// addCompat adds what Lua 5.1 has and gopher-lua lacks.
func (st *state) addCompat(g *lua.LTable) {
	L := st.L
	if str, ok := g.RawGetString("string").(*lua.LTable); ok {
		if str.RawGetString("gfind") == lua.LNil {
			str.RawSetString("gfind", str.RawGetString("gmatch"))
		}
		// Results a script could ask for at once that no heap holds:
		// refused before they are made (a Go allocation that fails ends
		// the process, the memory bound could not stop it).
		str.RawSetString("rep", L.NewFunction(strRep))
		if format, ok := str.RawGetString("format").(*lua.LFunction); ok {
			str.RawSetString("format", L.NewFunction(func(L *lua.LState) int {
				checkFormat(L, L.CheckString(1))
				return format.GFunction(L)
			}))
		}
	}
	if m, ok := g.RawGetString("math").(*lua.LTable); ok {
		if m.RawGetString("mod") == lua.LNil {
			m.RawSetString("mod", m.RawGetString("fmod"))
		}
		m.RawSetString("huge", lua.LNumber(math.Inf(1))) // gopher-lua's is the largest finite number
		m.RawSetString("random", L.NewFunction(st.mathRandom))
		m.RawSetString("randomseed", L.NewFunction(st.mathRandomSeed))
	}
	if tb, ok := g.RawGetString("table").(*lua.LTable); ok {
		if tb.RawGetString("getn") == lua.LNil {
			tb.RawSetString("getn", L.NewFunction(func(L *lua.LState) int {
				L.Push(lua.LNumber(L.CheckTable(1).Len()))
				return 1
			}))
		}
		if tb.RawGetString("setn") == lua.LNil {
			tb.RawSetString("setn", L.NewFunction(func(L *lua.LState) int {
				L.RaiseError("'setn' is obsolete")
				return 0
			}))
		}
		if tb.RawGetString("foreach") == lua.LNil {
			tb.RawSetString("foreach", L.NewFunction(tableForeach))
		}
		if tb.RawGetString("foreachi") == lua.LNil {
			tb.RawSetString("foreachi", L.NewFunction(tableForeachi))
		}
	}
}

func tableForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	var result lua.LValue = lua.LNil
	k, v := t.Next(lua.LNil)
	for k != lua.LNil {
		L.Push(f)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			result = r
			L.Pop(1)
			break
		}
		L.Pop(1)
		k, v = t.Next(k)
	}
	if result == lua.LNil {
		return 0
	}
	L.Push(result)
	return 1
}

func tableForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	f := L.CheckFunction(2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(f)
		L.Push(lua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

// errorHandler makes the error a script raised a table {err=, source=,
// line=}, as Redis's handler does: a string becomes "ERR <it>", and the
// place is the innermost Lua function's line.
func (st *state) errorHandler(L *lua.LState) int {
	obj := L.Get(1)
	t, ok := obj.(*lua.LTable)
	if !ok {
		t = L.NewTable()
		msg := lua.LVAsString(L.ToStringMeta(obj))
		if _, isStr := obj.(lua.LString); isStr {
			msg = luaMessage(msg)
		}
		t.RawSetString("err", lua.LString("ERR "+msg))
	}
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, nil); err != nil || dbg.What == "G" {
			continue
		}
		t.RawSetString("source", lua.LString("@"+dbg.Source))
		t.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		break
	}
	L.Push(t)
	return 1
}

// stopped raises the run's stop again: nothing of the script runs on.
func (st *state) stopped() {
	st.L.RaiseError("the script was stopped")
}

// redisTable builds the redis table.
func (st *state) redisTable() *lua.LTable {
	L := st.L
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return st.call(L, true) },
		"pcall":              func(L *lua.LState) int { return st.call(L, false) },
		"error_reply":        st.errorReply,
		"status_reply":       st.statusReply,
		"sha1hex":            st.sha1hex,
		"log":                st.log,
		"setresp":            st.setresp,
		"set_repl":           st.setRepl,
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(L *lua.LState) int { return 0 },
		"acl_check_cmd":      st.aclCheckCmd,
		"register_function":  st.registerFunction,
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	for name, v := range map[string]int{
		"LOG_DEBUG": int(LogDebug), "LOG_VERBOSE": int(LogVerbose), "LOG_NOTICE": int(LogNotice), "LOG_WARNING": int(LogWarning),
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
		"REDIS_VERSION_NUM": 0x07000f,
	} {
		t.RawSetString(name, lua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", lua.LString("7.0.15"))
	return t
}

// call is redis.call (raise) and redis.pcall (return the error table).
func (st *state) call(L *lua.LState, raise bool) int {
	rn := st.run
	if rn.stop != nil {
		st.stopped()
	}
	fail := func(msg string) int {
		e := errorTable(L, msg)
		if raise {
			L.Error(e, 1)
		}
		L.Push(e)
		return 1
	}
	args, msg := commandArgs(L)
	if msg != "" {
		return fail(msg)
	}
	reply, err := rn.env.Call(args, rn.resp3)
	if err != nil {
		rn.stop = err
		rn.cancel()
		st.stopped()
	}
	v, _, perr := parseReply(L, reply)
	if perr != nil {
		return fail("ERR " + perr.Error())
	}
	if e, ok := v.(*lua.LTable); ok && len(reply) > 0 && reply[0] == '-' {
		if raise {
			L.Error(e, 1)
		}
		L.Push(e)
		return 1
	}
	L.Push(v)
	return 1
}

// errorTable is the table {err=...} Redis pushes for an error message:
// "-CODE msg" keeps its code, a message without one gets ERR.
func errorTable(L *lua.LState, msg string) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString("err", lua.LString(errorText(msg)))
	return t
}

// errorText normalises an error as Redis's luaPushErrorBuff does.
func errorText(msg string) string {
	code := "ERR"
	if rest, ok := strings.CutPrefix(msg, "-"); ok {
		if c, m, found := strings.Cut(rest, " "); found {
			code, msg = c, m
		} else {
			msg = rest
		}
	}
	msg = strings.TrimRight(strings.TrimLeft(msg, "\r\n"), "\r\n")
	return code + " " + msg
}

func (st *state) errorReply(L *lua.LState) int {
	if L.GetTop() != 1 || L.Get(1).Type() != lua.LTString {
		L.RaiseError("wrong number or type of arguments")
	}
	msg := L.ToString(1)
	if !strings.HasPrefix(msg, "-") {
		msg = "-" + msg
	}
	L.Push(errorTable(L, msg))
	return 1
}

func (st *state) statusReply(L *lua.LState) int {
	if L.GetTop() != 1 || L.Get(1).Type() != lua.LTString {
		L.RaiseError("wrong number or type of arguments")
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("ok", L.Get(1))
	L.Push(t)
	return 1
}

func (st *state) sha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.RaiseError("wrong number of arguments")
	}
	L.Push(lua.LString(SHA1Hex([]byte(L.ToString(1)))))
	return 1
}

func (st *state) log(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		L.Error(errorTable(L, "redis.log() requires two arguments or more."), 1)
	}
	level, ok := L.Get(1).(lua.LNumber)
	if !ok {
		L.Error(errorTable(L, "First argument must be a number (log level)."), 1)
	}
	if level < lua.LNumber(LogDebug) || level > lua.LNumber(LogWarning) {
		L.Error(errorTable(L, "Invalid debug level."), 1)
	}
	parts := make([]string, 0, n-1)
	for i := 2; i <= n; i++ {
		parts = append(parts, L.ToString(i))
	}
	if log := st.run.env.Log; log != nil {
		log(Level(level), strings.Join(parts, " "))
	}
	return 0
}

func (st *state) setresp(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(errorTable(L, "redis.setresp() requires one argument."), 1)
	}
	switch L.ToInt(1) {
	case 2:
		st.run.resp3 = false
	case 3:
		st.run.resp3 = true
	default:
		L.Error(errorTable(L, "RESP version must be 2 or 3."), 1)
	}
	return 0
}

func (st *state) setRepl(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.Error(errorTable(L, "redis.set_repl() requires one argument."), 1)
	}
	if f := L.ToInt(1); f < 0 || f > 3 {
		L.Error(errorTable(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."), 1)
	}
	return 0 // replication is by effects: every write is replicated
}

// commandArgs reads a command line from the Lua stack (redis.call's and
// acl_check_cmd's arguments), or says what is wrong with it, in Redis's
// words.
func commandArgs(L *lua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, "Please specify at least one argument for this redis lib call"
	}
	args := make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = []byte(v)
		case lua.LNumber:
			args[i-1] = strconv.AppendFloat(nil, float64(v), 'g', 17, 64)
		default:
			return nil, "Lua redis lib command arguments must be strings or integers"
		}
	}
	return args, ""
}

func (st *state) aclCheckCmd(L *lua.LState) int {
	args, msg := commandArgs(L)
	if msg != "" {
		L.Error(errorTable(L, msg), 1)
	}
	check := st.run.env.ACLCheck
	if check == nil {
		L.Push(lua.LTrue)
		return 1
	}
	known, allowed := check(args)
	if !known {
		L.Error(errorTable(L, "Invalid command passed to redis.acl_check_cmd()"), 1)
	}
	L.Push(lua.LBool(allowed))
	return 1
}

func (st *state) mathRandom(L *lua.LState) int {
	st.runner.randMu.Lock()
	x := st.runner.rand.next()
	st.runner.randMu.Unlock()
	r := float64(x%lrandMax) / float64(lrandMax)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := int(L.CheckNumber(1))
		if u < 1 {
			L.RaiseError("bad argument #1 to 'random' (interval is empty)")
		}
		L.Push(lua.LNumber(int(r*float64(u)) + 1))
	case 2:
		l, u := int(L.CheckNumber(1)), int(L.CheckNumber(2))
		if l > u {
			L.RaiseError("bad argument #2 to 'random' (interval is empty)")
		}
		L.Push(lua.LNumber(int(r*float64(u-l+1)) + l))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func (st *state) mathRandomSeed(L *lua.LState) int {
	st.runner.randMu.Lock()
	st.runner.rand.seed(int32(L.CheckNumber(1)))
	st.runner.randMu.Unlock()
	return 0
}
