package peer

import "strconv"

// The requests of the cluster's one script cache (docs/scripting.md, "The
// script cache"): a node asks its peers for a script it lacks, and SCRIPT
// FLUSH empties every node's cache; and of the FUNCTION libraries, which
// every node has once a change of them is answered.

// ScriptFetch asks a peer for the body of a cached script:
//
//	USCRIPT <sha> -> $<body>, or $-1 when the peer does not have it
type ScriptFetch struct{ SHA string }

func (ScriptFetch) Name() string { return "USCRIPT" }

func (r ScriptFetch) Args() [][]byte { return [][]byte{[]byte(r.Name()), []byte(r.SHA)} }

// ParseScriptFetch reads a USCRIPT.
func ParseScriptFetch(args [][]byte) (ScriptFetch, error) {
	sha, err := parseUnitID("USCRIPT", args)
	return ScriptFetch{SHA: sha}, err
}

// ScriptFlush empties a peer's script cache:
//
//	USCRIPTFLUSH -> +OK
type ScriptFlush struct{}

func (ScriptFlush) Name() string { return "USCRIPTFLUSH" }

func (r ScriptFlush) Args() [][]byte { return [][]byte{[]byte(r.Name())} }

// ParseScriptFlush reads a USCRIPTFLUSH.
func ParseScriptFlush(args [][]byte) (ScriptFlush, error) {
	if len(args) != 1 {
		return ScriptFlush{}, malformed("USCRIPTFLUSH")
	}
	return ScriptFlush{}, nil
}

// FunctionsAt asks a peer to have the cluster's FUNCTION libraries as of
// the store's revision rev at least (reading them from the store if its
// own are older) before it answers, so that an FCALL it runs after a
// FUNCTION LOAD answered sees the library:
//
//	UFUNCTIONS <rev> -> +OK
type FunctionsAt struct{ Revision int64 }

func (FunctionsAt) Name() string { return "UFUNCTIONS" }

func (r FunctionsAt) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), strconv.AppendInt(nil, r.Revision, 10)}
}

// ParseFunctionsAt reads a UFUNCTIONS.
func ParseFunctionsAt(args [][]byte) (FunctionsAt, error) {
	if len(args) != 2 {
		return FunctionsAt{}, malformed("UFUNCTIONS")
	}
	rev, err := strconv.ParseInt(string(args[1]), 10, 64)
	if err != nil || rev < 0 {
		return FunctionsAt{}, malformed("UFUNCTIONS")
	}
	return FunctionsAt{Revision: rev}, nil
}

// ScriptKill asks a peer to stop the script (Eval) or function it runs,
// as SCRIPT KILL or FUNCTION KILL would there:
//
//	USCRIPTKILL eval|function -> +OK | -NOTBUSY ... | -UNKILLABLE ... | -BUSY ...
type ScriptKill struct{ Eval bool }

func (ScriptKill) Name() string { return "USCRIPTKILL" }

func (r ScriptKill) Args() [][]byte {
	kind := "function"
	if r.Eval {
		kind = "eval"
	}
	return [][]byte{[]byte(r.Name()), []byte(kind)}
}

// ParseScriptKill reads a USCRIPTKILL.
func ParseScriptKill(args [][]byte) (ScriptKill, error) {
	if len(args) != 2 || string(args[1]) != "eval" && string(args[1]) != "function" {
		return ScriptKill{}, malformed("USCRIPTKILL")
	}
	return ScriptKill{Eval: string(args[1]) == "eval"}, nil
}
