package tracking

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pika-node/pika-node/node/resp"
	"github.com/pika-node/pika-node/storage"
)

// Conn is a client connection as tracking sees it: a tracking client, or
// the client one redirects to.
type Conn interface {
	ID() uint64
	Resp3() bool
	// Subscribed reports whether it is in pub/sub mode: a RESP2 client
	// redirected to gets invalidations only then, as messages of
	// __redis__:invalidate.
	Subscribed() bool
	// Push sends b to the client after the replies of the commands it has
	// in flight (Outbox).
	Push(b []byte)
}

// Options are CLIENT TRACKING ON's.
type Options struct {
	Redirect uint64 // 0: none
	BCast    bool
	OptIn    bool
	OptOut   bool
	NoLoop   bool
	Prefixes [][]byte // BCAST's; none is every key
}

// Info is what CLIENT TRACKINGINFO, CLIENT LIST and CLIENT GETREDIR show
// of a client.
type Info struct {
	On          bool
	Options     Options
	Caching     bool // CLIENT CACHING given for its next command
	BrokenRedir bool
}

// client is one tracking client.
type client struct {
	conn     Conn
	opts     Options
	prefixes map[string]struct{}
	caching  bool
	broken   bool
	// own counts the keys of its writes whose replies it has not had:
	// with NOLOOP, an invalidation of one of them that does not say who
	// wrote (a write another node ran for it) is taken as its own.
	own map[string]int
}

// Writer says who wrote a key: a client of a node. A zero Writer is
// unknown (a write forwarded here by another node, the expiry sweep).
type Writer struct {
	Node   string
	Client uint64
}

// Table is a node's tracking state. Safe for concurrent use.
type Table struct {
	self string
	// lookup finds a client of this node by id (REDIRECT's).
	lookup func(id uint64) Conn
	// maxKeys is tracking-table-max-keys (0: no bound).
	maxKeys func() int64

	mu      sync.Mutex
	clients map[uint64]*client
	keys    map[storage.TableID]map[string]map[uint64]struct{}
	nkeys   int
	items   int
	// bcast maps each BCAST prefix to its clients.
	bcast map[string]map[uint64]struct{}
	// n is len(clients), read without the lock.
	n atomic.Int64
}

// New returns the tracking state of node self.
func New(self string, lookup func(uint64) Conn, maxKeys func() int64) *Table {
	return &Table{self: self, lookup: lookup, maxKeys: maxKeys, clients: map[uint64]*client{},
		keys: map[storage.TableID]map[string]map[uint64]struct{}{}, bcast: map[string]map[uint64]struct{}{}}
}

// Errors of CLIENT TRACKING ON, as Redis words them.
const (
	ErrPrefixNoBCast  = "ERR PREFIX option requires BCAST mode to be enabled"
	ErrSwitchBCast    = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
	ErrOptBCast       = "ERR OPTIN and OPTOUT are not compatible with BCAST"
	ErrOptInOptOut    = "ERR You can't specify both OPTIN mode and OPTOUT mode"
	ErrSwitchOpt      = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."
	ErrCachingNoMode  = "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
	ErrCachingYes     = "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
	ErrCachingNo      = "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
	ErrRedirectTwice  = "ERR A client can only redirect to a single other client"
	ErrRedirectAbsent = "ERR The client ID you want redirect to does not exist"
)

// Enable turns tracking on for conn with opts, or changes its options,
// after the checks Redis makes in that order; it returns the error reply
// or "". The prefixes of BCAST add to those it has.
func (tb *Table) Enable(conn Conn, opts Options) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.clients[conn.ID()]
	if !opts.BCast && len(opts.Prefixes) > 0 {
		return ErrPrefixNoBCast
	}
	if c != nil && c.opts.BCast != opts.BCast {
		return ErrSwitchBCast
	}
	if opts.BCast && (opts.OptIn || opts.OptOut) {
		return ErrOptBCast
	}
	if opts.OptIn && opts.OptOut {
		return ErrOptInOptOut
	}
	if c != nil && (opts.OptIn && c.opts.OptOut || opts.OptOut && c.opts.OptIn) {
		return ErrSwitchOpt
	}
	if opts.BCast {
		if msg := collision(c, opts.Prefixes); msg != "" {
			return msg
		}
	}
	if c == nil {
		c = &client{conn: conn, prefixes: map[string]struct{}{}}
		tb.clients[conn.ID()] = c
		tb.n.Store(int64(len(tb.clients)))
	}
	c.broken = false
	c.opts = opts
	c.opts.Prefixes = nil
	if opts.BCast {
		if len(opts.Prefixes) == 0 {
			tb.addPrefixLocked(c, "")
		}
		for _, p := range opts.Prefixes {
			tb.addPrefixLocked(c, string(p))
		}
	}
	return ""
}

