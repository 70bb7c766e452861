package rdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// These tests move payloads between this package and a real redis-server
// 7.0, which they start. They fail, not skip, without redis-server.

// startRedis starts redis-server on a free loopback port, waits until it
// answers PING, and stops it when the test ends.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("these tests need a real redis-server, which is not on PATH: %v", err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "redis.log")
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", dir, "--logfile", logPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	c := redis.NewClient(&redis.Options{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Protocol: 2,
		DisableIdentity: true, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return c
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("redis-server exited before answering PING: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("redis-server did not answer PING: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// library returns the code of a library named name registering n
// functions, with extra appended (inside a Lua comment when comment is
// set).
func library(name string, n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!lua name=%s\n", name)
	for i := range n {
		fmt.Fprintf(&b, "redis.register_function('%s_f%d', function(keys, args) return %d end)\n", name, i, i)
	}
	b.WriteString(extra)
	return b.String()
}

// testLibraries are libraries of every size class: short enough for a
// 6-bit length, 14-bit, and over 16384 bytes (32-bit); repetitive ones
// Redis compresses, one of random bytes it cannot.
func testLibraries() []string {
	rng := rand.New(rand.NewPCG(7, 8))
	noise := make([]byte, 20000)
	for i := range noise {
		noise[i] = byte(rng.IntN(256))
		if noise[i] == ']' {
			noise[i] = 'x'
		}
	}
	return []string{
		"#!lua name=tiny\nredis.register_function('t', function() return 1 end)",
		library("small", 1, ""),
		library("medium", 3, "-- "+strings.Repeat("medium padding ", 10)+"\n"),
		library("repeat", 200, ""),
		library("runs", 1, "--[["+strings.Repeat("a", 3000)+"]]\n"),
		library("far", 1, "--[["+string(noise[:9000])+"]]\n"+"local x = 1\n"+"--[["+string(noise[:9000])+"]]\n"),
		library("noise", 1, "--[["+string(noise)+"]]\n"),
	}
}

// walkEncodings returns, for each library of a FUNCTION DUMP payload, the
// first byte of its code's RDB string, which tells its encoding.
func walkEncodings(t *testing.T, payload []byte) []byte {
	t.Helper()
	body, _, err := Open(payload)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(body)
	var firsts []byte
	for d.Len() > 0 {
		if op, err := d.ReadByte(); err != nil || op != opFunction2 {
			t.Fatalf("opcode %d, %v", op, err)
		}
		firsts = append(firsts, body[len(body)-d.Len()])
		if _, err := d.ReadString(); err != nil {
			t.Fatal(err)
		}
	}
	return firsts
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// loadedCodes is FUNCTION LIST WITHCODE's codes, sorted.
func loadedCodes(t *testing.T, c *redis.Client) []string {
	t.Helper()
	libs, err := c.FunctionList(context.Background(), redis.FunctionListQuery{WithCode: true}).Result()
	if err != nil {
		t.Fatalf("FUNCTION LIST WITHCODE: %v", err)
	}
	var codes []string
	for _, l := range libs {
		codes = append(codes, l.Code)
	}
	return sorted(codes)
}

// restoreOnRedis runs FUNCTION RESTORE payload FLUSH and returns either
// the codes then loaded (sorted) or Redis's error reply.
func restoreOnRedis(t *testing.T, c *redis.Client, payload []byte) ([]string, string) {
	t.Helper()
	err := c.Do(context.Background(), "FUNCTION", "RESTORE", string(payload), "FLUSH").Err()
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return nil, rerr.Error()
	}
	if err != nil {
		t.Fatalf("FUNCTION RESTORE: %v", err)
	}
	return loadedCodes(t, c), ""
}

func functionDump(t *testing.T, c *redis.Client) []byte {
	t.Helper()
	s, err := c.FunctionDump(context.Background()).Result()
	if err != nil {
		t.Fatalf("FUNCTION DUMP: %v", err)
	}
	return []byte(s)
}

func TestRedisDumpDecodes(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	codes := testLibraries()
	for _, code := range codes {
		if err := c.FunctionLoad(ctx, code).Err(); err != nil {
			t.Fatalf("FUNCTION LOAD %.30q: %v", code, err)
		}
	}
	dump := functionDump(t, c)
	got, err := DecodeFunctions(dump)
	if err != nil {
		t.Fatalf("DecodeFunctions(FUNCTION DUMP): %v", err)
	}
	if !slices.Equal(sorted(got), sorted(codes)) {
		t.Fatalf("DecodeFunctions(FUNCTION DUMP) gave other codes than were loaded")
	}
	// Redis compressed some and wrote a 32-bit length for another.
	firsts := walkEncodings(t, dump)
	if !slices.Contains(firsts, lenEncoded|encLZF) || !slices.Contains(firsts, len32Bit) {
		t.Fatalf("FUNCTION DUMP's strings start %x: want LZF-compressed and 32-bit lengths", firsts)
	}

	// With one library, whose code does not compress, our payload is
	// Redis's byte for byte.
	if err := c.FunctionFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.FunctionLoad(ctx, codes[1]).Err(); err != nil {
		t.Fatal(err)
	}
	if dump, ours := functionDump(t, c), EncodeFunctions(codes[1:2]); !bytes.Equal(dump, ours) {
		t.Fatalf("FUNCTION DUMP = %x, EncodeFunctions = %x", dump, ours)
	}

	// No library: the bare trailer.
	if err := c.FunctionFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	dump = functionDump(t, c)
	if got, err := DecodeFunctions(dump); err != nil || len(got) != 0 || !bytes.Equal(dump, EncodeFunctions(nil)) {
		t.Fatalf("empty FUNCTION DUMP %x: %q, %v", dump, got, err)
	}
}

func TestRedisRestoresEncoded(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	codes := testLibraries()
	// More codes our compressor shrinks, around its limits: matches of 264
	// bytes, distances of 8192, a code just long enough to compress.
	codes = append(codes,
		library("long_runs", 2, "--"+strings.Repeat("z", 264*3+1)+"\n"),
		library("dist", 1, "--"+strings.Repeat("0123456789abcdef", 520)+"\n"),
	)
	p := EncodeFunctions(codes)
	firsts := walkEncodings(t, p)
	compressed := 0
	for _, f := range firsts {
		if f == lenEncoded|encLZF {
			compressed++
		}
	}
	if compressed < 4 {
		t.Fatalf("EncodeFunctions compressed %d of %d codes, want at least 4", compressed, len(codes))
	}
	if err := c.FunctionLoad(ctx, library("old", 1, "")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.FunctionFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.FunctionRestore(ctx, string(p)).Err(); err != nil {
		t.Fatalf("FUNCTION RESTORE of EncodeFunctions' payload: %v", err)
	}
	if got := loadedCodes(t, c); !slices.Equal(got, sorted(codes)) {
		t.Fatalf("FUNCTION LIST WITHCODE after RESTORE shows other codes")
	}
	if n, err := c.FCall(ctx, "repeat_f199", nil).Int(); err != nil || n != 199 {
		t.Fatalf("FCALL repeat_f199 = %d, %v", n, err)
	}
	// And Redis dumps them back to the same codes.
	if got, err := DecodeFunctions(functionDump(t, c)); err != nil || !slices.Equal(sorted(got), sorted(codes)) {
		t.Fatalf("DecodeFunctions(FUNCTION DUMP) after RESTORE: %v", err)
	}

	// Each code alone, compressed or not.
	for _, code := range codes {
		for _, compress := range []bool{false, true} {
			body := AppendString([]byte{opFunction2}, []byte(code), compress)
			got, rerr := restoreOnRedis(t, c, Seal(body))
			if rerr != "" || !slices.Equal(got, []string{code}) {
				t.Fatalf("FUNCTION RESTORE of %.30q (compress %v): %s", code, compress, rerr)
			}
		}
	}
}

// differential compares FUNCTION RESTORE of payload on Redis with
// DecodeFunctions. Redis compiles each library as it reads it, so when
// DecodeFunctions fails after reading some codes, Redis's reply may be a
// compile error of one of them; when it succeeds, Redis may still refuse a
// code that is not a valid library. exact demands the same outcome.
//
// It returns how the payload fared: "restored", "decode error" (both
// refused it with the same decode error) or "compile error" (Redis
// refused a code DecodeFunctions read).
func differential(t *testing.T, c *redis.Client, name string, payload []byte, exact bool) string {
	t.Helper()
	codes, err := DecodeFunctions(payload)
	rcodes, rerr := restoreOnRedis(t, c, payload)
	defer func() {
		if t.Failed() {
			t.Logf("%s: payload %x", name, payload)
		}
	}()
	isDecodeErr := slices.ContainsFunc(knownErrors, func(e error) bool { return e.Error() == rerr })
	switch {
	case err != nil && (exact || len(codes) == 0):
		if rerr != err.Error() {
			t.Errorf("%s: Redis replies %q, DecodeFunctions %q", name, rerr, err)
		}
	case err != nil:
		if rerr == "" || (isDecodeErr && rerr != err.Error()) {
			t.Errorf("%s: Redis replies %q, DecodeFunctions %q after %d codes", name, rerr, err, len(codes))
		}
	case exact || rerr == "":
		if rerr != "" || !slices.Equal(rcodes, sorted(codes)) {
			t.Errorf("%s: Redis replies %q with codes %.60q, DecodeFunctions %.60q", name, rerr, rcodes, sorted(codes))
		}
	default:
		if isDecodeErr {
			t.Errorf("%s: Redis replies %q, DecodeFunctions succeeds", name, rerr)
		}
	}
	switch {
	case rerr == "":
		return "restored"
	case err != nil && rerr == err.Error():
		return "decode error"
	}
	return "compile error"
}

// TestRedisDifferential gives hand-made payloads, good and bad, to both
// FUNCTION RESTORE and DecodeFunctions and demands the same outcome: the
// same codes, or the same error reply.
func TestRedisDifferential(t *testing.T) {
	c := startRedis(t)
	lib2 := library("lib2", 2, "")
	blob := "redis.register_function('g1', function() return 2 end)"
	preGA := func(name, engine string, desc []byte, blob string) []byte {
		return cat([]byte{opFunctionPreGA}, lenStr(name), lenStr(engine), desc, lenStr(blob))
	}
	ff := bytes.Repeat([]byte{0xff}, 8)
	for _, tc := range []struct {
		name  string
		body  []byte
		loose bool // the code read is not a library: Redis's reply is a compile error
	}{
		{name: "empty", body: nil},
		{name: "one", body: cat([]byte{opFunction2}, lenStr(lib1))},
		{name: "two", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2}, lenStr(lib2))},
		{name: "not a function", body: cat([]byte{0}, lenStr(lib1))},
		{name: "opcode 244", body: []byte{244, 0}},
		{name: "opcode 247", body: []byte{247, 0}},
		{name: "opcode 255", body: []byte{255}},
		{name: "junk after a library", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{1})},
		{name: "opcode alone", body: []byte{opFunction2}},
		{name: "length past the end", body: cat([]byte{opFunction2}, AppendLen(nil, uint64(len(lib1)+20)), []byte(lib1))},
		{name: "length just past the end", body: cat([]byte{opFunction2}, AppendLen(nil, uint64(len(lib1)+11)), []byte(lib1))},
		{name: "length into the trailer", body: cat([]byte{opFunction2}, AppendLen(nil, uint64(len(lib1)+1)), []byte(lib1))},
		{name: "64-bit length", body: cat([]byte{opFunction2, 0x81}, ff, []byte(lib1))},
		{name: "32-bit length", body: cat([]byte{opFunction2, 0x80}, ff[:4], []byte(lib1))},
		{name: "bad length form", body: cat([]byte{opFunction2, 0x82}, []byte(lib1))},
		{name: "string encoding 4", body: cat([]byte{opFunction2, 0xc4}, []byte(lib1))},
		{name: "int from the trailer", body: []byte{opFunction2, 0xc2, 0}, loose: true},
		{name: "lzf short", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc3, 2, 5, 1, 'a'})},
		{name: "lzf overflow", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc3, 4, 2, 2, 'a', 'b', 'c'})},
		{name: "lzf bad back-reference", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc3, 3, 5, 0x20, 5, 0})},
		{name: "lzf huge length", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc3, 2, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 'a'})},
		{name: "lzf data past the end", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc3, 0x40, 40, 3, 2, 'a', 'b', 'c'})},
		{name: "lzf encoded lengths", body: lzfEncodedLengths("#!lua name=a\nredis.register_function('f',function() end)")},
		{name: "second library bad", body: cat([]byte{opFunction2}, lenStr(lib1), []byte{opFunction2, 0xc4})},
		{name: "pre-GA", body: preGA("lib246", "lua", []byte{1, 1, 'd'}, blob)},
		{name: "pre-GA engine case", body: preGA("lib246", "LUA", []byte{0}, blob)},
		{name: "pre-GA NULs", body: preGA("lib2\x0046", "lua", []byte{0}, blob+"\n--\x00tail")},
		{name: "pre-GA encoded indicator", body: preGA("l", "lua", []byte{0xc0}, blob)},
		{name: "pre-GA 2 indicator", body: preGA("l", "lua", []byte{2, 0}, blob)},
		{name: "pre-GA and new", body: cat(preGA("l", "lua", []byte{0}, blob), []byte{opFunction2}, lenStr(lib1))},
		{name: "pre-GA name", body: []byte{opFunctionPreGA, 0xc5}},
		{name: "pre-GA engine", body: cat([]byte{opFunctionPreGA}, lenStr("l"), []byte{0xc5})},
		{name: "pre-GA indicator", body: cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0x82})},
		{name: "pre-GA indicator RDB_LENERR", body: cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0x81}, ff, lenStr(blob))},
		{name: "pre-GA description", body: cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{1, 0xc5})},
		{name: "pre-GA blob", body: cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0, 0xc5})},
		{name: "pre-GA blob past the end", body: cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{0, 0x40, 200}, []byte(blob))},
	} {
		_ = differential(t, c, tc.name, Seal(tc.body), !tc.loose)
	}
	// Bad trailers.
	p := EncodeFunctions([]string{lib1})
	for name, q := range map[string][]byte{
		"short":      p[:9],
		"no trailer": []byte(lib1),
		"flipped":    append(slices.Clone(p[:len(p)-1]), p[len(p)-1]^0x80),
		"version 11": sealVersion(p[:len(p)-trailerLen], 11),
		"version 9":  sealVersion(p[:len(p)-trailerLen], 9),
	} {
		_ = differential(t, c, name, q, true)
	}
}

