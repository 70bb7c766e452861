// Package tlsconf owns the node's TLS settings: it loads the certificate,
// key and CA files redis.conf's tls-* options name, builds the server's
// tls.Config from them, and loads them again on demand (SIGHUP), so that
// a renewed certificate is served to new connections without a restart.
package tlsconf
