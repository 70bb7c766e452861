// Package cjson provides the "cjson" Lua library that Redis 7.0 preloads into
// its scripting VM (Redis' bundled lua_cjson 2.1.0), implemented in Go for
// github.com/yuin/gopher-lua.
//
// The package owns the global table "cjson" and nothing else: Open installs
// it into a state. The table has the same fields as on redis-server 7.0.15:
// encode, decode, null, new, _NAME, _VERSION and the configuration functions
// encode_sparse_array, encode_max_depth, decode_max_depth,
// encode_number_precision, encode_keep_buffer, encode_invalid_numbers and
// decode_invalid_numbers. Configuration is kept per module table (cjson.new
// returns a table with its own, default configuration), never in package
// state.
//
// Behaviour follows lua_cjson as built into Redis: tables whose keys are all
// positive integers encode as JSON arrays unless excessively sparse, the
// empty table encodes as "{}", numbers are written with "%.14g" (or the
// configured precision), "/" is escaped as "\/", control characters and DEL
// as \u00XX, nesting is limited to 1000 levels in both directions, and the
// error messages are worded as Redis words them, including the
// "<chunk>:<line>: " position prefix that luaL_error adds when the caller is
// a Lua function. The decoder accepts what lua_cjson's strtod-based number
// scanner accepts (by default also inf, nan, hexadecimal and "+" numbers).
//
// JSON null is represented by cjson.null, a userdata unique to the state
// (Redis uses a NULL lightuserdata); tostring(cjson.null) yields
// "userdata: (nil)" as on Redis.
//
// Known differences from Redis: JSON objects are written in gopher-lua's
// table iteration order (insertion order) rather than Lua 5.1's hash order,
// getmetatable(cjson.null) is not nil, and argument errors for method-style
// calls (cjson:encode(x)) are reported like plain calls.
package cjson
