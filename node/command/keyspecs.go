package command

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Which arguments of a command line are keys, for ACL checks, as
// redis-server 7.0 finds them (db.c getKeysFromCommandWithSpecs): from the
// command's key specs (keyspecs_redis.go, generated from redis-server's
// COMMAND INFO), falling back to the command's getkeys procedure when the
// specs cannot be trusted for these arguments.
//
// This is Redis's view of the commands, not our table's (Spec.FirstKey and
// Spec.Keys route commands to slots): an ACL must deny exactly what
// redis-server denies, so it reads the keys the way redis-server does,
// quirks included (see KeysForACL).

// keySpecFlags are a key spec's flags, as COMMAND INFO names them.
type keySpecFlags uint16

const (
	ksRO keySpecFlags = 1 << iota
	ksRW
	ksOW
	ksRM
	ksAccess
	ksUpdate
	ksInsert
	ksDelete
	ksNotKey
	ksIncomplete
	ksVariableFlags
)

// beginSearch is where a key spec starts looking: at an index, or after a
// keyword searched from startFrom (negative: from the end, backwards).
type beginSearch struct {
	kind      int // bsIndex, bsKeyword, bsUnknown
	pos       int
	keyword   string
	startFrom int
}

const (
	bsUnknown = iota
	bsIndex
	bsKeyword
)

// findKeys is how many keys a spec finds from where its search began:
// a range (lastKey relative to the start, or from the end when negative;
// with limit, only 1/limit of the remaining arguments), or a count held
// in an argument (keynum).
type findKeys struct {
	kind                 int // fkRange, fkKeynum, fkUnknown
	lastKey, step, limit int
	keyNumIdx, firstKey  int
}

const (
	fkUnknown = iota
	fkRange
	fkKeynum
)

// keySpec is one key spec of a command, as COMMAND INFO shows it.
type keySpec struct {
	flags keySpecFlags
	begin beginSearch
	find  findKeys
}

// KeyRef is a key argument of a command line and what the command does
// with it, in the terms of Redis 7.0's ACL key patterns: Read for a key
// spec's ACCESS flag (%R~), Write for INSERT, DELETE or UPDATE (%W~). A
// key found by a getkeys procedure that gives no flags (as Redis's
// genericGetKeys, GEORADIUS's and XREAD's do) has neither, and then any
// key pattern that matches its name allows it, as in Redis.
type KeyRef struct {
	Index       int // into the command line, 0 being the command's name
	Read, Write bool
}

func (f keySpecFlags) ref(i int) KeyRef {
	return KeyRef{Index: i, Read: f&ksAccess != 0, Write: f&(ksInsert|ksDelete|ksUpdate) != 0}
}

// KeysForACL returns the keys of a command line that redis-server 7.0's
// ACL check looks at (getKeysFromCommandWithSpecs), in its order. name is
// the command's Redis name, lower case, "container|sub" for a subcommand
// (RedisCommandName finds it); args is the whole command line, args[0]
// being the command as sent. A name Redis 7.0 does not know has no keys.
//
// As in Redis: specs flagged NOT_KEY (SPUBLISH's shard channel) are not
// keys; when a spec is unusable for these arguments (a keyword found at the
// end, a key count that is not a number or runs past the arguments, an
// INCOMPLETE or unknown spec) or a spec has VARIABLE_FLAGS, the whole
// answer comes from the command's getkeys procedure instead (SET, BITFIELD,
// SORT, SORT_RO, MIGRATE with KEYS, GEORADIUS*, XREAD*, EVAL*, FCALL*, the
// Z*STORE, ZUNION/ZINTER/ZDIFF/ZINTERCARD, SINTERCARD and the *MPOP
// family), or is empty when there is none. A range that runs past the
// arguments stops at their end. The arity is not checked here: Redis checks
// it before its ACLs, and its answers for a wrong arity are not a contract.
func KeysForACL(name string, args [][]byte) []KeyRef {
	specs := redisKeySpecs[name]
	proc := getKeysProc(name)
	hasKeySpec, varFlags := false, false
	for _, s := range specs {
		hasKeySpec = hasKeySpec || s.flags&ksNotKey == 0
		varFlags = varFlags || s.flags&ksVariableFlags != 0
	}
	if hasKeySpec && !varFlags {
		if keys, ok := keysFromSpecs(specs, args); ok {
			return keys
		}
	}
	if proc != nil {
		return proc(args)
	}
	return nil
}

