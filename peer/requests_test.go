package peer

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// words splits a request written as words (the tests' notation).
func words(s string) [][]byte {
	var out [][]byte
	for _, w := range strings.Fields(s) {
		out = append(out, []byte(w))
	}
	return out
}

func join(args [][]byte) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(a)
	}
	return b.String()
}

// parsers maps each request name to its parser, boxed.
var parsers = map[string]func([][]byte) (Request, error){
	"PEERAUTH":      box(ParseAuth),
	"FWD":           box(ParseForward),
	"UNIT":          box(ParseUnit),
	"COUNTS":        box(ParseCounts),
	"POSITIONS":     box(ParsePositions),
	"CHECKSUM":      box(ParseChecksum),
	"SLOTSIZE":      box(ParseSlotSize),
	"REPLICATE":     box(ParseReplicate),
	"SYNCBEGIN":     box(ParseSyncBegin),
	"SYNCDATA":      box(ParseSyncData),
	"SYNCEND":       box(ParseSyncEnd),
	"RAFT":          box(ParseRaft),
	"RAFTTRANSFER":  box(ParseRaftTransfer),
	"RAFTSNAPBEGIN": box(ParseRaftSnapBegin),
	"RAFTSNAPDATA":  box(ParseRaftSnapData),
	"ULOCK":         box(ParseUnitLock),
	"UPREPARE":      box(ParseUnitPrepare),
	"UDECIDE":       box(ParseUnitDecide),
	"UAPPLY":        box(ParseUnitApply),
	"UABORT":        box(ParseUnitAbort),
	"URELEASE":      box(ParseUnitRelease),
	"UCONFIRM":      box(ParseUnitConfirm),
	"URENEW":        box(ParseUnitRenew),
	"UFORGET":       box(ParseUnitForget),
	"UWATCH":        box(ParseUnitWatch),
	"UUNWATCH":      box(ParseUnitUnwatch),
	"UREAD":         box(ParseUnitRead),
	"USCRIPT":       box(ParseScriptFetch),
	"USCRIPTFLUSH":  box(ParseScriptFlush),
	"UFUNCTIONS":    box(ParseFunctionsAt),
	"USCRIPTKILL":   box(ParseScriptKill),
	"PSPUB":         box(ParsePubsubPublish),
	"PSINTEREST":    box(ParsePubsubInterest),
	"PSSTATE":       box(ParsePubsubState),
	"PSQUERY":       box(ParsePubsubQuery),
	"BWAIT":         box(ParseBlockWait),
	"BREADY":        box(ParseBlockReady),
	"BSYNCED":       box(ParseBlockSynced),
	"CFGSET":        box(ParseConfigSet),
	"CPAUSE":        box(ParseClientPause),
}

func box[R Request](parse func([][]byte) (R, error)) func([][]byte) (Request, error) {
	return func(args [][]byte) (Request, error) {
		r, err := parse(args)
		return r, err
	}
}

