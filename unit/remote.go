package unit

import (
	"context"
	"fmt"
	"time"

	"github.com/pika-node/pika-node/peer"
	"github.com/pika-node/pika-node/storage"
)

// Remote is a Site on another node, reached by the unit requests on the
// links' unit class.
type Remote struct {
	Links *peer.Links
	Addr  string // the node's peer address
	// Key picks the connection (the unit's first slot, say).
	Key uint32
}

// maxWait bounds a request when its context has no deadline.
const maxWait = 10 * time.Second

func (r Remote) do(ctx context.Context, req peer.Request) ([]byte, error) {
	return r.doOn(ctx, peer.ClassUnit, req)
}

func (r Remote) doOn(ctx context.Context, class peer.Class, req peer.Request) ([]byte, error) {
	wait := maxWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	raw, err := r.Links.Do(r.Addr, class, r.Key, req).Wait(ctx, wait)
	if err != nil {
		return nil, err
	}
	if err := peer.ReplyErr(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (r Remote) ok(ctx context.Context, req peer.Request) error {
	_, err := r.do(ctx, req)
	return err
}

// Lock sends ULOCK (one that waits on the connections of its own class)
// and decodes the images.
func (r Remote) Lock(ctx context.Context, req peer.UnitLock) ([]*storage.SlotImage, error) {
	class := peer.ClassUnit
	if req.Wait {
		class = peer.ClassUnitWait
	}
	raw, err := r.doOn(ctx, class, req)
	if err != nil {
		return nil, err
	}
	elems, err := peer.Elems(raw)
	if err != nil {
		return nil, err
	}
	out := make([]*storage.SlotImage, len(elems))
	for i, e := range elems {
		b, err := peer.Bulk(e)
		if err != nil {
			return nil, err
		}
		if out[i], err = storage.DecodeSlotImage(b); err != nil {
			return nil, fmt.Errorf("ULOCK from %s: %w", r.Addr, err)
		}
	}
	return out, nil
}

// Read sends UREAD and decodes its page.
func (r Remote) Read(ctx context.Context, req peer.UnitRead) (keys, vals [][]byte, more bool, err error) {
	raw, err := r.do(ctx, req)
	if err != nil {
		return nil, nil, false, err
	}
	elems, err := peer.Elems(raw)
	if err != nil || len(elems)%2 != 1 {
		return nil, nil, false, fmt.Errorf("UREAD from %s: a malformed answer (%v)", r.Addr, err)
	}
	m, err := peer.Int(elems[0])
	if err != nil || (m != 0 && m != 1) {
		return nil, nil, false, fmt.Errorf("UREAD from %s: a malformed answer (%v)", r.Addr, err)
	}
	n := len(elems) / 2
	keys, vals = make([][]byte, n), make([][]byte, n)
	for i := range n {
		if keys[i], err = peer.Bulk(elems[1+2*i]); err == nil {
			vals[i], err = peer.Bulk(elems[2+2*i])
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("UREAD from %s: %w", r.Addr, err)
		}
	}
	return keys, vals, m == 1, nil
}

func (r Remote) Prepare(ctx context.Context, req peer.UnitPrepare) (peer.Outcome, error) {
	raw, err := r.do(ctx, req)
	if err != nil || !req.Decide {
		return "", err
	}
	return peer.ParseOutcome(raw)
}

func (r Remote) Decide(ctx context.Context, req peer.UnitDecide) (peer.Outcome, error) {
	raw, err := r.do(ctx, req)
	if err != nil {
		return "", err
	}
	return peer.ParseOutcome(raw)
}

func (r Remote) Apply(ctx context.Context, unit string) error {
	return r.ok(ctx, peer.UnitApply{Unit: unit})
}

func (r Remote) Abort(ctx context.Context, unit string) error {
	return r.ok(ctx, peer.UnitAbort{Unit: unit})
}

func (r Remote) Release(ctx context.Context, unit string) error {
	return r.ok(ctx, peer.UnitRelease{Unit: unit})
}

func (r Remote) Confirm(ctx context.Context, unit string) error {
	return r.ok(ctx, peer.UnitConfirm{Unit: unit})
}

func (r Remote) Renew(ctx context.Context, unit string) error {
	return r.ok(ctx, peer.UnitRenew{Unit: unit})
}

func (r Remote) Forget(ctx context.Context, req peer.UnitForget) error { return r.ok(ctx, req) }

func (r Remote) Watch(ctx context.Context, req peer.UnitWatch) error { return r.ok(ctx, req) }

func (r Remote) Unwatch(ctx context.Context, token string) error {
	return r.ok(ctx, peer.UnitUnwatch{Token: token})
}
