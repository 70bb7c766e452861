package node

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pika-node/pika-node/node/blocking"
	"github.com/pika-node/pika-node/node/command"
	"github.com/pika-node/pika-node/node/redisconf"
	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// registerServerCommands adds the connection and server commands, which
// need the node's state, to the command table.
func (n *Node) registerServerCommands() {
	conn := command.NoAuth | command.Fast | command.Loading | command.Stale
	specs := []command.Spec{
		{Name: "ping", Arity: -1, Flags: command.Fast, Handler: n.cmdPing},
		{Name: "echo", Arity: 2, Flags: command.Fast, Handler: cmdEcho},
		{Name: "quit", Arity: -1, Flags: conn, Handler: cmdQuit},
		{Name: "select", Arity: 2, Flags: command.NoAuth | command.Fast | command.Loading, Handler: n.cmdSelect},
		{Name: "auth", Arity: -2, Flags: conn, Handler: n.cmdAuth},
		{Name: "hello", Arity: -1, Flags: conn, Handler: n.cmdHello},
		{Name: "client", Arity: -2, Flags: command.Admin, Handler: n.cmdClient},
		{Name: "info", Arity: -1, Flags: command.Loading | command.Stale, Handler: n.cmdInfo},
		{Name: "time", Arity: 1, Flags: command.Fast | command.Loading | command.Stale, Handler: cmdTime},
		{Name: "config", Arity: -2, Flags: command.Admin | command.Loading | command.Stale, Handler: n.cmdConfig},
		{Name: "acl", Arity: -2, Handler: n.cmdACL},
		{Name: "shutdown", Arity: -1, Flags: command.Admin | command.Loading | command.Stale, Handler: n.cmdShutdown},
		{Name: "wait", Arity: 3, Handler: n.cmdWait},
	}
	for i := range specs {
		specs[i].Cluster = router.Server
	}
	n.tbl.Register(specs...)
}

func connOf(c *command.Ctx) *client { return c.Conn.(*client) }

func (n *Node) cmdPing(c *command.Ctx) error {
	if cl, ok := c.Conn.(*client); ok && cl.subscribedResp2() {
		// Redis answers a subscribed RESP2 client in a message's shape.
		if len(c.Args) > 2 {
			return command.WrongArgs("ping")
		}
		c.R.Array(2)
		c.R.BulkString("pong")
		if len(c.Args) == 2 {
			c.R.Bulk(c.Args[1])
		} else {
			c.R.BulkString("")
		}
		return nil
	}
	switch len(c.Args) {
	case 1:
		c.R.Simple("PONG")
	case 2:
		c.R.Bulk(c.Args[1])
	default:
		return command.WrongArgs("ping")
	}
	return nil
}

// cmdShutdown stops this node as its signal would: every write is in
// RocksDB already, so SAVE and NOSAVE alike (and NOW, FORCE) stop it at
// once, and a script running here, which Redis's SHUTDOWN NOSAVE is the
// way out of, is stopped first. As in Redis, the client gets no reply:
// its connection closes.
func (n *Node) cmdShutdown(c *command.Ctx) error {
	seen := map[string]bool{}
	for _, a := range c.Args[1:] {
		opt := strings.ToLower(string(a))
		switch {
		case opt == "abort" && len(c.Args) == 2:
			return command.Error("ERR No shutdown in progress.")
		case opt != "save" && opt != "nosave" && opt != "now" && opt != "force", seen[opt],
			opt == "save" && seen["nosave"], opt == "nosave" && seen["save"]:
			return command.ErrSyntax
		}
		seen[opt] = true
	}
	n.log.Warn("SHUTDOWN: the node stops", "client", connOf(c).id)
	n.txns.StopScripts()
	connOf(c).quit = true
	n.requestStop()
	return nil
}

func cmdEcho(c *command.Ctx) error {
	c.R.Bulk(c.Args[1])
	return nil
}

func cmdQuit(c *command.Ctx) error {
	connOf(c).quit = true
	c.R.OK()
	return nil
}

