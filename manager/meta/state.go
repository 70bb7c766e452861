package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// State is the cluster's whole metadata at one etcd revision. Load reads
// it; Apply moves it forward by watch events. A State handed to others
// (Watch's callback) must not be changed: Clone first.
type State struct {
	Revision int64
	// Alive holds the nodes whose lease lives.
	Alive map[NodeID]NodeInfo
	// Members holds every node that joined and was not removed.
	Members map[NodeID]NodeInfo
	// Tables holds every table record, by name. A table whose create job
	// is still running has no record yet.
	Tables map[string]TableInfo
	// Slots holds the slot records by table id and slot.
	Slots map[TableID]map[SlotID]SlotInfo
	// Jobs holds the jobs in flight.
	Jobs map[string]Job
	// NextTableID is the table id counter; 0 when no table was ever created.
	NextTableID TableID
	// Secret is the cluster secret for the peer port ("" until created).
	Secret string
	// AdminTokenHash is the admin token's HashToken ("" until created).
	AdminTokenHash string
	// Functions are the FUNCTION libraries' codes by library name.
	Functions Functions
	// Config holds the cluster-wide CONFIG parameters set (name -> value).
	Config map[string]string
	// ACLUsers are the ACL users (nil: no record), written at
	// ACLRevision.
	ACLUsers    ACLUsers
	ACLRevision int64
	// candidates of the manager election: key -> create revision and value.
	candidates map[string]candidate
	// Problems lists records that could not be decoded.
	Problems []string
}

type candidate struct {
	rev  int64
	node NodeID
}

// NewState returns an empty State.
func NewState() *State {
	return &State{
		Alive:      map[NodeID]NodeInfo{},
		Members:    map[NodeID]NodeInfo{},
		Tables:     map[string]TableInfo{},
		Slots:      map[TableID]map[SlotID]SlotInfo{},
		Jobs:       map[string]Job{},
		Config:     map[string]string{},
		candidates: map[string]candidate{},
	}
}

// Clone returns a copy that shares no map with s (records are values).
func (s *State) Clone() *State {
	c := &State{
		Revision:       s.Revision,
		Alive:          maps.Clone(s.Alive),
		Members:        maps.Clone(s.Members),
		Tables:         maps.Clone(s.Tables),
		Slots:          make(map[TableID]map[SlotID]SlotInfo, len(s.Slots)),
		Jobs:           maps.Clone(s.Jobs),
		NextTableID:    s.NextTableID,
		Secret:         s.Secret,
		AdminTokenHash: s.AdminTokenHash,
		Functions:      maps.Clone(s.Functions),
		Config:         maps.Clone(s.Config),
		ACLUsers:       s.ACLUsers.Clone(),
		ACLRevision:    s.ACLRevision,
		candidates:     maps.Clone(s.candidates),
		Problems:       slices.Clone(s.Problems),
	}
	for t, m := range s.Slots {
		c.Slots[t] = maps.Clone(m)
	}
	return c
}

// Manager returns the node that holds the manager role, or "" when no
// node does.
func (s *State) Manager() NodeID {
	var best candidate
	for _, c := range s.candidates {
		if best.rev == 0 || c.rev < best.rev {
			best = c
		}
	}
	return best.node
}

// Placeable reports whether node may be given slots: alive and a member
// (a node deregistered by node remove may still be running).
func (s *State) Placeable(node NodeID) bool {
	_, alive := s.Alive[node]
	_, member := s.Members[node]
	return alive && member
}

