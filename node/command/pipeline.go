package command

import (
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// Pipeline collects the writes of consecutive batchable commands of a
// connection's pipeline (a client's, or a peer link's forwards) into one
// storage.Batch: one RocksDB write for all of them. Their replies are
// buffered but not sent before commit; if the commit fails, each of them
// is answered with the error instead. The connection's goroutine owns it.
type Pipeline struct {
	b       *storage.Batch
	out     *resp.Reply
	mark    int // where the batched commands' replies start in out
	replies int // replies since mark
	// release gives the batched commands' argument bytes back to the
	// node's query budget once the batch no longer refers to them.
	release func()
	// args are copies of the batched commands' arguments (raft tables
	// only: the reader's buffer moves on), and reroute answers one of
	// them again when the commit had no effect because a raft slot's
	// leader moved (Unapplied), or returns nil to let the error
	// stand.
	args    [][][]byte
	reroute func(args [][]byte) []byte
}

// maxBatchCommands bounds how long a batch holds its slots' locks.
const maxBatchCommands = 256

// Full reports whether the batch holds as many commands as it may.
func (pb *Pipeline) Full() bool { return pb.replies >= maxBatchCommands }

// Holding reports whether batched commands are waiting for the commit
// (their arguments are still referred to).
func (pb *Pipeline) Holding() bool { return pb.replies > 0 }

// Run executes a batchable command in the batch; keep copies its
// arguments, to run it again if the commit finds its slot led elsewhere.
func (pb *Pipeline) Run(spec *Spec, c *Ctx, keep bool) {
	if pb.replies == 0 {
		pb.mark = pb.out.Len()
	}
	if err := RunBatched(spec, c, pb.b); err != nil {
		// Busy: commit what we hold, then run with an empty batch,
		// which may wait for locks safely.
		pb.Commit()
		pb.mark = pb.out.Len()
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
	pb.replies++
}

// Commit writes the batch; if that fails, each batched command is
// answered with the error instead (or run again, see NewPipeline).
func (pb *Pipeline) Commit() {
	if pb.replies == 0 && pb.b.Idle() {
		return
	}
	if err := pb.b.Commit(); err != nil {
		pb.out.B = pb.out.B[:pb.mark]
		msg, _ := ErrorReply(err)
		unapplied := IsUnapplied(err)
		for _, args := range pb.args {
			if unapplied {
				if r := pb.reroute(args); r != nil {
					pb.out.B = append(pb.out.B, r...)
					continue
				}
			}
			pb.out.Error(msg)
		}
	}
	pb.replies = 0
	pb.args = pb.args[:0]
	pb.release()
}

// NewPipeline returns the pipeline batch of a connection whose replies go
// to out: b is its batch, release gives the batched commands' argument
// bytes back (to the reader's budget) once committed, and reroute answers
// a batched command again when the commit had no effect because its raft
// slot's leader moved (Unapplied), or returns nil to let the error stand.
func NewPipeline(b *storage.Batch, out *resp.Reply, release func(), reroute func(args [][]byte) []byte) *Pipeline {
	return &Pipeline{b: b, out: out, release: release, reroute: reroute}
}
