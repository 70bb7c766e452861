package multiraft

import (
	"testing"

	"github.com/pika-node/pika-node/storage"
)

// TestStagedSnapshotLandsUndisturbed: once a staged snapshot's message has
// been given to raft, a second snapshot from the leader (it retried, or
// the log moved past the first) must not empty or add to the staging area
// before the round lands the first: the round lands whatever is staged,
// under the first one's index. Raft declining the first frees the area.
func TestStagedSnapshotLandsUndisturbed(t *testing.T) {
	eng, err := storage.Open(storage.Options{Dir: t.TempDir(), BlockCacheBytes: 8 << 20, WriteBufferBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.EnsureTable(1, 4); err != nil {
		t.Fatal(err)
	}
	const self, leader PeerID = 1, 2
	h := New(Config{Self: self, Store: eng})
	g := GroupID{Table: 1, Slot: 3}
	h.groups[g] = &group{id: g}

	if err := h.BeginInstall(g, leader, 100, 2); err != nil {
		t.Fatal(err)
	}
	if err := h.StageChunk(g, leader, 100, 2, nil, true); err != nil {
		t.Fatal(err)
	}
	if !h.claimStaged(g, leader, 100, 2) {
		t.Fatal("a completely staged snapshot was not claimed")
	}
	if err := h.BeginInstall(g, leader, 105, 2); err == nil {
		t.Fatal("a second snapshot began while the first was landing")
	}
	if err := h.StageChunk(g, leader, 105, 2, nil, false); err == nil {
		t.Fatal("a chunk of a second snapshot was staged while the first was landing")
	}
	if !h.claimStaged(g, leader, 100, 2) {
		t.Fatal("the landing snapshot was lost by the refused second one")
	}

	h.releaseStaged(g)
	if err := h.BeginInstall(g, leader, 105, 2); err != nil {
		t.Fatalf("after raft declined the first snapshot, a second could not begin: %v", err)
	}
	if h.claimStaged(g, leader, 100, 2) {
		t.Fatal("the replaced snapshot can still be claimed")
	}
	h.unstage(g)
	if h.claimStaged(g, leader, 105, 2) {
		t.Fatal("an unstaged snapshot can still be claimed")
	}
}