// Each request's wire form, as the senders wrote it by hand before there
// were types, and back.
func TestRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		wire string
	}{
		{Auth{Secret: "s3cret", Node: "ab12"}, "PEERAUTH s3cret ab12"},
		{Forward{Table: 1, Slots: []SlotEpoch{{Slot: 3, Epoch: 7}, {Slot: 4294967295, Epoch: 18446744073709551615}}, Command: words("MGET a b")},
			"FWD 1 2 2 3 7 4294967295 18446744073709551615 MGET a b"},
		{Forward{Table: 0, Slots: []SlotEpoch{}, Command: words("DBSIZE")}, "FWD 0 2 0 DBSIZE"},
		{Forward{Table: 2, Resp3: true, Slots: []SlotEpoch{{Slot: 1, Epoch: 1}}, Command: words("HGETALL h")}, "FWD 2 3 1 1 1 HGETALL h"},
		{Unit{Table: 2, Resp3: true, Slots: []SlotEpoch{{Slot: 1, Epoch: 4}, {Slot: 9, Epoch: 5}}, Commands: [][][]byte{words("SET a 1"), words("INCR b")}},
			"UNIT 2 3 2 1 4 9 5 2 3 SET a 1 2 INCR b"},
		{Unit{Table: 0, Slots: []SlotEpoch{{Slot: 3, Epoch: 1}}, Commands: [][][]byte{}}, "UNIT 0 2 1 3 1 0"},
		{Counts{Table: 5}, "COUNTS 5"},
		{Positions{Table: 2, Slots: []keyspace.SlotID{0, 9}}, "POSITIONS 2 0 9"},
		{Positions{Table: 2, Slots: []keyspace.SlotID{}}, "POSITIONS 2"},
		{Checksum{Table: 1, Slot: 6}, "CHECKSUM 1 6"},
		{SlotSize{Table: 1, Slot: 6}, "SLOTSIZE 1 6"},
		{Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: words("e1 e2")}, "REPLICATE 1 2 3 e1 e2"},
		{Replicate{Table: 1, Slot: 2, Epoch: 3, Entries: [][]byte{}}, "REPLICATE 1 2 3"},
		{SyncBegin{SyncHead{Table: 1, Slot: 2, Epoch: 3}}, "SYNCBEGIN 1 2 3"},
		{SyncData{SyncHead: SyncHead{Table: 1, Slot: 2, Epoch: 3}, Chunk: []byte("chunk")}, "SYNCDATA 1 2 3 chunk"},
		{SyncEnd{SyncHead: SyncHead{Table: 1, Slot: 2, Epoch: 3}, Index: 40, EntryEpoch: 2, Keys: 10, Expires: 1}, "SYNCEND 1 2 3 40 2 10 1"},
		{Raft{Batch: []byte("batch")}, "RAFT batch"},
		{RaftTransfer{Table: 1, Slot: 2, To: "node-b"}, "RAFTTRANSFER 1 2 node-b"},
		{RaftSnapBegin{RaftSnapHead{Table: 1, Slot: 2, From: 99, Index: 10, Term: 3}}, "RAFTSNAPBEGIN 1 2 99 10 3"},
		{RaftSnapData{RaftSnapHead: RaftSnapHead{Table: 1, Slot: 2, From: 99, Index: 10, Term: 3}, Last: true, Chunk: []byte("c")}, "RAFTSNAPDATA 1 2 99 10 3 1 c"},
		{RaftSnapData{RaftSnapHead: RaftSnapHead{Table: 1, Slot: 2, From: 99, Index: 10, Term: 3}, Chunk: []byte("c")}, "RAFTSNAPDATA 1 2 99 10 3 0 c"},
		{UnitLock{Table: 1, Unit: "n.1.2", Slots: []UnitSlot{{SlotEpoch{3, 7}, words("a b")}, {SlotEpoch{4, 8}, [][]byte{}}}},
			"ULOCK 1 n.1.2 2 3 7 2 a b 4 8 0"},
		{UnitLock{Table: 1, Unit: "u", Slots: []UnitSlot{{SlotEpoch{3, 7}, words("a")}}, Watch: "w"}, "ULOCK 1 u 1 3 7 1 a WATCH w"},
		{UnitLock{Table: 1, Unit: "u", Slots: []UnitSlot{{SlotEpoch{3, 7}, words("a")}}, Watch: "w", Wait: true}, "ULOCK 1 u 1 3 7 1 a WATCH w WAIT"},
		{UnitLock{Table: 1, Unit: "u", Slots: []UnitSlot{{SlotEpoch{3, 7}, words("a")}}, Wait: true}, "ULOCK 1 u 1 3 7 1 a WAIT"},
		{UnitPrepare{Table: 2, Unit: "u", Home: "h", HomeSlot: 1, Parts: []UnitPart{{Slot: 3, Effect: []byte("e3")}, {Slot: 5, Effect: []byte("e5")}}},
			"UPREPARE 2 u h 1 2 3 e3 5 e5"},
		{UnitPrepare{Table: 2, Unit: "u", Home: "h", HomeSlot: 3, Parts: []UnitPart{{Slot: 3, Effect: []byte("e3")}}, Decide: true},
			"UPREPARE 2 u h 3 1 3 e3 DECIDE"},
		{UnitDecide{Unit: "u", Outcome: OutcomeCommit, Table: 2, HomeSlot: 3}, "UDECIDE u commit 2 3"},
		{UnitApply{Unit: "u"}, "UAPPLY u"},
		{UnitAbort{Unit: "u"}, "UABORT u"},
		{UnitRelease{Unit: "u"}, "URELEASE u"},
		{UnitConfirm{Unit: "u"}, "UCONFIRM u"},
		{UnitRenew{Unit: "u"}, "URENEW u"},
		{UnitForget{Table: 2, Units: []DecidedUnit{{Unit: "u", HomeSlot: 3}, {Unit: "v", HomeSlot: 9}}}, "UFORGET 2 u 3 v 9"},
		{UnitWatch{Table: 1, Token: "t", Slots: []UnitSlot{{SlotEpoch{3, 7}, words("k")}}}, "UWATCH 1 t 1 3 7 1 k"},
		{UnitUnwatch{Token: "t"}, "UUNWATCH t"},
		{ScriptFetch{SHA: "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"}, "USCRIPT e0e1f9fabfc9d4800c877a703b823ac0578ff8db"},
		{ScriptFlush{}, "USCRIPTFLUSH"},
		{FunctionsAt{Revision: 42}, "UFUNCTIONS 42"},
		{ScriptKill{Eval: true}, "USCRIPTKILL eval"},
		{ScriptKill{}, "USCRIPTKILL function"},
		{PubsubPublish{Table: 2, Kind: PubsubChannel, Channel: []byte("news"), Message: []byte("hi there")}, "PSPUB 2 c news hi there"},
		{PubsubPublish{Table: 0, Kind: PubsubShard, Channel: []byte("s"), Message: []byte("m")}, "PSPUB 0 s s m"},
		{PubsubInterest{Origin: "n1", Incarnation: 7, Seq: 3, Added: true, Table: 1, Kind: PubsubPattern, Names: words("a* b?")}, "PSINTEREST n1 7 3 + 1 p a* b?"},
		{PubsubInterest{Origin: "n1", Incarnation: 7, Seq: 4, Table: 1, Kind: PubsubChannel, Names: words("x")}, "PSINTEREST n1 7 4 - 1 c x"},
		{PubsubState{Incarnation: 9, Seq: 12}, "PSSTATE 9 12"},
		{BlockWait{Table: 2, Origin: "n1", Keys: []WaitKey{{Slot: 3, Key: []byte("q1")}, {Slot: 9, Key: []byte("q2")}}}, "BWAIT 2 n1 2 3 q1 9 q2"},
		{BlockReady{Table: 2, Keys: words("q1 q2")}, "BREADY 2 q1 q2"},
		{BlockSynced{Table: 2, Slot: 7}, "BSYNCED 2 7"},
		{ConfigSet{Param: "notify-keyspace-events", Value: "KEA", Revision: 12}, "CFGSET notify-keyspace-events KEA 12"},
		{ClientPause{UntilMS: 1700000000000, Mode: PauseWrite}, "CPAUSE 1700000000000 w"},
		{ClientPause{Mode: PauseOff}, "CPAUSE 0 o"},
		{PubsubQuery{Table: 3, Query: QueryNumSub, Kind: PubsubShard, Params: words("a b")}, "PSQUERY 3 numsub s a b"},
		{PubsubQuery{Table: 3, Query: QueryPatterns, Kind: PubsubChannel, Params: [][]byte{}}, "PSQUERY 3 patterns c"},
		{UnitRead{Table: 1, Unit: "u", Slot: 3, CF: 1, Lower: []byte("lo"), Upper: []byte("up"), Reverse: true, Limit: 512}, "UREAD 1 u 3 1 lo up 1 512"},
		{UnitRead{Table: 1, Unit: "u", Slot: 3, CF: 2, Lower: []byte("lo"), Upper: []byte("up"), Limit: 1}, "UREAD 1 u 3 2 lo up 0 1"},
	} {
		args := tc.req.Args()
		if got := join(args); got != tc.wire {
			t.Errorf("%T.Args() = %q, want %q", tc.req, got, tc.wire)
		}
		if string(args[0]) != tc.req.Name() {
			t.Errorf("%T: Args()[0] = %q, Name() = %q", tc.req, args[0], tc.req.Name())
		}
		back, err := parsers[tc.req.Name()](args)
		if err != nil || !reflect.DeepEqual(back, tc.req) {
			t.Errorf("parse(%q) = %#v, %v; want %#v", tc.wire, back, err, tc.req)
		}
	}
}

