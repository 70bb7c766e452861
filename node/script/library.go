package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Function libraries (FUNCTION LOAD, FCALL): a library is Lua code whose
// first line names it (`#!lua name=<name>`) and whose body registers its
// functions with redis.register_function when it is loaded.

// Library is a compiled library: immutable once CompileLibrary returns.
type Library struct {
	// Name is the library's name, Code its source as loaded.
	Name string
	Code string
	// Functions are the functions it registers, in registration order.
	Functions []*Function
	proto     *lua.FunctionProto
}

// Function is one registered function of a library.
type Function struct {
	Name        string
	Description string
	// Flags are its flags (no-writes, allow-oom, ...), FlagNames their
	// names as registered, for FUNCTION LIST.
	Flags     Flags
	FlagNames []string
	Library   *Library
}

// ReadOnly reports whether the function declared no-writes.
func (f *Function) ReadOnly() bool { return f.Flags&NoWrites != 0 }

// functionChunk is the source name errors of functions carry.
const functionChunk = "user_function"

// validName reports whether s is a library or function name Redis
// accepts: letters, digits and underscores, at least one.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

const errBadName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

// CompileLibrary reads a library's metadata line, compiles its code and
// loads it once in a state of its own (where redis.call does not exist,
// as in Redis) to find the functions it registers. The error is the
// reply FUNCTION LOAD gives.
func (r *Runner) CompileLibrary(code []byte) (*Library, error) {
	src := string(code)
	if !strings.HasPrefix(src, "#!") {
		return nil, Error("ERR Missing library metadata")
	}
	line, rest, _ := strings.Cut(src, "\n")
	fields := strings.Fields(strings.TrimSuffix(line[2:], "\r"))
	if len(fields) == 0 {
		return nil, Error("ERR Missing library metadata")
	}
	if fields[0] != "lua" {
		return nil, Error("ERR Engine '" + fields[0] + "' not found")
	}
	lib := &Library{Code: src}
	for _, f := range fields[1:] {
		name, ok := strings.CutPrefix(f, "name=")
		if !ok {
			return nil, Error("ERR Invalid metadata value given: " + f)
		}
		lib.Name = name
	}
	if lib.Name == "" {
		return nil, Error("ERR Library name was not given")
	}
	if !validName(lib.Name) {
		return nil, Error(errBadName)
	}
	body := "\n" + rest
	chunk, err := parse.Parse(strings.NewReader(body), functionChunk)
	if err != nil {
		return nil, Error("ERR Error compiling function: " + compileMessage(err, body))
	}
	if lib.proto, err = lua.Compile(chunk, functionChunk); err != nil {
		return nil, Error("ERR Error compiling function: " + compileMessage(err, body))
	}
	st := newLoaderState(r)
	defer st.L.Close()
	fns, err := st.loadLibrary(lib)
	if err != nil {
		return nil, err
	}
	if len(fns) == 0 {
		return nil, Error("ERR No functions registered")
	}
	for _, rf := range fns {
		lib.Functions = append(lib.Functions, rf.fn)
	}
	return lib, nil
}

// registered is a function a library's load registered, with its
// closure in the state that loaded it.
type registered struct {
	fn       *Function
	callback *lua.LFunction
}

// loadLibrary runs lib's code in st, collecting what it registers.
func (st *state) loadLibrary(lib *Library) ([]registered, error) {
	L := st.L
	var fns []registered
	st.registering = &fns
	st.registeringLib = lib
	defer func() { st.registering, st.registeringLib = nil, nil }()
	// KEYS and ARGV are not a library's.
	st.globals.RawSetString("KEYS", lua.LNil)
	st.globals.RawSetString("ARGV", lua.LNil)
	fn := L.NewFunctionFromProto(lib.proto)
	fn.Env = st.env
	L.Push(fn)
	if err := L.PCall(0, 0, st.handler); err != nil {
		var msg string
		if aerr, ok := err.(*lua.ApiError); ok {
			if t, ok := aerr.Object.(*lua.LTable); ok {
				e, _ := t.RawGetString("err").(lua.LString)
				msg = string(e)
			} else {
				msg = "ERR " + lua.LVAsString(aerr.Object)
			}
		} else {
			msg = "ERR " + err.Error()
		}
		L.SetTop(0)
		return nil, Error("ERR Error registering functions: " + msg)
	}
	return fns, nil
}

