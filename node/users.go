package node

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/node/acl"
	"github.com/pika-node/pika-node/peer"
)

// ACL users on the cluster (docs/acl.md). The users live in one etcd
// record (meta.ACLUsers); ACL SETUSER and DELUSER change it through
// whichever node the client is on, apply the new set here and on every
// live node (CFGSET aclUsersParam) before they answer, and a node that
// missed that, or starts later, applies the set from its metadata watch.
//
// A connection acts as one of:
//   - the default user: every connection at first. Redis's default user
//     (on, nopass, every command, key and channel) lets it in at once;
//     once the default user has a password or is off, a connection must
//     AUTH first. The nopass default user does not open tables that have
//     a password, as before ACL users existed; one with a password does.
//   - a named ACL user (AUTH name password): its rules, over every table.
//   - a tenant: let in by table passwords alone (the default user has a
//     password). The tables it opened, every command but the node-wide
//     ones (tenantRules).
//   - the cluster's administrator (AUTH pika-admin <admin token>): every
//     command over every table. This is how the first ACL user is made
//     on a cluster whose tables have passwords.
//
// While some table has a password, the nopass default user is open to
// anyone who reaches the port, so a connection as that user is held to
// tenantRules too unless it opened every table that has a password (the
// operator of a cluster bootstrapped with --requirepass, whose one
// password is db0's, keeps Redis's rights after AUTH): tenants cannot
// change the node for the others (CONFIG SET, SHUTDOWN, DEBUG, CLIENT
// KILL of other tables' clients), and CLIENT LIST shows them only their
// tables' clients.

// adminUser is the built-in user whose password is the cluster's admin
// token. It is not listed and cannot be changed.
const adminUser = "pika-admin"

// aclUsersParam is the CFGSET parameter that carries the users' record.
const aclUsersParam = "acl-users"

// tenantRules are what a tenant may run: every command but @admin ones,
// except the few a client of one table needs (its own clients, the
// configuration's values).
var tenantRules = []string{"on", "nopass", "~*", "&*", "+@all", "-@admin", "+client|list", "+client|kill", "+client|info", "+config|get"}

// identityKind is what let a connection in.
type identityKind uint8

const (
	asDefault identityKind = iota
	asUser
	asTenant
	asAdmin
)

// identity is a connection's user; immutable, swapped whole.
type identity struct {
	kind identityKind
	// user is the ACL user's name ("default" for the default user and
	// tenants, adminUser for the administrator).
	user string
	// authed: the connection may run commands (else NOAUTH).
	authed bool
	// allTables: it opens every table (a password-checked user).
	allTables bool
}

// userSet is the users a node enforces, replaced whole on a change.
type userSet struct {
	// rev is the etcd revision of the record compiled (0: none);
	// compiled is false only for the set a node starts with.
	rev      int64
	compiled bool
	records  meta.ACLUsers
	byName   map[string]*acl.User // "default" always
	// open: the default user is Redis's (on, nopass, everything), so a
	// connection as default needs no check but the tenant one.
	open bool
}

// users holds the node's userSet and applies new ones.
type users struct {
	mu     sync.Mutex // serializes apply
	cur    atomic.Pointer[userSet]
	tenant *acl.User
	hasher acl.Hasher
}

// passwordHasher makes users' password records as table passwords'
// (meta.HashPrehashed: bcrypt of the SHA-256 hex).
type passwordHasher struct{ cost int }

func (h passwordHasher) Hash(sha256Hex string) string { return meta.HashPrehashed(sha256Hex, h.cost) }
func (h passwordHasher) Match(record, sha256Hex string) bool {
	return meta.CheckPrehashed(record, sha256Hex)
}

func newUsers(cost int) *users {
	u := &users{hasher: passwordHasher{cost: cost}}
	t := acl.NewUser("default")
	if err := t.SetRules(tenantRules, u.hasher); err != nil {
		panic("node: tenant rules do not parse: " + err.Error()) // a constant
	}
	u.tenant = t
	def := acl.NewDefaultUser()
	u.cur.Store(&userSet{byName: map[string]*acl.User{"default": def}, open: true})
	return u
}

// set is the users in force.
func (u *users) set() *userSet { return u.cur.Load() }

// compile builds the users of records; a record that does not compile
// (written by a newer node, or damaged) leaves its user out, reported to
// bad.
func (u *users) compile(records meta.ACLUsers, rev int64, bad func(name string, err error)) *userSet {
	s := &userSet{rev: rev, compiled: true, records: records, byName: map[string]*acl.User{}}
	s.byName["default"] = acl.NewDefaultUser()
	for name, rec := range records {
		usr, err := buildUser(name, rec, u.hasher)
		if err != nil {
			bad(name, err)
			if name == "default" {
				s.byName[name] = acl.NewUser(name) // off: a damaged record closes, never opens
			}
			continue
		}
		s.byName[name] = usr
	}
	s.open = s.byName["default"].Describe() == acl.NewDefaultUser().Describe()
	return s
}

