package node

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
	"github.com/pika-node/pika-node/storage"
)

// Health is the body of /healthz.
type Health struct {
	// Status is "ok" (serving, etcd reachable), "degraded" (serving from
	// the last metadata while etcd is unreachable, or refusing writes for
	// want of disk space) or "starting" (no metadata yet: clients are not
	// served). Only "starting" answers 503.
	Status        string      `json:"status"`
	Node          meta.NodeID `json:"node"`
	Cluster       string      `json:"cluster"`
	EtcdConnected bool        `json:"etcd_connected"`
	Manager       meta.NodeID `json:"manager"`
	IsManager     bool        `json:"is_manager"`
	Revision      int64       `json:"revision"`
	Tables        int         `json:"tables"`
	Reason        string      `json:"reason,omitempty"`
	Uptime        string      `json:"uptime"`
	// Disk is the data directory's disk: "ok", "low" (clients' writes
	// refused) or "critical" (every write refused); DiskFreeBytes its
	// free space as last measured (absent with --min-free-disk 0).
	Disk          string `json:"disk"`
	DiskFreeBytes int64  `json:"disk_free_bytes,omitempty"`
}

func (n *Node) health() Health {
	h := Health{
		Status:        "ok",
		Node:          n.id,
		Cluster:       n.cfg.Cluster,
		EtcdConnected: n.member.Connected(),
		IsManager:     n.member.IsManager(),
		Uptime:        time.Since(n.started).Round(time.Second).String(),
	}
	snap := n.proxy.Routing()
	switch {
	case snap == nil || len(snap.Tables()) == 0:
		h.Status = "starting"
		h.Reason = "waiting for the cluster metadata"
		if e := n.member.LastError(); e != "" {
			h.Reason += ": " + e
		}
	default:
		h.Manager, h.Revision, h.Tables = snap.Manager, snap.Revision, len(snap.Tables())
		if !h.EtcdConnected {
			h.Status = "degraded"
			h.Reason = fmt.Sprintf("etcd unreachable (%s): serving from the metadata of revision %d", n.member.LastError(), snap.Revision)
		}
	}
	d := n.eng.DiskState()
	h.Disk, h.DiskFreeBytes = d.Level.String(), d.Free
	if d.Level != storage.DiskOK && h.Status == "ok" {
		h.Status = "degraded"
		h.Reason = fmt.Sprintf("disk %s: %d bytes free, under --min-free-disk %d: writes refused since %s",
			d.Level, d.Free, d.Reserve, d.Since.UTC().Format(time.RFC3339))
	}
	return h
}

// httpServer serves /healthz, /metrics and the manager's API.
func (n *Node) httpServer() *http.Server {
	mux := n.probeMux()
	mux.Handle("/api/", n.member.Handler())
	return newHTTPServer(mux)
}

// metricsServer serves /healthz and /metrics alone (--metrics-bind).
func (n *Node) metricsServer() *http.Server { return newHTTPServer(n.probeMux()) }

// probeMux serves what stays open to anyone who reaches the port: the
// health probe and the metrics.
func (n *Node) probeMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := n.health()
		w.Header().Set("Content-Type", "application/json")
		if h.Status == "starting" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(h)
	})
	mux.Handle("GET /metrics", n.metrics.Handler())
	return mux
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// closeListener closes ln if there is one.
func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}
