package node

import (
	"log/slog"
	"sync/atomic"

	"github.com/pika-node/pika-node/manager"
	"github.com/pika-node/pika-node/storage"
)

// diskWatch is told of the storage engine's changes of disk level
// (storage.Options.OnDiskLevel): it logs them and has the node's
// registration say whether its disk is full, so that the manager hands
// the slots the node leads to replicas that can write. The engine may
// report a level before the node has a member (at Open): the member
// reads the engine's state when it is set.
type diskWatch struct {
	log    *slog.Logger
	member atomic.Pointer[manager.Member]
}

func (d *diskWatch) changed(st storage.DiskState) {
	if st.Level == storage.DiskOK {
		d.log.Info("disk space is back: writes are taken again", "free_bytes", st.Free, "min_free_disk", st.Reserve)
	} else {
		d.log.Error("disk nearly full: writes are refused (MISCONF) until space is freed",
			"level", st.Level.String(), "free_bytes", st.Free, "min_free_disk", st.Reserve)
	}
	if m := d.member.Load(); m != nil {
		m.SetDiskFull(st.Level != storage.DiskOK)
	}
}

// setMember starts telling m, with the level the engine has now.
func (d *diskWatch) setMember(m *manager.Member, eng *storage.Engine) {
	d.member.Store(m)
	m.SetDiskFull(eng.DiskState().Level != storage.DiskOK)
}
