package peer

import (
	"strconv"
	"strings"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// Request is one request of the protocol (doc.go lists them). Args is its
// wire form: the request name, then its arguments, as sent in a RESP
// array of bulk strings. Each request type has a ParseX that reads it
// back from args (args[0], the name, is not looked at: the Mux picked the
// parser by it) and checks its arity and numbers.
type Request interface {
	// Name is the request's name as sent, upper case.
	Name() string
	Args() [][]byte
}

func u64(v uint64) []byte { return strconv.AppendUint(nil, v, 10) }

// parseU32 and parseU64 read a decimal argument.
func parseU32(b []byte) (uint32, bool) {
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err == nil
}

func parseU64(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

// parseTableSlot reads a table and a slot argument.
func parseTableSlot(table, slot []byte) (keyspace.TableID, keyspace.SlotID, bool) {
	t, ok1 := parseU32(table)
	s, ok2 := parseU32(slot)
	return keyspace.TableID(t), keyspace.SlotID(s), ok1 && ok2
}

// malformed is the error of a request whose arguments do not parse.
func malformed(name string) error { return &RequestError{Msg: "malformed " + name} }

// errUnknown answers a request nobody handles (and a FWD too short to be one).
var errUnknown = &RequestError{Msg: "unknown peer request"}

// Auth opens every connection: PEERAUTH <secret> <node-id>. The peer
// answers +OK, or an error and closes the connection.
type Auth struct {
	Secret string
	Node   string // the asker's node id, for the peer's logs
}

func (Auth) Name() string { return "PEERAUTH" }

func (r Auth) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), []byte(r.Secret), []byte(r.Node)}
}

// ParseAuth reads a PEERAUTH; unlike the other parsers it checks the
// name, since it is read before any dispatch.
func ParseAuth(args [][]byte) (Auth, error) {
	if len(args) != 3 || !strings.EqualFold(string(args[0]), "peerauth") {
		return Auth{}, &RequestError{Msg: "PEERAUTH <secret> <node-id> must come first"}
	}
	return Auth{Secret: string(args[1]), Node: string(args[2])}, nil
}

// SlotEpoch names a slot and the epoch the asker routed it at.
type SlotEpoch struct {
	Slot  keyspace.SlotID
	Epoch keyspace.Epoch
}

// Forward runs a client's command on the peer:
//
//	FWD <table> <protocol> <n> (<slot> <epoch>){n} <command> <args>...
//
// The peer runs it if it leads every slot named at that epoch, and
// answers *RefusedError otherwise; it answers in the client's protocol
// (2 or 3, HELLO's), so the reply goes to the client as it is. With no
// slots it runs a table-wide command (DBSIZE, KEYS, FLUSHDB, RANDOMKEY)
// over the slots the peer leads.
type Forward struct {
	Table   keyspace.TableID
	Resp3   bool
	Slots   []SlotEpoch
	Command [][]byte
}

func (Forward) Name() string { return "FWD" }

func (r Forward) Args() [][]byte {
	proto := []byte("2")
	if r.Resp3 {
		proto = []byte("3")
	}
	out := make([][]byte, 0, 4+2*len(r.Slots)+len(r.Command))
	out = append(out, []byte(r.Name()), u64(uint64(r.Table)), proto, strconv.AppendInt(nil, int64(len(r.Slots)), 10))
	for _, s := range r.Slots {
		out = append(out, u64(uint64(s.Slot)), u64(uint64(s.Epoch)))
	}
	return append(out, r.Command...)
}

// ParseForward reads a FWD. The command's arguments alias args.
func ParseForward(args [][]byte) (Forward, error) {
	if len(args) < 5 {
		return Forward{}, errUnknown
	}
	t, ok1 := parseU32(args[1])
	proto := string(args[2])
	count, err := strconv.ParseUint(string(args[3]), 10, 16)
	if !ok1 || (proto != "2" && proto != "3") || err != nil || len(args) < 4+2*int(count)+1 {
		return Forward{}, malformed("FWD")
	}
	r := Forward{Table: keyspace.TableID(t), Resp3: proto == "3", Slots: make([]SlotEpoch, count)}
	for i := range r.Slots {
		s, ok1 := parseU32(args[4+2*i])
		e, ok2 := parseU64(args[5+2*i])
		if !ok1 || !ok2 {
			return Forward{}, malformed("FWD")
		}
		r.Slots[i] = SlotEpoch{Slot: keyspace.SlotID(s), Epoch: keyspace.Epoch(e)}
	}
	r.Command = args[4+2*count:]
	return r, nil
}

