// Package acl owns Redis 7.0's ACL users as pure data: it parses ACL
// SETUSER rules into a User, describes a User as ACL LIST and ACL GETUSER
// show it, and decides whether a User may run a command line (ACL DRYRUN,
// and the check before every command), all as redis-server 7.0 does.
//
// It stores nothing and knows no connections: package node keeps the
// users (in etcd), authenticates connections and calls Check. Password
// records are made and matched by a Hasher the caller gives, so a User
// holds no cleartext and this package no hashing policy.
//
// The commands, their ACL categories and their key specs are redis-server
// 7.0's (package command, generated from its COMMAND INFO), not this
// server's table: a rule means what it means to redis-server. A command
// Redis 7.0 does not have is allowed only to a selector that can run
// future commands, one whose rules start with +@all.
package acl
