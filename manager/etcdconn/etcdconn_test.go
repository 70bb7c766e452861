package etcdconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestApply(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    Options
		want string // "" for no error
	}{
		{Options{Endpoints: []string{"a:1"}}, ""},
		{Options{User: "root:pw:with:colons"}, ""},
		{Options{User: "root"}, "want name:password"},
		{Options{User: ":pw"}, "want name:password"},
		{Options{CertFile: "c"}, "both the certificate and the key"},
		{Options{CAFile: notPEM}, "no PEM certificate"},
		{Options{CAFile: filepath.Join(dir, "missing")}, "etcd CA"},
	} {
		var cfg clientv3.Config
		err := c.o.Apply(&cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	var cfg clientv3.Config
	if err := (Options{User: "root:a:b"}).Apply(&cfg); err != nil || cfg.Username != "root" || cfg.Password != "a:b" || cfg.TLS != nil {
		t.Fatalf("user root:a:b: %q %q %v, TLS %v", cfg.Username, cfg.Password, err, cfg.TLS)
	}
	if got := Split(" a:1, ,b:2,"); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("Split: %q", got)
	}
}