// Unit runs a client's MULTI ... EXEC block on the peer as one unit (its
// data commands; the asker runs the connection's own commands itself):
//
//	UNIT <table> <protocol> <n> (<slot> <epoch>){n} <count> (<argc> <arg>{argc}){count}
//
// The peer runs it if it leads every slot named at that epoch and every
// command's keys are in them, and answers the array of the commands'
// replies (in the client's protocol, as FWD), or *RefusedError.
type Unit struct {
	Table    keyspace.TableID
	Resp3    bool
	Slots    []SlotEpoch
	Commands [][][]byte
}

func (Unit) Name() string { return "UNIT" }

func (r Unit) Args() [][]byte {
	fwd := Forward{Table: r.Table, Resp3: r.Resp3, Slots: r.Slots}.Args()
	fwd[0] = []byte(r.Name())
	out := append(fwd, strconv.AppendInt(nil, int64(len(r.Commands)), 10))
	for _, cmd := range r.Commands {
		out = append(out, strconv.AppendInt(nil, int64(len(cmd)), 10))
		out = append(out, cmd...)
	}
	return out
}

// ParseUnit reads a UNIT. The commands' arguments alias args.
func ParseUnit(args [][]byte) (Unit, error) {
	fwd, err := ParseForward(args)
	if err != nil {
		return Unit{}, malformed("UNIT")
	}
	r := Unit{Table: fwd.Table, Resp3: fwd.Resp3, Slots: fwd.Slots}
	rest := fwd.Command
	count, err := strconv.ParseUint(string(rest[0]), 10, 31)
	if err != nil || count > uint64(len(rest)) {
		return Unit{}, malformed("UNIT")
	}
	rest = rest[1:]
	r.Commands = make([][][]byte, 0, count)
	for range count {
		if len(rest) == 0 {
			return Unit{}, malformed("UNIT")
		}
		argc, err := strconv.ParseUint(string(rest[0]), 10, 31)
		if err != nil || argc == 0 || argc > uint64(len(rest)-1) {
			return Unit{}, malformed("UNIT")
		}
		r.Commands = append(r.Commands, rest[1:1+argc])
		rest = rest[1+argc:]
	}
	if len(rest) != 0 {
		return Unit{}, malformed("UNIT")
	}
	return r, nil
}

// Counts asks for the key and TTL key counts of the slots of a table the
// peer leads (INFO keyspace): COUNTS <table> -> [keys, keys with a TTL].
type Counts struct {
	Table keyspace.TableID
}

func (Counts) Name() string { return "COUNTS" }

func (r Counts) Args() [][]byte { return [][]byte{[]byte(r.Name()), u64(uint64(r.Table))} }

// ParseCounts reads a COUNTS; a malformed one is refused as an unknown
// table would be.
func ParseCounts(args [][]byte) (Counts, error) {
	t, ok := parseU32(args[len(args)-1])
	if len(args) != 2 || !ok {
		return Counts{}, &RefusedError{Reason: "no table " + string(args[len(args)-1])}
	}
	return Counts{Table: keyspace.TableID(t)}, nil
}

// Positions asks for the peer's log position of slots of a table
// (failover, switchover): POSITIONS <table> <slot>... -> one
// [epoch, last index] per slot.
type Positions struct {
	Table keyspace.TableID
	Slots []keyspace.SlotID
}

func (Positions) Name() string { return "POSITIONS" }

func (r Positions) Args() [][]byte {
	out := make([][]byte, 0, 2+len(r.Slots))
	out = append(out, []byte(r.Name()), u64(uint64(r.Table)))
	for _, s := range r.Slots {
		out = append(out, u64(uint64(s)))
	}
	return out
}

