// Package router maps keys to SlotIDs; it stores no data.
//
// Later it also maps SlotIDs to the nodes that lead them, from the routing
// snapshot kept in etcd.
package router
