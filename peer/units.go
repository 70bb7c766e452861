package peer

import (
	"strconv"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// The requests of a unit over slots of several nodes (docs/transactions.md):
// the coordinator locks each participant's slots and reads the unit's keys
// (ULOCK), evaluates the unit itself, records each participant's part
// (UPREPARE), the decision in the unit's home slot (UDECIDE), then has the
// parts applied (UAPPLY) or dropped (UABORT); URELEASE ends a part that
// only read, or one never prepared. Every request names the unit by its
// id, which the coordinator makes unique (its node id, its start time, a
// counter).

// UnitSlot is one slot of a ULOCK: where the asker routed it, and the
// unit's keys in it.
type UnitSlot struct {
	SlotEpoch
	Keys [][]byte
}

// UnitLock locks slots for a unit and reads its keys:
//
//	ULOCK <table> <unit> <n> (<slot> <epoch> <k> <key>{k}){n} [WATCH <token>] [WAIT]
//
// The peer takes the slots' locks only if they are free (else *BusyError,
// holding nothing; with WAIT it waits for them, in stripe order, for a
// bounded time before that answer), checks that it leads every slot at that epoch (else
// *RefusedError), and answers an array of n images (storage.SlotImage's
// encoding), one per slot in the order named. The slots stay locked until
// UAPPLY, UABORT or URELEASE, or until the lock's lease runs out with no
// UPREPARE.
type UnitLock struct {
	Table keyspace.TableID
	Unit  string
	Slots []UnitSlot
	// Watch, when set, is the token of the client's WATCH registered
	// here (UWATCH): the lock is refused with *WatchedError when a
	// watched key changed.
	Watch string
	// Wait: the peer waits for slots another holds, for a bounded time,
	// then answers busy (the try of a unit after one that found a slot
	// busy here waits here first, holding nothing elsewhere). Sent on
	// ClassUnitWait.
	Wait bool
}

func (UnitLock) Name() string { return "ULOCK" }

func (r UnitLock) Args() [][]byte {
	out := [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), []byte(r.Unit), u64(uint64(len(r.Slots)))}
	for _, s := range r.Slots {
		out = append(out, u64(uint64(s.Slot)), u64(uint64(s.Epoch)), u64(uint64(len(s.Keys))))
		out = append(out, s.Keys...)
	}
	if r.Watch != "" {
		out = append(out, []byte("WATCH"), []byte(r.Watch))
	}
	if r.Wait {
		out = append(out, []byte("WAIT"))
	}
	return out
}

// ParseUnitLock reads a ULOCK. The keys alias args.
func ParseUnitLock(args [][]byte) (UnitLock, error) {
	bad := malformed("ULOCK")
	if len(args) < 4 {
		return UnitLock{}, bad
	}
	t, ok := parseU32(args[1])
	n, ok2 := parseU32(args[3])
	if !ok || !ok2 || len(args[2]) == 0 || uint64(n) > uint64(len(args)) {
		return UnitLock{}, bad
	}
	r := UnitLock{Table: keyspace.TableID(t), Unit: string(args[2]), Slots: make([]UnitSlot, 0, n)}
	rest := args[4:]
	for range n {
		if len(rest) < 3 {
			return UnitLock{}, bad
		}
		s, ok1 := parseU32(rest[0])
		e, ok2 := parseU64(rest[1])
		k, ok3 := parseU32(rest[2])
		if !ok1 || !ok2 || !ok3 || uint64(k) > uint64(len(rest)-3) {
			return UnitLock{}, bad
		}
		r.Slots = append(r.Slots, UnitSlot{
			SlotEpoch: SlotEpoch{Slot: keyspace.SlotID(s), Epoch: keyspace.Epoch(e)},
			Keys:      rest[3 : 3+k],
		})
		rest = rest[3+k:]
	}
	if len(rest) >= 2 && string(rest[0]) == "WATCH" && len(rest[1]) > 0 {
		r.Watch, rest = string(rest[1]), rest[2:]
	}
	if len(rest) == 1 && string(rest[0]) == "WAIT" {
		r.Wait, rest = true, nil
	}
	if len(rest) != 0 {
		return UnitLock{}, bad
	}
	return r, nil
}

// UnitPart is one slot's share of a unit's writes: its encoded
// storage.Effect.
type UnitPart struct {
	Slot   keyspace.SlotID
	Effect []byte
}

