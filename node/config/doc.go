// Package config owns a node's start-up configuration: every setting
// `pika-node start` takes from flags, PIKA_* variables or a config file
// (cmd/pika-node binds all three onto Config), its defaults, its
// validation and the addresses and directories derived from it.
//
// The parameters CONFIG GET and CONFIG SET see at run time are package
// redisconf's; the ones that mean something here are hooked onto the
// running node by package node.
package config
