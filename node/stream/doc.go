// Package stream owns what a Redis stream is, apart from where it is
// stored: stream IDs (parsing them as redis-server 7.0 does, their 16-byte
// big-endian encoding whose byte order is ID order), the stream's metadata
// kept in its meta value, the data-CF member keys of its entries, nodes,
// consumer groups, consumers and pending entries, and the encodings of
// their values (docs/streams.md). The commands are node/command's.
package stream
