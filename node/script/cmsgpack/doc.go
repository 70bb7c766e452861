// Package cmsgpack provides the "cmsgpack" Lua library that Redis 7.0
// preloads into its scripting VM (Redis' bundled lua-cmsgpack 0.4.0),
// implemented in Go for github.com/yuin/gopher-lua.
//
// The package owns the global table "cmsgpack" and nothing else: Open
// installs it into a state. The table has the fields it has on
// redis-server 7.0.15: pack, unpack, unpack_one, unpack_limit, _NAME,
// _VERSION, _COPYRIGHT and _DESCRIPTION. The library has no configuration
// and keeps no state.
//
// pack(v1, ...) encodes each argument and returns the concatenation, with
// the encodings lua-cmsgpack chooses: numbers that are whole 64-bit
// integers as the smallest MessagePack integer, other numbers as float 32
// when that is exact and float 64 otherwise; strings as fixstr, str 8, 16
// or 32 (never bin); booleans; tables whose keys are exactly 1..n (and
// the empty table) as arrays, other tables as maps; anything else, and
// tables nested 16 deep, as nil.
//
// unpack(s) decodes every value in s and returns them all; unpack_one(s
// [, offset]) and unpack_limit(s, limit [, offset]) decode at most one or
// limit values and return first the offset to resume from (-1 at the end).
// Errors are worded as Redis words them ("Missing bytes in input.", "Bad
// data format in input.", the stack limits of Redis' Lua, ...), with the
// "<chunk>:<line>: " position prefix luaL_error adds when the caller is a
// Lua function. As in Redis, bin, ext and fixext values are a bad format,
// uint 64 values wrap to negative numbers past 2^63-1, and all numbers
// decode to Lua numbers (doubles).
//
// Known difference from Redis: maps are written in gopher-lua's table
// iteration order (insertion order) rather than Lua 5.1's hash order.
package cmsgpack
