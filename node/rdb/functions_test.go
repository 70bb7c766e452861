package rdb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// Payloads redis-server 7.0.15's FUNCTION DUMP wrote.
var (
	redisEmptyDump = mustHex("0a005d9b5c400f7fa2da")

	redisOneLibCode = "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)"
	redisOneLibDump = append(append([]byte("\xf5\x40\x47"), redisOneLibCode...),
		mustHex("0a00075004"+"04cd92d1b3")...)

	redisCompressedCode = "#!lua name=rep\n" +
		"redis.register_function('f0', function() return 0 end)\n" +
		"redis.register_function('f1', function() return 1 end)\n" +
		"redis.register_function('f2', function() return 2 end)\n" +
		"redis.register_function('f3', function() return 3 end)\n"
	redisCompressedDump = mustHex("f5c3406540eb1f23216c7561206e616d653d7265700a72656469732e72656769737465725f66" +
		"750c6e6374696f6e28276630272c20e0000e0e292072657475726e203020656e6429e01236" +
		"0031e00c360031e017360032e00c360032e017360033e00c360033403601290a0a00f63549afe4b207a4")
)

// lenStr is an RDB raw string: its length, then s.
func lenStr(s string) []byte { return append(AppendLen(nil, uint64(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

const lib1 = "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"

func TestDecodeRedisDumps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    []string
	}{
		{"empty", redisEmptyDump, nil},
		{"one library", redisOneLibDump, []string{redisOneLibCode}},
		{"compressed", redisCompressedDump, []string{redisCompressedCode}},
	} {
		got, err := DecodeFunctions(tc.payload)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: DecodeFunctions = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// A library that does not compress is written byte for byte as Redis
	// writes it.
	if got := EncodeFunctions([]string{redisOneLibCode}); !bytes.Equal(got, redisOneLibDump) {
		t.Errorf("EncodeFunctions = %x, want Redis's %x", got, redisOneLibDump)
	}
	if got := EncodeFunctions(nil); !bytes.Equal(got, redisEmptyDump) {
		t.Errorf("EncodeFunctions(nil) = %x, want Redis's %x", got, redisEmptyDump)
	}
}

func TestFunctionsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	codes := []string{
		"", "1", "-7", "123456", "2147483648", "007", lib1,
		strings.Repeat("redis.register_function('x', function() return 1 end)\n", 50),
		"with\x00nul\x00bytes and more than twenty bytes of text\x00",
		strings.Repeat("a", 21), strings.Repeat("a", 20), strings.Repeat("b", 100000),
	}
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	codes = append(codes, string(random))
	for i := range codes {
		got, err := DecodeFunctions(EncodeFunctions(codes[i : i+1]))
		if err != nil || !slices.Equal(got, codes[i:i+1]) {
			t.Fatalf("round trip of %.40q: %.40q, %v", codes[i], got, err)
		}
	}
	got, err := DecodeFunctions(EncodeFunctions(codes))
	if err != nil || !slices.Equal(got, codes) {
		t.Fatalf("round trip of all: %v", err)
	}
	// Long repetitive codes are LZF-compressed.
	if p := EncodeFunctions(codes[7:8]); p[1] != lenEncoded|encLZF || len(p) >= len(codes[7]) {
		t.Fatalf("a repetitive code of %d bytes encodes to %d bytes starting %x", len(codes[7]), len(p), p[:2])
	}
}

func TestDecodeFunctionsHostile(t *testing.T) {
	preGA := func(name, engine string, desc []byte, blob string) []byte {
		return cat([]byte{opFunctionPreGA}, lenStr(name), lenStr(engine), desc, lenStr(blob))
	}
	blob := "redis.register_function('g1', function() return 2 end)"
	for _, tc := range []struct {
		name string
		body []byte
		want []string
		err  error
	}{
		{"empty", nil, nil, nil},
		{"one", cat([]byte{opFunction2}, lenStr(lib1)), []string{lib1}, nil},
		{"not a function", cat([]byte{0}, lenStr(lib1)), nil, ErrNotFunction},
		{"opcode 244", []byte{244, 0}, nil, ErrNotFunction},
		{"opcode 247", []byte{247, 0}, nil, ErrNotFunction},
		{"junk after a library", cat([]byte{opFunction2}, lenStr(lib1), []byte{1}), []string{lib1}, ErrNotFunction},
		{"opcode alone", []byte{opFunction2}, nil, ErrLibraryPayload},
		{"length past the end", cat([]byte{opFunction2}, AppendLen(nil, uint64(len(lib1)+20)), []byte(lib1)), nil, ErrLibraryPayload},
		{"64-bit length", cat([]byte{opFunction2, 0x81}, bytes.Repeat([]byte{0xff}, 8), []byte(lib1)), nil, ErrLibraryPayload},
		{"bad length form", cat([]byte{opFunction2, 0x82}, []byte(lib1)), nil, ErrLibraryPayload},
		{"string encoding 4", cat([]byte{opFunction2, 0xc4}, []byte(lib1)), nil, ErrLibraryPayload},
		{"int8", []byte{opFunction2, 0xc0, 5}, []string{"5"}, nil},
		{"int32", []byte{opFunction2, 0xc2, 0, 0, 0, 0x80}, []string{"-2147483648"}, nil},
		{"lzf empty", []byte{opFunction2, 0xc3, 1, 0, 0}, []string{""}, nil},
		{"lzf short", []byte{opFunction2, 0xc3, 2, 5, 1, 'a'}, nil, ErrLibraryPayload},
		{"lzf bad back-reference", []byte{opFunction2, 0xc3, 3, 5, 0x20, 5, 0}, nil, ErrLibraryPayload},
		{"second library bad", cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc4}), []string{lib1}, ErrLibraryPayload},
		{"pre-GA", preGA("lib246", "lua", []byte{1, 1, 'd'}, blob), []string{"#!lua name=lib246\n" + blob}, nil},
		{"pre-GA no description", preGA("lib246", "LUA", []byte{0}, blob), []string{"#!LUA name=lib246\n" + blob}, nil},
		{"pre-GA NULs", preGA("lib2\x0046", "lua\x00x", []byte{0}, blob+"\x00tail"), []string{"#!lua name=lib2\n" + blob}, nil},
		{"pre-GA encoded indicator", preGA("l", "lua", []byte{0xc0}, blob), []string{"#!lua name=l\n" + blob}, nil},
		{"pre-GA name", []byte{opFunctionPreGA, 0xc5}, nil, ErrLibraryName},
		{"pre-GA engine", cat([]byte{opFunctionPreGA}, lenStr("l"), []byte{0xc5}), nil, ErrEngineName},
		{"pre-GA indicator", cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0x82}), nil, ErrLibraryDescIndicator},
		{"pre-GA indicator RDB_LENERR", cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0x81}, bytes.Repeat([]byte{0xff}, 8), lenStr(blob)), nil, ErrLibraryDescIndicator},
		{"pre-GA description", cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{1, 0xc5}), nil, ErrLibraryDesc},
		{"pre-GA blob", cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0, 0xc5}), nil, ErrLibraryBlob},
	} {
		got, err := DecodeFunctions(Seal(tc.body))
		if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: DecodeFunctions = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// TestDecodeFunctionsReadsIntoTrailer checks the Redis quirk that the last
// library's code may run into the trailer: Redis reads libraries while
// more than 10 bytes are left, from the whole payload.
func TestDecodeFunctionsReadsIntoTrailer(t *testing.T) {
	body := cat([]byte{opFunction2}, AppendLen(nil, uint64(len(lib1)+5)), []byte(lib1))
	p := Seal(body)
	got, err := DecodeFunctions(p)
	want := lib1 + string(p[len(body):len(body)+5])
	if err != nil || !slices.Equal(got, []string{want}) {
		t.Fatalf("DecodeFunctions = %q, %v; want %q", got, err, want)
	}
}

func TestDecodeFunctionsBadTrailer(t *testing.T) {
	p := bytes.Clone(redisOneLibDump)
	p[5] ^= 1
	for name, p := range map[string][]byte{"flipped": p, "short": {1, 2, 3}, "empty": nil} {
		got, err := DecodeFunctions(p)
		if err != ErrPayload || got != nil {
			t.Errorf("%s: DecodeFunctions = %q, %v; want ErrPayload", name, got, err)
		}
	}
}

// knownErrors are the errors DecodeFunctions may return.
var knownErrors = []error{ErrPayload, ErrNotFunction, ErrLibraryPayload, ErrLibraryName,
	ErrEngineName, ErrLibraryDescIndicator, ErrLibraryDesc, ErrLibraryBlob}

func checkDecodeFunctions(t *testing.T, p []byte) {
	codes, err := DecodeFunctions(p)
	if err != nil {
		if !slices.Contains(knownErrors, err) {
			t.Fatalf("unexpected error %v", err)
		}
		if !strings.HasPrefix(err.Error(), "ERR ") {
			t.Fatalf("error %q is not a reply", err)
		}
		return
	}
	again, err := DecodeFunctions(EncodeFunctions(codes))
	if err != nil || !slices.Equal(again, codes) {
		t.Fatalf("re-encoding the decoded codes: %v", err)
	}
}

func FuzzDecodeFunctions(f *testing.F) {
	f.Add(redisEmptyDump)
	f.Add(redisOneLibDump)
	f.Add(redisCompressedDump)
	f.Add(redisCompressedDump[:len(redisCompressedDump)-trailerLen])
	f.Add(EncodeFunctions([]string{lib1, strings.Repeat("abc", 100), "12"}))
	f.Add(cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{1}, lenStr("d"), lenStr("x")))
	f.Add([]byte{opFunction2, 0xc3, 3, 5, 0x20, 5, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// As is (nearly always refused by the checksum), and sealed, to
		// reach the library decoding.
		checkDecodeFunctions(t, data)
		checkDecodeFunctions(t, Seal(bytes.Clone(data)))
	})
}
