// Package script owns the Lua side of Redis scripting (docs/scripting.md):
// compiling a script body (its shebang, its SHA1, the f_<sha> function
// Redis names it by), the sandboxed Lua 5.1 states of
// github.com/yuin/gopher-lua that run scripts (the globals and libraries
// redis-server 7.0 gives a script, read-only, and the redis.* API), the
// conversions between RESP replies and Lua values both ways, the errors a
// script's client sees, worded as Redis words them, and Cache, a node's
// scripts by SHA1.
//
// It knows nothing of keys, slots or storage: a script's commands are
// run by the caller's Env.Call, which answers each with its RESP reply.
// Package node/txn runs scripts as units over those.
//
// The libraries Redis loads besides Lua's own are packages of their own:
// cjson, cmsgpack, bitop (bit) and structlib (struct).
package script