// buildUser rebuilds a user from its record.
func buildUser(name string, rec meta.ACLUser, h acl.Hasher) (*acl.User, error) {
	usr := acl.NewUser(name)
	if err := usr.SetRules(rec.Rules, h); err != nil {
		return nil, err
	}
	usr.SetPasswordRecords(rec.Passwords)
	return usr, nil
}

// recordOf is what stores usr.
func recordOf(usr *acl.User) meta.ACLUser {
	return meta.ACLUser{Rules: usr.Rules(), Passwords: usr.PasswordRecords()}
}

// applyUsers makes records, written at etcd revision rev, the users in
// force, unless a newer set is; the connections of users it deletes are
// closed, as Redis closes a deleted user's.
func (n *Node) applyUsers(records meta.ACLUsers, rev int64) {
	n.users.mu.Lock()
	old := n.users.set()
	if rev < old.rev || rev == old.rev && old.compiled {
		n.users.mu.Unlock()
		return
	}
	s := n.users.compile(records, rev, func(name string, err error) {
		n.log.Error("an ACL user's record does not compile: the user is left out", "user", name, "err", err)
	})
	n.users.cur.Store(s)
	n.users.mu.Unlock()
	n.killRevokedClients(s)
}

// killRevokedClients closes, as Redis 7.0 does, the connections of users
// that s no longer has (ACL DELUSER), and those subscribed to a channel
// or pattern their user may no longer subscribe to (ACL SETUSER).
func (n *Node) killRevokedClients(s *userSet) {
	for _, cl := range n.clientsSnapshot(nil) {
		id := cl.ident.Load()
		var usr *acl.User
		switch {
		case id.kind == asUser:
			var ok bool
			if usr, ok = s.byName[id.user]; !ok {
				cl.kill()
				continue
			}
		case id.kind == asDefault && !s.open:
			usr = s.byName["default"]
		default:
			continue
		}
		sub := cl.sub.Load()
		if sub != nil && sub.AnySubscription(func(name string, pattern bool) bool { return !usr.AllowsChannel([]byte(name), pattern) }) {
			cl.kill()
		}
	}
}

// newIdentity is a new connection's: the default user, let in at once if
// it is on and has no password.
func (n *Node) newIdentity() *identity {
	def := n.users.set().byName["default"]
	return &identity{kind: asDefault, user: "default", authed: def.Enabled() && def.NoPass()}
}

// aclRefusal checks cl's command against its identity's rules: "" when
// allowed, else the NOPERM error, logged in ACL LOG under context
// ("toplevel", "multi").
func (n *Node) aclRefusal(cl *client, args [][]byte, context string) string {
	if d := n.aclDenial(cl, args, context); d != nil {
		return d.Error()
	}
	return ""
}

// aclDenial is aclRefusal's check: nil, or why the command is refused
// (logged unless context is "").
func (n *Node) aclDenial(cl *client, args [][]byte, context string) *acl.Denied {
	rules, deleted := n.rulesOf(cl)
	if deleted {
		// Its user was deleted meanwhile: its connections are being closed.
		name := strings.ToLower(string(args[0]))
		return &acl.Denied{Reason: acl.ReasonCommand, Object: name, Command: name}
	}
	for _, r := range rules {
		if r == nil {
			continue
		}
		if err := r.Check(args); err != nil {
			d := err.(*acl.Denied)
			if context != "" {
				n.aclLog.add(d.Reason.String(), d.Object, context, cl.ident.Load().user, n.clientLine(cl))
			}
			return d
		}
	}
	return nil
}

// rulesOf is what cl's commands are checked against: every user of rules
// that is not nil must allow a command (none: anything goes). An array,
// not a slice: it is asked before every command. deleted: the
// connection's ACL user is gone.
func (n *Node) rulesOf(cl *client) (rules [2]*acl.User, deleted bool) {
	id := cl.ident.Load()
	switch id.kind {
	case asUser:
		usr, ok := n.users.set().byName[id.user]
		if !ok {
			return rules, true
		}
		rules[0] = usr
	case asTenant:
		rules[0] = n.users.tenant
	case asDefault:
		if s := n.users.set(); !s.open {
			rules[0] = s.byName["default"]
		}
		if n.heldAsTenant(cl, id) {
			rules[1] = n.users.tenant
		}
	}
	return rules, false
}

