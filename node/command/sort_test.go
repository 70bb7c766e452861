package command

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
)

func TestSortPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, elem, key, field string
		self, none                bool
	}{
		{pattern: "#", self: true},
		{pattern: "#\x00x", self: true},
		{pattern: "#x", none: true},
		{pattern: "w_", none: true},
		{pattern: "w_\x00*", none: true},
		{pattern: "w_*", elem: "1", key: "w_1"},
		{pattern: "*", elem: "", key: ""},
		{pattern: "a*b*c", elem: "X", key: "aXb*c"},
		{pattern: "o_*->f", elem: "1", key: "o_1", field: "f"},
		{pattern: "o_*->", elem: "1", key: "o_1->"},
		{pattern: "o_*->f->g", elem: "1", key: "o_1", field: "f->g"},
		{pattern: "->*x", elem: "1", key: "->1x"},
		{pattern: "o_*->f\x00g", elem: "1", key: "o_1", field: "f\x00g"},
		{pattern: "o_*-\x00>f", elem: "1", key: "o_1-\x00>f"},
		{pattern: "o_*\x00->f", elem: "1", key: "o_1\x00->f"},
	} {
		p := patternFor([]byte(tc.pattern), []byte(tc.elem))
		if p.self != tc.self || p.none != tc.none || string(p.key) != tc.key || string(p.field) != tc.field {
			t.Errorf("%q with %q: %+v, want key %q field %q self %v none %v", tc.pattern, tc.elem, p, tc.key, tc.field, tc.self, tc.none)
		}
	}
}

// FuzzSort runs arbitrary SORT and SORT_RO arguments over a small fixed
// dataset (one slot, so that the patterns' keys are the command's):
// nothing may panic and every reply is one well-formed RESP reply.
func FuzzSort(f *testing.F) {
	for _, s := range []string{
		"sort\x00l", "sort\x00l\x00desc\x00limit\x001\x002", "sort\x00s\x00alpha", "sort\x00z\x00by\x00nosort\x00desc",
		"sort\x00l\x00by\x00w_*\x00get\x00#\x00get\x00h_*->f", "sort\x00l\x00by\x00h_*->f\x00alpha\x00store\x00d",
		"sort_ro\x00z\x00get\x00w_*", "sort\x00s\x00by\x00x\x00store\x00s", "sort\x00bad\x00limit\x00-1\x00-1",
	} {
		f.Add([]byte(s))
	}
	n := newTestNode(f)
	n.tbl.Register(SortSpecs()...)
	for _, cmd := range [][]string{
		{"rpush", "l", "3", "1", "2", "10", "", "x\x00y"},
		{"sadd", "s", "b", "a", "3", "-1"},
		{"zadd", "z", "1", "a", "2", "3", "0", "1"},
		{"rpush", "bad", "1", "x"},
		{"mset", "w_1", "5", "w_3", "-2", "w_a", "q", "w_x\x00y", "7"},
		{"hset", "h_1", "f", "z", "h_2", "f", "a"},
		{"set", "str", "v"},
	} {
		n.do(cmd...)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		parts := bytes.Split(in, []byte{0})
		if len(parts) < 2 || len(parts) > 32 {
			return
		}
		spec := n.tbl.Lookup(parts[0])
		if spec == nil || (spec.Name != "sort" && spec.Name != "sort_ro") {
			return
		}
		var r resp.Reply
		Run(spec, &Ctx{Args: parts, R: &r, Engine: n.eng, Table: 0, Slots: 1, Cursors: n.cursors})
		if strings.Contains(string(r.B), "internal error") {
			t.Fatalf("%q: %s", in, r.B)
		}
		if !validReply(r.B) {
			t.Fatalf("%q: malformed reply %q", in, r.B)
		}
	})
}
