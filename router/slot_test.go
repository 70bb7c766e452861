package router

import (
	"hash/crc32"
	"testing"
)

func TestHashKey(t *testing.T) {
	cases := []struct{ key, want string }{
		{"foo", "foo"},
		{"{user1000}.following", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // first {} is empty: whole key, as Redis does
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"},
		{"{", "{"},
		{"}{", "}{"},
		{"a{b", "a{b"},
		{"", ""},
	}
	for _, c := range cases {
		if got := string(HashKey([]byte(c.key))); got != c.want {
			t.Errorf("HashKey(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestSlotOf(t *testing.T) {
	const slots = 1024
	if a, b := SlotOf([]byte("{tag}a"), slots), SlotOf([]byte("{tag}b"), slots); a != b {
		t.Fatalf("hash-tagged keys in different slots: %d %d", a, b)
	}
	if got, want := SlotOf([]byte("hello"), slots), SlotID(crc32.ChecksumIEEE([]byte("hello"))%slots); got != want {
		t.Fatalf("SlotOf(hello) = %d, want %d", got, want)
	}
	seen := map[SlotID]bool{}
	for i := 0; i < 10000; i++ {
		s := SlotOf([]byte{byte(i), byte(i >> 8), 'k'}, slots)
		if s >= slots {
			t.Fatalf("slot %d out of range", s)
		}
		seen[s] = true
	}
	if len(seen) < slots*9/10 {
		t.Fatalf("poor spread: %d of %d slots used", len(seen), slots)
	}
}