func (tb *Table) addPrefixLocked(c *client, p string) {
	set := tb.bcast[p]
	if set == nil {
		set = map[uint64]struct{}{}
		tb.bcast[p] = set
	}
	set[c.conn.ID()] = struct{}{}
	c.prefixes[p] = struct{}{}
}

// collision is Redis's check that no two prefixes of a client overlap
// (one a prefix of the other): the new ones with those it has, then with
// each other.
func collision(c *client, prefixes [][]byte) string {
	overlap := func(a, b []byte) bool {
		n := min(len(a), len(b))
		return bytes.Equal(a[:n], b[:n])
	}
	for i, p := range prefixes {
		if c != nil {
			for _, have := range sortedKeys(c.prefixes) {
				if overlap([]byte(have), p) {
					return "ERR Prefix '" + cstr(p) + "' overlaps with an existing prefix '" + cstr([]byte(have)) + "'. Prefixes for a single client must not overlap."
				}
			}
		}
		for _, q := range prefixes[i+1:] {
			if overlap(p, q) {
				return "ERR Prefix '" + cstr(p) + "' overlaps with another provided prefix '" + cstr(q) + "'. Prefixes for a single client must not overlap."
			}
		}
	}
	return ""
}

// cstr is b as C's "%s" prints it: up to its first NUL.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Disable turns tracking off for client id (CLIENT TRACKING OFF, or its
// connection closed). The keys it read are forgotten lazily, as in Redis.
// It reports whether no client tracks any more.
func (tb *Table) Disable(id uint64) (none bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.clients[id]
	if c == nil {
		return len(tb.clients) == 0
	}
	for p := range c.prefixes {
		if set := tb.bcast[p]; set != nil {
			delete(set, id)
			if len(set) == 0 {
				delete(tb.bcast, p)
			}
		}
	}
	delete(tb.clients, id)
	tb.n.Store(int64(len(tb.clients)))
	return len(tb.clients) == 0
}

// Tracking reports whether client id tracks (one atomic load when no
// client of this node does).
func (tb *Table) Tracking(id uint64) bool {
	if tb.n.Load() == 0 {
		return false
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.clients[id] != nil
}

// Clients is how many clients track here (INFO's tracking_clients).
func (tb *Table) Clients() int { return int(tb.n.Load()) }

// Counts returns the keys in the tracking table, the (key, client) items
// and the BCAST prefixes (INFO's tracking_total_*).
func (tb *Table) Counts() (keys, items, prefixes int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.nkeys, tb.items, len(tb.bcast)
}

// InfoOf returns what CLIENT TRACKINGINFO shows of client id.
func (tb *Table) InfoOf(id uint64) Info {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.clients[id]
	if c == nil {
		return Info{}
	}
	in := Info{On: true, Options: c.opts, Caching: c.caching, BrokenRedir: c.broken}
	for _, p := range sortedKeys(c.prefixes) {
		if c.opts.BCast {
			in.Options.Prefixes = append(in.Options.Prefixes, []byte(p))
		}
	}
	return in
}

// Caching is CLIENT CACHING YES|NO: it returns the error reply or "".
func (tb *Table) Caching(id uint64, yes bool) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.clients[id]
	if c == nil || !c.opts.OptIn && !c.opts.OptOut {
		return ErrCachingNoMode
	}
	if yes && !c.opts.OptIn {
		return ErrCachingYes
	}
	if !yes && !c.opts.OptOut {
		return ErrCachingNo
	}
	c.caching = true
	return ""
}

// EndCommand forgets CLIENT CACHING once the command after it ran (Redis
// keeps it through a MULTI block and over CLIENT commands: the caller
// does not call it then).
func (tb *Table) EndCommand(id uint64) {
	if tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	if c := tb.clients[id]; c != nil {
		c.caching = false
	}
	tb.mu.Unlock()
}

