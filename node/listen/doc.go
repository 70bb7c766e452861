// Package listen owns accepting connections within the process's file
// descriptor limit: the accept loop that outlives a failed Accept (out of
// file descriptors or kernel buffers: it backs off and accepts again as
// soon as it can, accept.go), and maxclients fitted to the open file
// limit as Redis does it, raising the limit at start and for CONFIG SET
// maxclients (maxclients.go).
//
// Package node wires it: a Loop per listener (clients, peers), counted
// in the node's parts, and one MaxClients, which admits a client
// connection and backs CONFIG GET/SET maxclients.
package listen
