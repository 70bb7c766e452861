package rdb

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// crc64Bitwise is the CRC computed one bit at a time from the polynomial,
// independent of the tables.
func crc64Bitwise(crc uint64, p []byte) uint64 {
	for _, b := range p {
		crc ^= uint64(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ jonesPoly
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

func TestCRC64Vectors(t *testing.T) {
	mustHex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want uint64
	}{
		{"empty", nil, 0},
		{"check", []byte("123456789"), 0xe9c6d914c4b8d9ca},
		// The trailers of FUNCTION DUMP payloads redis-server 7.0 wrote: the
		// CRC covers the body and the version bytes.
		{"empty dump", mustHex("0a00"), 0xdaa27f0f405c9b5d},
		{"one library dump", append([]byte("\xf5\x40\x47#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"), 0x0a, 0x00), 0xb3d192cd04045007},
	} {
		if got := CRC64(0, tc.in); got != tc.want {
			t.Errorf("%s: CRC64 = %#x, want %#x", tc.name, got, tc.want)
		}
		if got := crc64Bitwise(0, tc.in); got != tc.want {
			t.Errorf("%s: bitwise CRC = %#x, want %#x (test oracle broken)", tc.name, got, tc.want)
		}
	}
}

func TestCRC64MatchesBitwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		want := crc64Bitwise(0, p)
		if got := CRC64(0, p); got != want {
			t.Fatalf("n=%d: CRC64 = %#x, want %#x", n, got, want)
		}
		// Extending in pieces gives the same CRC as one call.
		for _, cut := range []int{0, 1, n / 3, n - 1, n} {
			if got := CRC64(CRC64(0, p[:cut]), p[cut:]); got != want {
				t.Fatalf("n=%d cut=%d: CRC64 in two calls = %#x, want %#x", n, cut, got, want)
			}
		}
	}
}