// Remember records that client id is about to read keys of table t (a
// read-only command), unless it is in BCAST mode, or OPTIN without
// CLIENT CACHING YES, or OPTOUT after CLIENT CACHING NO. Called before
// the read runs: a write committed after it invalidates the keys. Over
// tracking-table-max-keys, keys are evicted: their clients get their
// invalidation as if they were written.
func (tb *Table) Remember(t storage.TableID, id uint64, keys [][]byte) {
	tb.mu.Lock()
	c := tb.clients[id]
	if c == nil || c.opts.BCast || c.opts.OptIn && !c.caching || c.opts.OptOut && c.caching {
		tb.mu.Unlock()
		return
	}
	byKey := tb.keys[t]
	if byKey == nil {
		byKey = map[string]map[uint64]struct{}{}
		tb.keys[t] = byKey
	}
	for _, k := range keys {
		ids := byKey[string(k)]
		if ids == nil {
			ids = map[uint64]struct{}{}
			byKey[string(k)] = ids
			tb.nkeys++
		}
		if _, ok := ids[id]; !ok {
			ids[id] = struct{}{}
			tb.items++
		}
	}
	var sends []send
	if max := tb.maxKeys(); max > 0 && int64(tb.nkeys) > max {
		sends = tb.evictLocked(max)
	}
	tb.mu.Unlock()
	tb.deliver(sends)
}

// evictLocked forgets keys (in map order: a random walk, as Redis's)
// until at most max are tracked, and returns their invalidations.
func (tb *Table) evictLocked(max int64) []send {
	var sends []send
	for t, byKey := range tb.keys {
		for k := range byKey {
			if int64(tb.nkeys) <= max {
				return sends
			}
			sends = append(sends, tb.invalidateLocked(t, []byte(k), Writer{})...)
		}
	}
	return sends
}

// OwnWrites records that client id sends a write of keys to another
// node: with NOLOOP, their invalidations that come back without a writer
// are its own (until OwnWritesDone, once their replies were sent).
func (tb *Table) OwnWrites(id uint64, keys [][]byte) {
	if tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.clients[id]
	if c == nil || !c.opts.NoLoop {
		return
	}
	if c.own == nil {
		c.own = map[string]int{}
	}
	for _, k := range keys {
		c.own[string(k)]++
	}
}

// OwnWritesDone forgets client id's writes in flight: their replies are
// sent.
func (tb *Table) OwnWritesDone(id uint64) {
	if tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	if c := tb.clients[id]; c != nil && c.own != nil {
		clear(c.own)
	}
	tb.mu.Unlock()
}

// send is one invalidation on its way: to client c, of keys (null: of
// every key, after a flush).
type send struct {
	c    *client
	keys [][]byte
	null bool
}

// Invalidate sends the invalidations of keys, written in table t by w
// (in that order): to the clients that read one here, one push per key
// (forgetting it: they read it again to track it again), then to the
// BCAST clients, per prefix (in order), one push of the keys (sorted,
// once each) that match it, as Redis gathers a cycle's writes; a NOLOOP
// client is not sent its own writes.
func (tb *Table) Invalidate(t storage.TableID, keys [][]byte, w Writer) {
	if tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	var sends []send
	for _, k := range keys {
		sends = append(sends, tb.invalidateLocked(t, k, w)...)
	}
	sends = append(sends, tb.broadcastLocked(keys, w)...)
	tb.mu.Unlock()
	tb.deliver(sends)
}

// ownLocked reports whether key, written by w, is NOLOOP client c's own
// write.
func (tb *Table) ownLocked(c *client, key []byte, w Writer) bool {
	if !c.opts.NoLoop {
		return false
	}
	if w.Node == tb.self && w.Client == c.conn.ID() {
		return true
	}
	return w.Node == "" && c.own[string(key)] > 0
}

// invalidateLocked forgets key of table t and returns the invalidations
// of the default-mode clients that read it.
func (tb *Table) invalidateLocked(t storage.TableID, key []byte, w Writer) []send {
	byKey := tb.keys[t]
	ids, ok := byKey[string(key)]
	if !ok {
		return nil
	}
	var sends []send
	for id := range ids {
		c := tb.clients[id]
		if c == nil || c.opts.BCast || tb.ownLocked(c, key, w) {
			continue
		}
		sends = append(sends, send{c: c, keys: [][]byte{key}})
	}
	tb.items -= len(ids)
	tb.nkeys--
	delete(byKey, string(key))
	if len(byKey) == 0 {
		delete(tb.keys, t)
	}
	return sends
}