// keysFromSpecs is Redis's getKeysUsingKeySpecs: ok is false when a spec
// cannot be used for these arguments (then Redis asks the getkeys
// procedure). Redis computes positions in C ints; a key count is cast to
// int, so the arithmetic here is int32's, wrapping where Redis's does.
func keysFromSpecs(specs []keySpec, args [][]byte) (keys []KeyRef, ok bool) {
	argc := int32(len(args))
	for _, s := range specs {
		if s.flags&ksNotKey != 0 {
			continue
		}
		var first int32
		switch s.begin.kind {
		case bsIndex:
			first = int32(s.begin.pos)
		case bsKeyword:
			first = keywordSearch(s.begin, args)
			if first == 0 {
				continue // keyword absent: this spec has no keys
			}
		default:
			return nil, false
		}
		var last, step int32
		switch s.find.kind {
		case fkRange:
			step = int32(s.find.step)
			switch lk := int32(s.find.lastKey); {
			case lk >= 0:
				last = first + lk
			case s.find.limit == 0:
				last = argc + lk
			default: // Redis asserts lastKey is -1 here
				last = first + ((argc-first)/int32(s.find.limit) + lk)
			}
		case fkKeynum:
			step = int32(s.find.step)
			// Redis compares the relative index with argc; the absolute
			// one is checked too, where Redis would read past argv (never
			// after its arity check).
			idx := first + int32(s.find.keyNumIdx)
			if int32(s.find.keyNumIdx) >= argc || idx >= argc {
				return nil, false
			}
			n, err := string2ll(args[idx])
			if err || n < 0 {
				return nil, false
			}
			first += int32(s.find.firstKey)
			last = first + int32(n) - 1
		default:
			return nil, false
		}
		if last >= argc || last < first || first >= argc || step < 1 {
			return nil, false // step < 1: no such spec in Redis 7.0; never loop on one
		}
		for i := first; i <= last; i += step {
			if i >= argc || i < first {
				// Past the end (or wrapped): Redis skips it for a command
				// of variable arity, and has no other kind with specs
				// that could get here after its arity check.
				continue
			}
			keys = append(keys, s.flags.ref(int(i)))
		}
		if s.flags&ksIncomplete != 0 {
			return nil, false
		}
	}
	return keys, true
}

// keywordSearch returns the index after the spec's keyword, or 0 when it
// is absent. A positive startFrom searches forward from there, up to but
// not including the last argument; a negative one backwards from
// len(args)+startFrom down to 2 (index 1 is never looked at), as Redis's
// loop does.
func keywordSearch(b beginSearch, args [][]byte) int32 {
	argc := int32(len(args))
	from := int32(b.startFrom)
	start, end := from, argc-1
	if from <= 0 {
		start, end = argc+from, 1
	}
	for i := start; i != end; {
		if i >= argc || i < 1 {
			break
		}
		if strcaseEqual(args[i], b.keyword) {
			return i + 1
		}
		if start <= end {
			i++
		} else {
			i--
		}
	}
	return 0
}

