package compat

import (
	"fmt"
	"strconv"
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