// UnitPrepare records a unit's part on the peer, durably, not applied:
//
//	UPREPARE <table> <unit> <home> <home slot> <n> (<slot> <effect>){n} [DECIDE]
//	    +OK, or with DECIDE: +commit | +abort
//
// home slot is the unit's lowest written slot, whose record holds the
// unit's decision: the peer asks whoever leads it then (UDECIDE ... abort)
// if neither UAPPLY nor UABORT comes in time; home is the node that led
// it when the unit locked it (for logs).
// The slots must be locked by the unit (its ULOCK), else an error. With
// DECIDE the peer is the home, every other part is prepared, and it
// records its parts of the other slots, then applies the home slot's part
// and records the commit in one write, unless an outcome is recorded
// already (a participant that gave up: abort, the home slot's part not
// applied); it answers the recorded outcome, as UDECIDE does. A part that
// was the home slot alone has then ended (no UAPPLY follows).
type UnitPrepare struct {
	Table    keyspace.TableID
	Unit     string
	Home     string
	HomeSlot keyspace.SlotID
	Parts    []UnitPart
	Decide   bool
}

func (UnitPrepare) Name() string { return "UPREPARE" }

func (r UnitPrepare) Args() [][]byte {
	out := [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), []byte(r.Unit), []byte(r.Home), u64(uint64(r.HomeSlot)), u64(uint64(len(r.Parts)))}
	for _, p := range r.Parts {
		out = append(out, u64(uint64(p.Slot)), p.Effect)
	}
	if r.Decide {
		out = append(out, []byte("DECIDE"))
	}
	return out
}

// ParseUnitPrepare reads a UPREPARE. The effects alias args.
func ParseUnitPrepare(args [][]byte) (UnitPrepare, error) {
	bad := malformed("UPREPARE")
	if len(args) < 6 {
		return UnitPrepare{}, bad
	}
	t, ok := parseU32(args[1])
	hs, ok1 := parseU32(args[4])
	n, ok2 := parseU32(args[5])
	decide := len(args) > 6 && string(args[len(args)-1]) == "DECIDE" && uint64(len(args)-7) == 2*uint64(n)
	if decide {
		args = args[:len(args)-1]
	}
	if !ok || !ok1 || !ok2 || len(args[2]) == 0 || len(args[3]) == 0 || uint64(len(args)-6) != 2*uint64(n) {
		return UnitPrepare{}, bad
	}
	r := UnitPrepare{Table: keyspace.TableID(t), Unit: string(args[2]), Home: string(args[3]), HomeSlot: keyspace.SlotID(hs), Parts: make([]UnitPart, n), Decide: decide}
	for i := range r.Parts {
		s, ok := parseU32(args[6+2*i])
		if !ok {
			return UnitPrepare{}, bad
		}
		r.Parts[i] = UnitPart{Slot: keyspace.SlotID(s), Effect: args[7+2*i]}
	}
	return r, nil
}

// Outcome is a unit's decision on the wire.
type Outcome string

// The outcomes UDECIDE records and answers.
const (
	OutcomeCommit Outcome = "commit"
	OutcomeAbort  Outcome = "abort"
)

// UnitDecide records a unit's outcome in its home slot, unless one is
// recorded already, and answers the recorded one as a simple string:
//
//	UDECIDE <unit> commit|abort <table> <home slot>    +commit | +abort
//
// The coordinator sends commit (the unit's commit point is its record); a
// participant that waited too long for the coordinator sends abort, which
// makes a later commit fail. The table and home slot say where the
// decision is recorded (a record of the home slot, which the peer leads).
type UnitDecide struct {
	Unit     string
	Outcome  Outcome
	Table    keyspace.TableID
	HomeSlot keyspace.SlotID
}

func (UnitDecide) Name() string { return "UDECIDE" }

func (r UnitDecide) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), []byte(r.Unit), []byte(r.Outcome), u64(uint64(r.Table)), u64(uint64(r.HomeSlot))}
}

// ParseUnitDecide reads a UDECIDE.
func ParseUnitDecide(args [][]byte) (UnitDecide, error) {
	if len(args) != 5 || len(args[1]) == 0 {
		return UnitDecide{}, malformed("UDECIDE")
	}
	o := Outcome(args[2])
	t, ok := parseU32(args[3])
	s, ok2 := parseU32(args[4])
	if o != OutcomeCommit && o != OutcomeAbort || !ok || !ok2 {
		return UnitDecide{}, malformed("UDECIDE")
	}
	return UnitDecide{Unit: string(args[1]), Outcome: o, Table: keyspace.TableID(t), HomeSlot: keyspace.SlotID(s)}, nil
}

