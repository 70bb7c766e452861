package rdb

import (
	"encoding/binary"
	"hash/crc64"
	"sync"
)

// jonesPoly is the Jones CRC-64 polynomial (0xad93d23594c935a9) in the
// reversed (LSB-first) form hash/crc64 expects.
const jonesPoly = 0x95ac9329ac4bc9b5

// crcTables is the slicing-by-8 table set: crcTables()[0] is the classic
// byte-at-a-time table and crcTables()[k][b] is the CRC of byte b followed
// by k zero bytes.
var crcTables = sync.OnceValue(func() *[8]crc64.Table {
	var t [8]crc64.Table
	t[0] = *crc64.MakeTable(jonesPoly)
	for i := 0; i < 256; i++ {
		crc := t[0][i]
		for k := 1; k < 8; k++ {
			crc = t[0][byte(crc)] ^ crc>>8
			t[k][i] = crc
		}
	}
	return &t
})

// CRC64 extends crc with p using Redis's CRC-64: the Jones polynomial,
// reflected, with no inversion on entry or exit. Start with crc 0;
// CRC64(0, []byte("123456789")) is 0xe9c6d914c4b8d9ca. DUMP payloads end
// with this checksum of everything before it.
func CRC64(crc uint64, p []byte) uint64 {
	t := crcTables()
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][byte(crc)] ^ t[6][byte(crc>>8)] ^
			t[5][byte(crc>>16)] ^ t[4][byte(crc>>24)] ^
			t[3][byte(crc>>32)] ^ t[2][byte(crc>>40)] ^
			t[1][byte(crc>>48)] ^ t[0][byte(crc>>56)]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}
