package router

import (
	"fmt"
	"slices"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/peer"
)

// Split runs cmd, a FanOut command with arguments args that Decide said
// to split (its keys are led by several nodes): it splits args per leader,
// runs the parts (here through run, elsewhere over the peer links) and
// merges their replies in key order into out.
func (p *Proxy) Split(run Runner, out *resp.Reply, snap *Snapshot, tb *Table, cmd Command, args [][]byte) {
	step := max(cmd.Step, 1)
	if (len(args)-1)%step != 0 {
		out.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd.Name))
		return
	}
	type part struct {
		leader meta.NodeID
		slots  []SlotID
		args   [][]byte
		index  []int // positions of the part's keys in the command
	}
	var parts []*part
	byLeader := map[meta.NodeID]*part{}
	for i, k := 1, 0; i < len(args); i, k = i+step, k+1 {
		s := SlotOf(args[i], tb.Slots)
		if msg := LeaderDown(snap, tb, s); msg != "" {
			out.Error(msg)
			return
		}
		leader := tb.Route(s).Leader
		pt := byLeader[leader]
		if pt == nil {
			pt = &part{leader: leader, args: [][]byte{args[0]}}
			byLeader[leader] = pt
			parts = append(parts, pt)
		}
		if !slices.Contains(pt.slots, s) {
			pt.slots = append(pt.slots, s)
		}
		pt.args = append(pt.args, args[i:i+step]...)
		pt.index = append(pt.index, k)
	}
	futs := make([]*peer.Future, len(parts))
	for i, pt := range parts {
		if pt.leader != p.cfg.Self {
			futs[i] = p.send(snap, pt.leader, tb, pt.slots, CopyArgs(pt.args), out.Resp3)
		}
	}
	for _, f := range futs {
		if f != nil {
			f.Flush()
		}
	}
	replies := make([][]byte, len(parts))
	for i, pt := range parts {
		if pt.leader == p.cfg.Self {
			replies[i] = run.RunPart(tb, pt.args, false)
			continue
		}
		raw, ok := p.wait(futs[i], pt.leader)
		if ok && refused(raw) {
			raw = errorReply(errPartMoved)
		}
		replies[i] = raw
	}
	for _, raw := range replies {
		if peer.IsError(raw) {
			out.Raw(raw)
			return
		}
	}
	switch cmd.Merge {
	case MergeOK:
		out.OK()
	case MergeValues:
		vals := make([][]byte, (len(args)-1)/step)
		for i, pt := range parts {
			elems, err := peer.Elems(replies[i])
			if err != nil || len(elems) != len(pt.index) {
				out.Error(fmt.Sprintf("ERR bad reply from %s: %v", pt.leader, err))
				return
			}
			for j, e := range elems {
				vals[pt.index[j]] = e
			}
		}
		out.Array(len(vals))
		for _, v := range vals {
			out.Raw(v)
		}
	default: // MergeSum
		var total int64
		for i, pt := range parts {
			v, err := peer.Int(replies[i])
			if err != nil {
				out.Error(fmt.Sprintf("ERR bad reply from %s: %v", pt.leader, err))
				return
			}
			total += v
		}
		out.Int(total)
	}
}
