package main

import (
	"errors"
	"testing"

	"github.com/pika-node/pika-node/manager/meta"
)

func TestTableLookup(t *testing.T) {
	st := meta.NewState()
	st.Tables["db0"] = meta.TableInfo{ID: 0, Name: "db0", Slots: 4}
	st.Tables["users"] = meta.TableInfo{ID: 7, Name: "users", Slots: 8}
	for _, tc := range []struct {
		arg, want string
	}{
		{"users", "users"},
		{"db0", "db0"},
	} {
		got, err := table(st, tc.arg)
		if err != nil || got.Name != tc.want {
			t.Errorf("table(%q) = %q, %v; want %q", tc.arg, got.Name, err, tc.want)
		}
	}
	for _, arg := range []string{"nope", "7", "DB0"} {
		_, err := table(st, arg)
		var nf *notFoundError
		if !errors.As(err, &nf) || exitCode(err) != exitRefused {
			t.Errorf("table(%q): err %v, want not found (exit 1)", arg, err)
		}
	}
}

func TestIsEmpty(t *testing.T) {
	st := meta.NewState()
	st.Revision = 9 // etcd has a revision even when our prefix is empty
	if !isEmpty(st) {
		t.Error("a state without records is not empty")
	}
	st.Members["n1"] = meta.NodeInfo{ID: "n1"}
	if isEmpty(st) {
		t.Error("a state with a member is empty")
	}
}
