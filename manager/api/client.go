package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/manager/meta"
)

// Client calls the API of one node (which forwards writes to the manager).
type Client struct {
	base string
	hc   *http.Client
	// auth is the Authorization header of every request, "" for none.
	auth string
}

// NewClient returns a client of the node whose HTTP address is addr
// (host:port). Calls are bounded by their context only.
func NewClient(addr string) *Client {
	return &Client{base: "http://" + addr, hc: &http.Client{}}
}

// WithTLS returns a client like c that speaks HTTPS with cfg (nil: plain
// HTTP, as NewClient's).
func (c *Client) WithTLS(cfg *tls.Config) *Client {
	if cfg == nil {
		return c
	}
	d := *c
	d.base = "https://" + strings.TrimPrefix(c.base, "http://")
	d.hc = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	return &d
}

// WithToken returns a client like c that sends the admin token, which
// every write of the API needs.
func (c *Client) WithToken(token string) *Client {
	d := *c
	d.auth = AuthAdmin + " " + token
	return &d
}

// WithPeerSecret returns a client like c that authenticates as a node of
// the cluster whose secret is secret (meta.PeerHTTPCredential).
func (c *Client) WithPeerSecret(secret string) *Client {
	d := *c
	d.auth = AuthPeer + " " + meta.PeerHTTPCredential(secret)
	return &d
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = string(bytes.TrimSpace(data))
		}
		return &Error{Code: resp.StatusCode, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Status returns the cluster status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// Nodes lists the nodes.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var ns []Node
	return ns, c.do(ctx, http.MethodGet, PathNodes, nil, &ns)
}

// RemoveNode removes a node that is not alive. Without force it refuses a
// node that still holds replicas.
func (c *Client) RemoveNode(ctx context.Context, id meta.NodeID, force bool) error {
	return c.do(ctx, http.MethodDelete, PathNodes+"/"+url.PathEscape(string(id))+"?force="+strconv.FormatBool(force), nil, nil)
}

// Tables lists the tables.
func (c *Client) Tables(ctx context.Context) ([]Table, error) {
	var ts []Table
	return ts, c.do(ctx, http.MethodGet, PathTables, nil, &ts)
}

// Table returns one table.
func (c *Client) Table(ctx context.Context, name string) (Table, error) {
	var t Table
	return t, c.do(ctx, http.MethodGet, PathTables+"/"+url.PathEscape(name), nil, &t)
}

// CreateTable creates a table and returns it once created.
func (c *Client) CreateTable(ctx context.Context, req CreateTable) (Table, error) {
	var t Table
	return t, c.do(ctx, http.MethodPost, PathTables, req, &t)
}

// DropTable drops a table and its data on every node.
func (c *Client) DropTable(ctx context.Context, name string) (Dropped, error) {
	var d Dropped
	return d, c.do(ctx, http.MethodDelete, PathTables+"/"+url.PathEscape(name), nil, &d)
}

// Applied waits, at most wait, until the node's routing has reached etcd
// revision rev (PathApplied).
func (c *Client) Applied(ctx context.Context, rev int64, wait time.Duration) (Applied, error) {
	var a Applied
	q := url.Values{"rev": {strconv.FormatInt(rev, 10)}, "wait": {wait.String()}}
	return a, c.do(ctx, http.MethodGet, PathApplied+"?"+q.Encode(), nil, &a)
}

// Slots lists a table's slots.
func (c *Client) Slots(ctx context.Context, table string) ([]Slot, error) {
	var ss []Slot
	return ss, c.do(ctx, http.MethodGet, PathTables+"/"+url.PathEscape(table)+"/slots", nil, &ss)
}

// Slot returns one slot of a table.
func (c *Client) Slot(ctx context.Context, table string, n meta.SlotID) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodGet, PathTables+"/"+url.PathEscape(table)+"/slots/"+strconv.FormatUint(uint64(n), 10), nil, &s)
}