// The requests that end a unit's part on the peer, each with the unit's
// id only:
//
//	UAPPLY <unit>     the prepared part is applied (the unit committed)
//	UABORT <unit>     the prepared part is dropped
//	URELEASE <unit>   a part never prepared (it only read, or the unit
//	                  gave up before UPREPARE) is unlocked
//	UCONFIRM <unit>   a part that only read, in a unit that writes
//	                  elsewhere, still holds its slots as it locked them
//	                  (raft: led in the lock's term): sent before the
//	                  unit's decision
//	UFORGET <table> (<unit> <home slot>)...
//	                  the home slots forget the units' decisions (every
//	                  part of each is resolved)
//
// UAPPLY, UABORT and UFORGET answer +OK, also for a unit the peer does not
// know (already ended): they may be sent again. URELEASE and UCONFIRM
// answer an error when the part's hold did not last (its lease ran out,
// a raft slot's lead moved on): the unit's reads are not of one instant.
// URENEW answers an error when the part is gone (its lease ran out).
type (
	UnitApply   struct{ Unit string }
	UnitAbort   struct{ Unit string }
	UnitRelease struct{ Unit string }
	UnitConfirm struct{ Unit string }
	// UnitRenew starts the lease of a part not yet prepared again: its
	// coordinator is alive, evaluating a unit that runs long (a script).
	UnitRenew struct{ Unit string }
	// UnitForget drops the decisions of committed units of one table
	// whose parts are all applied, several at once (a coordinator sends
	// them after its clients' replies, batched).
	UnitForget struct {
		Table keyspace.TableID
		Units []DecidedUnit
	}
)

// DecidedUnit is a unit and the home slot that records its decision.
type DecidedUnit struct {
	Unit     string
	HomeSlot keyspace.SlotID
}

func (UnitApply) Name() string   { return "UAPPLY" }
func (UnitAbort) Name() string   { return "UABORT" }
func (UnitRelease) Name() string { return "URELEASE" }
func (UnitConfirm) Name() string { return "UCONFIRM" }
func (UnitRenew) Name() string   { return "URENEW" }
func (UnitForget) Name() string  { return "UFORGET" }

func (r UnitApply) Args() [][]byte   { return [][]byte{[]byte(r.Name()), []byte(r.Unit)} }
func (r UnitAbort) Args() [][]byte   { return [][]byte{[]byte(r.Name()), []byte(r.Unit)} }
func (r UnitRelease) Args() [][]byte { return [][]byte{[]byte(r.Name()), []byte(r.Unit)} }
func (r UnitConfirm) Args() [][]byte { return [][]byte{[]byte(r.Name()), []byte(r.Unit)} }
func (r UnitRenew) Args() [][]byte   { return [][]byte{[]byte(r.Name()), []byte(r.Unit)} }
func (r UnitForget) Args() [][]byte {
	args := make([][]byte, 0, 2+2*len(r.Units))
	args = append(args, []byte(r.Name()), u64(uint64(r.Table)))
	for _, u := range r.Units {
		args = append(args, []byte(u.Unit), u64(uint64(u.HomeSlot)))
	}
	return args
}

// parseUnitID reads the one argument of the requests above.
func parseUnitID(name string, args [][]byte) (string, error) {
	if len(args) != 2 || len(args[1]) == 0 {
		return "", malformed(name)
	}
	return string(args[1]), nil
}

// ParseUnitApply, ParseUnitAbort, ParseUnitRelease, ParseUnitConfirm,
// ParseUnitRenew and ParseUnitForget read those requests.
//
// A part on raft slots is found by its unit among the parts the slots'
// records hold, on whichever node leads them now.
func ParseUnitApply(args [][]byte) (UnitApply, error) {
	u, err := parseUnitID("UAPPLY", args)
	return UnitApply{Unit: u}, err
}

func ParseUnitAbort(args [][]byte) (UnitAbort, error) {
	u, err := parseUnitID("UABORT", args)
	return UnitAbort{Unit: u}, err
}

func ParseUnitRelease(args [][]byte) (UnitRelease, error) {
	u, err := parseUnitID("URELEASE", args)
	return UnitRelease{Unit: u}, err
}

func ParseUnitConfirm(args [][]byte) (UnitConfirm, error) {
	u, err := parseUnitID("UCONFIRM", args)
	return UnitConfirm{Unit: u}, err
}

func ParseUnitRenew(args [][]byte) (UnitRenew, error) {
	u, err := parseUnitID("URENEW", args)
	return UnitRenew{Unit: u}, err
}

func ParseUnitForget(args [][]byte) (UnitForget, error) {
	if len(args) < 4 || len(args)%2 != 0 {
		return UnitForget{}, malformed("UFORGET")
	}
	t, ok := parseU32(args[1])
	if !ok {
		return UnitForget{}, malformed("UFORGET")
	}
	r := UnitForget{Table: keyspace.TableID(t), Units: make([]DecidedUnit, 0, (len(args)-2)/2)}
	for i := 2; i < len(args); i += 2 {
		s, ok := parseU32(args[i+1])
		if !ok || len(args[i]) == 0 {
			return UnitForget{}, malformed("UFORGET")
		}
		r.Units = append(r.Units, DecidedUnit{Unit: string(args[i]), HomeSlot: keyspace.SlotID(s)})
	}
	return r, nil
}