// broadcastLocked returns the BCAST clients' invalidations of keys.
func (tb *Table) broadcastLocked(keys [][]byte, w Writer) []send {
	if len(tb.bcast) == 0 {
		return nil
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	sorted = slices.CompactFunc(sorted, bytes.Equal)
	prefixes := make([]string, 0, len(tb.bcast))
	for p := range tb.bcast {
		prefixes = append(prefixes, p)
	}
	slices.Sort(prefixes)
	var sends []send
	for _, p := range prefixes {
		var match [][]byte
		for _, k := range sorted {
			if bytes.HasPrefix(k, []byte(p)) {
				match = append(match, k)
			}
		}
		if len(match) == 0 {
			continue
		}
		for id := range tb.bcast[p] {
			c := tb.clients[id]
			if c == nil {
				continue
			}
			ks := match
			if c.opts.NoLoop {
				ks = nil
				for _, k := range match {
					if !tb.ownLocked(c, k, w) {
						ks = append(ks, k)
					}
				}
			}
			if len(ks) > 0 {
				sends = append(sends, send{c: c, keys: ks})
			}
		}
	}
	return sends
}

// Flush sends every tracking client here the invalidation of every key
// (a null), as Redis does on FLUSHDB and FLUSHALL whatever the database,
// and forgets every key read.
func (tb *Table) Flush() {
	if tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	var sends []send
	for _, c := range tb.clients {
		sends = append(sends, send{c: c, null: true})
	}
	clear(tb.keys)
	tb.nkeys, tb.items = 0, 0
	tb.mu.Unlock()
	tb.deliver(sends)
}

// deliver sends each invalidation to its client, or to the client it
// redirects to; a redirection to a client gone is broken (Redis's
// tracking-redir-broken push, to a RESP3 client).
func (tb *Table) deliver(sends []send) {
	for _, s := range sends {
		target, redirected := s.c.conn, false
		if id := s.c.opts.Redirect; id != 0 {
			r := tb.lookup(id)
			if r == nil {
				tb.mu.Lock()
				s.c.broken = true
				tb.mu.Unlock()
				if s.c.conn.Resp3() {
					out := resp.Reply{Resp3: true}
					out.Push(2)
					out.BulkString("tracking-redir-broken")
					out.Int(int64(id))
					s.c.conn.Push(out.B)
				}
				continue
			}
			target, redirected = r, true
		}
		out := resp.Reply{Resp3: target.Resp3()}
		switch {
		case out.Resp3:
			out.Push(2)
			out.BulkString("invalidate")
		case redirected && target.Subscribed():
			out.Push(3)
			out.BulkString("message")
			out.BulkString("__redis__:invalidate")
		default:
			continue // RESP2 has no pushes
		}
		if s.null {
			// Redis sends the tracking client's null, whoever receives it.
			if s.c.conn.Resp3() {
				out.B = append(out.B, "_\r\n"...)
			} else {
				out.B = append(out.B, "$-1\r\n"...)
			}
		} else {
			out.Array(len(s.keys))
			for _, k := range s.keys {
				out.Bulk(k)
			}
		}
		target.Push(out.B)
	}
}

// Message payloads of PubsubTracking (the channel is empty): "K", the
// writer's client id and node, then the keys written, each length
// prefixed (uvarints); "f" for a flush.

// KeysPayload is the payload of keys written by w.
func KeysPayload(w Writer, keys [][]byte) []byte {
	b := []byte{'K'}
	b = binary.AppendUvarint(b, w.Client)
	b = binary.AppendUvarint(b, uint64(len(w.Node)))
	b = append(b, w.Node...)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

// FlushPayload is the payload of a flush.
func FlushPayload() []byte { return []byte("f") }

// Handle applies a PubsubTracking message of table t (one that does not
// parse is dropped).
func (tb *Table) Handle(t storage.TableID, _, payload []byte) {
	if len(payload) == 0 {
		return
	}
	switch payload[0] {
	case 'f':
		tb.Flush()
	case 'K':
		w, keys, ok := parseKeys(payload[1:])
		if ok {
			tb.Invalidate(t, keys, w)
		}
	}
}

func parseKeys(b []byte) (Writer, [][]byte, bool) {
	var w Writer
	var keys [][]byte
	next := func() ([]byte, bool) {
		n, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < n {
			return nil, false
		}
		v := b[l : l+int(n)]
		b = b[l+int(n):]
		return v, true
	}
	id, l := binary.Uvarint(b)
	if l <= 0 {
		return w, nil, false
	}
	b = b[l:]
	node, ok := next()
	if !ok {
		return w, nil, false
	}
	w = Writer{Node: string(node), Client: id}
	for len(b) > 0 {
		k, ok := next()
		if !ok {
			return w, nil, false
		}
		keys = append(keys, k)
	}
	return w, keys, true
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
