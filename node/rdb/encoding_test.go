package rdb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

func TestAppendLenForms(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "00"},
		{1, "01"},
		{63, "3f"},
		{64, "4040"},
		{71, "4047"},
		{16383, "7fff"},
		{16384, "8000004000"},
		{1<<32 - 1, "80ffffffff"},
		{1 << 32, "810000000100000000"},
		{math.MaxUint64, "81ffffffffffffffff"},
	} {
		got := AppendLen([]byte{0xaa}, tc.n)
		if h := hex.EncodeToString(got[1:]); got[0] != 0xaa || h != tc.want {
			t.Errorf("AppendLen(%d) = %s, want %s", tc.n, h, tc.want)
		}
		d := NewDecoder(got[1:])
		n, encoded, err := d.ReadLen()
		if err != nil || encoded || n != tc.n || d.Len() != 0 {
			t.Errorf("ReadLen(%s) = %d, %v, %v with %d left; want %d", tc.want, n, encoded, err, d.Len(), tc.n)
		}
	}
}

func TestReadLenHostile(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       uint64
		encoded bool
		err     error
	}{
		{"", 0, false, errTruncated},
		{"40", 0, false, errTruncated},
		{"80", 0, false, errTruncated},
		{"80ffffff", 0, false, errTruncated},
		{"81ffffffffffffff", 0, false, errTruncated},
		{"82", 0, false, errLenEncoding},
		{"bf", 0, false, errLenEncoding},
		{"c0", 0, true, nil},
		{"c3", 3, true, nil},
		{"ff", 63, true, nil},
	} {
		in, _ := hex.DecodeString(tc.in)
		n, encoded, err := NewDecoder(in).ReadLen()
		if !errors.Is(err, tc.err) || n != tc.n || encoded != tc.encoded {
			t.Errorf("ReadLen(%s) = %d, %v, %v; want %d, %v, %v", tc.in, n, encoded, err, tc.n, tc.encoded, tc.err)
		}
	}
}

func TestAppendStringEncodings(t *testing.T) {
	for _, tc := range []struct {
		s        string
		compress bool
		want     string // hex; "" means raw
	}{
		{"0", true, "c000"},
		{"1", true, "c001"},
		{"-1", true, "c0ff"},
		{"127", true, "c07f"},
		{"-128", true, "c080"},
		{"128", true, "c18000"},
		{"-129", true, "c17fff"},
		{"32767", true, "c1ff7f"},
		{"-32768", true, "c10080"},
		{"32768", true, "c200800000"},
		{"2147483647", true, "c2ffffff7f"},
		{"-2147483648", true, "c200000080"},
		{"2147483648", true, ""},
		{"-2147483649", true, ""},
		{"12345678901", true, ""},
		{"007", true, ""},
		{"+5", true, ""},
		{"-0", true, ""},
		{" 1", true, ""},
		{"1 ", true, ""},
		{"", true, ""},
		{"0x10", true, ""},
		{"aaaaaaaaaaaaaaaaaaaa", true, ""}, // 20 bytes: never compressed
		{"aaaaaaaaaaaaaaaaaaaaa", true, "c3" + "06" + "15" + "016161" + "e00a00"}, // 21 bytes, as redis-server 7.0 writes them
		{"aaaaaaaaaaaaaaaaaaaaa", false, ""},
		{"abcdefghijklmnopqrstuvwxyz", true, ""}, // does not compress
	} {
		got := AppendString(nil, []byte(tc.s), tc.compress)
		want := tc.want
		if want == "" {
			want = hex.EncodeToString(AppendLen(nil, uint64(len(tc.s)))) + hex.EncodeToString([]byte(tc.s))
		}
		if h := hex.EncodeToString(got); h != want {
			t.Errorf("AppendString(%q, %v) = %s, want %s", tc.s, tc.compress, h, want)
		}
		d := NewDecoder(got)
		back, err := d.ReadString()
		if err != nil || string(back) != tc.s || d.Len() != 0 {
			t.Errorf("ReadString(%x) = %q, %v with %d left; want %q", got, back, err, d.Len(), tc.s)
		}
	}
}