// cmdSelect picks a table by id (SELECT 1) or by name (SELECT orders).
// Selecting is allowed before AUTH: a table, not the connection, is what
// a password closes, and its commands answer NOAUTH until AUTH opens it.
// A table this node does not know is looked for again after catching up
// with etcd (it may have just been created through another node), and
// refused only then.
func (n *Node) cmdSelect(c *command.Ctx) error {
	arg := string(c.Args[1])
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != arg {
		// A name (table names never read as numbers).
		tb, ok := n.proxy.Routing().TableNamed(arg)
		if !ok {
			tb, ok = n.caughtUp(catchUpWait).TableNamed(arg)
		}
		if !ok {
			return command.ErrNotInt
		}
		connOf(c).setTable(tb.ID)
		c.R.OK()
		return nil
	}
	if id < math.MinInt32 || id > math.MaxInt32 { // Redis parses the index as a C int
		return command.Error("ERR value is out of range, value must between -2147483648 and 2147483647")
	}
	if id < 0 || id > math.MaxUint32 {
		return command.Error("ERR DB index is out of range")
	}
	t := storage.TableID(id)
	if _, ok := n.proxy.Routing().Table(t); !ok {
		if _, ok := n.caughtUp(catchUpWait).Table(t); !ok {
			return command.Error("ERR DB index is out of range")
		}
	}
	connOf(c).setTable(t)
	c.R.OK()
	return nil
}

const errNoPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// grant opens table tb to cl (copied on write: CLIENT LIST reads it).
func grant(cl *client, tb *router.Table) {
	g := maps.Clone(cl.grantsCopy())
	if g == nil {
		g = map[storage.TableID]string{}
	}
	g[tb.ID] = tb.PasswordHash
	cl.grants.Store(&g)
	cl.openedAllRev = -1
}

// authenticate is AUTH and HELLO's AUTH: it makes the connection an ACL
// user, the administrator or the default user, or opens tables
// (authenticateAs). Of tables: with user "" or "default" (AUTH password)
// it opens every table whose password is pass; with a table name as user
// (AUTH table password, Redis 6's form) that one table. A table without
// a password opens with any password, as Redis's nopass default user does.
// user is "" for the one-argument form; an empty name given as a user is
// no table (WRONGPASS), as an unknown user is for Redis. A refusal that a
// table unknown to this node could explain (no such table name; no table
// whose password matched) is decided again after catching up with etcd.
//
// Failures are counted (INFO acl_access_denied_auth, pika_auth_failures_total),
// logged in ACL LOG, and limited per source address (authLimiter): past
// the limit AUTH is refused without trying the password.
func (n *Node) authenticate(cl *client, user, pass string, oneArg bool) error {
	host := hostOf(cl.addr)
	if !n.authLimit.allowed(host) {
		n.authFailures.Add(1)
		return command.Error(errAuthThrottled)
	}
	err := n.authenticateAs(cl, user, pass, oneArg)
	if err != nil {
		if msg, _ := command.ErrorReply(err); msg == errWrongPass {
			n.authFailures.Add(1)
			n.authLimit.failed(host)
			name := user
			if oneArg {
				name = "default"
			}
			n.aclLog.add("auth", "AUTH", "toplevel", name, n.clientLine(cl))
		}
	}
	return err
}

// authenticateAs is authenticate once its address may try: the admin
// user, an ACL user, the default user's passwords, then tables
// (users.go says what each lets the connection do).
func (n *Node) authenticateAs(cl *client, user, pass string, oneArg bool) error {
	name := user
	if oneArg {
		name = "default"
	}
	set := n.users.set()
	switch usr, ok := set.byName[name]; {
	case name == adminUser:
		h := n.adminTokenHash.Load()
		if h == nil || *h == "" || !n.passwords.check(*h, pass) {
			return command.Error(errWrongPass)
		}
		cl.ident.Store(&identity{kind: asAdmin, user: adminUser, authed: true, allTables: true})
		return nil
	case ok && name != "default":
		if !usr.Enabled() || !(usr.NoPass() || n.matchesAny(usr.PasswordRecords(), pass)) {
			return command.Error(errWrongPass)
		}
		cl.ident.Store(&identity{kind: asUser, user: name, authed: true, allTables: true})
		return nil
	}
	def := set.byName["default"]
	if name == "default" && def.Enabled() && !def.NoPass() && n.matchesAny(def.PasswordRecords(), pass) {
		cl.ident.Store(&identity{kind: asDefault, user: "default", authed: true, allTables: true})
		return nil
	}
	unknown, err := authenticateIn(n.proxy.Routing(), cl, user, pass, oneArg, n.passwords.check)
	if err != nil && unknown {
		_, err = authenticateIn(n.caughtUp(catchUpWait), cl, user, pass, oneArg, n.passwords.check)
	}
	openDefault := def.Enabled() && def.NoPass()
	if err != nil {
		if msg, _ := command.ErrorReply(err); msg == errNoPassword && !openDefault {
			return command.Error(errWrongPass) // the default user has a password, and this is not it
		}
		return err
	}
	if openDefault {
		cl.ident.Store(&identity{kind: asDefault, user: "default", authed: true})
	} else {
		cl.ident.Store(&identity{kind: asTenant, user: "default", authed: true})
	}
	return nil
}

