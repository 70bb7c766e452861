package peer

import (
	"bytes"
	"strconv"

	"github.com/pika-node/pika-node/storage/keyspace"
)

// The error replies of the protocol have types, so that callers in other
// packages ask errors.As, never a string prefix: a peer answers an error
// value's Reply() text, and ReplyErr turns the raw reply back into the
// value.

// Wire prefixes of the typed error replies.
const (
	refusedWord = "PIKAREFUSE"
	gapWord     = "REPLGAP"
	busyWord    = "PIKABUSY"
	watchedWord = "PIKAWATCHED"
)

// WatchedError answers a ULOCK whose WATCH token names a key that changed
// since the WATCH (or a registration the peer no longer holds): the peer
// holds nothing, and EXEC answers nil. Wire: "-PIKAWATCHED <reason>".
type WatchedError struct {
	Reason string
}

func (e *WatchedError) Error() string { return "a watched key changed: " + e.Reason }

// Reply is the error reply's text, "PIKAWATCHED <reason>".
func (e *WatchedError) Reply() string { return watchedWord + " " + e.Reason }

// BusyError answers a ULOCK whose slots another unit or command holds:
// the peer holds nothing, and the asker backs off and tries again. Wire:
// "-PIKABUSY <reason>".
type BusyError struct {
	Reason string
}

func (e *BusyError) Error() string { return "busy: " + e.Reason }

// Reply is the error reply's text, "PIKABUSY <reason>".
func (e *BusyError) Reply() string { return busyWord + " " + e.Reason }

// RefusedError is a request the peer did not run because its routing
// differs from the asker's: it does not lead the slot at that epoch, the
// slot's raft leader moved, the table is unknown there, ... Nothing ran,
// so the asker may wait for newer routing and send it again (a write
// too). Wire: "-PIKAREFUSE <reason>".
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "refused by the peer: " + e.Reason }

// Reply is the error reply's text, "PIKAREFUSE <reason>", as
// resp.Reply.Error takes it (without the '-' and the CRLF).
func (e *RefusedError) Reply() string { return refusedWord + " " + e.Reason }

// Refuse is the error reply refusing a request for reason: the asker
// routes it again (RefusedError's Reply).
func Refuse(reason string) string { return (&RefusedError{Reason: reason}).Reply() }

// GapError answers REPLICATE entries that do not follow the follower's
// last one: the leader resends from Last+1. Wire: "-REPLGAP <last>".
type GapError struct {
	Last keyspace.LogIndex
}

func (e *GapError) Error() string {
	return "the follower's log ends at " + strconv.FormatUint(uint64(e.Last), 10)
}

// Reply is the error reply's text, "REPLGAP <last>".
func (e *GapError) Reply() string { return gapWord + " " + strconv.FormatUint(uint64(e.Last), 10) }

// RequestError is a request the peer could not take: unknown, or with
// arguments missing or malformed. Wire: "-ERR <msg>".
type RequestError struct {
	Msg string
}

func (e *RequestError) Error() string { return e.Msg }

// Reply is the error reply's text, "ERR <msg>".
func (e *RequestError) Reply() string { return "ERR " + e.Msg }

// ReplyError is any other error reply from a peer; Msg is its text
// without the '-' (e.g. "ERR full sync: ...").
type ReplyError struct {
	Msg string
}

func (e *ReplyError) Error() string { return e.Msg }

// Reply is the error reply's text, unchanged.
func (e *ReplyError) Reply() string { return e.Msg }

// ReplyErr returns the error a raw reply carries: nil when it is not an
// error reply, a *RefusedError for "-PIKAREFUSE ...", a *GapError for
// "-REPLGAP <n>", a *ReplyError for any other.
func ReplyErr(raw []byte) error {
	if !IsError(raw) {
		return nil
	}
	text := bytes.TrimSuffix(raw[1:], []byte("\r\n"))
	word, rest, _ := bytes.Cut(text, []byte(" "))
	switch string(word) {
	case refusedWord:
		return &RefusedError{Reason: string(rest)}
	case busyWord:
		return &BusyError{Reason: string(rest)}
	case watchedWord:
		return &WatchedError{Reason: string(rest)}
	case gapWord:
		if v, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64); err == nil {
			return &GapError{Last: keyspace.LogIndex(v)}
		}
	}
	return &ReplyError{Msg: string(text)}
}

// ErrorReply returns the error reply's text (as resp.Reply.Error takes
// it) that answers err: the typed errors' Reply(), "ERR <err>" for any
// other.
func ErrorReply(err error) string {
	if r, ok := err.(interface{ Reply() string }); ok {
		return r.Reply()
	}
	return "ERR " + err.Error()
}
