package rdb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
)

// lzfInputs are inputs of edge sizes around the format's limits (literal
// runs of 32, back-references of 264 bytes, distances of 8192) in random,
// repetitive and mixed content.
func lzfInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	in := map[string][]byte{}
	for _, n := range []int{1, 2, 3, 4, 5, 20, 21, 31, 32, 33, 64, 263, 264, 265, 266, 529, 8191, 8192, 8193, 8194, 70000} {
		in["random/"+strconv.Itoa(n)] = random(n)
		in["zeros/"+strconv.Itoa(n)] = make([]byte, n)
		in["abc/"+strconv.Itoa(n)] = bytes.Repeat([]byte("abc"), n)[:n]
		// A block repeated at a distance just inside and just beyond the
		// farthest back-reference.
		block := random(n)
		in["far/"+strconv.Itoa(n)] = append(append(append([]byte{}, block...), random(8192-n%8192)...), block...)
		in["far+1/"+strconv.Itoa(n)] = append(append(append([]byte{}, block...), random(8193-n%8192)...), block...)
	}
	// Text like a library's code.
	var code []byte
	for i := range 300 {
		code = append(code, "redis.register_function('f"+strconv.Itoa(i)+"', function(keys, args) return redis.call('GET', keys[1]) end)\n"...)
	}
	in["code"] = code
	// Random runs of random lengths.
	var runs []byte
	for len(runs) < 50000 {
		runs = append(runs, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(600))...)
		runs = append(runs, random(rng.IntN(40))...)
	}
	in["runs"] = runs
	return in
}

func TestLZFRoundTrip(t *testing.T) {
	for name, src := range lzfInputs() {
		// With room to spare compression always succeeds (the worst case
		// is 33 bytes per 32 of literals).
		limit := len(src) + len(src)/32 + 4 // Redis's margins
		c, ok := lzfCompress(src, limit)
		if !ok {
			t.Fatalf("%s: lzfCompress(%d bytes, limit %d) failed", name, len(src), limit)
		}
		if len(c) > limit {
			t.Fatalf("%s: compressed to %d bytes, over the limit %d", name, len(c), limit)
		}
		got, err := lzfDecompress(c, len(src))
		if err != nil {
			t.Fatalf("%s: lzfDecompress: %v", name, err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("%s: round trip differs", name)
		}
		// A tighter limit either fits or is refused, never overrun.
		if c2, ok := lzfCompress(src, len(c)-1); ok {
			t.Fatalf("%s: compressed into %d bytes with limit %d, but %d with more room", name, len(c2), len(c)-1, len(c))
		}
	}
}

func TestLZFCompressesRepetition(t *testing.T) {
	src := bytes.Repeat([]byte("a"), 10000)
	c, ok := lzfCompress(src, len(src)-4)
	if !ok {
		t.Fatal("10000 equal bytes do not compress")
	}
	// Two literals (Redis never refers to the first byte), back-references
	// of 264 bytes, 3 bytes each, and the last bytes as literals.
	if max := 3 + 3*(10000/264+1) + 5; len(c) > max {
		t.Fatalf("10000 equal bytes compress to %d bytes, want at most %d", len(c), max)
	}
	if _, ok := lzfCompress(lzfInputs()["random/8192"], 8192-4); ok {
		t.Fatal("random data compressed by 4 bytes")
	}
	if _, ok := lzfCompress(nil, 10); ok {
		t.Fatal("empty input compressed")
	}
}

func TestLZFDecompressHandMade(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		n    int
		want string
		err  error
	}{
		{"literal", []byte{2, 'a', 'b', 'c'}, 3, "abc", nil},
		{"overlapping copy", []byte{0, 'a', 0xe0, 3, 0}, 13, "aaaaaaaaaaaaa", nil},
		{"short copy", []byte{1, 'a', 'b', 0x20, 1}, 5, "ababa", nil},
		{"long copy max", []byte{0, 'x', 0xe0, 255, 0}, 265, string(bytes.Repeat([]byte("x"), 265)), nil},
		{"empty input", nil, 0, "", nil},
		{"truncated literal", []byte{3, 'a', 'b'}, 4, "", errLZFTruncated},
		{"truncated copy", []byte{0, 'a', 0x20}, 4, "", errLZFTruncated},
		{"truncated long copy", []byte{0, 'a', 0xe0}, 20, "", errLZFTruncated},
		{"truncated long copy offset", []byte{0, 'a', 0xe0, 1}, 20, "", errLZFTruncated},
		{"copy before start", []byte{0, 'a', 0x20, 1}, 4, "", errLZFBackRef},
		{"copy with no output", []byte{0x20, 0}, 3, "", errLZFBackRef},
		{"far copy before start", []byte{0, 'a', 0x3f, 0xff}, 4, "", errLZFBackRef},
		{"literal overflow", []byte{2, 'a', 'b', 'c'}, 2, "", errLZFOverflow},
		{"copy overflow", []byte{0, 'a', 0x20, 0}, 3, "", errLZFOverflow},
		{"short output", []byte{2, 'a', 'b', 'c'}, 4, "", errLZFShort},
		{"expansion", []byte{0, 'a'}, 177, "", errLZFExpansion},
		{"negative", []byte{0, 'a'}, -1, "", errLZFExpansion},
	} {
		got, err := lzfDecompress(tc.in, tc.n)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && string(got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLZFDecompressRedis decompresses an LZF string redis-server 7.0 wrote
// in a FUNCTION DUMP payload.
func TestLZFDecompressRedis(t *testing.T) {
	d := NewDecoder(redisCompressedDump[1 : len(redisCompressedDump)-trailerLen])
	got, err := d.ReadString()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != redisCompressedCode {
		t.Fatalf("got %q, want %q", got, redisCompressedCode)
	}
}

// FuzzLZF checks that decompressing anything never panics and that
// compression round-trips.
func FuzzLZF(f *testing.F) {
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 41)
	f.Add([]byte{0, 'a', 0xe0, 255, 0}, 265)
	f.Add([]byte(redisCompressedCode), 10)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n >= 0 && n <= len(data)*lzfMaxRatio {
			if out, err := lzfDecompress(data, n); err == nil && len(out) != n {
				t.Fatalf("decompressed %d bytes, want %d", len(out), n)
			}
		}
		if c, ok := lzfCompress(data, len(data)+len(data)/32+4); ok {
			out, err := lzfDecompress(c, len(data))
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("round trip: %v", err)
			}
		} else if len(data) > 0 {
			t.Fatal("compression with room to spare failed")
		}
	})
}
