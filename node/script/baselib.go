package script

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The base functions whose behaviour a script can see differ between
// gopher-lua and the Lua 5.1 Redis embeds: pcall, error and tostring are
// replaced by ones that behave as Redis's, and error messages are
// reworded (luaMessage).

// pcall is Redis 7.0's pcall: an error caught as a table {err=...} (what
// redis.call raises) is returned as its err string.
func (st *state) pcall(L *lua.LState) int {
	if st.run != nil && st.run.stop != nil {
		st.stopped()
	}
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, nil); err != nil {
		if st.run != nil && st.run.stop != nil {
			st.stopped()
		}
		var obj lua.LValue = lua.LString(err.Error())
		if aerr, ok := err.(*lua.ApiError); ok {
			obj = aerr.Object
		}
		switch o := obj.(type) {
		case *lua.LTable:
			if e, ok := o.RawGetString("err").(lua.LString); ok {
				obj = e
			}
		case lua.LString:
			obj = lua.LString(luaMessage(string(o)))
		}
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// luaError is Lua 5.1's error: a number is a message too (it gets the
// position).
func luaError(L *lua.LState) int {
	obj := L.CheckAny(1)
	if n, ok := obj.(lua.LNumber); ok {
		obj = lua.LString(numberString(float64(n)))
	}
	L.Error(obj, L.OptInt(2, 1))
	return 0
}

// luaToString is Lua 5.1's tostring: numbers as "%.14g".
func luaToString(L *lua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(numberString(float64(n))))
		return 1
	}
	L.Push(L.ToStringMeta(v))
	return 1
}

// numberString formats a Lua number as Lua 5.1 does (LUAI_NUMFFORMAT,
// "%.14g").
func numberString(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

var (
	arithMessage  = regexp.MustCompile(`cannot perform (add|sub|mul|div|mod|pow|unm) operation between (\w+) and (\w+)`)
	concatMessage = regexp.MustCompile(`cannot perform concat operation between (\w+) and (\w+)`)
	indexMessage  = regexp.MustCompile(`attempt to index a non-table object\((\w+)\)( with key '[^']*')?`)
)

// luaMessage rewords gopher-lua's runtime error messages as Lua 5.1's
// (without the variable names Lua 5.1 adds when it knows them).
func luaMessage(msg string) string {
	if m := arithMessage.FindStringSubmatchIndex(msg); m != nil {
		a, b := msg[m[4]:m[5]], msg[m[6]:m[7]]
		bad := a
		if a == "number" || a == "string" {
			bad = b
		}
		return msg[:m[0]] + "attempt to perform arithmetic on a " + bad + " value" + msg[m[1]:]
	}
	if m := concatMessage.FindStringSubmatchIndex(msg); m != nil {
		a, b := msg[m[2]:m[3]], msg[m[4]:m[5]]
		bad := a
		if a == "number" || a == "string" {
			bad = b
		}
		return msg[:m[0]] + "attempt to concatenate a " + bad + " value" + msg[m[1]:]
	}
	if m := indexMessage.FindStringSubmatchIndex(msg); m != nil {
		return msg[:m[0]] + "attempt to index a " + msg[m[2]:m[3]] + " value" + msg[m[1]:]
	}
	if strings.Contains(msg, "attempt to call a non-function object") {
		return strings.Replace(msg, "attempt to call a non-function object", "attempt to call a nil value", 1)
	}
	return msg
}

// maxResult bounds one string a library function makes (proto-max-bulk-len's
// default): past it the script gets Lua's "not enough memory".
const maxResult = 512 << 20

// strRep is string.rep, refusing a result longer than maxResult.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if n > maxResult/len(s) {
		L.Error(lua.LString("not enough memory"), 0)
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// checkFormat raises Lua 5.1's errors for a string.format format whose
// conversions it would refuse: at most 5 flags, 2 digits of width and of
// precision, and a known conversion (so that no width makes a huge
// string).
func checkFormat(L *lua.LState, f string) {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		start := i
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		if i-start > 5 {
			L.RaiseError("invalid format (repeated flags)")
		}
		digits := func() {
			n := 0
			for i < len(f) && '0' <= f[i] && f[i] <= '9' {
				i++
				n++
			}
			if n > 2 {
				L.RaiseError("invalid format (width or precision too long)")
			}
		}
		digits()
		if i < len(f) && f[i] == '.' {
			i++
			digits()
		}
		if i >= len(f) || strings.IndexByte("cdiouxXeEfgGqs", f[i]) < 0 {
			c := "%"
			if i < len(f) {
				c = "%" + string(f[i])
			}
			L.RaiseError("invalid option '%s' to 'format'", c)
		}
	}
}
