package slowlog

import "github.com/pika-node/pika-node/node/command"

// redacted replaces a secret argument, as Redis shows it.
var redacted = []byte("(redacted)")

// sensitiveConfigs are the parameters whose CONFIG SET value Redis 7.0
// hides (its SENSITIVE_CONFIG flag).
var sensitiveConfigs = []string{"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"}

// Redact returns args with the arguments Redis 7.0 hides from the slow log
// (and MONITOR) replaced: AUTH's, HELLO's AUTH pair, ACL SETUSER's rules,
// CONFIG SET's sensitive values, MIGRATE's AUTH and AUTH2. args itself is
// left alone; the result shares its unredacted arguments.
func Redact(args [][]byte) [][]byte {
	if len(args) < 2 {
		return args
	}
	var hide func(i int) bool
	switch {
	case command.IsArg(args[0], "auth"):
		hide = func(i int) bool { return i >= 1 }
	case command.IsArg(args[0], "hello"):
		hide = afterOption(args, 2, "auth", 2)
	case command.IsArg(args[0], "acl") && command.IsArg(args[1], "setuser"):
		hide = func(i int) bool { return i >= 2 }
	case command.IsArg(args[0], "config") && command.IsArg(args[1], "set"):
		hide = func(i int) bool {
			if i < 3 || (i-3)%2 != 0 {
				return false
			}
			for _, name := range sensitiveConfigs {
				if command.IsArg(args[i-1], name) {
					return true
				}
			}
			return false
		}
	case command.IsArg(args[0], "migrate"):
		auth := afterOption(args, 6, "auth", 1)
		auth2 := afterOption(args, 6, "auth2", 2)
		hide = func(i int) bool { return auth(i) || auth2(i) }
	default:
		return args
	}
	out := make([][]byte, len(args))
	for i, a := range args {
		if hide(i) {
			a = redacted
		}
		out[i] = a
	}
	return out
}

// afterOption reports the n arguments after each opt at or after from.
func afterOption(args [][]byte, from int, opt string, n int) func(int) bool {
	hidden := map[int]bool{}
	for i := from; i < len(args); i++ {
		if command.IsArg(args[i], opt) {
			for j := 1; j <= n && i+j < len(args); j++ {
				hidden[i+j] = true
			}
			i += n
		}
	}
	return func(i int) bool { return hidden[i] }
}