// ParsePositions reads a POSITIONS.
func ParsePositions(args [][]byte) (Positions, error) {
	if len(args) < 2 {
		return Positions{}, malformed("POSITIONS")
	}
	t, ok := parseU32(args[1])
	if !ok {
		return Positions{}, malformed("POSITIONS")
	}
	r := Positions{Table: keyspace.TableID(t), Slots: make([]keyspace.SlotID, len(args)-2)}
	for i, a := range args[2:] {
		s, ok := parseU32(a)
		if !ok {
			return Positions{}, malformed("POSITIONS")
		}
		r.Slots[i] = keyspace.SlotID(s)
	}
	return r, nil
}

// Checksum asks for the peer's checksum of a slot (slot check):
// CHECKSUM <table> <slot> -> [index, epoch, sum (bulk, decimal), keys].
type Checksum struct {
	Table keyspace.TableID
	Slot  keyspace.SlotID
}

func (Checksum) Name() string { return "CHECKSUM" }

func (r Checksum) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), u64(uint64(r.Slot))}
}

// ParseChecksum reads a CHECKSUM.
func ParseChecksum(args [][]byte) (Checksum, error) {
	t, s, err := parseSlotRequest("CHECKSUM", args)
	return Checksum{Table: t, Slot: s}, err
}

// SlotSize asks for the peer's estimate of a slot's size in bytes (slot
// moves): SLOTSIZE <table> <slot> -> integer.
type SlotSize struct {
	Table keyspace.TableID
	Slot  keyspace.SlotID
}

func (SlotSize) Name() string { return "SLOTSIZE" }

func (r SlotSize) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), u64(uint64(r.Slot))}
}

// ParseSlotSize reads a SLOTSIZE.
func ParseSlotSize(args [][]byte) (SlotSize, error) {
	t, s, err := parseSlotRequest("SLOTSIZE", args)
	return SlotSize{Table: t, Slot: s}, err
}

// parseSlotRequest reads NAME <table> <slot>.
func parseSlotRequest(name string, args [][]byte) (keyspace.TableID, keyspace.SlotID, error) {
	if len(args) == 3 {
		if t, s, ok := parseTableSlot(args[1], args[2]); ok {
			return t, s, nil
		}
	}
	return 0, 0, malformed(name)
}

// Replicate ships a slot's log entries from its leader to a follower
// (async mode):
//
//	REPLICATE <table> <slot> <epoch> <entry>...  -> [last index, its epoch] | *GapError | *RefusedError
//
// Each entry is a storage.EncodeLogEntry; none is a probe for the
// follower's position.
type Replicate struct {
	Table   keyspace.TableID
	Slot    keyspace.SlotID
	Epoch   keyspace.Epoch
	Entries [][]byte
}

func (Replicate) Name() string { return "REPLICATE" }

func (r Replicate) Args() [][]byte {
	out := make([][]byte, 0, 4+len(r.Entries))
	out = append(out, []byte(r.Name()), u64(uint64(r.Table)), u64(uint64(r.Slot)), u64(uint64(r.Epoch)))
	return append(out, r.Entries...)
}

// ParseReplicate reads a REPLICATE; the entries alias args.
func ParseReplicate(args [][]byte) (Replicate, error) {
	if len(args) < 4 {
		return Replicate{}, malformed("REPLICATE")
	}
	t, s, ok1 := parseTableSlot(args[1], args[2])
	e, ok2 := parseU64(args[3])
	if !ok1 || !ok2 {
		return Replicate{}, malformed("REPLICATE")
	}
	return Replicate{Table: t, Slot: s, Epoch: keyspace.Epoch(e), Entries: args[4:]}, nil
}

// SyncHead is what every full sync request names: the slot and the
// leader's epoch.
type SyncHead struct {
	Table keyspace.TableID
	Slot  keyspace.SlotID
	Epoch keyspace.Epoch
}

func (h SyncHead) args(name string, more int) [][]byte {
	out := make([][]byte, 0, 4+more)
	return append(out, []byte(name), u64(uint64(h.Table)), u64(uint64(h.Slot)), u64(uint64(h.Epoch)))
}

