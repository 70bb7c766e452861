package redisconf

import (
	"strings"
	"sync"

	"github.com/pika-node/pika-node/node/command"
)

// Pair is a parameter name and its value.
type Pair struct{ Name, Value string }

// Hook ties a parameter to the real state of the program using the Store. Its functions run
// with the Store locked: they must not call the Store.
type Hook struct {
	// Get returns the value CONFIG GET shows. Nil: the value the Store remembers.
	Get func() string
	// Set applies a value CONFIG SET accepted, normalized as CONFIG GET shows it (a number in
	// decimal, yes or no, ...), the current value included. Its error, if any, refuses the
	// value: its text is the reason in the "CONFIG SET failed" reply, and the other parameters
	// of the same CONFIG SET are left as they were (a hooked one already applied is given the
	// value its Get showed before). Nil: the value is only remembered.
	Set func(v string) error
}

// Store is one node's parameters: the table's, with their current values and hooks. It is
// safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	params []Param
	index  map[string]*Param // by lowercase name and alias
	names  []string          // names and aliases CONFIG GET patterns see, in table order
	vals   map[string]string // by Param.Name; an alias shares its parameter's value
	hooks  map[string]Hook   // by Param.Name
}

// NewStore returns a Store of every parameter of the table at its default.
func NewStore() *Store {
	s := &Store{params: table(), index: map[string]*Param{}, vals: map[string]string{}, hooks: map[string]Hook{}}
	for i := range s.params {
		p := &s.params[i]
		s.vals[p.Name] = p.Default
		for _, name := range []string{p.Name, p.Alias} {
			if name == "" {
				continue
			}
			s.index[name] = p
			if !p.Is(Hidden) {
				s.names = append(s.names, name)
			}
		}
	}
	return s
}

// Params returns the table: every parameter, aliases as Param.Alias.
func (s *Store) Params() []Param { return append([]Param(nil), s.params...) }

// Param looks a parameter up by its name or alias, in any case.
func (s *Store) Param(name string) (Param, bool) {
	p := s.index[strings.ToLower(name)]
	if p == nil {
		return Param{}, false
	}
	return *p, true
}

// Hook makes name's value come from and go to h (see Hook).
func (s *Store) Hook(name string, h Hook) error {
	p := s.index[strings.ToLower(name)]
	if p == nil {
		return &UnknownError{Name: name}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[p.Name] = h
	return nil
}

// SetInitial sets name's starting value, as a config file would: immutable and protected
// parameters too. A value a mutable parameter does not take is refused; an immutable one's is
// taken as given. Hooks are not called.
func (s *Store) SetInitial(name, value string) error {
	p := s.index[strings.ToLower(name)]
	if p == nil {
		return &UnknownError{Name: name}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := value
	if !p.Is(Immutable) {
		var err error
		if v, err = p.normalize(s.vals[p.Name], value); err != nil {
			return &SetError{Arg: strings.ToLower(name), Reason: err.Error()}
		}
	}
	s.vals[p.Name] = v
	return nil
}

// value is p's current value. s.mu is held.
func (s *Store) value(p *Param) string {
	if h := s.hooks[p.Name]; h.Get != nil {
		return h.Get()
	}
	return s.vals[p.Name]
}

// Get is CONFIG GET: the parameters matching any of patterns, each once, in the order found.
// A pattern with a glob character (* ? [) matches names and aliases regardless of case, hidden
// parameters excepted, and a match is shown under its lowercase name; any other pattern is
// looked up exactly, in any case, and a match is shown under the name as given.
func (s *Store) Get(patterns ...string) []Pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []Pair
	for _, pat := range patterns {
		if !strings.ContainsAny(pat, "[*?") {
			low := strings.ToLower(pat)
			if p := s.index[low]; p != nil && !seen[low] {
				seen[low] = true
				out = append(out, Pair{Name: pat, Value: s.value(p)})
			}
			continue
		}
		// Comparing lowercase with lowercase is Redis's case-insensitive match: it lowers each
		// pattern and string character, class bounds included, before comparing.
		lp := []byte(strings.ToLower(pat))
		for _, name := range s.names {
			if !seen[name] && command.GlobMatch(lp, []byte(name)) {
				seen[name] = true
				out = append(out, Pair{Name: name, Value: s.value(s.index[name])})
			}
		}
	}
	return out
}

// Set is CONFIG SET: it sets every pair or none. It first looks every name up and refuses the
// first one that is unknown, immutable, protected or given twice (a parameter and its alias
// are two names); then it reads every value and refuses the first one its parameter does not
// take; then it applies the hooked ones in order, putting back those already applied if one
// refuses; only then does it remember the values. The errors are *UnknownError and *SetError.
func (s *Store) Set(pairs ...Pair) error {
	type item struct {
		name string // lowercase, as looked up
		p    *Param
		v    string
	}
	items := make([]item, 0, len(pairs))
	for _, pr := range pairs {
		low := strings.ToLower(pr.Name)
		p := s.index[low]
		var refuse string
		switch {
		case p == nil:
			return &UnknownError{Name: pr.Name}
		case p.Is(Immutable):
			refuse = ReasonImmutable
		case p.Is(Protected):
			refuse = ReasonProtected
		}
		for _, it := range items {
			if refuse == "" && it.name == low {
				refuse = ReasonDuplicate
			}
		}
		if refuse != "" {
			// A later unknown name does not change the reply: the first refusal is it.
			return &SetError{Arg: pr.Name, Reason: refuse}
		}
		items = append(items, item{name: low, p: p, v: pr.Value})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]string{} // the new values, by Param.Name
	norm := make([]string, len(items))
	for i, it := range items {
		cur, ok := next[it.p.Name]
		if !ok {
			cur = s.value(it.p)
		}
		v, err := it.p.normalize(cur, it.v)
		if err != nil {
			return &SetError{Arg: it.name, Reason: err.Error()}
		}
		next[it.p.Name], norm[i] = v, v
	}

	type applied struct {
		set func(string) error
		old string
	}
	var done []applied
	for i, it := range items {
		h := s.hooks[it.p.Name]
		if h.Set == nil {
			continue
		}
		old := s.value(it.p)
		if err := h.Set(norm[i]); err != nil {
			for j := len(done) - 1; j >= 0; j-- {
				_ = done[j].set(done[j].old) // best effort, as Redis's restore
			}
			return &SetError{Arg: it.name, Reason: err.Error()}
		}
		done = append(done, applied{set: h.Set, old: old})
	}
	for name, v := range next {
		s.vals[name] = v
	}
	return nil
}
