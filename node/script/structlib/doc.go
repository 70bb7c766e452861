// Package structlib owns the global table "struct" that redis-server 7.0
// gives a script: Roberto Ierusalimschy's struct library (struct.c 1.4,
// with the fixes Redis made to it), rewritten in Go for
// github.com/yuin/gopher-lua.
//
// Open installs the table with its three functions. struct.pack(fmt, ...)
// packs values into a binary string, struct.unpack(fmt, data [, init])
// reads them back from position init (1 by default) and returns them
// followed by the position after the last byte read, and struct.size(fmt)
// is the length of what pack makes for a format of fixed size.
//
// A format is a sequence of options, each a character:
//
//	>  <       big, little endian (little is the default: x86-64's order)
//	![n]       align values to at most n bytes, a power of 2 (8 alone)
//	x          one byte of padding
//	b B        signed, unsigned char (1 byte)
//	h H        signed, unsigned short (2 bytes)
//	l L        signed, unsigned long (8 bytes)
//	T          size_t (8 bytes)
//	i[n] I[n]  signed, unsigned integer of n bytes, up to 32 (4 alone)
//	c[n]       n bytes of a string (1 alone); c0 packs a whole string and
//	           unpacks as many bytes as the value unpacked just before
//	s          a zero-terminated string
//	f d        float, double in IEEE 754 form
//	space      ignored
//
// unpack returns at most 7997 values, the most Lua 5.1's C stack limit
// lets the C library push, and raises "stack overflow (too many
// results)" past that.
//
// The sizes and the conversions between Lua numbers and the C integer
// types are those of an x86-64 redis-server, down to what its C does with
// values out of range. Bad formats and arguments raise the errors the C
// library raises through Lua 5.1's lauxlib, worded alike ("user_script:1:
// bad argument #2 to 'unpack' (data string too short)").
//
// The package has no state of its own: everything lives in the LState it
// is opened in.
package structlib