// Check compares the replicas of every slot of a table, or of one slot.
func (c *Client) Check(ctx context.Context, table string, slot *meta.SlotID) ([]SlotCheck, error) {
	path := PathTables + "/" + url.PathEscape(table) + "/check"
	if slot != nil {
		path += "?slot=" + strconv.FormatUint(uint64(*slot), 10)
	}
	var out []SlotCheck
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Failover hands a slot's leadership to a follower (to, or the most
// advanced one when to is "") without losing acknowledged writes.
func (c *Client) Failover(ctx context.Context, table string, slot meta.SlotID, to meta.NodeID) (Switchover, error) {
	path := PathTables + "/" + url.PathEscape(table) + "/slots/" + strconv.FormatUint(uint64(slot), 10) + "/failover"
	if to != "" {
		path += "?to=" + url.QueryEscape(string(to))
	}
	var out Switchover
	return out, c.do(ctx, http.MethodPost, path, nil, &out)
}

// Drain moves every slot leadership off a node.
func (c *Client) Drain(ctx context.Context, node meta.NodeID) (Drain, error) {
	var out Drain
	return out, c.do(ctx, http.MethodPost, PathNodes+"/"+url.PathEscape(string(node))+"/drain", nil, &out)
}

// ReportRaftLeaders sends raft leadership reports to the manager.
func (c *Client) ReportRaftLeaders(ctx context.Context, reports []RaftLeader) error {
	return c.do(ctx, http.MethodPost, PathRaftLeaders, reports, nil)
}

// MoveSlot starts a slot move job and returns its record.
func (c *Client) MoveSlot(ctx context.Context, req MoveSlot) (meta.Job, error) {
	var j meta.Job
	return j, c.do(ctx, http.MethodPost, PathMoves, req, &j)
}

// Jobs lists the jobs: in flight, and moves that finished recently.
func (c *Client) Jobs(ctx context.Context) ([]meta.Job, error) {
	var js []meta.Job
	return js, c.do(ctx, http.MethodGet, PathJobs, nil, &js)
}

// CancelJob asks a move job to roll back; it returns the job's record.
func (c *Client) CancelJob(ctx context.Context, id string) (meta.Job, error) {
	var j meta.Job
	return j, c.do(ctx, http.MethodDelete, PathJobs+"/"+url.PathEscape(id), nil, &j)
}

// Rebalance plans the moves and hand-overs that even out slots and
// leaders over the live nodes, for table (every table when ""), with no
// replica left on the exclude nodes (a node being removed).
func (c *Client) Rebalance(ctx context.Context, table string, exclude []meta.NodeID) (Plan, error) {
	q := url.Values{}
	if table != "" {
		q.Set("table", table)
	}
	for _, id := range exclude {
		q.Add("exclude", string(id))
	}
	path := PathRebalance
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p Plan
	return p, c.do(ctx, http.MethodGet, path, nil, &p)
}

// Evacuate plans the moves that take every replica off node (to the
// least-loaded nodes), and nothing else: node remove runs it.
func (c *Client) Evacuate(ctx context.Context, node meta.NodeID) (Plan, error) {
	var p Plan
	return p, c.do(ctx, http.MethodGet, PathRebalance+"?evacuate=true&exclude="+url.QueryEscape(string(node)), nil, &p)
}

// RotateAdminToken replaces the cluster's admin token and returns the
// new one; the old one stops working.
func (c *Client) RotateAdminToken(ctx context.Context) (AdminToken, error) {
	var t AdminToken
	return t, c.do(ctx, http.MethodPost, PathAdminToken, nil, &t)
}

// SetTablePassword replaces a table's password ("" removes it) and
// returns the table.
func (c *Client) SetTablePassword(ctx context.Context, table, password string) (Table, error) {
	var t Table
	return t, c.do(ctx, http.MethodPut, PathTables+"/"+url.PathEscape(table)+"/password", SetPassword{Password: password}, &t)
}