// cstr is b as C code sees it: up to its first NUL byte. Redis compares
// arguments with strcasecmp and reads numbers with atoi, which stop there.
func cstr(b []byte) []byte {
	if i := slices.Index(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// strcaseEqual is C's strcasecmp(arg, word) == 0, arg read as C reads it.
func strcaseEqual(arg []byte, word string) bool { return EqualFoldASCII(cstr(arg), word) }

// string2ll is Redis's strict integer parse (util.c string2ll): no sign
// but '-', no leading zero, no spaces, at most 20 characters.
func string2ll(b []byte) (n int64, failed bool) {
	if len(b) == 0 || len(b) >= 21 {
		return 0, true
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, false
	}
	digits := b
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] < '1' || digits[0] > '9' {
		return 0, true
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err != nil
}

// atoi is C's atoi as glibc has it: (int)strtol(s, NULL, 10), so leading
// spaces and a sign are read, reading stops at the first non-digit, and a
// value past the long range saturates before the cast to int truncates it.
func atoi(b []byte) int32 {
	s := cstr(b)
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v uint64
	const limit = 1 << 63
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v <= limit {
			v = v*10 + uint64(s[i]-'0')
		}
	}
	var l int64
	switch {
	case neg && v >= limit:
		l = -limit
	case neg:
		l = -int64(v)
	case v >= limit:
		l = limit - 1
	default:
		l = int64(v)
	}
	return int32(l)
}

// getKeysProc returns the getkeys procedure redis-server 7.0 has for a
// command (db.c), or nil: Redis asks it when the key specs are unusable.
func getKeysProc(name string) func(args [][]byte) []KeyRef {
	switch name {
	case "set":
		return setGetKeys
	case "bitfield":
		return bitfieldGetKeys
	case "sort":
		return sortGetKeys
	case "sort_ro":
		return func([][]byte) []KeyRef { return []KeyRef{(ksRO | ksAccess).ref(1)} }
	case "migrate":
		return migrateGetKeys
	case "georadius", "georadiusbymember":
		return georadiusGetKeys
	case "xread", "xreadgroup":
		return xreadGetKeys
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "blmpop", "bzmpop":
		return genericGetKeys(0, 2, 3)
	case "zunionstore", "zinterstore", "zdiffstore":
		return genericGetKeys(1, 2, 3)
	case "zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop":
		return genericGetKeys(0, 1, 2)
	}
	return nil
}

// genericGetKeys is Redis's procedure for a key count at countAt and the
// keys after it from firstAt (then the destination at storeAt, when not
// 0). A count that atoi reads below 1 or past the arguments gives no keys.
// It gives no flags.
func genericGetKeys(storeAt, countAt, firstAt int) func(args [][]byte) []KeyRef {
	return func(args [][]byte) []KeyRef {
		if countAt >= len(args) {
			return nil
		}
		num := int(atoi(args[countAt]))
		if num < 1 || num > (len(args)-firstAt) {
			return nil
		}
		keys := make([]KeyRef, 0, num+1)
		for i := range num {
			keys = append(keys, KeyRef{Index: firstAt + i})
		}
		if storeAt != 0 {
			keys = append(keys, KeyRef{Index: storeAt})
		}
		return keys
	}
}

// setGetKeys: SET reads its key too when it has GET.
func setGetKeys(args [][]byte) []KeyRef {
	for _, a := range args[min(3, len(args)):] {
		if strcaseEqual(a, "get") {
			return []KeyRef{(ksRW | ksAccess | ksUpdate).ref(1)}
		}
	}
	return []KeyRef{(ksOW | ksUpdate).ref(1)}
}

// bitfieldGetKeys: BITFIELD only reads unless it has SET or INCRBY (or
// anything Redis cannot parse, taken as a write to be safe).
func bitfieldGetKeys(args [][]byte) []KeyRef {
	readonly := true
	for i := 2; i < len(args); i++ {
		rem := len(args) - i - 1
		switch a := args[i]; {
		case strcaseEqual(a, "get") && rem >= 2:
			i += 2
		case (strcaseEqual(a, "set") || strcaseEqual(a, "incrby")) && rem >= 3:
			readonly = false
			i = len(args)
		case strcaseEqual(a, "overflow") && rem >= 1:
			i++
		default:
			readonly = false
			i = len(args)
		}
	}
	if readonly {
		return []KeyRef{(ksRO | ksAccess).ref(1)}
	}
	return []KeyRef{(ksRW | ksAccess | ksUpdate).ref(1)}
}

// sortGetKeys: the sorted key, then the destination of the last STORE
// that has one. LIMIT, GET and BY skip their arguments, so a STORE there
// is not one.
func sortGetKeys(args [][]byte) []KeyRef {
	keys := []KeyRef{(ksRO | ksAccess).ref(1)}
	store := -1
	for i := 2; i < len(args); i++ {
		switch a := args[i]; {
		case strcaseEqual(a, "limit"):
			i += 2
		case strcaseEqual(a, "get"), strcaseEqual(a, "by"):
			i++
		case strcaseEqual(a, "store") && i+1 < len(args):
			store = i + 1
		}
	}
	if store >= 0 {
		keys = append(keys, (ksOW | ksUpdate).ref(store))
	}
	return keys
}

// migrateGetKeys: the key at 3, or the keys after KEYS (none when the key
// at 3 is not empty, which MIGRATE rejects).
func migrateGetKeys(args [][]byte) []KeyRef {
	first, num := 3, 1
	if len(args) > 6 {
	scan:
		for i := 6; i < len(args); i++ {
			switch a := args[i]; {
			case strcaseEqual(a, "keys"):
				if len(cstr(args[3])) > 0 {
					num = 0
				} else {
					first, num = i+1, len(args)-i-1
				}
				break scan
			case strcaseEqual(a, "auth"):
				i++
			case strcaseEqual(a, "auth2"):
				i += 2
			}
		}
	}
	keys := make([]KeyRef, 0, num)
	for i := range num {
		keys = append(keys, (ksRW | ksAccess | ksDelete).ref(first+i))
	}
	return keys
}

// georadiusGetKeys: the key at 1, then the destination after the last
// STORE or STOREDIST from index 5 on. No flags.
func georadiusGetKeys(args [][]byte) []KeyRef {
	stored := -1
	for i := 5; i < len(args); i++ {
		if (strcaseEqual(args[i], "store") || strcaseEqual(args[i], "storedist")) && i+1 < len(args) {
			stored = i + 1
			i++
		}
	}
	keys := []KeyRef{{Index: 1}}
	if stored >= 0 {
		keys = append(keys, KeyRef{Index: stored})
	}
	return keys
}

// xreadGetKeys: the first half of the arguments after STREAMS, once the
// options before it parse (none for a syntax error or an odd count). No
// flags.
func xreadGetKeys(args [][]byte) []KeyRef {
	streams := -1
scan:
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case strcaseEqual(a, "block"), strcaseEqual(a, "count"):
			i++
		case strcaseEqual(a, "group"):
			i += 2
		case strcaseEqual(a, "noack"):
		case strcaseEqual(a, "streams"):
			streams = i
			break scan
		default:
			break scan
		}
	}
	if streams < 0 {
		return nil
	}
	num := len(args) - streams - 1
	if num == 0 || num%2 != 0 {
		return nil
	}
	keys := make([]KeyRef, 0, num/2)
	for i := streams + 1; i < len(args)-num/2; i++ {
		keys = append(keys, KeyRef{Index: i})
	}
	return keys
}