// lzfEncodedLengths is a library of code (at most 63 bytes) as an LZF
// string whose two lengths are written as encoding bytes (11xxxxxx), which
// Redis reads as their low 6 bits.
func lzfEncodedLengths(code string) []byte {
	data, _ := lzfAppendLiterals(nil, []byte(code), 63)
	return cat([]byte{opFunction2, lenEncoded | byte(len(data)), lenEncoded | byte(len(code))}, data)
}

// TestRedisMutations corrupts payloads at random, reseals them, and gives
// them to both FUNCTION RESTORE and DecodeFunctions.
func TestRedisMutations(t *testing.T) {
	c := startRedis(t)
	rng := rand.New(rand.NewPCG(9, 10))
	bases := [][]byte{
		EncodeFunctions([]string{lib1, library("rep", 40, ""), library("z", 1, "")}),
		redisCompressedDump,
		Seal(cat([]byte{opFunctionPreGA}, lenStr("l"), lenStr("lua"), []byte{1}, lenStr("d"),
			lenStr("redis.register_function('g1', function() return 2 end)"))),
	}
	outcomes := map[string]int{}
	for i := range 600 {
		base := bases[i%len(bases)]
		body := slices.Clone(base[:len(base)-trailerLen])
		for range 1 + rng.IntN(3) {
			if len(body) == 0 {
				break
			}
			at := rng.IntN(len(body))
			switch rng.IntN(5) {
			case 0:
				body[at] ^= 1 << rng.IntN(8)
			case 1:
				body[at] = byte(rng.IntN(256))
			case 2:
				body = body[:at]
			case 3:
				body = slices.Insert(body, at, byte(rng.IntN(256)))
			case 4:
				body = slices.Delete(body, at, at+1)
			}
		}
		outcomes[differential(t, c, fmt.Sprintf("mutation %d", i), Seal(body), false)]++
		if t.Failed() {
			return
		}
	}
	t.Logf("outcomes: %v", outcomes)
	// The mutations reach all three outcomes.
	if len(outcomes) != 3 {
		t.Fatalf("outcomes %v: want restored, decode error and compile error", outcomes)
	}
}
