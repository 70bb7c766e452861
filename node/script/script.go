package script

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Flags are the flags a script's shebang line declares
// (`#!lua flags=no-writes,allow-oom`).
type Flags uint8

const (
	// NoWrites: the script may not call write commands (as EVAL_RO).
	NoWrites Flags = 1 << iota
	// AllowOOM: accepted (pika-node has no maxmemory refusals).
	AllowOOM
	// AllowStale: accepted.
	AllowStale
	// NoCluster: accepted (pika-node presents one Redis).
	NoCluster
	// AllowCrossSlot: accepted (every script may cross slots here).
	AllowCrossSlot
)

var flagNames = map[string]Flags{
	"no-writes":             NoWrites,
	"allow-oom":             AllowOOM,
	"allow-stale":           AllowStale,
	"no-cluster":            NoCluster,
	"allow-cross-slot-keys": AllowCrossSlot,
}

// Script is a compiled script: immutable, shared by every Lua state that
// runs it.
type Script struct {
	// SHA is the lower-case hex SHA1 of Body, the script's name.
	SHA string
	// Body is the script's source as the client sent it.
	Body string
	// Shebang: the body starts with a `#!lua` line; Flags are its flags.
	// A script without one may do anything (Redis's compatibility mode).
	Shebang bool
	Flags   Flags
	proto   *lua.FunctionProto
}

// ReadOnly reports whether the script declared that it does not write.
func (s *Script) ReadOnly() bool { return s.Shebang && s.Flags&NoWrites != 0 }

// SHA1Hex is the lower-case hex SHA1 of b, as redis.sha1hex and SCRIPT
// LOAD give it.
func SHA1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Error is an error reply a script's client gets (its text starts with
// its error code: "ERR ...", "NOSCRIPT ...").
type Error string

func (e Error) Error() string { return string(e) }

// chunkName is the source name errors carry ("user_script:1: ...").
const chunkName = "user_script"

// Compile compiles body, with its shebang line if it has one. The error
// is the reply EVAL and SCRIPT LOAD give: a bad shebang, or the Lua
// compiler's message.
func Compile(body []byte) (*Script, error) {
	s := &Script{SHA: SHA1Hex(body), Body: string(body)}
	src := s.Body
	if strings.HasPrefix(src, "#!") {
		line, rest, _ := strings.Cut(src, "\n")
		if err := s.parseShebang(line); err != nil {
			return nil, err
		}
		// The line is blanked, not dropped: error lines stay the body's.
		src = "\n" + rest
	}
	chunk, err := parse.Parse(strings.NewReader(src), chunkName)
	if err != nil {
		return nil, Error("ERR Error compiling script (new function): " + compileMessage(err, src))
	}
	proto, err := lua.Compile(chunk, chunkName)
	if err != nil {
		return nil, Error("ERR Error compiling script (new function): " + compileMessage(err, src))
	}
	s.proto = proto
	return s, nil
}

// parseShebang reads `#!lua [flags=a,b]`.
func (s *Script) parseShebang(line string) error {
	line = strings.TrimSuffix(line, "\r")
	fields := strings.Fields(line[2:])
	if len(fields) == 0 || fields[0] != "lua" {
		return Error("ERR Unexpected engine in script shebang: " + line)
	}
	s.Shebang = true
	for _, f := range fields[1:] {
		list, ok := strings.CutPrefix(f, "flags=")
		if !ok {
			return Error("ERR Unknown lua shebang option: " + f)
		}
		if list == "" {
			continue
		}
		for _, name := range strings.Split(list, ",") {
			flag, ok := flagNames[name]
			if !ok {
				return Error("ERR Unexpected flag in script shebang: " + name)
			}
			s.Flags |= flag
		}
	}
	return nil
}

// compileMessage words a gopher-lua compile error as Lua 5.1's
// ("user_script:1: '=' expected near 'x'") as far as it can.
func compileMessage(err error, src string) string {
	if pe, ok := err.(*parse.Error); ok {
		tok := pe.Token
		line := pe.Pos.Line
		if line < 0 { // at the end
			line = strings.Count(src, "\n") + 1
			tok = "<eof>"
		}
		if tok == "" || tok == "EOF" {
			tok = "<eof>"
		} else {
			tok = "'" + tok + "'"
		}
		msg := strings.TrimSpace(pe.Message)
		if msg == "" || msg == "syntax error" {
			msg = "unexpected symbol"
		}
		return fmt.Sprintf("%s:%d: %s near %s", chunkName, line, msg, tok)
	}
	msg := err.Error()
	// "<name> line:N(column:M) ..." -> "<name>:N: ..."
	if i := strings.Index(msg, " line:"); i >= 0 {
		rest := msg[i+len(" line:"):]
		if j := strings.IndexByte(rest, '('); j > 0 {
			if k := strings.Index(rest, ")"); k > j {
				return fmt.Sprintf("%s:%s:%s", chunkName, rest[:j], rest[k+1:])
			}
		}
	}
	return msg
}
