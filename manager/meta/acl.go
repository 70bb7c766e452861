package meta

import (
	"context"
	"encoding/json"
	"maps"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The ACL users' record is, like the FUNCTION libraries', written by
// whichever node a client's ACL SETUSER or DELUSER reached: one record
// holds every user, so that a change is one compare-and-swap and a node
// applies a whole set of users at once (docs/acl.md).

// ACLUser is one ACL user as stored: the rules that rebuild it from a
// new user (passwords excluded) and its password records (HashPassword
// of each password, so that a reader of etcd does not learn them).
type ACLUser struct {
	Rules     []string `json:"rules"`
	Passwords []string `json:"passwords,omitempty"`
}

// ACLUsers are the users by name. "default" is present only once
// changed from Redis's default user.
type ACLUsers map[string]ACLUser

// Clone copies u (the records' slices are shared: records are not
// changed in place).
func (u ACLUsers) Clone() ACLUsers { return maps.Clone(u) }

// ACLUsersRecord is the users as read from etcd.
type ACLUsersRecord struct {
	Users ACLUsers
	// ModRevision is the record's (0: no record), what a write compares.
	ModRevision int64
}

// ReadACLUsers reads the users' record.
func ReadACLUsers(ctx context.Context, kv clientv3.KV, l Layout) (ACLUsersRecord, error) {
	rec := ACLUsersRecord{Users: ACLUsers{}}
	var err error
	if rec.ModRevision, _, err = readRecord(ctx, kv, l.ACLUsers(), &rec.Users); err != nil {
		return ACLUsersRecord{}, err
	}
	return rec, nil
}

// WriteACLUsers replaces the users with u if their record is still at
// revision rev (0: absent); ok is false when it changed since. It
// returns the etcd revision of the write. The record stays when the last
// user goes ("{}"): its revision orders every set of users a node may
// see, so that a node that reloads the metadata never takes an older
// set for a newer one.
func WriteACLUsers(ctx context.Context, kv clientv3.KV, l Layout, u ACLUsers, rev int64) (newRev int64, ok bool, err error) {
	if u == nil {
		u = ACLUsers{}
	}
	b, err := json.Marshal(u)
	if err != nil {
		return 0, false, err
	}
	return compareAndSwap(ctx, kv, l.ACLUsers(), rev, clientv3.OpPut(l.ACLUsers(), string(b)))
}
