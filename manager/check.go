package manager

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/pika-node/pika-node/manager/api"
	"github.com/pika-node/pika-node/manager/meta"
)

// checkRetries bounds how often a slot is checksummed again while its
// replicas are at different positions (writes still being shipped).
const checkRetries = 20

// checkSlots compares the replicas of the given slots of table t: each
// live replica checksums the slot's live data at its log position; the
// slot is equal when all are at one position with one checksum.
func (m *Member) checkSlots(ctx context.Context, st *meta.State, t meta.TableInfo, slots []meta.SlotID) ([]api.SlotCheck, error) {
	if m.cfg.Checksum == nil {
		return nil, errf(http.StatusServiceUnavailable, "this node cannot compute checksums")
	}
	out := make([]api.SlotCheck, len(slots))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, n := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = m.checkSlot(ctx, st, t, n)
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}

func (m *Member) checkSlot(ctx context.Context, st *meta.State, t meta.TableInfo, n meta.SlotID) api.SlotCheck {
	c := api.SlotCheck{Table: t.Name, Slot: n}
	si := st.Slots[t.ID][n]
	for try := 0; ; try++ {
		c.Replicas = c.Replicas[:0]
		var first *SlotSum
		samePos, sameSum, allUp := true, true, true
		for _, r := range si.Replicas {
			rs := api.ReplicaSum{Node: r}
			info, alive := st.Alive[r]
			if !alive {
				rs.Error = "node is down"
				allUp = false
				c.Replicas = append(c.Replicas, rs)
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			sum, err := m.cfg.Checksum(cctx, info, t.ID, n)
			cancel()
			if err != nil {
				rs.Error = err.Error()
				allUp = false
				c.Replicas = append(c.Replicas, rs)
				continue
			}
			rs.Index, rs.Epoch, rs.Sum, rs.Keys = sum.Index, sum.Epoch, fmt.Sprintf("%016x", sum.Sum), sum.Keys
			c.Replicas = append(c.Replicas, rs)
			if first == nil {
				first = &sum
				continue
			}
			if sum.Index != first.Index || sum.Epoch != first.Epoch {
				samePos = false
			} else if sum.Sum != first.Sum {
				sameSum = false
			}
		}
		switch {
		case !allUp:
			c.Note = "not every replica answered"
		case !samePos && try < checkRetries && ctx.Err() == nil:
			time.Sleep(100 * time.Millisecond) // writes still shipping: look again
			continue
		case !samePos:
			c.Note = "replicas at different log positions (writes in flight?); stop the load and check again"
		case !sameSum:
			c.Note = "MISMATCH: same position, different data"
		default:
			c.Equal = true
		}
		return c
	}
}

// handleCheck serves GET /api/v1/tables/{name}/check[?slot=N].
func (m *Member) handleCheck(w http.ResponseWriter, r *http.Request) {
	st := m.State()
	if st == nil {
		writeError(w, errf(http.StatusServiceUnavailable, "this node has not loaded the cluster metadata yet"))
		return
	}
	st, t, err := m.tableOf(st, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var slots []meta.SlotID
	if q := r.URL.Query().Get("slot"); q != "" {
		n, err := strconv.ParseUint(q, 10, 32)
		if err != nil || uint32(n) >= t.Slots {
			writeError(w, errf(http.StatusBadRequest, "slot %q: not a slot of table %s (0..%d)", q, t.Name, t.Slots-1))
			return
		}
		slots = []meta.SlotID{meta.SlotID(n)}
	} else {
		for n := range t.Slots {
			slots = append(slots, meta.SlotID(n))
		}
	}
	out, err := m.checkSlots(r.Context(), st, t, slots)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
