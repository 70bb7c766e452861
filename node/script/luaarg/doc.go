// Package luaarg owns what Lua 5.1's C API helpers do that
// github.com/yuin/gopher-lua does differently, for the Lua libraries
// Redis 7.0 loads into its script VM (cjson, cmsgpack, bit, struct), so
// that their Go versions check arguments, word errors and convert values
// as redis-server's Lua does:
//
//   - luaL_error and luaL_where: Raise, with Where's "chunk:line: "
//     prefix ("user_script:1: " in a script), which gopher-lua's own
//     errors put differently;
//   - luaL_argerror and luaL_typerror: ArgError and TypeError, "bad
//     argument #1 to 'band' (number expected, got string)", with the
//     function's name as Lua 5.1 finds it (FuncName) and Lua 5.1's type
//     names (TypeName);
//   - luaL_checklstring, luaL_checknumber, luaL_checkinteger,
//     luaL_optinteger and lua_tonumber: CheckString, CheckNumber,
//     CheckInteger, OptInteger and ToNumber, which convert between
//     numbers and strings as Lua 5.1 does: numbers to strings with C's
//     "%.14g" (NumberToString, FormatG), strings to numbers with
//     luaO_str2d over glibc's strtod (Str2d, Strtod), which reads
//     hexadecimal, inf and nan(...) as gopher-lua does not;
//   - the C casts of an x86-64 build from double to the integer types
//     (CastInt32, CastInt64, CastUint64), NaN and out-of-range values
//     included;
//   - LUAI_MAXCSTACK (MaxCStack), the stack a C function may use, and
//     C's character classes in the "C" locale (IsSpace, IsDigit, ...).
//
// The package has no state: everything lives in the LState it is given.
package luaarg
