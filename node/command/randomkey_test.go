package command

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// TestRandomKeyUniform checks RANDOMKEY picks every key about as often,
// however the keys spread over slots: a slot holding one key is not
// favoured over a slot holding fifty, nor a slot's first key over its
// others. Expired keys not yet swept are never answered.
func TestRandomKeyUniform(t *testing.T) {
	n := newTestNode(t)
	n.expect("$-1", "RANDOMKEY")
	// 1 key alone in its slot, 50 keys in one slot (hash tags), 49 keys
	// spread, and 10 expired keys.
	keys := []string{"alone"}
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("{crowd}%d", i))
	}
	for i := range 49 {
		keys = append(keys, fmt.Sprintf("spread%d", i))
	}
	for _, k := range keys {
		n.expect("+OK", "SET", k, "v")
	}
	for i := range 10 {
		n.expect("+OK", "SET", fmt.Sprintf("gone%d", i), "v", "PX", "1")
	}
	n.nowMS += 10
	if a, c := router.SlotOf([]byte("alone"), storage.DefaultSlots), router.SlotOf([]byte("{crowd}0"), storage.DefaultSlots); a == c {
		t.Fatal("the lone key shares the crowd's slot: pick another name")
	}
	const draws = 30000
	seen := map[string]int{}
	for range draws {
		k := strings.TrimPrefix(shorten(n.do("RANDOMKEY")), "$")
		if strings.HasPrefix(k, "gone") {
			t.Fatalf("RANDOMKEY answered the expired key %q", k)
		}
		seen[k]++
	}
	// Expected 300 draws each (binomial sd ~17): 150..500 holds unless
	// the picking is not uniform (the lone key would get ~1/50 of the
	// draws if slots were picked first, 600 of them).
	for _, k := range keys {
		if c := seen[k]; c < 150 || c > 500 {
			t.Errorf("%s drawn %d times of %d, expected about %d", k, c, draws, draws/len(keys))
		}
	}
}
