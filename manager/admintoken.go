package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// The admin token guards every write of the HTTP API (a table create or
// drop, a move, a failover, a node removal, the token's own rotation).
// The first manager creates it: from Config.AdminTokenFile when the
// operator gave one, else 32 random bytes, written in clear only to
// Config.DataDir/admin.token (mode 0600) before its salted hash
// (meta.HashToken) is stored in etcd. Reads (status, tables, slots, jobs) stay open: they
// reveal no secret (a table shows whether it has a password, never the
// password or its hash).
//
// A salted SHA-256 and not a slow KDF: the generated token has 256 bits
// of entropy, which no guessing reaches, and one an operator supplies
// must have at least minAdminTokenLen characters.

// AdminTokenFileName is the file, in the data directory of the node that
// created the token, that holds it in clear.
const AdminTokenFileName = "admin.token"

// minAdminTokenLen is the shortest token an operator may supply.
const minAdminTokenLen = 16

// ReadAdminTokenFile reads a token from path: its first line, trimmed.
func ReadAdminTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < minAdminTokenLen {
		return "", fmt.Errorf("admin token in %s: %d characters, want at least %d", path, len(tok), minAdminTokenLen)
	}
	return tok, nil
}

func newAdminToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("manager: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return hex.EncodeToString(b)
}

// WriteAdminTokenFile writes tok to path with mode 0600, whole or not at
// all (a temporary file renamed over it, synced).
func WriteAdminTokenFile(path, tok string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(tok + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// ensureAdminToken creates the cluster's admin token if it has none. A
// generated token reaches its file before etcd has its hash, so that no
// crash or lost answer leaves a cluster whose token nobody knows; the file
// is removed again only if another manager's token is the cluster's.
func (l *leadership) ensureAdminToken(ctx context.Context, st *meta.State) error {
	if st.AdminTokenHash != "" {
		return nil
	}
	cfg := l.m.cfg
	var tok, file string
	if cfg.AdminTokenFile != "" {
		t, err := ReadAdminTokenFile(cfg.AdminTokenFile)
		if err != nil {
			return fmt.Errorf("create the admin token: %w", err)
		}
		tok = t
	} else {
		if cfg.DataDir == "" {
			return errors.New("create the admin token: no data directory to write it to")
		}
		tok, file = newAdminToken(), filepath.Join(cfg.DataDir, AdminTokenFileName)
		if err := WriteAdminTokenFile(file, tok); err != nil {
			return fmt.Errorf("create the admin token: %w", err)
		}
	}
	key := cfg.Layout.AdminToken()
	ok, err := l.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)},
		clientv3.OpPut(key, meta.HashToken(tok)))
	if err != nil {
		// The put may have committed all the same: the file stays (a next
		// attempt finds the hash, or writes a new token over it).
		return fmt.Errorf("create the admin token: %w", err)
	}
	if !ok { // another manager's token is the cluster's
		if file != "" {
			_ = os.Remove(file)
		}
		return nil
	}
	if file != "" {
		l.m.log.Warn("created the cluster's admin token: pikactl needs it for every change (--token-file)", "file", file)
	} else {
		l.m.log.Info("the cluster's admin token is the one of --admin-token-file", "file", cfg.AdminTokenFile)
	}
	return nil
}

// rotateAdminToken replaces the admin token with a new random one and
// returns it.
func (m *Member) rotateAdminToken(ctx context.Context) (api.AdminToken, error) {
	l, err := m.leading()
	if err != nil {
		return api.AdminToken{}, err
	}
	tok := newAdminToken()
	if _, err := l.txn(ctx, nil, clientv3.OpPut(m.cfg.Layout.AdminToken(), meta.HashToken(tok))); err != nil {
		return api.AdminToken{}, err
	}
	m.log.Info("admin token rotated")
	return api.AdminToken{Token: tok}, nil
}

// authorize checks a request's credential: the admin token, or when peer
// is set a node's credential too. The answer is 401 for none or a wrong
// one, 503 while this node does not know the cluster's token yet.
func (m *Member) authorize(r *http.Request, peer bool) error {
	st := m.State()
	if st == nil || st.AdminTokenHash == "" {
		return errf(http.StatusServiceUnavailable, "this node does not know the cluster's admin token yet; retry")
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case scheme == api.AuthAdmin && meta.CheckPassword(st.AdminTokenHash, cred):
		return nil
	case peer && scheme == api.AuthPeer && meta.CheckPeerHTTPCredential(st.Secret, cred):
		return nil
	case scheme == "":
		return errf(http.StatusUnauthorized, "this request needs the cluster's admin token (pikactl --token, $PIKA_ADMIN_TOKEN or --token-file; it was written to %s on the node that created it)", AdminTokenFileName)
	}
	return errf(http.StatusUnauthorized, "wrong admin token")
}

// requireJSON refuses a body that does not say it is JSON: a web page
// can make a browser POST text/plain anywhere without asking, but not
// application/json.
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errf(http.StatusUnsupportedMediaType, "the request body must be application/json (Content-Type %q)", r.Header.Get("Content-Type"))
	}
	return nil
}