// KnownCommand reports whether redis-server 7.0 has the command or
// subcommand name (lower case, "config|get" for a subcommand).
func KnownCommand(name string) bool {
	_, ok := redisCategories[name]
	return ok
}

// RedisCommandNames lists, sorted, every command and subcommand
// ("config|get") redis-server 7.0 has.
func RedisCommandNames() []string {
	out := make([]string, 0, len(redisCategories))
	for name := range redisCategories {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// SubcommandsOf lists, sorted, the subcommands ("config|get") redis-server
// 7.0 has for the command cmd (lower case); none for a command without.
func SubcommandsOf(cmd string) []string {
	var out []string
	for name := range redisCategories {
		if top, _, ok := strings.Cut(name, "|"); ok && top == cmd {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// NoAuthCommand reports whether redis-server 7.0 flags the command no_auth
// (AUTH, HELLO, QUIT, RESET): Redis's ACLs let every user run those.
func NoAuthCommand(name string) bool { return redisNoAuth[name] }

// RedisCommandName is the name redis-server 7.0 gives the command a
// command line runs (its lookupCommand): the first argument in lower case
// (ASCII only, as Redis compares), or "container|sub" when the command has
// subcommands and a second argument. ok is false for a command, or a
// container's subcommand, that Redis 7.0 does not have; name is then what
// the name would be.
func RedisCommandName(args [][]byte) (name string, ok bool) {
	if len(args) == 0 {
		return "", false
	}
	name = LowerASCII(args[0])
	if !KnownCommand(name) {
		return name, false
	}
	if len(args) > 1 && isContainer(name) {
		name += "|" + LowerASCII(args[1])
		return name, KnownCommand(name)
	}
	return name, true
}

// isContainer reports whether Redis 7.0's command name has subcommands.
func isContainer(name string) bool { return redisContainers()[name] }

// redisContainers are the commands of redisCategories that have
// subcommands, computed once: RedisCommandName runs for every command an
// ACL checks.
var redisContainers = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	for n := range redisCategories {
		if top, _, ok := strings.Cut(n, "|"); ok {
			out[top] = true
		}
	}
	return out
})