func TestStringRoundTripLong(t *testing.T) {
	for name, s := range lzfInputs() {
		for _, compress := range []bool{false, true} {
			enc := AppendString(nil, s, compress)
			if compress && len(s) > 20 && len(enc) > len(AppendString(nil, s, false)) {
				t.Errorf("%s: compressed form is longer than raw", name)
			}
			got, err := NewDecoder(enc).ReadString()
			if err != nil || !bytes.Equal(got, s) {
				t.Fatalf("%s compress=%v: round trip: %v", name, compress, err)
			}
		}
	}
}

func TestReadStringHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"empty", "", "", errTruncated},
		{"raw too long", "05616263", "", errTooLong},
		{"raw 32-bit too long", "80ffffffff61", "", errTooLong},
		{"raw 64-bit too long", "81ffffffffffffffff61", "", errTooLong},
		{"bad length form", "9061", "", errLenEncoding},
		{"int8 truncated", "c0", "", errTruncated},
		{"int16 truncated", "c101", "", errTruncated},
		{"int32 truncated", "c2010203", "", errTruncated},
		{"encoding 4", "c4", "", errStrEncoding},
		{"encoding 63", "ff", "", errStrEncoding},
		{"lzf no lengths", "c3", "", errTruncated},
		{"lzf no plain length", "c301", "", errTruncated},
		{"lzf data too long", "c3050a0061", "", errTooLong},
		{"lzf huge data", "c381ffffffffffffffff0a0061", "", errTooLong},
		{"lzf huge plain length", "c30281ffffffffffffffff0061", "", errLZFExpansion},
		{"lzf 4GB plain length", "c30280ffffffff0061", "", errLZFExpansion},
		{"lzf bad back-reference", "c3040a00612001", "", errLZFBackRef},
		{"lzf short", "c302050061", "", errLZFShort},
		{"lzf truncated literal", "c30305026162", "", errLZFTruncated},
		{"lzf overflow", "c3040202616263", "", errLZFOverflow},
		// Redis takes a plain length of 0 as an empty string, whatever the
		// data, and either length written as an encoding byte as its value.
		{"lzf empty", "c3010000", "", nil},
		{"lzf empty no data", "c30000", "", nil},
		{"lzf encoded lengths", "c3c4c302616263", "abc", nil},
	} {
		in, err := hex.DecodeString(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := NewDecoder(in).ReadString()
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: ReadString(%s) error %v, want %v", tc.name, tc.in, err, tc.err)
			continue
		}
		if err == nil && string(got) != tc.want {
			t.Errorf("%s: ReadString(%s) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestHostileLengthsDoNotAllocate reads strings declaring huge lengths and
// checks that the memory allocated stays proportional to the input.
func TestHostileLengthsDoNotAllocate(t *testing.T) {
	inputs := []string{
		"81ffffffffffffffff" + strings.Repeat("61", 100),
		"80ffffffff" + strings.Repeat("61", 100),
		"c3" + "4064" + "80ffffffff" + strings.Repeat("00", 100),
		"c3" + "4064" + "81ffffffffffffffff" + strings.Repeat("00", 100),
		"c3" + "4064" + "80000022c4" + strings.Repeat("e0ff00", 33) + "00", // just over 88 bytes per byte
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, h := range inputs {
		in, _ := hex.DecodeString(h)
		if _, err := NewDecoder(in).ReadString(); err == nil {
			t.Fatalf("ReadString(%s) succeeded", h)
		}
		if _, err := DecodeFunctions(Seal(append([]byte{opFunction2}, in...))); err == nil {
			t.Fatalf("DecodeFunctions of %s succeeded", h)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("hostile lengths allocated %d bytes", n)
	}
}
