package command

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// partialCommitter admits everything and fails every commit for one slot
// with an unapplied error, as a raft table's Committer does when that
// slot's leader moved between a pipeline's evaluation and its commit (the
// other slots' groups committed): a fault that real raft groups give
// only by chance (multiraft's TestBatchFailsInPart makes it happen).
type partialCommitter struct{ bad storage.SlotID }

func (partialCommitter) Admit(storage.TableID, []storage.SlotID) ([]uint64, error) { return nil, nil }

func (c partialCommitter) Commit(b *storage.Batch) error {
	defer b.Release()
	return &storage.CommitError{Failed: []storage.SlotError{{Slot: c.bad, Effect: true, Err: movedError{}}}, Effects: len(b.Effects())}
}

// movedError is an Unapplied error, as a raft group's NotLeaderError.
type movedError struct{}

func (movedError) Error() string      { return "led elsewhere" }
func (movedError) Unapplied() bool    { return true }
func (movedError) RedisError() string { return "TRYAGAIN led elsewhere" }

// keyOfSlot returns a key of prefix p that hashes to a slot other than
// the ones in not.
func keyOfSlot(p string, not ...storage.SlotID) (string, storage.SlotID) {
	for i := 0; ; i++ {
		k := fmt.Sprint(p, i)
		s := router.SlotOf([]byte(k), storage.DefaultSlots)
		ok := true
		for _, n := range not {
			ok = ok && s != n
		}
		if ok {
			return k, s
		}
	}
}

// A pipeline batch whose commit failed for one slot answers each command
// by its own slots: the commands of slots that committed keep their
// replies (running them again would apply them twice: a SET run again on
// a slot's new leader erased an APPEND acknowledged in between), the
// failed slot's command is run again (rerouted). Without the arguments
// (kept only for raft tables) nothing is run again: each gets the error.
func TestPipelineCommitFailedInPart(t *testing.T) {
	n := newTestNode(t)
	good, gs := keyOfSlot("good")
	bad, bs := keyOfSlot("bad", gs)
	other, _ := keyOfSlot("other", gs, bs)
	for _, keep := range []bool{true, false} {
		var out resp.Reply
		var rerouted []string
		pb := NewPipeline(n.eng.NewBatch(func(storage.TableID) storage.Committer { return partialCommitter{bad: bs} }), &out, func() {},
			func(args [][]byte) []byte {
				rerouted = append(rerouted, string(args[1]))
				return []byte("+REROUTED\r\n")
			})
		var failed []string
		pb.OnFailedCommit(func(s *Spec) { failed = append(failed, s.Name) })
		for _, cmd := range [][]string{{"set", good, "v"}, {"incr", bad}, {"incr", other}, {"get", good}} {
			args := make([][]byte, len(cmd))
			for i, a := range cmd {
				args[i] = []byte(a)
			}
			spec := n.tbl.Lookup(args[0])
			c := &Ctx{Args: args, R: &out, Engine: n.eng, Table: storage.DefaultTable, Slots: storage.DefaultSlots, Cursors: n.cursors}
			if spec.Batchable != nil {
				pb.Run(spec, c, keep)
			} else {
				pb.Commit()
				Run(spec, c)
			}
		}
		pb.Commit()
		want := "+OK +REROUTED :1 $-1" // the stub committed nothing: good's GET finds no value
		if !keep {
			want = "-TRYAGAIN led elsewhere -TRYAGAIN led elsewhere -TRYAGAIN led elsewhere $-1"
		}
		if got := shorten(string(out.B)); got != want || (keep && fmt.Sprint(rerouted) != fmt.Sprint([]string{bad})) || (!keep && rerouted != nil) {
			t.Errorf("keep %v: replies %q, rerouted %v; want %q, rerouted only %q when kept", keep, got, rerouted, want, bad)
		}
		// The commands the failed commit answered with its error are
		// told of, to be counted as failed (they ran as successes).
		wantFailed := "[]"
		if !keep {
			wantFailed = "[set incr incr]"
		}
		if fmt.Sprint(failed) != wantFailed {
			t.Errorf("keep %v: failed commits reported %v, want %s", keep, failed, wantFailed)
		}
	}
}

// The CommitError of a batch that applied nothing is Unapplied: a command
// over several slots whose every slot failed unapplied may run again; one
// of whose slots committed must not.
func TestCommitErrorUnapplied(t *testing.T) {
	failed := func(effects ...bool) []storage.SlotError {
		var out []storage.SlotError
		for i, e := range effects {
			out = append(out, storage.SlotError{Slot: storage.SlotID(i), Effect: e, Err: movedError{}})
		}
		return out
	}
	for _, tc := range []struct {
		err  *storage.CommitError
		want bool
	}{
		{&storage.CommitError{Failed: failed(true, true), Effects: 2}, true},
		{&storage.CommitError{Failed: failed(true), Effects: 2}, false},
		{&storage.CommitError{Failed: failed(true, false), Effects: 1}, true}, // a read's confirmation failed too
		{&storage.CommitError{Failed: []storage.SlotError{{Slot: 0, Effect: true, Err: errors.New("timed out")}}, Effects: 1}, false},
	} {
		if got := IsUnapplied(tc.err); got != tc.want {
			t.Errorf("%+v: unapplied %v, want %v", tc.err.Failed, got, tc.want)
		}
	}
}
