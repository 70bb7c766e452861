package script

import (
	"container/list"
	"sync"
)

// Cache is a node's compiled scripts by SHA1 (EVAL and SCRIPT LOAD put
// them, EVALSHA finds them), bounded in bytes of script bodies: past the
// bound the least recently used go (docs/scripting.md, "The script
// cache"). Safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	max   int
	bytes int
	order *list.List // of *Script, most recently used first
	bySHA map[string]*list.Element
}

// NewCache returns an empty cache holding at most maxBytes of bodies.
func NewCache(maxBytes int) *Cache {
	return &Cache{max: maxBytes, order: list.New(), bySHA: map[string]*list.Element{}}
}

// Get returns the script of sha (lower-case hex), or nil.
func (c *Cache) Get(sha string) *Script {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.bySHA[sha]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*Script)
}

// Put adds s (a script already cached stays as it is).
func (c *Cache) Put(s *Script) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.bySHA[s.SHA]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.bySHA[s.SHA] = c.order.PushFront(s)
	c.bytes += len(s.Body)
	for c.bytes > c.max && c.order.Len() > 1 {
		old := c.order.Back()
		c.order.Remove(old)
		gone := old.Value.(*Script)
		delete(c.bySHA, gone.SHA)
		c.bytes -= len(gone.Body)
	}
}

// Flush empties the cache.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.bySHA)
	c.bytes = 0
}

// Len is the number of scripts cached; Bytes their bodies' size.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Bytes is the size of the cached scripts' bodies.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
