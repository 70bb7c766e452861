package peer

import "crypto/tls"

// Class is a kind of peer traffic. Each class travels on connections
// chosen for it, so that one kind never waits behind another it may
// itself be waited on by.
type Class uint8

const (
	// ClassForward carries the clients' forwarded commands and the
	// requests about one slot (COUNTS, POSITIONS, CHECKSUM, SLOTSIZE,
	// RAFTTRANSFER, REPLICATE). The key picks the connection: one slot's
	// requests (key = the slot) run on the peer in the order sent.
	ClassForward Class = iota
	// ClassRaft carries raft messages, on connections of their own: they
	// must never queue behind forwarded commands that wait for them to
	// commit. The key is not used.
	ClassRaft
	// ClassRaftSnapshot carries raft snapshots streamed to a follower,
	// beside the raft messages (which do not wait behind them). The key
	// is not used.
	ClassRaftSnapshot
	// ClassBulk carries full syncs, on connections of their own, so that
	// a follower writing a large copy holds up neither the log nor the
	// clients' forwards. The key picks the connection (the slot).
	ClassBulk
	// ClassUnit carries the requests of units over several nodes (ULOCK,
	// UPREPARE, UDECIDE, UAPPLY, ...), on connections of their own: a
	// forwarded command waiting for a slot a unit holds must never stand
	// between the unit and the request that ends it. The key picks the
	// connection.
	ClassUnit
	// ClassUnitWait carries the ULOCKs that wait for busy slots (the
	// try of a unit after one that found a slot busy), each on a
	// connection of its own for its round trip (an Exclusive pool): the
	// peer answers a connection's requests in order, and a ULOCK waiting
	// there must hold up neither another unit's wait nor the UAPPLY that
	// frees what it waits for. The key is not used.
	ClassUnitWait
	// ClassPubsub carries pub/sub (PSPUB, PSINTEREST, PSSTATE, PSQUERY),
	// on connections of its own whose requests are answered without
	// waiting for anything: a node may wait for its messages' delivery
	// from any goroutine, a peer link's included (keyspace events of a
	// forwarded command or a unit's part), and never behind a request that
	// waits. The key picks the connection (0: one node's messages arrive
	// in the order sent).
	ClassPubsub
)

// LinksConfig tunes Links.
type LinksConfig struct {
	// Self is this node's id, sent with PEERAUTH.
	Self string
	// MaxForwardReply bounds one reply of ClassForward (a client's
	// command's reply). Default 1 GiB.
	MaxForwardReply int64
	// TLS, when set, is what every connection dials the peers' ports
	// with (mutual TLS, --tls-cluster).
	TLS *tls.Config
}

// Links are a node's connections to its peers, one Pool per group of
// classes: the forward pool; the raft pool (ClassRaft on its first
// connection to a peer, ClassRaftSnapshot on its second); the bulk pool;
// the unit pool; the unit-wait pool (a connection a request, 4 kept idle);
// the pub/sub pool.
// Replies of the raft and bulk pools are bounded by 1 MiB (their requests
// are answered +OK or a position). Safe for concurrent use.
type Links struct {
	fwd, raft, bulk, unit, unitWait, pubsub *Pool
}

// NewLinks returns links with no connections yet.
func NewLinks(cfg LinksConfig) *Links {
	c := func(pc Config) Config { pc.Self, pc.TLS = cfg.Self, cfg.TLS; return pc }
	return &Links{
		fwd:  NewPool(c(Config{MaxReply: cfg.MaxForwardReply})),
		raft: NewPool(c(Config{MaxReply: 1 << 20})),
		bulk: NewPool(c(Config{MaxReply: 1 << 20})),
		unit: NewPool(c(Config{MaxReply: cfg.MaxForwardReply})),
		// A connection a request: the waits of different units on one
		// peer never queue behind each other.
		unitWait: NewPool(c(Config{MaxReply: cfg.MaxForwardReply, ConnsPerPeer: 4, Exclusive: true})),
		pubsub:   NewPool(c(Config{MaxReply: cfg.MaxForwardReply})),
	}
}

// Do sends req to the peer at addr on the connections of class (key picks
// one where the class says so) and returns the future reply.
func (l *Links) Do(addr string, class Class, key uint32, req Request) *Future {
	switch class {
	case ClassRaft:
		return l.raft.Do(addr, 0, req.Args())
	case ClassRaftSnapshot:
		return l.raft.Do(addr, 1, req.Args())
	case ClassBulk:
		return l.bulk.Do(addr, key, req.Args())
	case ClassUnit:
		return l.unit.Do(addr, key, req.Args())
	case ClassUnitWait:
		return l.unitWait.Do(addr, key, req.Args())
	case ClassPubsub:
		return l.pubsub.Do(addr, key, req.Args())
	}
	return l.fwd.Do(addr, key, req.Args())
}

// SetSecret sets the cluster secret used by new connections.
func (l *Links) SetSecret(s string) {
	l.fwd.SetSecret(s)
	l.raft.SetSecret(s)
	l.bulk.SetSecret(s)
	l.unit.SetSecret(s)
	l.unitWait.SetSecret(s)
	l.pubsub.SetSecret(s)
}

// Close closes every connection; their requests fail.
func (l *Links) Close() {
	l.fwd.Close()
	l.raft.Close()
	l.bulk.Close()
	l.unit.Close()
	l.unitWait.Close()
	l.pubsub.Close()
}
