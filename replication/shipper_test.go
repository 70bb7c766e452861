package replication

import (
	"fmt"
	"testing"

	"github.com/pika-node/pika-node/storage"
)

// A follower is consistent with the leader when the leader's log has the
// follower's last entry with the same epoch; anything else is divergence.
func TestConsistent(t *testing.T) {
	eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.EnsureTable(1, 4); err != nil {
		t.Fatal(err)
	}
	write := func(epoch storage.Epoch, n int) {
		eng.SetSlotRole(1, 2, storage.SlotRole{Logged: true, Epoch: epoch})
		for i := range n {
			err := eng.Update(1, []storage.SlotID{2}, func(u *storage.Update) error {
				return u.Txn(2).PutMeta([]byte(fmt.Sprint(epoch, "-", i)), &storage.Meta{Type: storage.TypeString, Value: []byte("v")})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	write(1, 2) // entries 1, 2 at epoch 1
	write(2, 2) // entries 3, 4 at epoch 2
	s := NewShipper(Config{}, eng, nil, nil)
	to := target{"f", 1, 2}
	for _, c := range []struct {
		last  storage.LogIndex
		epoch storage.Epoch
		want  bool
	}{
		{0, 0, true},  // empty follower
		{2, 1, true},  // a prefix
		{4, 2, true},  // up to date
		{3, 1, false}, // entry 3 written at epoch 1 elsewhere: diverged
		{5, 2, false}, // entries the leader never wrote
	} {
		if got := s.consistent(to, c.last, c.epoch); got != c.want {
			t.Errorf("follower at (%d, epoch %d): consistent = %v, want %v", c.last, c.epoch, got, c.want)
		}
	}
}
