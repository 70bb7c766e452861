// Package slowlog owns the node's slow log: the commands that took longer
// than slowlog-log-slower-than microseconds, newest first, at most
// slowlog-max-len of them, each with its arguments trimmed and redacted as
// redis-server 7.0 keeps them (SLOWLOG GET, LEN, RESET).
//
// The log is the node's own, like Redis's is the instance's: a command is
// logged by the node the client sent it to, with the time it took there,
// forwarding to the slot's leader included.
package slowlog
