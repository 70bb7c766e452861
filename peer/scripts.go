package peer

// The requests of the cluster's one script cache (docs/scripting.md, "The
// script cache"): a node asks its peers for a script it lacks, and SCRIPT
// FLUSH empties every node's cache.

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