// matchesAny reports whether pass is the password of one of records.
func (n *Node) matchesAny(records []string, pass string) bool {
	for _, r := range records {
		if n.passwords.check(r, pass) {
			return true
		}
	}
	return false
}

// errAuthThrottled refuses AUTH from an address past its failures.
const errAuthThrottled = "ERR too many failed AUTH attempts from this address; try again in a few seconds"

// authenticateIn is authenticate on snapshot snap; unknown says that a
// refusal may be for want of a table snap does not have.
func authenticateIn(snap *router.Snapshot, cl *client, user, pass string, oneArg bool, check func(hash, pw string) bool) (unknown bool, err error) {
	if oneArg || user == "default" {
		matched, anyPassword := false, false
		for _, tb := range snap.Tables() {
			if !tb.HasPassword() {
				continue
			}
			anyPassword = true
			if check(tb.PasswordHash, pass) {
				grant(cl, tb)
				matched = true
			}
		}
		switch {
		case !anyPassword && oneArg:
			return true, command.Error(errNoPassword)
		case !anyPassword || matched:
			return false, nil
		}
		return true, command.Error(errWrongPass)
	}
	tb, ok := snap.TableNamed(user)
	if !ok {
		return true, command.Error(errWrongPass)
	}
	if tb.HasPassword() && !check(tb.PasswordHash, pass) {
		return false, command.Error(errWrongPass)
	}
	grant(cl, tb)
	return false, nil
}

func (n *Node) cmdAuth(c *command.Ctx) error {
	var err error
	switch len(c.Args) {
	case 2:
		err = n.authenticate(connOf(c), "", string(c.Args[1]), true)
	case 3:
		err = n.authenticate(connOf(c), string(c.Args[1]), string(c.Args[2]), false)
	default:
		return command.ErrSyntax
	}
	if err != nil {
		return err
	}
	c.R.OK()
	return nil
}

