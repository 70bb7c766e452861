package rdb

import (
	"testing"
)

// FuzzRestore feeds Decode (RESTORE's reader) arbitrary bodies under a
// valid trailer: it must never panic, and whatever it accepts must survive
// Encode and Decode again unchanged.
func FuzzRestore(f *testing.F) {
	seeds := []*Value{
		{Kind: KindString, Str: []byte("hello")},
		{Kind: KindList, Items: [][]byte{[]byte("a"), []byte("12"), []byte("-70000")}},
		{Kind: KindSet, Items: [][]byte{[]byte("1"), []byte("300")}},
		{Kind: KindSet, Items: [][]byte{[]byte("x"), []byte("y")}},
		{Kind: KindHash, Fields: [][2][]byte{{[]byte("f"), []byte("v")}}},
		{Kind: KindZSet, ZSet: []ZMember{{[]byte("m"), 1.5}, {[]byte("n"), 2}}},
	}
	tight := Limits{HashEntries: 0, ZSetEntries: 0, SetIntsetEntries: 0, ListSize: 1}
	for _, v := range seeds {
		for _, l := range []Limits{DefaultLimits(), tight} {
			p := Encode(v, l)
			f.Add(p[:len(p)-trailerLen])
		}
	}
	// Older encodings: a ziplist list, a zipmap hash.
	f.Add([]byte("\x0a\x0f\x0f\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x01a\xff"))
	f.Add([]byte("\x09\x08\x01\x01f\x01\x00v\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := Decode(Seal(append([]byte(nil), body...)))
		if err != nil {
			if err != ErrBadFormat {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, l := range []Limits{DefaultLimits(), tight} {
			w, err := Decode(Encode(v, l))
			if err != nil || !sameValue(v, w) {
				t.Fatalf("accepted value does not survive Encode/Decode: %v", err)
			}
		}
	})
}
