package meta

import (
	"context"
	"encoding/json"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The FUNCTION libraries' record is the one record every node writes,
// not only the manager: FUNCTION LOAD, DELETE, FLUSH and RESTORE change
// it through whichever node a client sent them to, each a
// compare-and-swap on the record's revision (docs/scripting.md).

// FunctionsRecord is the libraries as read from etcd.
type FunctionsRecord struct {
	Libraries Functions
	// ModRevision is the record's (0: no record), what a write compares;
	// Revision the store's when it was read.
	ModRevision, Revision int64
}

// ReadFunctions reads the libraries' record.
func ReadFunctions(ctx context.Context, kv clientv3.KV, l Layout) (FunctionsRecord, error) {
	rec := FunctionsRecord{Libraries: Functions{}}
	var err error
	if rec.ModRevision, rec.Revision, err = readRecord(ctx, kv, l.Functions(), &rec.Libraries); err != nil {
		return FunctionsRecord{}, err
	}
	return rec, nil
}

// readRecord reads the JSON record at key into v, when there is one: its
// mod revision (0: none, v untouched), and the store's revision.
func readRecord(ctx context.Context, kv clientv3.KV, key string, v any) (modRev, rev int64, err error) {
	resp, err := kv.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	if len(resp.Kvs) == 0 {
		return 0, resp.Header.Revision, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, v); err != nil {
		return 0, 0, err
	}
	return resp.Kvs[0].ModRevision, resp.Header.Revision, nil
}

// WriteFunctions replaces the libraries with f if their record is still
// at revision rev (0: absent); ok is false when it changed since. An
// empty f deletes the record. It returns the etcd revision of the write.
func WriteFunctions(ctx context.Context, kv clientv3.KV, l Layout, f Functions, rev int64) (newRev int64, ok bool, err error) {
	key := l.Functions()
	var op clientv3.Op
	if len(f) == 0 {
		op = clientv3.OpDelete(key)
	} else {
		b, err := json.Marshal(f)
		if err != nil {
			return 0, false, err
		}
		op = clientv3.OpPut(key, string(b))
	}
	return compareAndSwap(ctx, kv, key, rev, op)
}

// compareAndSwap runs op (a put or delete of key) if key's record is
// still at mod revision rev (0: absent): the etcd revision of the write,
// and ok false when the record changed since.
func compareAndSwap(ctx context.Context, kv clientv3.KV, key string, rev int64, op clientv3.Op) (newRev int64, ok bool, err error) {
	resp, err := kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(op).Commit()
	if err != nil {
		return 0, false, err
	}
	return resp.Header.Revision, resp.Succeeded, nil
}
