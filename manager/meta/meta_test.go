package meta

import (
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestPassword(t *testing.T) {
	long := strings.Repeat("p", 100) // past bcrypt's 72 bytes: the prehash keeps all of it
	for _, hash := range []func(string) string{HashPassword, HashToken} {
		for _, pw := range []string{"s3cret", long} {
			h := hash(pw)
			if strings.Contains(h, pw) || !CheckPassword(h, pw) || CheckPassword(h, pw+" ") || CheckPassword(h, "") || CheckPassword(h, pw[:len(pw)-1]) {
				t.Fatalf("hash %q of %q", h, pw)
			}
			if hash(pw) == h {
				t.Fatal("two hashes of one password are equal: no salt")
			}
		}
	}
	if h := HashPassword("s3cret"); !strings.HasPrefix(h, "bcrypt:$2a$10$") {
		t.Fatalf("HashPassword %q: want bcrypt, cost 10", h)
	}
	for _, bad := range []string{"", "sha256:zz:00", "md5:00:00", "sha256:00", "bcrypt:", "bcrypt:$2a$10$short"} {
		if CheckPassword(bad, "") {
			t.Fatalf("malformed hash %q accepted", bad)
		}
	}
}

func TestValidateTable(t *testing.T) {
	if err := ValidateTable("orders_v2.a-b", 1024, 3, ModeAsync); err != nil {
		t.Fatal(err)
	}
	err := ValidateTable("1x", 0, 9, "x")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"name", "slots 0", "replicas 9", `mode "x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if ValidateTable(strings.Repeat("a", 65), 1, 1, ModeRaft) == nil {
		t.Fatal("long name accepted")
	}
}

func kv(key, val string, create int64) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), CreateRevision: create, ModRevision: create}
}

func TestStateApply(t *testing.T) {
	l := Layout{Cluster: "c"}
	s := NewState()
	put := func(key, val string, rev int64) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.PUT, Kv: kv(key, val, rev)}
	}
	del := func(key string) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key)}}
	}
	s.Apply(l, 10, []*clientv3.Event{
		put(l.Election()+"lease1", "b", 5),
		put(l.Election()+"lease0", "a", 3),
		put(l.Node("a"), `{"id":"a","resp":"x:1"}`, 4),
		put(l.Table("t"), `{"id":1,"name":"t","slots":2,"replicas":1,"mode":"async"}`, 6),
		put(l.Slot(1, 0), `{"epoch":1,"leader":"a","replicas":["a"]}`, 7),
		put(l.Slot(1, 1), `{"epoch":1,"leader":"a","replicas":["a"]}`, 8),
		put(l.TableIDCounter(), "2", 9),
		put(l.Slot(1, 1)+"/junk", `{}`, 9),
		put("/pika/other/tables/x", `{}`, 9),
	})
	if s.Revision != 10 || s.Manager() != "a" || s.NextTableID != 2 || !s.Complete(s.Tables["t"]) {
		t.Fatalf("state %+v manager %q", s, s.Manager())
	}
	if len(s.Problems) != 1 {
		t.Fatalf("problems %v, want the bad slot key", s.Problems)
	}
	c := s.Clone()
	s.Apply(l, 11, []*clientv3.Event{del(l.Election() + "lease0"), del(l.Slot(1, 0)), del(l.Node("a"))})
	if s.Manager() != "b" || s.Complete(s.Tables["t"]) || len(s.Alive) != 0 {
		t.Fatalf("after deletes: manager %q complete %v alive %v", s.Manager(), s.Complete(s.Tables["t"]), s.Alive)
	}
	if c.Manager() != "a" || !c.Complete(c.Tables["t"]) || len(c.Alive) != 1 {
		t.Fatal("clone changed with the original")
	}
}