// PlaceableNodes returns the nodes that may be given slots, sorted.
func (s *State) PlaceableNodes() []NodeID {
	var out []NodeID
	for id := range s.Alive {
		if s.Placeable(id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TableByID finds a table record by id.
func (s *State) TableByID(id TableID) (TableInfo, bool) {
	for _, t := range s.Tables {
		if t.ID == id {
			return t, true
		}
	}
	return TableInfo{}, false
}

// Complete reports whether every slot record of t is present: only then
// is the table served.
func (s *State) Complete(t TableInfo) bool {
	return len(s.Slots[t.ID]) == int(t.Slots)
}

// SortedTables returns the tables ordered by id.
func (s *State) SortedTables() []TableInfo {
	ts := slices.Collect(maps.Values(s.Tables))
	slices.SortFunc(ts, func(a, b TableInfo) int { return int(a.ID) - int(b.ID) })
	return ts
}

// Load reads the whole metadata of the cluster in one etcd read.
func Load(ctx context.Context, kv clientv3.KV, l Layout) (*State, error) {
	resp, err := kv.Get(ctx, l.Root(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read cluster metadata under %s: %w", l.Root(), err)
	}
	s := NewState()
	s.Revision = resp.Header.Revision
	for _, kv := range resp.Kvs {
		s.put(l, kv)
	}
	return s, nil
}

// Apply moves s forward by a batch of watch events at revision rev.
func (s *State) Apply(l Layout, rev int64, events []*clientv3.Event) {
	for _, ev := range events {
		switch ev.Type {
		case mvccpb.PUT:
			s.put(l, ev.Kv)
		case mvccpb.DELETE:
			s.delete(l, ev.Kv)
		}
	}
	if rev > s.Revision {
		s.Revision = rev
	}
}

func (s *State) problem(key string, err error) {
	s.Problems = append(s.Problems, fmt.Sprintf("%s: %v", key, err))
}

func (s *State) put(l Layout, kv *mvccpb.KeyValue) {
	key := string(kv.Key)
	rest, ok := strings.CutPrefix(key, l.Root())
	if !ok {
		return
	}
	switch {
	case strings.HasPrefix(key, l.Election()):
		s.candidates[key] = candidate{rev: kv.CreateRevision, node: NodeID(kv.Value)}
	case strings.HasPrefix(key, l.Nodes()):
		var n NodeInfo
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			s.problem(key, err)
			return
		}
		s.Alive[n.ID] = n
	case strings.HasPrefix(key, l.Members()):
		var n NodeInfo
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			s.problem(key, err)
			return
		}
		s.Members[n.ID] = n
	case strings.HasPrefix(key, l.Tables()):
		var t TableInfo
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			s.problem(key, err)
			return
		}
		s.Tables[t.Name] = t
	case strings.HasPrefix(key, l.Slots()):
		t, n, err := parseSlotKey(strings.TrimPrefix(key, l.Slots()))
		if err != nil {
			s.problem(key, err)
			return
		}
		var si SlotInfo
		if err := json.Unmarshal(kv.Value, &si); err != nil {
			s.problem(key, err)
			return
		}
		if s.Slots[t] == nil {
			s.Slots[t] = map[SlotID]SlotInfo{}
		}
		s.Slots[t][n] = si
	case strings.HasPrefix(key, l.Jobs()):
		var j Job
		if err := json.Unmarshal(kv.Value, &j); err != nil {
			s.problem(key, err)
			return
		}
		s.Jobs[j.ID] = j
	case key == l.Secret():
		s.Secret = string(kv.Value)
	case key == l.AdminToken():
		s.AdminTokenHash = string(kv.Value)
	case key == l.Functions():
		var f Functions
		if err := json.Unmarshal(kv.Value, &f); err != nil {
			s.problem(key, err)
			return
		}
		s.Functions = f
	case strings.HasPrefix(key, l.Config()):
		s.Config[strings.TrimPrefix(key, l.Config())] = string(kv.Value)
	case key == l.ACLUsers():
		var u ACLUsers
		if err := json.Unmarshal(kv.Value, &u); err != nil {
			s.problem(key, err)
			return
		}
		s.ACLUsers, s.ACLRevision = u, kv.ModRevision
	case key == l.TableIDCounter():
		v, err := strconv.ParseUint(string(kv.Value), 10, 32)
		if err != nil {
			s.problem(key, err)
			return
		}
		s.NextTableID = TableID(v)
	default:
		_ = rest // other keys (the cluster's future records) are not ours to read
	}
}

func (s *State) delete(l Layout, kv *mvccpb.KeyValue) {
	key := string(kv.Key)
	switch {
	case strings.HasPrefix(key, l.Election()):
		delete(s.candidates, key)
	case strings.HasPrefix(key, l.Nodes()):
		delete(s.Alive, NodeID(strings.TrimPrefix(key, l.Nodes())))
	case strings.HasPrefix(key, l.Members()):
		delete(s.Members, NodeID(strings.TrimPrefix(key, l.Members())))
	case strings.HasPrefix(key, l.Tables()):
		delete(s.Tables, strings.TrimPrefix(key, l.Tables()))
	case strings.HasPrefix(key, l.Slots()):
		t, n, err := parseSlotKey(strings.TrimPrefix(key, l.Slots()))
		if err != nil {
			return
		}
		delete(s.Slots[t], n)
		if len(s.Slots[t]) == 0 {
			delete(s.Slots, t)
		}
	case strings.HasPrefix(key, l.Jobs()):
		delete(s.Jobs, strings.TrimPrefix(key, l.Jobs()))
	case key == l.TableIDCounter():
		s.NextTableID = 0
	case key == l.Secret():
		s.Secret = ""
	case key == l.AdminToken():
		s.AdminTokenHash = ""
	case key == l.Functions():
		s.Functions = nil
	case strings.HasPrefix(key, l.Config()):
		delete(s.Config, strings.TrimPrefix(key, l.Config()))
	case key == l.ACLUsers():
		s.ACLUsers, s.ACLRevision = nil, kv.ModRevision // a deletion's revision
	}
}

// Watch loads the metadata and calls fn with every new State until ctx is
// done: once after the load, then after each batch of changes. Each State
// passed is a fresh value that fn may keep. When the watch breaks (etcd
// compacted the revision, or the connection failed) it loads again;
// failures are reported to onErr and retried after backoff.
func Watch(ctx context.Context, cli *clientv3.Client, l Layout, fn func(*State), onErr func(error)) {
	backoff := newBackoff()
	for ctx.Err() == nil {
		st, err := Load(ctx, cli, l)
		if err != nil {
			onErr(err)
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
		fn(st.Clone())
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := cli.Watch(wctx, l.Root(), clientv3.WithPrefix(), clientv3.WithRev(st.Revision+1))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				onErr(fmt.Errorf("watch %s: %w", l.Root(), err))
				break
			}
			if len(wr.Events) == 0 {
				continue
			}
			st.Apply(l, wr.Header.Revision, wr.Events)
			fn(st.Clone())
		}
		cancel()
		backoff.wait(ctx)
	}
}