// cmdHello switches the connection's protocol (HELLO 2 or 3), may
// authenticate and name it, and answers the server's description as
// redis-server 7.0 does: a map, in the protocol just chosen.
func (n *Node) cmdHello(c *command.Ctx) error {
	cl := connOf(c)
	args := c.Args[1:]
	resp3 := cl.resp3.Load()
	if len(args) > 0 {
		ver, err := strconv.ParseInt(string(args[0]), 10, 64)
		if err != nil {
			return command.Error("ERR Protocol version is not an integer or out of range")
		}
		if ver < 2 || ver > 3 {
			return command.Error("NOPROTO unsupported protocol version")
		}
		resp3 = ver == 3
		args = args[1:]
	}
	var setName []byte
	for i := 0; i < len(args); i++ {
		switch {
		case strings.EqualFold(string(args[i]), "auth") && i+2 < len(args):
			if err := n.authenticate(cl, string(args[i+1]), string(args[i+2]), false); err != nil {
				return err
			}
			i += 2
		case strings.EqualFold(string(args[i]), "setname") && i+1 < len(args):
			setName = args[i+1]
			if err := validClientName(setName); err != nil {
				return err
			}
			i++
		default:
			return command.Error("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
		}
	}
	if tb, _ := n.proxy.Routing().Table(cl.tableID()); !tableOpen(cl, tb) {
		return command.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if setName != nil {
		s := string(setName)
		cl.name.Store(&s)
	}
	cl.resp3.Store(resp3)
	c.R.Resp3 = resp3
	proto := int64(2)
	if resp3 {
		proto = 3
	}
	c.R.Map(7)
	c.R.BulkString("server")
	c.R.BulkString("redis")
	c.R.BulkString("version")
	c.R.BulkString(redisVersion)
	c.R.BulkString("proto")
	c.R.Int(proto)
	c.R.BulkString("id")
	c.R.Int(int64(cl.id))
	c.R.BulkString("mode")
	c.R.BulkString("standalone")
	c.R.BulkString("role")
	c.R.BulkString("master")
	c.R.BulkString("modules")
	c.R.Array(0)
	return nil
}

func validClientName(name []byte) error {
	for _, b := range name {
		if b < '!' || b > '~' {
			return command.Error("ERR Client names cannot contain spaces, newlines or special characters.")
		}
	}
	return nil
}

func (n *Node) cmdClient(c *command.Ctx) error {
	cl := connOf(c)
	sub := strings.ToLower(string(c.Args[1]))
	wrong := func() error { return command.WrongArgs("client|" + sub) }
	switch sub {
	case "setname":
		if len(c.Args) != 3 {
			return wrong()
		}
		if err := validClientName(c.Args[2]); err != nil {
			return err
		}
		s := string(c.Args[2])
		cl.name.Store(&s)
		c.R.OK()
	case "getname":
		if len(c.Args) != 2 {
			return wrong()
		}
		if p := cl.name.Load(); p != nil && *p != "" {
			c.R.BulkString(*p)
		} else {
			c.R.Null()
		}
	case "id":
		if len(c.Args) != 2 {
			return wrong()
		}
		c.R.Int(int64(cl.id))
	case "info":
		if len(c.Args) != 2 {
			return wrong()
		}
		c.R.Verbatim(n.clientLine(cl))
	case "list":
		var ids []uint64
		byType, pubsubOnly := false, false
		if len(c.Args) > 2 {
			switch {
			case len(c.Args) == 4 && strings.EqualFold(string(c.Args[2]), "type"):
				t := strings.ToLower(string(c.Args[3]))
				if t != "normal" && t != "master" && t != "replica" && t != "pubsub" {
					return command.Error("ERR Unknown client type '" + string(c.Args[3]) + "'")
				}
				if t == "master" || t == "replica" {
					c.R.BulkString("")
					return nil
				}
				pubsubOnly = t == "pubsub"
				byType = true
			case strings.EqualFold(string(c.Args[2]), "id"):
				for _, a := range c.Args[3:] {
					id, err := strconv.ParseUint(string(a), 10, 64)
					if err != nil || id == 0 {
						return command.Error("ERR Invalid client ID")
					}
					ids = append(ids, id)
				}
			default:
				return command.ErrSyntax
			}
		}
		var b strings.Builder
		tenant := n.tenantView(cl)
		for _, other := range n.clientsSnapshot(ids) {
			if tenant && !sameTenant(cl, other) {
				continue
			}
			if byType {
				s := other.sub.Load()
				if subscribed := s != nil && s.Subscribed(); subscribed != pubsubOnly {
					continue
				}
			}
			b.WriteString(n.clientLine(other))
		}
		c.R.Verbatim(b.String())
	case "unblock":
		if len(c.Args) < 3 {
			return wrong()
		}
		if len(c.Args) > 4 {
			return command.Error("ERR unknown subcommand or wrong number of arguments for '" + string(c.Args[1]) + "'. Try CLIENT HELP.")
		}
		id, err := strconv.ParseInt(string(c.Args[2]), 10, 64)
		if err != nil {
			return command.Error("ERR value is not an integer or out of range")
		}
		how := blocking.UnblockTimeout
		if len(c.Args) == 4 {
			switch strings.ToLower(string(c.Args[3])) {
			case "timeout":
			case "error":
				how = blocking.UnblockError
			default:
				return command.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			}
		}
		if id > 0 && n.blocked.Unblock(uint64(id), how) {
			c.R.Int(1)
		} else {
			c.R.Int(0)
		}
	case "kill":
		if len(c.Args) < 3 {
			return wrong()
		}
		return n.clientKillCmd(c)
	case "pause":
		if len(c.Args) < 3 {
			return wrong()
		}
		if len(c.Args) > 4 {
			return command.Error("ERR unknown subcommand or wrong number of arguments for '" + string(c.Args[1]) + "'. Try CLIENT HELP.")
		}
		return n.clientPauseCmd(c)
	case "unpause":
		if len(c.Args) != 2 {
			return wrong()
		}
		n.clientUnpauseCmd(c)
	case "no-evict", "no-touch":
		// Accepted: pika-node evicts no client, and keeps no LRU/LFU
		// clock for a read to touch.
		if len(c.Args) != 3 {
			return wrong()
		}
		switch strings.ToLower(string(c.Args[2])) {
		case "on", "off":
			c.R.OK()
		default:
			return command.ErrSyntax
		}
	case "setinfo":
		// go-redis and redis-py send their library name; accept and ignore.
		if len(c.Args) != 4 {
			return wrong()
		}
		c.R.OK()
	case "tracking", "caching", "getredir", "trackinginfo":
		return n.cmdClientTracking(c, cl, sub)
	case "help":
		lines := []string{
			"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
			"GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
			"GETNAME", "    Return the name of the current connection.",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"KILL <ip:port>", "    Kill connection made from <ip:port>.",
			"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
			"    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
			"    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
			"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
			"    * USER <username>", "      Kill connections authenticated by <username>.",
			"    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
			"    * ID <client-id>", "      Kill connections by client id.",
			"LIST [TYPE <type>] [ID <id> [<id> ...]]", "    Return information about client connections.",
			"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
			"NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
			"PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]", "         [OPTIN] [OPTOUT] [NOLOOP]",
			"    Control server assisted client side caching.",
			"TRACKINGINFO", "    Report tracking status for the current connection.",
			"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
			"UNPAUSE", "    Stop the current client pause, resuming traffic.",
		}
		c.R.SimpleArray(lines)
	default:
		return command.Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try CLIENT HELP.")
	}
	return nil
}

// clientsSnapshot returns the clients with the given ids (nil: all), by
// id, leaving out those CLIENT KILL closed whose goroutine has not ended
// yet: in Redis a killed client is gone at once, from CLIENT LIST and from
// the count of a second CLIENT KILL.
func (n *Node) clientsSnapshot(ids []uint64) []*client {
	n.clientsMu.Lock()
	defer n.clientsMu.Unlock()
	var out []*client
	if ids != nil {
		for _, id := range ids {
			if cl, ok := n.clients[id]; ok && !cl.wasKilled() {
				out = append(out, cl)
			}
		}
		return out
	}
	for _, cl := range n.clients {
		if !cl.wasKilled() {
			out = append(out, cl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// clientLine is one CLIENT LIST line in Redis's format.
func (n *Node) clientLine(cl *client) string {
	name := ""
	if p := cl.name.Load(); p != nil {
		name = *p
	}
	cmd := "NULL"
	if p := cl.lastCmd.Load(); p != nil {
		cmd = *p
	}
	now := time.Now()
	age := int64(now.Sub(cl.created).Seconds())
	idle := int64(now.Sub(time.Unix(0, cl.lastUsed.Load())).Seconds())
	proto := 2
	if cl.resp3.Load() {
		proto = 3
	}
	flags := "N"
	var subs, psubs, ssubs int
	if s := cl.sub.Load(); s != nil {
		subs, psubs, ssubs = s.Counts()
		if subs+psubs+ssubs > 0 {
			flags = "P"
		}
	}
	if n.blocked.IsBlocked(cl.id) || cl.paused.Load() {
		flags = "b"
	}
	if tf := n.trackingFlags(cl); tf != "" {
		// Redis's order: P, b, then t R B.
		flags = strings.TrimPrefix(flags, "N") + tf
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=%d resp=%d\n",
		cl.id, cl.addr, cl.laddr, name, age, idle, flags, cl.tableID(), subs, psubs, ssubs, cmd, cl.ident.Load().user, n.trackingRedir(cl), proto)
}

func cmdTime(c *command.Ctx) error {
	now := time.Now()
	c.R.Array(2)
	c.R.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.R.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
	return nil
}

// cmdConfig is CONFIG: GET and SET see every parameter of redis.conf (n.conf, see
// newConfigStore).
func (n *Node) cmdConfig(c *command.Ctx) error {
	sub := strings.ToLower(string(c.Args[1]))
	switch sub {
	case "get":
		if len(c.Args) < 3 {
			return command.WrongArgs("config|get")
		}
		patterns := make([]string, 0, len(c.Args)-2)
		for _, a := range c.Args[2:] {
			patterns = append(patterns, string(a))
		}
		pairs := n.conf.Get(patterns...)
		c.R.Map(len(pairs))
		for _, p := range pairs {
			c.R.BulkString(p.Name)
			c.R.BulkString(p.Value)
		}
	case "set":
		if len(c.Args) < 4 {
			return command.WrongArgs("config|set")
		}
		if len(c.Args)%2 != 0 {
			return command.ErrSyntax // a name without a value, as Redis answers it
		}
		pairs := make([]redisconf.Pair, 0, len(c.Args)/2-1)
		for i := 2; i < len(c.Args); i += 2 {
			pairs = append(pairs, redisconf.Pair{Name: string(c.Args[i]), Value: string(c.Args[i+1])})
		}
		if err := n.conf.Set(pairs...); err != nil {
			return err // its text is Redis's reply
		}
		c.R.OK()
	case "resetstat", "rewrite", "help":
		if len(c.Args) != 2 {
			return command.WrongArgs("config|" + sub)
		}
		switch sub {
		case "resetstat":
			n.stats.Reset()
			c.R.OK()
		case "rewrite":
			// As redis-server started without a config file: pika-node's settings are its
			// flags (or its config file), which CONFIG SET does not change.
			return command.Error("ERR The server is running without a config file")
		case "help":
			lines := []string{
				"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
				"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
				"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
				"RESETSTAT", "    Reset statistics reported by the INFO command.",
				"REWRITE", "    Rewrite the configuration file.",
				"HELP", "    Prints this help.",
			}
			c.R.SimpleArray(lines)
		}
	default:
		return command.Error("ERR unknown subcommand '" + string(c.Args[1]) + "'. Try CONFIG HELP.")
	}
	return nil
}
