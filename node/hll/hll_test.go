package hll

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// Values whose bytes were read from redis-server 7.0.15.
func TestKnownValues(t *testing.T) {
	if got, want := New(), []byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff"); !bytes.Equal(got, want) {
		t.Fatalf("New() = %q, want %q", got, want)
	}
	v, changed, err := Add(nil, [][]byte{[]byte("a"), []byte("b"), []byte("c")})
	if err != nil || !changed {
		t.Fatalf("Add: %v %v", changed, err)
	}
	// PFADD x a b c; PFDEBUG DECODE x
	if d, err := Decode(v); err != nil || d != "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603" {
		t.Fatalf("Decode = %q, %v", d, err)
	}
	// PFADD x d; GET x (redis-server had cached 3 before the PFADD: only
	// the registers and the stale flag are compared)
	v, changed, err = Add(v, [][]byte{[]byte("d")})
	want := []byte("HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x80\x5c\x7b\x80\x44\x76\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a")
	if err != nil || !changed {
		t.Fatalf("Add d: %v %v", changed, err)
	}
	if !bytes.Equal(v[HeaderSize:], want[HeaderSize:]) || v[15]&0x80 == 0 {
		t.Fatalf("after PFADD d: % x", v)
	}
	card, upd, err := Count(v)
	if err != nil || card != 4 || upd == nil || binary.LittleEndian.Uint64(upd[8:]) != 4 {
		t.Fatalf("Count = %d %q %v", card, upd, err)
	}
	if card, upd2, err := Count(upd); err != nil || card != 4 || upd2 != nil {
		t.Fatalf("Count of a valid cache = %d %q %v", card, upd2, err)
	}
}

func TestErrors(t *testing.T) {
	dense := make([]byte, DenseSize)
	copy(dense, "HYLL")
	for _, v := range [][]byte{
		[]byte("HYLL"), []byte("hello world, not an hll"), append([]byte("HYLL\x02"), make([]byte, 20)...),
		dense[:DenseSize-1], append(dense[:DenseSize:DenseSize], 0),
	} {
		var nh NotHLLError
		if _, _, err := Count(v); !errors.As(err, &nh) {
			t.Errorf("Count(%.20q) = %v", v, err)
		}
		if _, _, err := Add(v, nil); !errors.As(err, &nh) {
			t.Errorf("Add(%.20q) = %v", v, err)
		}
		if _, err := Merge(nil, [][]byte{v}); !errors.As(err, &nh) {
			t.Errorf("Merge(%.20q) = %v", v, err)
		}
	}
	// Sparse registers covering fewer or more than 16384 registers.
	short := append(New()[:HeaderSize:HeaderSize], 0x7f, 0xfe)
	short[15] = 0x80
	var ce CorruptError
	if _, _, err := Count(short); !errors.As(err, &ce) || err.Error() != "INVALIDOBJ Corrupted HLL object detected" {
		t.Errorf("Count(short) = %v", err)
	}
	if _, err := CountMany([][]byte{nil, short}); !errors.As(err, &ce) {
		t.Errorf("CountMany(short) = %v", err)
	}
	// A valid cache is returned without decoding the registers.
	cached := append([]byte(nil), short...)
	cached[8], cached[15] = 7, 0
	if c, upd, err := Count(cached); c != 7 || upd != nil || err != nil {
		t.Errorf("Count(cached) = %d %q %v", c, upd, err)
	}
}

// Dense and sparse values of the same elements give the same estimates
// and the same registers.
func TestDenseSparseAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 10, 100, 1000, 5000} {
		var v []byte
		dense := make([]byte, DenseSize)
		copy(dense, "HYLL")
		for i := 0; i < n; i++ {
			e := []byte{byte(rng.Uint32()), byte(i), byte(i >> 8), byte(i >> 16)}
			var err error
			if v, _, err = Add(v, [][]byte{e}); err != nil {
				t.Fatal(err)
			}
			if dense, _, err = Add(dense, [][]byte{e}); err != nil {
				t.Fatal(err)
			}
		}
		if v == nil {
			v = New()
		}
		cs, _, err := Count(v)
		if err != nil {
			t.Fatal(err)
		}
		dense[15] |= 0x80
		cd, _, err := Count(dense)
		if err != nil {
			t.Fatal(err)
		}
		if cs != cd {
			t.Errorf("n=%d: sparse %d, dense %d", n, cs, cd)
		}
		rs, _, err := DenseRegisters(v)
		if err != nil {
			t.Fatal(err)
		}
		rd, _, _ := DenseRegisters(dense)
		if !bytes.Equal(rs, rd) {
			t.Errorf("n=%d: registers differ", n)
		}
	}
}

func TestSelfTest(t *testing.T) {
	if testing.Short() {
		t.Skip("10 million elements")
	}
	if err := SelfTest(rand.New(rand.NewPCG(3, 4))); err != nil {
		t.Fatal(err)
	}
}

// FuzzHLL feeds arbitrary bytes, with and without a valid header, to every
// entry point: none may panic, and what Add and Merge return must be a
// value the others accept as such.
func FuzzHLL(f *testing.F) {
	f.Add(New(), []byte("a"))
	v, _, _ := Add(nil, [][]byte{[]byte("x"), []byte("y")})
	f.Add(v, []byte("z"))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f"), []byte("q"))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x80\x81\x82\xff\x00\x3f"), []byte(""))
	f.Fuzz(func(t *testing.T, value, element []byte) {
		for _, val := range [][]byte{value, withHeader(value)} {
			orig := bytes.Clone(val)
			_, _, _ = Count(val)
			_, _ = CountMany([][]byte{val, nil, val})
			elems := [][]byte{element, append(bytes.Clone(element), 1), nil}
			nv, _, err := Add(val, elems)
			if err == nil {
				if Validate(nv) != nil {
					t.Fatalf("Add returned an invalid value % x", nv)
				}
			}
			if m, err := Merge(val, [][]byte{val, nil}); err == nil {
				if Validate(m) != nil {
					t.Fatalf("Merge returned an invalid value")
				}
				if _, _, err := Count(m); err != nil {
					t.Fatalf("Count of a merged value: %v", err)
				}
			}
			if Validate(val) == nil {
				_, _ = Decode(val)
				_, _, _ = DenseRegisters(val)
			}
			if !bytes.Equal(orig, val) {
				t.Fatal("an input value was changed")
			}
		}
	})
}

// withHeader puts a valid sparse header before b, so that the fuzzer
// reaches the register code.
func withHeader(b []byte) []byte {
	h := []byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80")
	return append(h, b...)
}