// ParseOutcome reads UDECIDE's answer.
func ParseOutcome(raw []byte) (Outcome, error) {
	if err := ReplyErr(raw); err != nil {
		return "", err
	}
	if len(raw) < 3 || raw[0] != '+' {
		return "", &ReplyError{Msg: "UDECIDE answered " + strconv.Quote(string(raw))}
	}
	o := Outcome(raw[1 : len(raw)-2])
	if o != OutcomeCommit && o != OutcomeAbort {
		return "", &ReplyError{Msg: "UDECIDE answered " + strconv.Quote(string(raw))}
	}
	return o, nil
}

// UnitWatch registers a client's WATCH of keys the peer leads, for a
// later EXEC that names the same token in its ULOCK:
//
//	UWATCH <table> <token> <n> (<slot> <epoch> <k> <key>{k}){n}    +OK
//
// The peer marks the registration changed on any write, expiry or flush
// of a key, and forgets it after UUNWATCH <token> or its lease; a ULOCK
// naming a token the peer does not hold, or holds changed, or registered
// at another epoch of a slot, is answered *WatchedError.
type UnitWatch struct {
	Table keyspace.TableID
	Token string
	Slots []UnitSlot
}

func (UnitWatch) Name() string { return "UWATCH" }

func (r UnitWatch) Args() [][]byte {
	args := UnitLock{Table: r.Table, Unit: r.Token, Slots: r.Slots}.Args()
	args[0] = []byte(r.Name())
	return args
}

// ParseUnitWatch reads a UWATCH. The keys alias args.
func ParseUnitWatch(args [][]byte) (UnitWatch, error) {
	l, err := ParseUnitLock(args)
	if err != nil {
		return UnitWatch{}, malformed("UWATCH")
	}
	return UnitWatch{Table: l.Table, Token: l.Unit, Slots: l.Slots}, nil
}

// UnitUnwatch forgets a WATCH registration: UUNWATCH <token> -> +OK.
type UnitUnwatch struct{ Token string }

func (UnitUnwatch) Name() string { return "UUNWATCH" }

func (r UnitUnwatch) Args() [][]byte { return [][]byte{[]byte(r.Name()), []byte(r.Token)} }

// ParseUnitUnwatch reads a UUNWATCH.
func ParseUnitUnwatch(args [][]byte) (UnitUnwatch, error) {
	u, err := parseUnitID("UUNWATCH", args)
	return UnitUnwatch{Token: u}, err
}

// UnitRead reads, for the unit's coordinator, members of a collection
// that the ULOCK's image left out (too many to copy), from a slot the
// unit holds locked:
//
//	UREAD <table> <unit> <slot> <cf> <lower> <upper> <reverse 0|1> <limit>
//	    *<1+2n>: :<more 0|1>, then (<key> <value>){n}
//
// It answers the entries of column family cf (storage.CF: data or score)
// in [lower, upper), at most limit, ascending (reverse: descending), and
// whether the range holds more past them.
type UnitRead struct {
	Table        keyspace.TableID
	Unit         string
	Slot         keyspace.SlotID
	CF           uint32
	Lower, Upper []byte
	Reverse      bool
	Limit        uint32
}

func (UnitRead) Name() string { return "UREAD" }

func (r UnitRead) Args() [][]byte {
	rev := []byte("0")
	if r.Reverse {
		rev = []byte("1")
	}
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), []byte(r.Unit), u64(uint64(r.Slot)), u64(uint64(r.CF)),
		r.Lower, r.Upper, rev, u64(uint64(r.Limit))}
}

// ParseUnitRead reads a UREAD. The bounds alias args.
func ParseUnitRead(args [][]byte) (UnitRead, error) {
	bad := malformed("UREAD")
	if len(args) != 9 || len(args[2]) == 0 {
		return UnitRead{}, bad
	}
	t, ok := parseU32(args[1])
	s, ok1 := parseU32(args[3])
	cf, ok2 := parseU32(args[4])
	limit, ok3 := parseU32(args[8])
	rev := string(args[7])
	if !ok || !ok1 || !ok2 || !ok3 || (rev != "0" && rev != "1") {
		return UnitRead{}, bad
	}
	return UnitRead{Table: keyspace.TableID(t), Unit: string(args[2]), Slot: keyspace.SlotID(s), CF: cf,
		Lower: args[5], Upper: args[6], Reverse: rev == "1", Limit: limit}, nil
}