// Malformed requests are refused with the replies the peer port gave
// before the parsers moved here.
func TestRequestMalformed(t *testing.T) {
	for _, tc := range []struct {
		wire, reply string
	}{
		{"PING", "ERR PEERAUTH <secret> <node-id> must come first"},
		{"PEERAUTH s", "ERR PEERAUTH <secret> <node-id> must come first"},
		{"FWD 1 2 0", "ERR unknown peer request"},
		{"FWD x 2 0 GET", "ERR malformed FWD"},
		{"FWD 1 4 0 GET", "ERR malformed FWD"},
		{"FWD 1 2 70000 GET", "ERR malformed FWD"},
		{"FWD 1 2 2 3 4 GET", "ERR malformed FWD"},
		{"FWD 1 2 1 3 x GET k", "ERR malformed FWD"},
		{"FWD 1 3 1 4294967296 1 GET k", "ERR malformed FWD"},
		{"UNIT 1 2 0 1 5 GET", "ERR malformed UNIT"},
		{"UNIT 1 2 0 2 2 GET a", "ERR malformed UNIT"},
		{"UNIT 1 2 0 1 0", "ERR malformed UNIT"},
		{"UNIT 1 2 0 1 2 GET a extra", "ERR malformed UNIT"},
		{"UNIT 1 2 0 x", "ERR malformed UNIT"},
		{"ULOCK 1 u 1 3 7 2 a", "ERR malformed ULOCK"},
		{"ULOCK 1 u 2 3 7 0", "ERR malformed ULOCK"},
		{"ULOCK 1 u 1 3 7 0 extra", "ERR malformed ULOCK"},
		{"ULOCK 1 u 1 3 7 0 WATCH", "ERR malformed ULOCK"},
		{"ULOCK 1 u 1 3 7 0 WAIT WATCH w", "ERR malformed ULOCK"},
		{"ULOCK 1 u 1 3 7 0 WAIT x", "ERR malformed ULOCK"},
		{"ULOCK x u 0", "ERR malformed ULOCK"},
		{"UREAD 1 u 3 1 lo up 2 5", "ERR malformed UREAD"},
		{"UREAD 1 u 3 1 lo up 0", "ERR malformed UREAD"},
		{"UREAD 1 u 3 1 lo up 0 -1", "ERR malformed UREAD"},
		{"UPREPARE 1 u h 1 3", "ERR malformed UPREPARE"},
		{"UPREPARE 1 u h 1 3 e DECIDE x", "ERR malformed UPREPARE"},
		{"UPREPARE 1 u h 1 x e", "ERR malformed UPREPARE"},
		{"UDECIDE u maybe", "ERR malformed UDECIDE"},
		{"UDECIDE u", "ERR malformed UDECIDE"},
		{"UAPPLY", "ERR malformed UAPPLY"},
		{"UWATCH 1 t 1 3 7 2 k", "ERR malformed UWATCH"},
		{"UFORGET 2 u", "ERR malformed UFORGET"},
		{"UFORGET 2 u 3 v", "ERR malformed UFORGET"},
		{"UFORGET x u 3", "ERR malformed UFORGET"},
		{"PSPUB 1 p ch m", "ERR malformed PSPUB"},
		{"PSPUB 1 c ch", "ERR malformed PSPUB"},
		{"PSINTEREST n 1 1 * 1 c x", "ERR malformed PSINTEREST"},
		{"PSINTEREST n 1 1 + 1 c", "ERR malformed PSINTEREST"},
		{"PSSTATE 1", "ERR malformed PSSTATE"},
		{"BWAIT 1 n 2 3 k", "ERR malformed BWAIT"},
		{"BWAIT 1 n 1 x k", "ERR malformed BWAIT"},
		{"BREADY 1", "ERR malformed BREADY"},
		{"PSQUERY 1 other c", "ERR malformed PSQUERY"},
		{"COUNTS", "PIKAREFUSE no table COUNTS"},
		{"COUNTS x", "PIKAREFUSE no table x"},
		{"COUNTS 1 2", "PIKAREFUSE no table 2"},
		{"POSITIONS", "ERR malformed POSITIONS"},
		{"POSITIONS x 1", "ERR malformed POSITIONS"},
		{"POSITIONS 1 x", "ERR malformed POSITIONS"},
		{"CHECKSUM 1", "ERR malformed CHECKSUM"},
		{"CHECKSUM 1 x", "ERR malformed CHECKSUM"},
		{"SLOTSIZE 1 2 3", "ERR malformed SLOTSIZE"},
		{"REPLICATE 1 2", "ERR malformed REPLICATE"},
		{"REPLICATE 1 2 x", "ERR malformed REPLICATE"},
		{"REPLICATE 4294967296 2 3", "ERR malformed REPLICATE"},
		{"SYNCBEGIN 1 2", "ERR malformed SYNCBEGIN"},
		{"SYNCBEGIN 1 2 3 4", "ERR malformed SYNCBEGIN"},
		{"SYNCDATA 1 2 3", "ERR malformed SYNCDATA"},
		{"SYNCDATA 1 4294967296 3 c", "ERR malformed SYNCDATA"},
		{"SYNCEND 1 2 3 4 5 6", "ERR malformed SYNCEND"},
		{"SYNCEND 1 2 3 4 5 6 x", "ERR malformed SYNCEND"},
		{"SYNCEND 1 2 3 4 5 -6 7", "ERR malformed SYNCEND"},
		{"RAFT", "ERR RAFT wants one batch"},
		{"RAFT a b", "ERR RAFT wants one batch"},
		{"RAFTTRANSFER 1 2", "ERR RAFTTRANSFER wants table, slot and node"},
		{"RAFTTRANSFER 1 x n", "ERR bad table or slot"},
		{"RAFTSNAPBEGIN 1 2 3 4", "ERR malformed RAFTSNAPBEGIN"},
		{"RAFTSNAPBEGIN 1 2 3 4 x", "ERR malformed RAFTSNAPBEGIN"},
		{"RAFTSNAPDATA 1 2 3 4 5 1", "ERR malformed RAFTSNAPDATA"},
		{"RAFTSNAPDATA 1 2 x 4 5 1 c", "ERR malformed RAFTSNAPDATA"},
	} {
		args := words(tc.wire)
		parse := parsers[string(args[0])]
		if parse == nil {
			parse = parsers["PEERAUTH"]
		}
		if r, err := parse(args); err == nil {
			t.Errorf("%q parsed: %#v", tc.wire, r)
		} else if got := ErrorReply(err); got != tc.reply {
			t.Errorf("%q: reply %q, want %q", tc.wire, got, tc.reply)
		}
	}
	// The name's case does not matter to PEERAUTH (nor to the Mux).
	if _, err := ParseAuth(words("peerauth s n")); err != nil {
		t.Errorf("lower-case PEERAUTH: %v", err)
	}
}

