package node

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/router"
)

// errDebugNotAllowed is Redis 7.0's refusal of DEBUG under
// enable-debug-command no (or local, to a client from another host).
const errDebugNotAllowed = command.Error(`ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", ` +
	`you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.`)

// debugAccepted are the DEBUG subcommands that tune a redis-server's
// internals pika-node does not have (an AOF, a cron, quicklists, reply
// buffers, RDB checksums): accepted with OK, as test harnesses send them,
// and without effect. Each maps to its arity (Redis's argc check).
var debugAccepted = map[string]func(argc int) bool{
	"set-active-expire":            func(n int) bool { return n == 3 },
	"change-repl-id":               func(n int) bool { return n == 2 },
	"reload":                       func(n int) bool { return n >= 2 },
	"loadaof":                      func(n int) bool { return n == 2 },
	"pause-cron":                   func(n int) bool { return n == 3 },
	"quicklist-packed-threshold":   func(n int) bool { return n == 3 },
	"set-skip-checksum-validation": func(n int) bool { return n == 3 },
	"aof-flush-sleep":              func(n int) bool { return n == 3 },
	"replybuffer":                  func(n int) bool { return n == 4 },
	"set-disable-deny-scripts":     func(n int) bool { return n == 3 },
}

// debugRefused are DEBUG subcommands pika-node answers with an error
// saying why: they crash or restart the process, or report structures of
// redis-server's memory that a node does not have.
var debugRefused = map[string]string{
	"segfault":                   "it would crash a node of the cluster",
	"panic":                      "it would crash a node of the cluster",
	"assert":                     "it would crash a node of the cluster",
	"oom":                        "it would crash a node of the cluster",
	"crash-and-recover":          "it would crash a node of the cluster",
	"restart":                    "it would restart a node of the cluster (use pikactl node drain and a restart)",
	"leak":                       "a node does not leak memory on request",
	"populate":                   "write the keys with MSET or a pipeline instead",
	"digest":                     "the dataset is spread over the cluster",
	"digest-value":               "not built yet",
	"object":                     "use OBJECT ENCODING, TTL and TYPE",
	"sdslen":                     "values are not SDS strings here",
	"htstats":                    "keys are in RocksDB, not in hash tables",
	"htstats-key":                "values are in RocksDB, not in hash tables",
	"listpack":                   "values are in RocksDB, not in listpacks",
	"quicklist":                  "values are in RocksDB, not in quicklists",
	"ziplist":                    "values are in RocksDB, not in ziplists",
	"structsize":                 "there are no redis-server structures here",
	"stringmatch-test":           "it tests redis-server's own matcher",
	"mallctl":                    "there is no jemalloc here",
	"mallctl-str":                "there is no jemalloc here",
	"client-eviction":            "clients are not evicted here",
	"clusterlink":                "there is no Redis Cluster bus here",
	"drop-cluster-packet-filter": "there is no Redis Cluster bus here",
	"replicate":                  "replication is by effects of commands",
	"config-rewrite-force-all":   "there is no config file to rewrite",
}

func (n *Node) registerDebugCommand() {
	n.tbl.Register(command.Spec{Name: "debug", Arity: -2, Flags: command.Admin | command.Loading | command.Stale, Handler: n.cmdDebug, Cluster: router.Server})
}

