package luaarg

import lua "github.com/yuin/gopher-lua"

// CheckString is luaL_checklstring: a string argument, or a number
// argument converted as Lua 5.1 converts numbers (NumberToString); any
// other argument raises TypeError.
func CheckString(L *lua.LState, idx int) string {
	switch v := L.Get(idx).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return NumberToString(float64(v))
	}
	TypeError(L, idx, "string")
	return ""
}

// ToNumber is lua_tonumber together with lua_isnumber: numbers as they
// are, strings converted as Lua 5.1 converts them (Str2d), anything else
// not a number.
func ToNumber(v lua.LValue) (float64, bool) {
	switch v := v.(type) {
	case lua.LNumber:
		return float64(v), true
	case lua.LString:
		return Str2d(string(v))
	}
	return 0, false
}

// CheckNumber is luaL_checknumber: a number argument, or a string one
// converted to a number (ToNumber); any other argument raises TypeError.
func CheckNumber(L *lua.LState, idx int) float64 {
	n, ok := ToNumber(L.Get(idx))
	if !ok {
		TypeError(L, idx, "number")
	}
	return n
}

// CheckInteger is luaL_checkinteger: CheckNumber truncated to a 64-bit
// integer as lua_tointeger does on x86-64 (CastInt64).
func CheckInteger(L *lua.LState, idx int) int64 {
	return CastInt64(CheckNumber(L, idx))
}

// OptInteger is luaL_optinteger: def for an absent or nil argument, else
// CheckInteger.
func OptInteger(L *lua.LState, idx int, def int64) int64 {
	if L.Get(idx) == lua.LNil {
		return def
	}
	return CheckInteger(L, idx)
}