// registerFunction is redis.register_function, while a library loads.
func (st *state) registerFunction(L *lua.LState) int {
	if st.registering == nil {
		L.Error(errorTable(L, "redis.register_function can only be called on FUNCTION LOAD command"), 1)
	}
	fail := func(msg string) { L.Error(errorTable(L, msg), 1) }
	f := &Function{Library: st.registeringLib}
	var cb *lua.LFunction
	switch L.GetTop() {
	case 1:
		args, ok := L.Get(1).(*lua.LTable)
		if !ok {
			fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		var bad string
		args.ForEach(func(k, v lua.LValue) {
			if bad != "" {
				return
			}
			key, _ := k.(lua.LString)
			switch key {
			case "function_name":
				s, ok := v.(lua.LString)
				if !ok {
					bad = "function_name argument given to redis.register_function must be a string"
					return
				}
				f.Name = string(s)
			case "description":
				s, ok := v.(lua.LString)
				if !ok {
					bad = "description argument given to redis.register_function must be a string"
					return
				}
				f.Description = string(s)
			case "callback":
				fn, ok := v.(*lua.LFunction)
				if !ok {
					bad = "callback argument given to redis.register_function must be a function"
					return
				}
				cb = fn
			case "flags":
				t, ok := v.(*lua.LTable)
				if !ok {
					bad = "flags argument to redis.register_function must be a table representing function flags"
					return
				}
				for i := 1; t.RawGetInt(i) != lua.LNil; i++ {
					name, ok := t.RawGetInt(i).(lua.LString)
					flag, known := flagNames[string(name)]
					if !ok || !known {
						bad = "unknown flag given"
						return
					}
					f.Flags |= flag
					f.FlagNames = append(f.FlagNames, string(name))
				}
			default:
				bad = "unknown argument given to redis.register_function"
			}
		})
		if bad != "" {
			fail(bad)
		}
		if f.Name == "" {
			fail("redis.register_function must get a function name argument")
		}
		if cb == nil {
			fail("redis.register_function must get a callback argument")
		}
	case 2:
		name, ok := L.Get(1).(lua.LString)
		if !ok {
			fail("first argument to redis.register_function must be a string")
		}
		fn, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			fail("second argument to redis.register_function must be a function")
		}
		f.Name, cb = string(name), fn
	default:
		fail("wrong number of arguments to redis.register_function")
	}
	if !validName(f.Name) {
		fail(errBadName[4:])
	}
	for _, r := range *st.registering {
		if r.fn.Name == f.Name {
			fail("Function already exists in the library")
		}
	}
	*st.registering = append(*st.registering, registered{fn: f, callback: cb})
	return 0
}

// newLoaderState is a state for checking a library at FUNCTION LOAD: its
// redis table has no call or pcall (a library's load runs no command),
// and reading what it lacks is an error, as in Redis.
func newLoaderState(r *Runner) *state {
	st := newState(r)
	L := st.L
	full := st.redisLib
	loader := L.NewTable()
	for _, name := range []string{"register_function", "log", "setresp", "error_reply", "status_reply", "sha1hex",
		"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"} {
		loader.RawSetString(name, full.RawGetString(name))
	}
	missing := L.NewTable()
	missing.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
		return 0
	}))
	L.SetMetatable(loader, missing)
	st.globals.RawSetString("redis", readOnly(L, loader))
	st.run = &run{env: &Env{}}
	return st
}
