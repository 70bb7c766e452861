package node

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pika-node/pika-node/node/command"
)

// ACL LOG: this node's recent refusals (a command, key or channel an
// ACL denied, a failed AUTH), newest first, as redis-server keeps them:
// a refusal like one logged less than aclLogGrouping ago (same reason,
// context, object and user) counts on that entry and moves it to the
// front; at most aclLogMax entries are kept (Redis's acllog-max-len).

const (
	aclLogMax      = 128
	aclLogGrouping = 60 * time.Second
)

type aclLogEntry struct {
	count                                 int64
	reason, context, object, user, client string
	created                               time.Time
}

type aclLog struct {
	mu      sync.Mutex
	entries []*aclLogEntry // newest first
}

func newACLLog() *aclLog { return &aclLog{} }

// add logs a refusal: reason is "command", "key", "channel" or "auth".
func (l *aclLog) add(reason, object, context, user, client string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if e.reason == reason && e.context == context && e.object == object && e.user == user && now.Sub(e.created) < aclLogGrouping {
			e.count++
			e.created, e.client = now, client
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = e
			return
		}
	}
	e := &aclLogEntry{count: 1, reason: reason, context: context, object: object, user: user, client: strings.TrimSuffix(client, "\n"), created: now}
	l.entries = append([]*aclLogEntry{e}, l.entries...)
	if len(l.entries) > aclLogMax {
		l.entries = l.entries[:aclLogMax]
	}
}

// reset forgets every entry (ACL LOG RESET).
func (l *aclLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// reply answers ACL LOG [count]: up to count entries (Redis's default
// is 10; a negative count shows none), newest first, as redis-server 7.0
// shows them.
func (l *aclLog) reply(c *command.Ctx, count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if count < 0 {
		count = 0
	}
	if count > len(l.entries) {
		count = len(l.entries)
	}
	now := time.Now()
	c.R.Array(count)
	for _, e := range l.entries[:count] {
		c.R.Map(7)
		c.R.BulkString("count")
		c.R.Int(e.count)
		c.R.BulkString("reason")
		c.R.BulkString(e.reason)
		c.R.BulkString("context")
		c.R.BulkString(e.context)
		c.R.BulkString("object")
		c.R.BulkString(e.object)
		c.R.BulkString("username")
		c.R.BulkString(e.user)
		c.R.BulkString("age-seconds")
		c.R.Double(strconv.AppendFloat(nil, float64(now.Sub(e.created).Milliseconds())/1000, 'g', 17, 64))
		c.R.BulkString("client-info")
		c.R.BulkString(e.client)
	}
}

// parseLogCount reads ACL LOG's count.
func parseLogCount(b []byte) (int, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, command.Error("ERR value is not an integer or out of range")
	}
	if v > 1<<30 {
		v = 1 << 30
	}
	return int(v), nil
}