func TestReplyErr(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want error
	}{
		{"+OK\r\n", nil},
		{"*2\r\n:1\r\n:2\r\n", nil},
		{"", nil},
		{"-PIKAREFUSE table 0 slot 1: asked at epoch 1, known epoch 2\r\n", &RefusedError{Reason: "table 0 slot 1: asked at epoch 1, known epoch 2"}},
		{"-PIKAREFUSE\r\n", &RefusedError{}},
		{"-REPLGAP 41\r\n", &GapError{Last: 41}},
		{"-REPLGAP x\r\n", &ReplyError{Msg: "REPLGAP x"}},
		{"-PIKAREFUSEx\r\n", &ReplyError{Msg: "PIKAREFUSEx"}},
		{"-ERR malformed FWD\r\n", &ReplyError{Msg: "ERR malformed FWD"}},
		{"-CLUSTERDOWN x\r\n", &ReplyError{Msg: "CLUSTERDOWN x"}},
	} {
		got := ReplyErr([]byte(tc.raw))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ReplyErr(%q) = %#v, want %#v", tc.raw, got, tc.want)
		}
	}
	// What the package builds, ReplyErr reads back.
	for _, e := range []error{&RefusedError{Reason: "the slot's raft leader moved"}, &GapError{Last: 7}, &RequestError{Msg: "malformed FWD"}} {
		raw := "-" + ErrorReply(e) + "\r\n"
		got := ReplyErr([]byte(raw))
		var re *RefusedError
		var ge *GapError
		switch e := e.(type) {
		case *RefusedError:
			if !errors.As(got, &re) || *re != *e {
				t.Errorf("%q: %#v", raw, got)
			}
		case *GapError:
			if !errors.As(got, &ge) || *ge != *e {
				t.Errorf("%q: %#v", raw, got)
			}
		default:
			if errors.As(got, &re) || errors.As(got, &ge) || got.Error() != ErrorReply(e) {
				t.Errorf("%q: %#v", raw, got)
			}
		}
	}
	if got := ErrorReply(errors.New("boom")); got != "ERR boom" {
		t.Errorf("ErrorReply of a plain error = %q", got)
	}
	if got := (&RefusedError{Reason: "r"}).Reply(); got != "PIKAREFUSE r" {
		t.Errorf("RefusedError.Reply = %q", got)
	}
	if got := (&GapError{Last: 3}).Reply(); got != "REPLGAP 3" {
		t.Errorf("GapError.Reply = %q", got)
	}
}

func TestMux(t *testing.T) {
	type call struct{ out *[]string }
	m := NewMux(func(c call, reply string) { *c.out = append(*c.out, "-"+reply) })
	Handle(m, ParseRaft, func(c call, r Raft) { *c.out = append(*c.out, "raft "+string(r.Batch)) })
	Handle(m, ParseCounts, func(c call, r Counts) { *c.out = append(*c.out, "counts") })
	var out []string
	c := call{&out}
	for _, req := range []string{"RAFT b", "raft x", "Raft", "COUNTS y", "NOPE", "AVERYLONGREQUESTNAMEINDEED a", "raftraft"} {
		m.Serve(c, words(req))
	}
	m.Serve(c, nil)
	want := []string{"raft b", "raft x", "-ERR RAFT wants one batch", "-PIKAREFUSE no table y",
		"-ERR unknown peer request", "-ERR unknown peer request", "-ERR unknown peer request", "-ERR unknown peer request"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("replies = %q\nwant %q", out, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second RAFT handler was taken")
		}
	}()
	Handle(m, ParseRaft, func(call, Raft) {})
}
