package compat

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestSortOneInstant checks that SORT reads the keys its BY and GET patterns name at one
// instant with its own key (docs/transactions.md, "SORT"), on one pika-node and through a node
// of the cluster (where they are in slots of all three nodes): a writer sets every weight to
// the same generation with MSET (one unit) while SORT ... BY sw:* GET sw:* runs, with and without
// STORE; every answer must show one generation.
func TestSortOneInstant(t *testing.T) {
	needServers(t)
	if pikaBin == "" {
		t.Skip("COMPAT_TARGET=redis")
	}
	targets := []*server{pikaSrv}
	if clusterSetupErr == nil && len(clusterNodes) > 0 {
		targets = append(targets, clusterNodes[0])
	}
	for _, srv := range targets {
		t.Run(srv.Name, func(t *testing.T) { sortOneInstant(t, srv) })
	}
}

func sortOneInstant(t *testing.T, srv *server) {
	const n = 12
	ids := []string{"RPUSH", "sortids"}
	mset := []string{"MSET"}
	for i := 1; i <= n; i++ {
		ids = append(ids, strconv.Itoa(i))
		mset = append(mset, fmt.Sprintf("sw:%d", i), "0")
	}
	setup := &side{srv: srv}
	defer setup.close()
	for _, cmd := range [][]string{{"DEL", "sortids", "sortdst"}, ids, mset} {
		if _, err := setup.do(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	writer := &side{srv: srv}
	defer writer.close()
	const generations = 200
	done := make(chan error, 1)
	go func() {
		for g := 1; g <= generations; g++ {
			cmd := []string{"MSET"}
			for i := 1; i <= n; i++ {
				cmd = append(cmd, fmt.Sprintf("sw:%d", i), strconv.Itoa(g))
			}
			if r, err := writer.do(cmd...); err != nil || r.Kind != '+' {
				done <- fmt.Errorf("MSET: %v %v", r, err)
				return
			}
		}
		done <- nil
	}()
	reader := &side{srv: srv}
	defer reader.close()
	sorts := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if sorts == 0 {
				t.Fatal("no SORT ran while the weights changed")
			}
			t.Logf("%d SORTs during %d generations", sorts, generations)
			return
		default:
		}
		var got []Reply
		if sorts%2 == 0 {
			r, err := reader.do("SORT", "sortids", "BY", "sw:*", "GET", "sw:*", "GET", "#")
			if err != nil {
				t.Fatal(err)
			}
			got = r.Elems
		} else {
			r, err := reader.do("SORT", "sortids", "BY", "sw:*", "GET", "sw:*", "GET", "#", "STORE", "sortdst")
			if err != nil || r.Int != 2*n {
				t.Fatalf("SORT ... STORE: %v %v", r, err)
			}
			if r, err = reader.do("LRANGE", "sortdst", "0", "-1"); err != nil {
				t.Fatal(err)
			}
			got = r.Elems
		}
		sorts++
		if len(got) != 2*n {
			t.Fatalf("SORT answered %d values: %v", len(got), got)
		}
		// Equal weights sort by the elements' bytes: 1 10 11 12 2 3 ...
		for i := 0; i < len(got); i += 2 {
			if got[i].Str != got[0].Str {
				t.Fatalf("SORT read weights of two generations: %v", got)
			}
		}
	}
}

// TestClusterSortInMulti shows SORT's one limit (docs/transactions.md, "SORT"): inside MULTI,
// a BY or GET pattern's key in a slot the block does not name, led by another node than the
// one running the block, is refused with an error naming it (never read wrong); naming the keys
// in the block, or SORT outside MULTI, reads them.
func TestClusterSortInMulti(t *testing.T) {
	needCluster(t)
	leaders, err := clusterLeaders(clusterNodes[0])
	if err != nil {
		t.Fatal(err)
	}
	weights := []string{"mw:1", "mw:2", "mw:3", "mw:4", "mw:5", "mw:6"}
	if !leaders.several(0, append([]string{"mids"}, weights...), 1024) {
		t.Skip("the keys' slots have one leader")
	}
	c := &side{srv: clusterNodes[0]}
	defer c.close()
	setup := [][]string{{"DEL", "mids"}, {"RPUSH", "mids", "1", "2", "3", "4", "5", "6"},
		{"MSET", "mw:1", "6", "mw:2", "5", "mw:3", "4", "mw:4", "3", "mw:5", "2", "mw:6", "1"}}
	for _, cmd := range setup {
		if _, err := c.do(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	want := "[6 5 4 3 2 1]"
	sorted := func(r Reply) string {
		var out []string
		for _, e := range r.Elems {
			out = append(out, e.Str)
		}
		return fmt.Sprint(out)
	}
	if r, err := c.do("SORT", "mids", "BY", "mw:*"); err != nil || sorted(r) != want {
		t.Fatalf("SORT outside MULTI: %v %v", r, err)
	}
	block := func(cmds ...[]string) Reply {
		t.Helper()
		if _, err := c.do("MULTI"); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range cmds {
			if _, err := c.do(cmd...); err != nil {
				t.Fatal(err)
			}
		}
		r, err := c.do("EXEC")
		if err != nil || r.Kind != '*' {
			t.Fatalf("EXEC: %v %v", r, err)
		}
		return r
	}
	r := block([]string{"SORT", "mids", "BY", "mw:*"})
	if e := r.Elems[0]; e.Kind != '-' || !strings.HasPrefix(e.Str, "ERR SORT inside MULTI reads 'mw:") {
		t.Fatalf("SORT in MULTI over keys the block does not name: %v", e)
	}
	r = block(append([]string{"EXISTS"}, weights...), []string{"SORT", "mids", "BY", "mw:*"})
	if got := sorted(r.Elems[1]); got != want {
		t.Fatalf("SORT in MULTI naming the keys: %v", r)
	}
}
