// Package bitop owns the global table "bit" that redis-server 7.0 gives a
// script: Mike Pall's LuaBitOp 1.0.2 as Redis bundles it, rewritten in Go
// for github.com/yuin/gopher-lua.
//
// Open installs the table with its twelve functions: tobit, tohex, bnot,
// band, bor, bxor, lshift, rshift, arshift, rol, ror and bswap. They work
// on 32-bit integers and return them as signed 32-bit values in Lua
// numbers. An argument becomes a 32-bit integer the way LuaBitOp makes it
// one on a 64-bit Redis: it is converted as lua_tonumber converts (numeric
// strings included), 2^52+2^51 is added to it in double precision and the
// low 32 bits of the sum's representation are kept, which takes numbers
// modulo 2^32 and rounds fractions to nearest, ties to even, as long as
// they are below 2^51 in magnitude, and gives what the hardware gives
// above that. Bad arguments raise the errors Lua 5.1's lauxlib raises for
// LuaBitOp, worded alike ("user_script:1: bad argument #1 to 'band'
// (number expected, got string)").
//
// The package has no state of its own: everything lives in the LState it
// is opened in.
package bitop
