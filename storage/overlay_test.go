package storage

import (
	"strconv"
	"testing"
)

func TestOverlayGrowsAndMerges(t *testing.T) {
	var o overlay
	for i := 0; i < 3*overlaySmall; i++ {
		o.set([]byte("k"+strconv.Itoa(i)), []byte(strconv.Itoa(i)))
		o.set([]byte("k"+strconv.Itoa(i/2)), []byte("x")) // overwrite an earlier key
	}
	for i := 0; i < 3*overlaySmall; i++ {
		v, ok := o.get([]byte("k" + strconv.Itoa(i)))
		want := strconv.Itoa(i)
		if i <= (3*overlaySmall-1)/2 {
			want = "x"
		}
		if !ok || string(v) != want {
			t.Fatalf("k%d = %q, %v; want %q", i, v, ok, want)
		}
	}
	var small overlay
	small.set([]byte("k0"), nil)
	small.set([]byte("new"), []byte("n"))
	o.merge(&small)
	if v, ok := o.get([]byte("k0")); !ok || v != nil {
		t.Fatalf("merged delete: %q, %v", v, ok)
	}
	if v, _ := o.get([]byte("new")); string(v) != "n" {
		t.Fatalf("merged new key: %q", v)
	}
	if _, ok := o.get([]byte("missing")); ok {
		t.Fatal("found a key never set")
	}
}
