package luaarg

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// MaxCStack is LUAI_MAXCSTACK of Redis' Lua: the number of stack slots a C
// function may use. The C libraries' stack checks fail past it, which
// bounds how deep they nest and how many values they return.
const MaxCStack = 8000

// Where returns the prefix luaL_where(L, 1) gives an error raised by a Go
// function: "chunk:line: " when it was called from Lua code, "" when it was
// called from a Go function such as pcall.
func Where(L *lua.LState) string {
	dbg, ok := L.GetStack(1)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.What == "G" || dbg.CurrentLine <= 0 {
		return ""
	}
	src := dbg.Source
	if strings.HasPrefix(src, "@") || strings.HasPrefix(src, "=") {
		src = src[1:]
	}
	return fmt.Sprintf("%s:%d: ", src, dbg.CurrentLine)
}

// Raise raises the error luaL_error raises: the formatted message behind
// Where's prefix, as a string value. It does not return.
func Raise(L *lua.LState, format string, args ...any) {
	L.Error(lua.LString(Where(L)+fmt.Sprintf(format, args...)), 0)
}

// FuncName is the name luaL_argerror gives the running Go function: the
// name its Lua call site used, "?" when there is none (as when a Go
// function such as pcall called it).
func FuncName(L *lua.LState) string {
	dbg, ok := L.GetStack(0)
	if !ok {
		return "?"
	}
	if _, err := L.GetInfo("n", dbg, lua.LNil); err != nil {
		return "?"
	}
	if caller, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("S", caller, lua.LNil); err == nil && caller.What == "G" {
			return "?"
		}
	}
	switch dbg.Name {
	case "", "(anonymous)", "main chunk", "corountine":
		return "?"
	}
	if strings.HasPrefix(dbg.Name, "<") {
		return "?"
	}
	return dbg.Name
}

// ArgError raises luaL_argerror's error for argument narg:
// "bad argument #<narg> to '<FuncName>' (<msg>)".
func ArgError(L *lua.LState, narg int, msg string) {
	Raise(L, "bad argument #%d to '%s' (%s)", narg, FuncName(L), msg)
}

// TypeError raises luaL_typerror's error for argument narg:
// "<expected> expected, got <TypeName>" as ArgError words it.
func TypeError(L *lua.LState, narg int, expected string) {
	ArgError(L, narg, expected+" expected, got "+TypeName(L, narg))
}

// TypeName is luaL_typename: the Lua 5.1 name of the type of the value at
// idx, "no value" past the top of the stack.
func TypeName(L *lua.LState, idx int) string {
	if idx > L.GetTop() {
		return "no value"
	}
	switch L.Get(idx).Type() {
	case lua.LTNil:
		return "nil"
	case lua.LTBool:
		return "boolean"
	case lua.LTNumber:
		return "number"
	case lua.LTString:
		return "string"
	case lua.LTTable:
		return "table"
	case lua.LTFunction:
		return "function"
	case lua.LTThread:
		return "thread"
	default:
		return "userdata"
	}
}