// parseSyncHead reads the head of a full sync request of n arguments.
func parseSyncHead(name string, args [][]byte, n int) (SyncHead, error) {
	if len(args) != n {
		return SyncHead{}, malformed(name)
	}
	t, s, ok1 := parseTableSlot(args[1], args[2])
	e, ok2 := parseU64(args[3])
	if !ok1 || !ok2 {
		return SyncHead{}, malformed(name)
	}
	return SyncHead{Table: t, Slot: s, Epoch: keyspace.Epoch(e)}, nil
}

// SyncBegin starts a full sync of a slot on a follower, which drops the
// slot's data and log: SYNCBEGIN <table> <slot> <epoch> -> +OK.
type SyncBegin struct{ SyncHead }

func (SyncBegin) Name() string { return "SYNCBEGIN" }

func (r SyncBegin) Args() [][]byte { return r.args(r.Name(), 0) }

// ParseSyncBegin reads a SYNCBEGIN.
func ParseSyncBegin(args [][]byte) (SyncBegin, error) {
	h, err := parseSyncHead("SYNCBEGIN", args, 4)
	return SyncBegin{h}, err
}

// SyncData carries a chunk of a full sync:
// SYNCDATA <table> <slot> <epoch> <chunk> -> +OK. The chunk is a
// storage.Effect's encoding (puts).
type SyncData struct {
	SyncHead
	Chunk []byte
}

func (SyncData) Name() string { return "SYNCDATA" }

func (r SyncData) Args() [][]byte { return append(r.args(r.Name(), 1), r.Chunk) }

// ParseSyncData reads a SYNCDATA; the chunk aliases args.
func ParseSyncData(args [][]byte) (SyncData, error) {
	h, err := parseSyncHead("SYNCDATA", args, 5)
	if err != nil {
		return SyncData{}, err
	}
	return SyncData{SyncHead: h, Chunk: args[4]}, nil
}

// SyncEnd ends a full sync: it sets the slot's counts and log position,
// from which the leader's log continues:
//
//	SYNCEND <table> <slot> <epoch> <index> <entry epoch> <keys> <expires>  -> [index, entry epoch]
type SyncEnd struct {
	SyncHead
	Index         keyspace.LogIndex
	EntryEpoch    keyspace.Epoch
	Keys, Expires int64
}

func (SyncEnd) Name() string { return "SYNCEND" }

func (r SyncEnd) Args() [][]byte {
	return append(r.args(r.Name(), 4), u64(uint64(r.Index)), u64(uint64(r.EntryEpoch)),
		strconv.AppendInt(nil, r.Keys, 10), strconv.AppendInt(nil, r.Expires, 10))
}

// ParseSyncEnd reads a SYNCEND.
func ParseSyncEnd(args [][]byte) (SyncEnd, error) {
	h, err := parseSyncHead("SYNCEND", args, 8)
	if err != nil {
		return SyncEnd{}, err
	}
	var nums [4]uint64
	for i := range nums {
		v, ok := parseU64(args[4+i])
		if !ok {
			return SyncEnd{}, malformed("SYNCEND")
		}
		nums[i] = v
	}
	return SyncEnd{SyncHead: h, Index: keyspace.LogIndex(nums[0]), EntryEpoch: keyspace.Epoch(nums[1]),
		Keys: int64(nums[2]), Expires: int64(nums[3])}, nil
}

// Raft carries a batch of raft messages (multiraft's encoding) for the
// peer's groups: RAFT <batch> -> +OK.
type Raft struct {
	Batch []byte
}

func (Raft) Name() string { return "RAFT" }

func (r Raft) Args() [][]byte { return [][]byte{[]byte(r.Name()), r.Batch} }

// ParseRaft reads a RAFT; the batch aliases args.
func ParseRaft(args [][]byte) (Raft, error) {
	if len(args) != 2 {
		return Raft{}, &RequestError{Msg: "RAFT wants one batch"}
	}
	return Raft{Batch: args[1]}, nil
}

