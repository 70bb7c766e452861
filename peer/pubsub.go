package peer

import (
	"strconv"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// The requests of the cluster's publish/subscribe (docs/pubsub.md): a
// message carried to the nodes that have subscribers for it, which
// channels and patterns each node's clients subscribe to (its interest),
// and PUBSUB's questions asked of every node.

// PubsubKind says which namespace a channel name is in.
type PubsubKind byte

const (
	// PubsubChannel: SUBSCRIBE and PUBLISH's channels.
	PubsubChannel PubsubKind = 'c'
	// PubsubPattern: PSUBSCRIBE's patterns (over PUBLISH's channels).
	PubsubPattern PubsubKind = 'p'
	// PubsubShard: SSUBSCRIBE and SPUBLISH's shard channels.
	PubsubShard PubsubKind = 's'
	// PubsubTracking: the invalidations of CLIENT TRACKING
	// (docs/tracking.md), internal: no client can subscribe to it. Its
	// interest is one name, "", per table a node tracks; its messages
	// (PSPUB) carry a written key as channel and the writer as message.
	PubsubTracking PubsubKind = 't'
)

func parseKind(b []byte) (PubsubKind, bool) {
	if len(b) != 1 {
		return 0, false
	}
	switch k := PubsubKind(b[0]); k {
	case PubsubChannel, PubsubPattern, PubsubShard, PubsubTracking:
		return k, true
	}
	return 0, false
}

// PubsubPublish delivers a message to the subscribers a peer's clients
// have (a channel's, and for PubsubChannel its patterns'):
//
//	PSPUB <table> c|s|t <channel> <message> -> :receivers
type PubsubPublish struct {
	Table   keyspace.TableID
	Kind    PubsubKind // PubsubChannel, PubsubShard or PubsubTracking
	Channel []byte
	Message []byte
}

func (PubsubPublish) Name() string { return "PSPUB" }

func (r PubsubPublish) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(uint64(r.Table)), {byte(r.Kind)}, r.Channel, r.Message}
}

// ParsePubsubPublish reads a PSPUB.
func ParsePubsubPublish(args [][]byte) (PubsubPublish, error) {
	if len(args) != 5 {
		return PubsubPublish{}, malformed("PSPUB")
	}
	t, ok1 := parseU32(args[1])
	k, ok2 := parseKind(args[2])
	if !ok1 || !ok2 || k == PubsubPattern {
		return PubsubPublish{}, malformed("PSPUB")
	}
	return PubsubPublish{Table: keyspace.TableID(t), Kind: k, Channel: args[3], Message: args[4]}, nil
}

// PubsubInterest tells a peer that the origin node's clients now
// subscribe (Added) to names of one kind in a table, or that the last of
// them left (not Added). Seq numbers the origin's changes from 1 within
// its Incarnation (one run of the process): a peer applies a change only
// right after the one before it, and otherwise asks for the whole
// interest (PubsubState).
//
//	PSINTEREST <origin> <incarnation> <seq> +|- <table> c|p|s|t <name>... -> +OK
type PubsubInterest struct {
	Origin      string
	Incarnation uint64
	Seq         uint64
	Added       bool
	Table       keyspace.TableID
	Kind        PubsubKind
	Names       [][]byte
}

func (PubsubInterest) Name() string { return "PSINTEREST" }

func (r PubsubInterest) Args() [][]byte {
	sign := "-"
	if r.Added {
		sign = "+"
	}
	args := [][]byte{[]byte(r.Name()), []byte(r.Origin), u64(r.Incarnation), u64(r.Seq), []byte(sign), u64(uint64(r.Table)), {byte(r.Kind)}}
	return append(args, r.Names...)
}

// ParsePubsubInterest reads a PSINTEREST.
func ParsePubsubInterest(args [][]byte) (PubsubInterest, error) {
	if len(args) < 8 || len(args[1]) == 0 {
		return PubsubInterest{}, malformed("PSINTEREST")
	}
	inc, ok1 := parseU64(args[2])
	seq, ok2 := parseU64(args[3])
	sign := string(args[4])
	t, ok3 := parseU32(args[5])
	k, ok4 := parseKind(args[6])
	if !ok1 || !ok2 || !ok3 || !ok4 || sign != "+" && sign != "-" {
		return PubsubInterest{}, malformed("PSINTEREST")
	}
	return PubsubInterest{Origin: string(args[1]), Incarnation: inc, Seq: seq, Added: sign == "+",
		Table: keyspace.TableID(t), Kind: k, Names: args[7:]}, nil
}

// PubsubState asks a peer for its whole interest unless the asker knows
// it as of (Incarnation, Seq) already:
//
//	PSSTATE <incarnation> <seq> -> +same | [incarnation, seq, (table, c|p|s, name)...]
type PubsubState struct {
	Incarnation uint64
	Seq         uint64
}

func (PubsubState) Name() string { return "PSSTATE" }

func (r PubsubState) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(r.Incarnation), u64(r.Seq)}
}

// ParsePubsubState reads a PSSTATE.
func ParsePubsubState(args [][]byte) (PubsubState, error) {
	if len(args) != 3 {
		return PubsubState{}, malformed("PSSTATE")
	}
	inc, ok1 := parseU64(args[1])
	seq, ok2 := parseU64(args[2])
	if !ok1 || !ok2 {
		return PubsubState{}, malformed("PSSTATE")
	}
	return PubsubState{Incarnation: inc, Seq: seq}, nil
}

// PubsubQueryKind is a PUBSUB question asked of every node.
type PubsubQueryKind string

const (
	// QueryChannels: the channels (Shard: shard channels) with
	// subscribers here matching Params[0] (all without it) -> [name...].
	QueryChannels PubsubQueryKind = "channels"
	// QueryNumSub: the subscribers here of each channel in Params -> [n...].
	QueryNumSub PubsubQueryKind = "numsub"
	// QueryPatterns: the patterns subscribed to here -> [pattern...].
	QueryPatterns PubsubQueryKind = "patterns"
)

// PubsubQuery asks a peer one of PUBSUB's questions about its own
// clients; the asker merges the answers:
//
//	PSQUERY <table> channels|numsub|patterns c|s <arg>... -> [...]
type PubsubQuery struct {
	Table  keyspace.TableID
	Query  PubsubQueryKind
	Kind   PubsubKind // PubsubChannel or PubsubShard
	Params [][]byte
}

func (PubsubQuery) Name() string { return "PSQUERY" }

func (r PubsubQuery) Args() [][]byte {
	args := [][]byte{[]byte(r.Name()), strconv.AppendUint(nil, uint64(r.Table), 10), []byte(r.Query), {byte(r.Kind)}}
	return append(args, r.Params...)
}

// ParsePubsubQuery reads a PSQUERY.
func ParsePubsubQuery(args [][]byte) (PubsubQuery, error) {
	if len(args) < 4 {
		return PubsubQuery{}, malformed("PSQUERY")
	}
	t, ok1 := parseU32(args[1])
	k, ok2 := parseKind(args[3])
	q := PubsubQueryKind(args[2])
	if !ok1 || !ok2 || k == PubsubPattern || k == PubsubTracking || q != QueryChannels && q != QueryNumSub && q != QueryPatterns {
		return PubsubQuery{}, malformed("PSQUERY")
	}
	return PubsubQuery{Table: keyspace.TableID(t), Query: q, Kind: k, Params: args[4:]}, nil
}