// debugAllowed applies enable-debug-command to the client.
func (n *Node) debugAllowed(cl *client) bool {
	switch n.cfg.EnableDebugCommand {
	case "yes":
		return true
	case "local":
		host, _, err := net.SplitHostPort(cl.addr)
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
	return false
}

func (n *Node) cmdDebug(c *command.Ctx) error {
	cl := connOf(c)
	if !n.debugAllowed(cl) {
		return errDebugNotAllowed
	}
	sub := strings.ToLower(string(c.Args[1]))
	argc := len(c.Args)
	wrong := command.Error("ERR unknown subcommand or wrong number of arguments for '" + string(c.Args[1]) + "'. Try DEBUG HELP.")
	if accepted, ok := debugAccepted[sub]; ok {
		if !accepted(argc) {
			return wrong
		}
		c.R.OK()
		return nil
	}
	if why, ok := debugRefused[sub]; ok {
		return command.Error("ERR DEBUG " + strings.ToUpper(sub) + " is not supported by pika-node: " + why)
	}
	switch {
	case sub == "help" && argc == 2:
		c.R.SimpleArray(debugHelp)
	case sub == "sleep" && argc == 3:
		secs := strtod(string(c.Args[2]))
		if d := time.Duration(secs * float64(time.Second)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-cl.killed:
				t.Stop()
			}
		}
		c.R.OK()
	case sub == "log" && argc == 3:
		n.log.Warn("DEBUG LOG", "client", cl.id, "message", string(c.Args[2]))
		c.R.OK()
	case sub == "error" && argc == 3:
		return command.Error(string(c.Args[2]))
	case sub == "protocol" && argc == 3:
		return debugProtocol(c)
	default:
		return wrong
	}
	return nil
}

// strtod reads s as C's strtod does for DEBUG SLEEP: the longest prefix
// that is a number, 0 when there is none.
func strtod(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	for end := len(s); end > 0; end-- {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
	}
	return 0
}

// debugProtocol is DEBUG PROTOCOL <type>: Redis 7.0's sample reply of
// each RESP3 type, and its RESP2 form.
func debugProtocol(c *command.Ctx) error {
	r := c.R
	switch strings.ToLower(string(c.Args[2])) {
	case "string":
		r.BulkString("Hello World")
	case "integer":
		r.Int(12345)
	case "double":
		r.Double([]byte("3.141"))
	case "bignum":
		const big = "1234567999999999999999999999999999999"
		if r.Resp3 {
			r.Raw([]byte("(" + big + "\r\n"))
		} else {
			r.BulkString(big)
		}
	case "null":
		r.Null()
	case "array":
		r.Array(3)
		r.Int(0)
		r.Int(1)
		r.Int(2)
	case "set":
		r.Set(3)
		r.Int(0)
		r.Int(1)
		r.Int(2)
	case "map":
		r.Map(3)
		for i := range 3 {
			r.Int(int64(i))
			r.Bool(i == 1)
		}
	case "attrib":
		if r.Resp3 {
			r.Raw([]byte("|1\r\n"))
			r.BulkString("key-popularity")
			r.Array(2)
			r.BulkString("key:123")
			r.Int(90)
		}
		r.BulkString("Some real reply following the attribute")
	case "push":
		if !r.Resp3 {
			return command.Error("ERR RESP2 is not supported by this command")
		}
		r.Push(2)
		r.BulkString("server-cpu-usage")
		r.Int(42)
		r.BulkString("Some real reply following the push reply")
	case "verbatim":
		r.Verbatim("This is a verbatim\nstring")
	case "true":
		r.Bool(true)
	case "false":
		r.Bool(false)
	default:
		return command.Error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
	}
	return nil
}

var debugHelp = []string{
	"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ERROR <string>",
	"    Return a Redis protocol error with <string> as message. Useful for clients",
	"    unit tests to simulate Redis errors.",
	"LOG <message>",
	"    Write <message> to the server log.",
	"PROTOCOL <type>",
	"    Reply with a test value of the specified type. <type> can be: string,",
	"    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
	"    true, false.",
	"SLEEP <seconds>",
	"    Stop the connection for <seconds> (the node serves the others). Decimals allowed.",
	"SET-ACTIVE-EXPIRE <0|1>, CHANGE-REPL-ID, RELOAD [option ...], LOADAOF, PAUSE-CRON <0|1>,",
	"QUICKLIST-PACKED-THRESHOLD <size>, SET-SKIP-CHECKSUM-VALIDATION <0|1>, AOF-FLUSH-SLEEP <microsec>,",
	"REPLYBUFFER <option> <value>, SET-DISABLE-DENY-SCRIPTS <0|1>",
	"    Accepted for test harnesses; pika-node has nothing they would change.",
	"HELP",
	"    Prints this help.",
}
