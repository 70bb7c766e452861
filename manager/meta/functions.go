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
	resp, err := kv.Get(ctx, l.Functions())
	if err != nil {
		return FunctionsRecord{}, err
	}
	rec := FunctionsRecord{Libraries: Functions{}, Revision: resp.Header.Revision}
	if len(resp.Kvs) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec.Libraries); err != nil {
		return FunctionsRecord{}, err
	}
	rec.ModRevision = resp.Kvs[0].ModRevision
	return rec, nil
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
	resp, err := kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(op).Commit()
	if err != nil {
		return 0, false, err
	}
	return resp.Header.Revision, resp.Succeeded, nil
}
