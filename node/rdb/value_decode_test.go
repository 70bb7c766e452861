package rdb

import (
	"testing"
)

// TestDecodeOlderEncodings reads payloads in the encodings of Redis before
// 7.0 (a zipmap hash, a ziplist list, a quicklist of ziplists, ziplist
// sorted sets and hashes, RDB_TYPE_ZSET's text scores), which
// redis-server 7.0.15 restores to the same values (checked by hand, and in
// node/compat/testdata/dump.txt against redis-server).
func TestDecodeOlderEncodings(t *testing.T) {
	zl := func(items ...string) []byte {
		b := make([]byte, 10)
		prev, last := 0, 10
		for _, it := range items {
			e := append([]byte{byte(prev), byte(len(it))}, it...)
			last = len(b)
			b = append(b, e...)
			prev = len(e)
		}
		b = append(b, 0xff)
		b[0], b[4], b[8] = byte(len(b)), byte(last), byte(len(items))
		return b
	}
	str := func(b []byte) []byte { return AppendString(nil, b, false) }
	cases := []struct {
		name string
		body []byte
		want Value
	}{
		{"zipmap", append([]byte{typeHashZipmap}, str([]byte("\x02\x01f\x02\x00v1\x02gg\x01\x03x\x00\x00\x00\xff"))...),
			Value{Kind: KindHash, Fields: [][2][]byte{{[]byte("f"), []byte("v1")}, {[]byte("gg"), []byte("x")}}}},
		{"ziplist list", append([]byte{typeListZiplist}, str(zl("a", "bb", "12"))...),
			Value{Kind: KindList, Items: [][]byte{[]byte("a"), []byte("bb"), []byte("12")}}},
		{"quicklist v1", append([]byte{typeListQuicklist, 2}, append(str(zl("a", "b")), str(zl("c"))...)...),
			Value{Kind: KindList, Items: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}},
		{"ziplist zset", append([]byte{typeZSetZiplist}, str(zl("m1", "1.5", "m2", "inf"))...),
			Value{Kind: KindZSet, ZSet: []ZMember{{[]byte("m1"), 1.5}, {[]byte("m2"), posInf}}}},
		{"ziplist hash", append([]byte{typeHashZiplist}, str(zl("f1", "v1"))...),
			Value{Kind: KindHash, Fields: [][2][]byte{{[]byte("f1"), []byte("v1")}}}},
		{"text scores", []byte("\x03\x02\x01a\x031.5\x01b\xfe"),
			Value{Kind: KindZSet, ZSet: []ZMember{{[]byte("a"), 1.5}, {[]byte("b"), posInf}}}},
	}
	for _, tc := range cases {
		v, err := Decode(Seal(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !sameValue(v, &tc.want) {
			t.Fatalf("%s: decoded %+v", tc.name, v)
		}
	}
}

var posInf = func() float64 { v, _ := parseScore([]byte("inf")); return v }()

// TestDecodeHostile: lengths far beyond the payload are refused before
// anything is allocated for them, and nothing panics.
func TestDecodeHostile(t *testing.T) {
	for _, body := range [][]byte{
		[]byte("\x02\x81\x10\x00\x00\x00\x00\x00\x00\x00"),          // a set of 2^60 members
		[]byte("\x05\x81\x10\x00\x00\x00\x00\x00\x00\x00"),          // a sorted set of 2^60
		[]byte("\x12\x81\x10\x00\x00\x00\x00\x00\x00\x00"),          // a quicklist of 2^60 nodes
		[]byte("\x00\x81\x10\x00\x00\x00\x00\x00\x00\x00"),          // a string of 2^60 bytes
		[]byte("\x00\xc3\x01\x81\x10\x00\x00\x00\x00\x00\x00\x00x"), // LZF claiming 2^60 bytes
		[]byte("\x10\x0a\xff\xff\xff\x7f\xff\xff\xf0\xff\xff\xff"),  // a listpack entry of 4 GB
		[]byte("\x0b\x08\x02\x00\x00\x00\xff\xff\xff\xff"),          // an intset of 2^32 integers
	} {
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := Decode(Seal(append([]byte(nil), body...))); err != ErrBadFormat {
				t.Fatalf("%q: %v, want %v", body, err, ErrBadFormat)
			}
		})
		if allocs > 10 {
			t.Fatalf("%q: %v allocations", body, allocs)
		}
	}
}
