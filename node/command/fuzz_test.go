package command

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/node/resp"
)

// validReply reports whether b is exactly one well-formed RESP2 reply.
func validReply(b []byte) bool {
	rest, ok := skipReply(b)
	return ok && len(rest) == 0
}

func skipReply(b []byte) ([]byte, bool) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return nil, false
	}
	line, rest := b[1:i], b[i+2:]
	switch b[0] {
	case '+', '-':
		return rest, !bytes.ContainsAny(line, "\r\n")
	case ':':
		_, ok := resp.ParseInt(line)
		return rest, ok
	case '$':
		n, ok := resp.ParseInt(line)
		if !ok || n < -1 {
			return nil, false
		}
		if n == -1 {
			return rest, true
		}
		if int64(len(rest)) < n+2 || string(rest[n:n+2]) != "\r\n" {
			return nil, false
		}
		return rest[n+2:], true
	case '*':
		n, ok := resp.ParseInt(line)
		if !ok || n < -1 {
			return nil, false
		}
		for j := int64(0); j < n; j++ {
			if rest, ok = skipReply(rest); !ok {
				return nil, false
			}
		}
		return rest, true
	}
	return nil, false
}

// FuzzCommands runs arbitrary argument lists through the command layer on
// a real engine, with a tiny keyspace so types collide: no command may
// panic (Run turns a panic into "internal error") and every reply must be
// one well-formed RESP reply.
func FuzzCommands(f *testing.F) {
	seeds := []string{
		"set\x00a\x001", "incr\x00a", "lpush\x00b\x00x\x00y", "hset\x00c\x00f\x00v", "sadd\x00d\x00m",
		"zadd\x00e\x001.5\x00m", "zrange\x00e\x000\x00-1\x00withscores", "expire\x00a\x00-1", "getrange\x00a\x00-100\x00100",
		"setrange\x00a\x005\x00xx", "bitpos\x00a\x001\x002\x00-1\x00bit", "scan\x000\x00count\x001", "rename\x00b\x00c",
		"zunionstore\x00e\x002\x00e\x00d", "lpos\x00b\x00x\x00rank\x00-1", "hrandfield\x00c\x00-5\x00withvalues",
		"spop\x00d\x003", "linsert\x00b\x00before\x00x\x00z", "zrangebylex\x00e\x00[a\x00(z", "set\x00a\x00b\x00px\x0010\x00get",
		"bitfield\x00a\x00overflow\x00sat\x00incrby\x00i5\x00#3\x00-100\x00get\x00u63\x000", "bitop\x00xor\x00a\x00b\x00c",
		"lcs\x00a\x00b\x00idx\x00minmatchlen\x002\x00withmatchlen",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	n := newTestNode(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		parts := bytes.Split(in, []byte{0})
		if len(parts) == 0 || len(parts) > 64 {
			return
		}
		spec := n.tbl.Lookup(parts[0])
		if spec == nil || spec.Name == "flushall" || spec.Name == "flushdb" {
			return
		}
		if !spec.ArityOK(len(parts)) {
			return
		}
		// Keep keys in a small set so commands meet each other's types.
		if keys, err := spec.KeysOf(parts); err == nil {
			for _, k := range keys {
				if len(k) > 1 {
					k[0] = 'a' + k[0]%5
				}
			}
		}
		var r resp.Reply
		Run(spec, &Ctx{Args: parts, R: &r, Engine: n.eng, Table: 0, Slots: 1024, Cursors: n.cursors})
		if strings.Contains(string(r.B), "internal error") {
			t.Fatalf("%q: %s", in, r.B)
		}
		if !validReply(r.B) {
			t.Fatalf("%q: malformed reply %q", in, r.B)
		}
	})
}
