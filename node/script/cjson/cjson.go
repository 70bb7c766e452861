package cjson

import (
	"math"
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// Module metadata, as lua_cjson sets _NAME and _VERSION.
const (
	moduleName    = "cjson"
	moduleVersion = "2.1.0"
)

// Invalid number handling when encoding (encode_invalid_numbers).
const (
	invalidOff  = 0 // raise an error
	invalidOn   = 1 // write inf, -inf and nan
	invalidNull = 2 // write null
)

// config is the configuration of one cjson module table, with lua_cjson's
// defaults and C int widths.
type config struct {
	sparseConvert  bool
	sparseRatio    int32
	sparseSafe     int32
	encodeMaxDepth int32
	decodeMaxDepth int32
	encodeInvalid  int
	decodeInvalid  bool
	keepBuffer     bool
	precision      int32
}

func defaultConfig() *config {
	return &config{
		sparseConvert:  false,
		sparseRatio:    2,
		sparseSafe:     10,
		encodeMaxDepth: 1000,
		decodeMaxDepth: 1000,
		encodeInvalid:  invalidOff,
		decodeInvalid:  true,
		keepBuffer:     true,
		precision:      14,
	}
}

// Open sets the global "cjson" of L to a new cjson module table, as Redis
// does when it creates its scripting VM. The table and its configuration
// belong to L.
func Open(L *lua.LState) {
	null := L.NewUserData()
	meta := L.NewTable()
	meta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("userdata: (nil)"))
		return 1
	}))
	null.Metatable = meta
	L.SetGlobal(moduleName, newModule(L, null))
}

// newModule builds a cjson table with a fresh default configuration; null
// is the state's JSON null, shared by every table cjson.new makes.
func newModule(L *lua.LState, null *lua.LUserData) *lua.LTable {
	cfg := defaultConfig()
	t := L.NewTable()
	// setting makes a configuration function of one optional argument,
	// which read reads into cfg; the function returns the setting.
	setting := func(read func(L *lua.LState) lua.LValue) lua.LGFunction {
		return func(L *lua.LState) int {
			argInit(L, 1)
			L.Push(read(L))
			return 1
		}
	}
	intSetting := func(s *int32, min, max int32) lua.LGFunction {
		return setting(func(L *lua.LState) lua.LValue { return intOption(L, 1, s, min, max) })
	}
	boolSetting := func(s *bool) lua.LGFunction {
		return setting(func(L *lua.LState) lua.LValue { return boolOption(L, 1, s) })
	}
	fns := map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				luaarg.ArgError(L, 1, "expected 1 argument")
			}
			e := encoder{L: L, cfg: cfg, null: null}
			e.value(L.Get(1), 0, 1)
			L.Push(lua.LString(e.buf))
			return 1
		},
		"decode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				luaarg.ArgError(L, 1, "expected 1 argument")
			}
			L.Push(decode(L, cfg, null, luaarg.CheckString(L, 1)))
			return 1
		},
		"encode_sparse_array": func(L *lua.LState) int {
			argInit(L, 3)
			L.Push(boolOption(L, 1, &cfg.sparseConvert))
			L.Push(intOption(L, 2, &cfg.sparseRatio, 0, math.MaxInt32))
			L.Push(intOption(L, 3, &cfg.sparseSafe, 0, math.MaxInt32))
			return 3
		},
		"encode_max_depth":        intSetting(&cfg.encodeMaxDepth, 1, math.MaxInt32),
		"decode_max_depth":        intSetting(&cfg.decodeMaxDepth, 1, math.MaxInt32),
		"encode_number_precision": intSetting(&cfg.precision, 1, 14),
		"encode_keep_buffer":      boolSetting(&cfg.keepBuffer),
		"encode_invalid_numbers": setting(func(L *lua.LState) lua.LValue {
			return enumOption(L, 1, &cfg.encodeInvalid, []string{"off", "on", "null"})
		}),
		"decode_invalid_numbers": boolSetting(&cfg.decodeInvalid),
		"new": func(L *lua.LState) int {
			L.Push(newModule(L, null))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	t.RawSetString("null", null)
	t.RawSetString("_NAME", lua.LString(moduleName))
	t.RawSetString("_VERSION", lua.LString(moduleVersion))
	return t
}

// argInit checks a configuration function got at most n arguments and pads
// them to n with nils, so that its results go above them.
func argInit(L *lua.LState, n int) {
	if L.GetTop() > n {
		luaarg.ArgError(L, n+1, "found too many arguments")
	}
	L.SetTop(n)
}

// intOption reads an optional integer setting at idx into *setting, which
// must lie in [min, max], and returns the setting's value. As in lua_cjson,
// a value out of range is reported against argument 1 whatever idx is.
func intOption(L *lua.LState, idx int, setting *int32, min, max int32) lua.LValue {
	if L.Get(idx) != lua.LNil {
		v := int32(luaarg.CheckInteger(L, idx))
		if v < min || v > max {
			luaarg.ArgError(L, 1, "expected integer between "+itoa(min)+" and "+itoa(max))
		}
		*setting = v
	}
	return lua.LNumber(*setting)
}

// boolOption reads an optional on/off setting at idx (a boolean or "off",
// "on") into *setting and returns it as a boolean.
func boolOption(L *lua.LState, idx int, setting *bool) lua.LValue {
	v := 0
	if *setting {
		v = 1
	}
	enumOption(L, idx, &v, []string{"off", "on"})
	*setting = v == 1
	return lua.LBool(*setting)
}

// enumOption reads an optional setting at idx that is a boolean (false is
// option 0, true option 1) or one of options, and returns it: false or true
// for options 0 and 1, the option's name otherwise.
func enumOption(L *lua.LState, idx int, setting *int, options []string) lua.LValue {
	if v := L.Get(idx); v != lua.LNil {
		if b, ok := v.(lua.LBool); ok {
			*setting = 0
			if b {
				*setting = 1
			}
		} else {
			*setting = checkOption(L, idx, options)
		}
	}
	if *setting <= 1 {
		return lua.LBool(*setting == 1)
	}
	return lua.LString(options[*setting])
}

// checkOption is luaL_checkoption without a default.
func checkOption(L *lua.LState, idx int, options []string) int {
	name := luaarg.CheckString(L, idx)
	if i := strings.IndexByte(name, 0); i >= 0 { // C strings end at a NUL
		name = name[:i]
	}
	for i, o := range options {
		if o == name {
			return i
		}
	}
	luaarg.ArgError(L, idx, "invalid option '"+name+"'")
	return 0
}

func itoa(v int32) string {
	return strconv.FormatInt(int64(v), 10)
}
