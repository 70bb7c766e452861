package command

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pika-node/pika-node/storage"
)

// EventClass is a set of keyspace event classes: the flags of
// notify-keyspace-events (docs/pubsub.md, "Keyspace notifications").
type EventClass uint32

const (
	EventKeyspace EventClass = 1 << iota // K: __keyspace@<table>__:<key>, the event as message
	EventKeyevent                        // E: __keyevent@<table>__:<event>, the key as message
	EventGeneric                         // g: del, expire, rename_from, ...
	EventString                          // $
	EventList                            // l
	EventSet                             // s
	EventHash                            // h
	EventZset                            // z
	EventExpired                         // x: a key removed because its TTL passed
	EventEvicted                         // e: never (pika-node evicts nothing)
	EventStream                          // t
	EventKeyMiss                         // m: a read of a missing key (not emitted)
	EventModule                          // d: never (no modules)
	EventNew                             // n: a key created (not emitted)
	// EventTracking is no class of notify-keyspace-events: set by the
	// node while some node may track a table (CLIENT TRACKING,
	// docs/tracking.md), it keeps every event, whose key is invalidated.
	EventTracking
)

// Notifies reports whether ev is published as a keyspace event under
// the classes on (a kept event may be kept only for tracking).
func (ev Event) Notifies(on EventClass) bool {
	return on&ev.Class != 0 && on&(EventKeyspace|EventKeyevent) != 0
}

// eventClassChars maps notify-keyspace-events' characters to classes.
var eventClassChars = map[byte]EventClass{
	'K': EventKeyspace, 'E': EventKeyevent, 'g': EventGeneric, '$': EventString,
	'l': EventList, 's': EventSet, 'h': EventHash, 'z': EventZset, 'x': EventExpired,
	'e': EventEvicted, 't': EventStream, 'm': EventKeyMiss, 'd': EventModule, 'n': EventNew,
}

// eventAll is what 'A' stands for: g$lshzxetd.
const eventAll = EventGeneric | EventString | EventList | EventSet | EventHash | EventZset |
	EventExpired | EventEvicted | EventStream | EventModule

// ParseEventClasses reads a notify-keyspace-events value (already checked
// by the configuration: unknown characters are ignored).
func ParseEventClasses(v string) EventClass {
	var c EventClass
	for i := 0; i < len(v); i++ {
		if v[i] == 'A' {
			c |= eventAll
		}
		c |= eventClassChars[v[i]]
	}
	return c
}

// Event is one keyspace event: what happened (Name, as Redis names it:
// "set", "lpush", "del", "expired", ...) to which key of which table.
type Event struct {
	Table storage.TableID
	Class EventClass
	Name  string
	Key   []byte
}

// Channels returns the event's channels and their messages under the
// classes on: the keyspace channel (message: the event's name) when K is
// on, the keyevent channel (message: the key) when E is.
func (ev Event) Channels(on EventClass) (channels, messages [][]byte) {
	db := strconv.FormatUint(uint64(ev.Table), 10)
	if on&EventKeyspace != 0 {
		channels = append(channels, []byte("__keyspace@"+db+"__:"+string(ev.Key)))
		messages = append(messages, []byte(ev.Name))
	}
	if on&EventKeyevent != 0 {
		channels = append(channels, []byte("__keyevent@"+db+"__:"+ev.Name))
		messages = append(messages, ev.Key)
	}
	return channels, messages
}

// Events collects the keyspace events of a connection's commands (or a
// peer link's) until their writes are committed: a command that fails
// leaves none (Ctx.Notify, execute), a batch whose commit fails takes
// back its commands' (Pipeline), a unit or a script run that is tried
// again starts from its mark (Truncate). Their owner publishes them after
// the commit and before the replies go out (package node). Safe for
// concurrent use: the proxy may run parts of one connection's commands
// on other goroutines.
type Events struct {
	// Client is the connection whose commands these are (0: a peer
	// link's): the writer of their keys, for CLIENT TRACKING's NOLOOP.
	Client uint64
	on     *atomic.Uint32 // the node's notify-keyspace-events (EventClass)
	mu     sync.Mutex
	list   []Event
	// n is len(list), read without the lock: the commands' marks (Len)
	// and an empty Take cost an atomic load when nothing is kept.
	n atomic.Int64
}

// NewEvents returns a collector that keeps the events whose class is on
// in classes (read at each event: CONFIG SET takes effect at once).
func NewEvents(classes *atomic.Uint32) *Events { return &Events{on: classes} }

// On returns the classes on now.
func (e *Events) On() EventClass {
	if e == nil || e.on == nil {
		return 0
	}
	return EventClass(e.on.Load())
}

// add keeps ev if its class is on and K or E is, or if some node tracks
// (EventTracking).
func (e *Events) add(ev Event) {
	if e == nil {
		return
	}
	on := e.On()
	if !ev.Notifies(on) && on&EventTracking == 0 {
		return
	}
	ev.Key = append([]byte(nil), ev.Key...) // the command's arguments are reused
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.n.Store(int64(len(e.list)))
	e.mu.Unlock()
}

// Len returns how many events are kept: a mark to Truncate to.
func (e *Events) Len() int {
	if e == nil {
		return 0
	}
	return int(e.n.Load())
}

// Truncate drops the events kept after the first n.
func (e *Events) Truncate(n int) {
	if e == nil || int64(n) >= e.n.Load() {
		return
	}
	e.mu.Lock()
	if n < len(e.list) {
		clear(e.list[n:])
		e.list = e.list[:n]
		e.n.Store(int64(n))
	}
	e.mu.Unlock()
}

// keep drops the events in [from, len) except the ranges kept (pairs of
// offsets from from, in order): a batch whose commit failed for some of
// its commands keeps the others' events.
func (e *Events) keep(from int, ranges [][2]int) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if from > len(e.list) {
		return // taken since (never, while a batch waits for its commit)
	}
	out := e.list[:from]
	tail := append([]Event(nil), e.list[from:]...)
	for _, r := range ranges {
		out = append(out, tail[r[0]:r[1]]...)
	}
	clear(e.list[len(out):])
	e.list = out
	e.n.Store(int64(len(out)))
}

// Take returns the events kept and forgets them.
func (e *Events) Take() []Event {
	if e == nil || e.n.Load() == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.list
	e.list = nil
	e.n.Store(0)
	return l
}

// Notify records a keyspace event of the command: name happened to key
// of the command's table. It is published once the command's writes are
// committed, and dropped if the command fails (Redis's
// notifyKeyspaceEvent, called where Redis calls it).
func (c *Ctx) Notify(class EventClass, name string, key []byte) {
	c.Events.add(Event{Table: c.Table, Class: class, Name: name, Key: key})
}

// NotifyIn is Notify for a key of table t (COPY ... DB n).
func (c *Ctx) NotifyIn(t storage.TableID, class EventClass, name string, key []byte) {
	c.Events.add(Event{Table: t, Class: class, Name: name, Key: key})
}
