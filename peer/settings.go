package peer

// The requests that carry a node-wide setting to every other live node,
// so that it holds everywhere when the client's command answers: a
// cluster-wide CONFIG parameter (also kept in etcd for the nodes that
// start later) and CLIENT PAUSE / UNPAUSE. They travel on ClassPubsub
// (answered at once).

// ConfigSet gives a cluster-wide CONFIG parameter its new value, written
// to etcd at Revision (a node applies no value older than one it has):
//
//	CFGSET <name> <value> <revision> -> +OK
type ConfigSet struct {
	Param    string
	Value    string
	Revision int64
}

func (ConfigSet) Name() string { return "CFGSET" }

func (r ConfigSet) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), []byte(r.Param), []byte(r.Value), u64(uint64(r.Revision))}
}

// ParseConfigSet reads a CFGSET.
func ParseConfigSet(args [][]byte) (ConfigSet, error) {
	if len(args) != 4 {
		return ConfigSet{}, malformed("CFGSET")
	}
	rev, ok := parseU64(args[3])
	if !ok {
		return ConfigSet{}, malformed("CFGSET")
	}
	return ConfigSet{Param: string(args[1]), Value: string(args[2]), Revision: int64(rev)}, nil
}

// PauseMode is what a CLIENT PAUSE holds up.
type PauseMode byte

const (
	PauseOff   PauseMode = 'o' // CLIENT UNPAUSE
	PauseWrite PauseMode = 'w'
	PauseAll   PauseMode = 'a'
)

// ClientPause pauses a node's clients until a time (Unix milliseconds),
// or ends its pause (PauseOff):
//
//	CPAUSE <until-ms> <o|w|a> -> +OK
type ClientPause struct {
	UntilMS uint64
	Mode    PauseMode
}

func (ClientPause) Name() string { return "CPAUSE" }

func (r ClientPause) Args() [][]byte {
	return [][]byte{[]byte(r.Name()), u64(r.UntilMS), {byte(r.Mode)}}
}

// ParseClientPause reads a CPAUSE.
func ParseClientPause(args [][]byte) (ClientPause, error) {
	if len(args) != 3 || len(args[2]) != 1 {
		return ClientPause{}, malformed("CPAUSE")
	}
	until, ok := parseU64(args[1])
	if !ok {
		return ClientPause{}, malformed("CPAUSE")
	}
	switch m := PauseMode(args[2][0]); m {
	case PauseOff, PauseWrite, PauseAll:
		return ClientPause{UntilMS: until, Mode: m}, nil
	}
	return ClientPause{}, malformed("CPAUSE")
}