// RaftTransfer asks a raft slot's leader to hand its leadership to a node
// (switchover, drain): RAFTTRANSFER <table> <slot> <node id> -> +OK.
type RaftTransfer struct {
	Table keyspace.TableID
	Slot  keyspace.SlotID
	To    string // node id
}

func (RaftTransfer) Name() string { return "RAFTTRANSFER" }

func (r RaftTransfer) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), u64(uint64(r.Slot)), []byte(r.To)}
}

// ParseRaftTransfer reads a RAFTTRANSFER.
func ParseRaftTransfer(args [][]byte) (RaftTransfer, error) {
	if len(args) != 4 {
		return RaftTransfer{}, &RequestError{Msg: "RAFTTRANSFER wants table, slot and node"}
	}
	t, s, ok := parseTableSlot(args[1], args[2])
	if !ok {
		return RaftTransfer{}, &RequestError{Msg: "bad table or slot"}
	}
	return RaftTransfer{Table: t, Slot: s, To: string(args[3])}, nil
}

// RaftSnapHead names a raft snapshot being streamed: the group, the
// sender's raft id, and the snapshot's index and term.
type RaftSnapHead struct {
	Table       keyspace.TableID
	Slot        keyspace.SlotID
	From        uint64
	Index, Term uint64
}

func (h RaftSnapHead) args(name string, more int) [][]byte {
	out := make([][]byte, 0, 6+more)
	return append(out, []byte(name), u64(uint64(h.Table)), u64(uint64(h.Slot)), u64(h.From), u64(h.Index), u64(h.Term))
}

// parseRaftSnapHead reads the head of a raft snapshot request of n arguments.
func parseRaftSnapHead(name string, args [][]byte, n int) (RaftSnapHead, error) {
	if len(args) != n {
		return RaftSnapHead{}, malformed(name)
	}
	t, s, ok := parseTableSlot(args[1], args[2])
	from, ok1 := parseU64(args[3])
	index, ok2 := parseU64(args[4])
	term, ok3 := parseU64(args[5])
	if !ok || !ok1 || !ok2 || !ok3 {
		return RaftSnapHead{}, malformed(name)
	}
	return RaftSnapHead{Table: t, Slot: s, From: from, Index: index, Term: term}, nil
}

// RaftSnapBegin starts staging a raft snapshot beside its slot, ahead of
// raft's snapshot message:
// RAFTSNAPBEGIN <table> <slot> <from> <index> <term> -> +OK.
type RaftSnapBegin struct{ RaftSnapHead }

func (RaftSnapBegin) Name() string { return "RAFTSNAPBEGIN" }

func (r RaftSnapBegin) Args() [][]byte { return r.args(r.Name(), 0) }

// ParseRaftSnapBegin reads a RAFTSNAPBEGIN.
func ParseRaftSnapBegin(args [][]byte) (RaftSnapBegin, error) {
	h, err := parseRaftSnapHead("RAFTSNAPBEGIN", args, 6)
	return RaftSnapBegin{h}, err
}

// RaftSnapData carries a chunk of a raft snapshot (a storage.Effect's
// encoding):
// RAFTSNAPDATA <table> <slot> <from> <index> <term> <last 0|1> <chunk> -> +OK.
type RaftSnapData struct {
	RaftSnapHead
	Last  bool
	Chunk []byte
}

func (RaftSnapData) Name() string { return "RAFTSNAPDATA" }

func (r RaftSnapData) Args() [][]byte {
	last := []byte("0")
	if r.Last {
		last = []byte("1")
	}
	return append(r.args(r.Name(), 2), last, r.Chunk)
}

// ParseRaftSnapData reads a RAFTSNAPDATA; the chunk aliases args. Last is
// true for "1" only.
func ParseRaftSnapData(args [][]byte) (RaftSnapData, error) {
	h, err := parseRaftSnapHead("RAFTSNAPDATA", args, 8)
	if err != nil {
		return RaftSnapData{}, err
	}
	return RaftSnapData{RaftSnapHead: h, Last: string(args[6]) == "1", Chunk: args[7]}, nil
}
