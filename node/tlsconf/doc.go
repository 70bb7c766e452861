// Package tlsconf owns the node's TLS settings: it loads the certificate,
// key and CA files redis.conf's tls-* options name, builds from them the
// tls.Configs of the ports that serve TLS (client, peer, HTTP) and the one
// a node dials its peers with, and loads them again on demand (SIGHUP), so
// that a renewed certificate is served to new connections without a
// restart. LoadCAs reads a CA file for others too (pikactl's --cacert).
package tlsconf
