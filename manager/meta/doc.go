// Package meta owns the cluster's metadata as it lives in etcd: the record
// types (nodes, tables, slots, jobs, FUNCTION libraries, ACL users,
// cluster-wide CONFIG values), the key layout under /pika/<cluster>/,
// password hashing for table and user records, and State, the whole
// metadata at one etcd revision, loaded with Load and kept current by
// Watch. The manager writes most of these records; the libraries, the
// users and the CONFIG values are written by whichever node a client's
// command reached. Every node and pikactl read them.
package meta
