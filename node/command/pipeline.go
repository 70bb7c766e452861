package command

import (
	"errors"
	"slices"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Pipeline collects the writes of consecutive batchable commands of a
// connection's pipeline (a client's, or a peer link's forwards) into one
// storage.Batch: one RocksDB write for all of them. Their replies are
// buffered but not sent before commit; if the commit fails, each of them
// is answered with the error instead — or, in a raft table, where each
// slot commits on its own, each by its own slots' outcome: a command whose
// slots committed keeps its reply. The connection's goroutine owns it.
type Pipeline struct {
	b    *storage.Batch
	out  *resp.Reply
	mark int // where the batched commands' replies start in out
	// events is the connection's keyspace events (Ctx.Events) and
	// evMark where the batched commands' start in it.
	events  *Events
	evMark  int
	replies int // replies since mark
	// release gives the batched commands' argument bytes back to the
	// node's query budget once the batch no longer refers to them.
	release func()
	// args are copies of the batched commands' arguments (raft tables
	// only: the reader's buffer moves on; their keys tell which slots'
	// outcome answers them), and reroute answers one of them again when
	// the commit had no effect on its slots because a raft slot's
	// leader moved (Unapplied), or returns nil to let the error stand.
	args    [][][]byte
	reroute func(args [][]byte) []byte
	// batched are the batched commands, in order: where each one's
	// reply ends (after mark) and, in a batch whose slots commit each on
	// its own, the slots of its keys (a commit may fail for some).
	batched []batched
	// failed, when set, is told of each command a failed commit turned
	// into an error (its statistics count it as failed).
	failed func(*Spec)
}

type batched struct {
	end   int
	evEnd int // where its keyspace events end (after evMark)
	spec  *Spec
	slots uint32 // the table's slot count
}

// maxBatchCommands bounds how long a batch holds its slots' locks.
const maxBatchCommands = 256

// Full reports whether the batch holds as many commands as it may.
func (pb *Pipeline) Full() bool { return pb.replies >= maxBatchCommands }

// Holding reports whether batched commands are waiting for the commit
// (their arguments are still referred to).
func (pb *Pipeline) Holding() bool { return pb.replies > 0 }

// Run executes a batchable command in the batch; keep (a raft table's
// command) copies its arguments, to answer it by its own slots' outcome
// and run it again if the commit finds its slot led elsewhere.
func (pb *Pipeline) Run(spec *Spec, c *Ctx, keep bool) {
	if pb.replies == 0 {
		pb.mark, pb.events, pb.evMark = pb.out.Len(), c.Events, c.Events.Len()
	}
	if err := RunBatched(spec, c, pb.b); err != nil {
		// Busy: commit what we hold, then run with an empty batch,
		// which may wait for locks safely.
		pb.Commit()
		pb.mark, pb.events, pb.evMark = pb.out.Len(), c.Events, c.Events.Len()
		_ = RunBatched(spec, c, pb.b)
	}
	if c.Rerouted { // its slot is led elsewhere: after the batch, again
		c.Rerouted = false
		pb.Commit()
		pb.out.B = append(pb.out.B, pb.reroute(c.Args)...)
		return
	}
	var args [][]byte
	if keep {
		args = router.CopyArgs(c.Args)
	}
	pb.args = append(pb.args, args)
	pb.batched = append(pb.batched, batched{end: pb.out.Len() - pb.mark, evEnd: c.Events.Len() - pb.evMark, spec: spec, slots: c.Slots})
	pb.replies++
}

// keySlots returns the slots of a batched command's keys (nil when its
// arguments were not kept).
func (cmd batched) keySlots(args [][]byte) []storage.SlotID {
	keys, _ := cmd.spec.KeysOf(args)
	slots := make([]storage.SlotID, 0, len(keys))
	for _, k := range keys {
		if s := router.SlotOf(k, cmd.slots); !slices.Contains(slots, s) {
			slots = append(slots, s)
		}
	}
	return slots
}

// Commit writes the batch; if that fails, each batched command is
// answered with the error instead (or run again, see NewPipeline).
func (pb *Pipeline) Commit() {
	if pb.replies == 0 && pb.b.Idle() {
		return
	}
	if err := pb.b.Commit(); err != nil {
		pb.answerFailed(err)
	}
	pb.replies = 0
	pb.args = pb.args[:0]
	pb.batched = pb.batched[:0]
	pb.release()
}

// answerFailed answers the batched commands after the commit failed with
// err: each by its own slots' outcome when err says which slots failed
// (storage.CommitError) — a command whose slots committed keeps its reply
// — else all of them by err.
func (pb *Pipeline) answerFailed(err error) {
	var partial *storage.CommitError
	if !errors.As(err, &partial) {
		partial = nil
	}
	replies := slices.Clone(pb.out.B[pb.mark:]) // a reroute's reply may be longer than the one it replaces
	pb.out.B = pb.out.B[:pb.mark]
	start, evStart := 0, 0
	var kept [][2]int // the keyspace events of the commands that committed
	defer func() { pb.events.keep(pb.evMark, kept) }()
	for i, cmd := range pb.batched {
		cerr := err
		if partial != nil && pb.args[i] != nil {
			cerr = partial.For(cmd.keySlots(pb.args[i]))
		}
		if cerr == nil {
			kept = append(kept, [2]int{evStart, cmd.evEnd})
		}
		evStart = cmd.evEnd
		switch {
		case cerr == nil:
			pb.out.B = append(pb.out.B, replies[start:cmd.end]...)
		case IsUnapplied(cerr) && pb.rerouted(pb.args[i]):
		default:
			msg, _ := ErrorReply(cerr)
			pb.out.Error(msg)
			if pb.failed != nil && (start == cmd.end || replies[start] != '-') {
				pb.failed(cmd.spec) // it was counted as a success when it ran
			}
		}
		start = cmd.end
	}
}

// OnFailedCommit sets fn to be told of each batched command a failed
// commit answered with an error instead of the reply it had.
func (pb *Pipeline) OnFailedCommit(fn func(*Spec)) { pb.failed = fn }

// rerouted answers a batched command again through reroute, and reports
// whether reroute took it.
func (pb *Pipeline) rerouted(args [][]byte) bool {
	r := pb.reroute(args)
	if r == nil {
		return false
	}
	pb.out.B = append(pb.out.B, r...)
	return true
}

// NewPipeline returns the pipeline batch of a connection whose replies go
// to out: b is its batch, release gives the batched commands' argument
// bytes back (to the reader's budget) once committed, and reroute answers
// a batched command again when the commit had no effect because its raft
// slot's leader moved (Unapplied), or returns nil to let the error stand.
func NewPipeline(b *storage.Batch, out *resp.Reply, release func(), reroute func(args [][]byte) []byte) *Pipeline {
	return &Pipeline{b: b, out: out, release: release, reroute: reroute}
}
