package command

import (
	"testing"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/storage"
)

// COPY ... DB n where the differential suite does not reach: without a way
// to another table (a forwarded command), with the node refusing the
// table, and inside a unit's batch.
func TestCopyOtherTable(t *testing.T) {
	n := newTestNode(t)
	const other storage.TableID = 7
	if err := n.eng.EnsureTable(other, 16); err != nil {
		t.Fatal(err)
	}
	run := func(table storage.TableID, open func(storage.TableID, []byte) (uint32, error), args ...string) string {
		t.Helper()
		bargs := make([][]byte, len(args))
		for i, a := range args {
			bargs[i] = []byte(a)
		}
		var r resp.Reply
		slots := uint32(storage.DefaultSlots)
		if table == other {
			slots = 16
		}
		Run(n.tbl.Lookup(bargs[0]), &Ctx{Args: bargs, R: &r, Engine: n.eng, Table: table, Slots: slots, Cursors: n.cursors, OtherTable: open})
		return shorten(string(r.B))
	}
	opened := func(t storage.TableID, _ []byte) (uint32, error) {
		if t != other {
			return 0, errDBOutOfRange
		}
		return 16, nil
	}
	refused := func(storage.TableID, []byte) (uint32, error) { return 0, Error("NOAUTH Authentication required.") }
	n.expect("+OK", "set", "k", "v")
	n.expect(":3", "rpush", "l", "a", "b", "c")
	for _, tc := range []struct {
		open func(storage.TableID, []byte) (uint32, error)
		args []string
		want string
	}{
		{nil, []string{"copy", "k", "k", "db", "7"}, "-CROSSSLOT Keys in request don't hash to the same slot"},
		{nil, []string{"copy", "k", "k2", "db", "0"}, ":1"},
		{refused, []string{"copy", "k", "k", "db", "7"}, "-NOAUTH Authentication required."},
		{refused, []string{"copy", "nokey", "k", "db", "7"}, "-NOAUTH Authentication required."},
		{opened, []string{"copy", "k", "k", "db", "8"}, "-ERR DB index is out of range"},
		{opened, []string{"copy", "k", "k", "db", "7"}, ":1"},
		{opened, []string{"copy", "k", "k", "db", "7"}, ":0"},
		{opened, []string{"copy", "l", "k", "db", "7", "replace"}, ":1"},
		{opened, []string{"copy", "nokey", "k", "db", "7", "replace"}, ":0"},
	} {
		if got := run(storage.DefaultTable, tc.open, tc.args...); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := run(other, nil, "lrange", "k", "0", "-1"); got != "*3 $a $b $c" {
		t.Errorf("table 7: lrange k: got %q", got)
	}
	if got := run(other, nil, "copy", "k", "k2"); got != ":1" {
		t.Errorf("table 7: copy k k2: got %q", got)
	}
	if got := run(other, nil, "lrange", "k2", "0", "-1"); got != "*3 $a $b $c" {
		t.Errorf("table 7: lrange k2: got %q", got)
	}
	n.expect("$v", "get", "k")
	n.expect("$v", "get", "k2")

	// A unit's batch holds its table's slots only: MULTI runs such a COPY
	// on its own (Spec.Elsewhere), and the handler refuses it in a batch.
	spec := n.tbl.Lookup([]byte("copy"))
	if !spec.Elsewhere([][]byte{[]byte("copy"), []byte("a"), []byte("b"), []byte("db"), []byte("7")}, storage.DefaultTable) ||
		spec.Elsewhere([][]byte{[]byte("copy"), []byte("a"), []byte("b"), []byte("db"), []byte("0")}, storage.DefaultTable) ||
		spec.Elsewhere([][]byte{[]byte("copy"), []byte("a"), []byte("b"), []byte("db"), []byte("7"), []byte("bogus")}, storage.DefaultTable) {
		t.Error("COPY's Elsewhere: want true only for a valid DB of another table")
	}
	b := n.eng.NewBatch(nil)
	defer b.Release()
	var r resp.Reply
	RunInUnit(spec, &Ctx{Args: [][]byte{[]byte("copy"), []byte("k"), []byte("x"), []byte("db"), []byte("7")}, R: &r, Engine: n.eng,
		Table: storage.DefaultTable, Slots: storage.DefaultSlots, OtherTable: opened}, b)
	if got := shorten(string(r.B)); got != "-ERR COPY to another database cannot run inside this unit" {
		t.Errorf("COPY to another table in a unit: got %q", got)
	}
}