// aclRestricted reports whether some command may be refused to cl.
func (n *Node) aclRestricted(cl *client) bool {
	rules, deleted := n.rulesOf(cl)
	return deleted || rules[0] != nil || rules[1] != nil
}

// tenantView reports whether cl sees only its tables' clients (CLIENT
// LIST, CLIENT KILL).
func (n *Node) tenantView(cl *client) bool {
	id := cl.ident.Load()
	switch id.kind {
	case asTenant:
		return true
	case asDefault:
		return n.heldAsTenant(cl, id)
	}
	return false
}

// heldAsTenant reports whether cl, as the default user, is held to
// tenantRules: some table has a password that it has not opened. Known
// per routing revision (grant forgets it).
func (n *Node) heldAsTenant(cl *client, id *identity) bool {
	if id.allTables || !n.passwordTables.Load() {
		return false
	}
	snap := n.proxy.Routing()
	if cl.openedAllRev != snap.Revision {
		all := true
		for _, tb := range snap.Tables() {
			if tb.HasPassword() && !tableOpen(cl, tb) {
				all = false
				break
			}
		}
		cl.openedAllRev, cl.openedAll = snap.Revision, all
	}
	return !cl.openedAll
}

// sameTenant reports whether a tenant cl may see other: other uses a
// table cl uses or opened.
func sameTenant(cl, other *client) bool {
	t := other.tableID()
	if t == cl.tableID() {
		return true
	}
	_, ok := cl.grantsCopy()[t]
	return ok
}

// writeUsers changes the users' record with change (which gets a copy
// of the users and their record's state) and makes the result the users
// in force everywhere: here, and on every live node, before it returns.
// Without etcd (a node alone) the change is this node's.
func (n *Node) writeUsers(change func(meta.ACLUsers) (meta.ACLUsers, error)) error {
	l := meta.Layout{Cluster: n.cfg.Cluster}
	if n.etcdCli == nil {
		n.users.mu.Lock()
		cur := n.users.set()
		next, err := change(cur.records.Clone())
		n.users.mu.Unlock()
		if err != nil {
			return err
		}
		n.applyUsers(next, cur.rev+1)
		return nil
	}
	for range 16 {
		ctx, cancel := context.WithTimeout(context.Background(), configWriteTimeout)
		rec, err := meta.ReadACLUsers(ctx, n.etcdCli, l)
		if err != nil {
			cancel()
			return refusal("the ACL users could not be read from etcd: " + err.Error())
		}
		next, err := change(rec.Users.Clone())
		if err != nil {
			cancel()
			return err
		}
		rev, ok, err := meta.WriteACLUsers(ctx, n.etcdCli, l, next, rec.ModRevision)
		cancel()
		if err != nil {
			return refusal("the ACL users could not be written to etcd: " + err.Error())
		}
		if !ok {
			continue // another node changed them meanwhile: again, on theirs
		}
		n.applyUsers(next, rev)
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		n.tellAll(peer.ConfigSet{Param: aclUsersParam, Value: string(b), Revision: rev})
		return nil
	}
	return refusal("the ACL users changed too often meanwhile; retry")
}

// applyUsersPushed applies a set another node wrote (CFGSET).
func (n *Node) applyUsersPushed(value string, rev int64) error {
	var records meta.ACLUsers
	if value != "" {
		if err := json.Unmarshal([]byte(value), &records); err != nil {
			return err
		}
	}
	n.applyUsers(records, rev)
	return nil
}

// unrestrictedKeys reports whether the ACL of connection conn lets it
// read every key with the command line args (txn.Services.KeyAccess):
// every user its commands are checked against must (acl.User.UnrestrictedKeys).
// A command another node forwarded was checked there.
func (n *Node) unrestrictedKeys(conn any, args [][]byte) bool {
	cl, ok := conn.(*client)
	if !ok {
		return true
	}
	rules, deleted := n.rulesOf(cl)
	if deleted {
		return false
	}
	for _, r := range rules {
		if r != nil && !r.UnrestrictedKeys(args) {
			return false
		}
	}
	return true
}

// scriptACL checks a command a script calls against the ACL of the
// connection running the script (txn.Services.ScriptACL). A script
// another node forwarded was checked there, as a command.
func (n *Node) scriptACL(conn any, args [][]byte, log bool) *acl.Denied {
	cl, ok := conn.(*client)
	if !ok {
		return nil
	}
	context := ""
	if log {
		context = "lua"
	}
	return n.aclDenial(cl, args, context)
}
