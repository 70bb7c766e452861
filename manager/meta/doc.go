// Package meta owns the cluster's metadata as it lives in etcd: the record
// types (nodes, tables, slots, jobs), the key layout under
// /pika/<cluster>/, password hashing for table records, and State, the
// whole metadata at one etcd revision, loaded with Load and kept current by
// Watch. The manager writes these records; every node and pikactl read them.
package meta
