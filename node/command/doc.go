// Package command owns the command table (name, arity, flags, key
// positions) and the Redis semantics of the data commands, evaluated on
// storage Txns: reads answer from storage, writes turn into the effects
// storage commits. It also runs a connection's batchable writes together
// (Pipeline: one storage.Batch per run of pipelined commands) and answers
// COMMAND from its own table. It also holds redis-server 7.0's view of
// every command, generated from its COMMAND INFO: the ACL categories
// (categories_redis.go) and the key specs, which KeysForACL reads as
// Redis does to find the keys an ACL checks (keyspecs_redis.go).
//
// It does not own connections or server state: package node registers the
// connection and server commands into the same table.
package command
