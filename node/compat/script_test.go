package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// step is one command of a script with the directives that precede it, or a sleep.
type step struct {
	line      int
	text      string
	args      []string
	sleep     time.Duration
	sort      bool
	sortPairs bool
	scan      bool
	lenOnly   bool
	skipValue bool
	// words: every string in the reply is compared with its
	// space-separated words sorted (redis-server 7.0 describes an ACL
	// user's single commands in its command table's hash order, which
	// differs from one process to the next).
	words  bool
	ttl    bool
	ttlTol int64    // 0: default for the command
	in     []string // non-nil: allowed values
	// conn names the connection the step runs on ("" the script's
	// first; others are opened on first use, through another node of a
	// cluster): "@name CMD..." runs CMD there, "@name> CMD..." only sends
	// it, "@name<" reads the next reply or push there.
	conn     string
	sendOnly bool
	readOnly bool
	// waitBlocked, with "!blocked N", waits until the server (each
	// side's) has blocked clients (INFO's blocked_clients), 5 s at most.
	waitBlocked bool
	blocked     int
}

// alone reports whether the step cannot join a pipeline.
func (st step) alone() bool {
	return st.sleep > 0 || st.waitBlocked || st.scan || st.conn != "" || st.sendOnly || st.readOnly
}

// splitArgs splits a line the way redis-cli (sdssplitargs) does.
func splitArgs(line string) ([]string, error) {
	var args []string
	p := 0
	n := len(line)
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	isHex := func(c byte) bool {
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	hexVal := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		}
		return c - 'A' + 10
	}
	for {
		for p < n && isSpace(line[p]) {
			p++
		}
		if p >= n {
			return args, nil
		}
		var cur []byte
		inq, insq, done := false, false, false
		for !done {
			switch {
			case inq:
				switch {
				case p >= n:
					return nil, errors.New("unterminated double quote")
				case line[p] == '\\' && p+3 < n && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
					cur = append(cur, hexVal(line[p+2])<<4|hexVal(line[p+3]))
					p += 3
				case line[p] == '\\' && p+1 < n:
					p++
					c := line[p]
					switch c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					cur = append(cur, c)
				case line[p] == '"':
					if p+1 < n && !isSpace(line[p+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				default:
					cur = append(cur, line[p])
				}
			case insq:
				switch {
				case p >= n:
					return nil, errors.New("unterminated single quote")
				case line[p] == '\\' && p+1 < n && line[p+1] == '\'':
					p++
					cur = append(cur, '\'')
				case line[p] == '\'':
					if p+1 < n && !isSpace(line[p+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				default:
					cur = append(cur, line[p])
				}
			default:
				switch {
				case p >= n || isSpace(line[p]):
					done = true
				case line[p] == '"':
					inq = true
				case line[p] == '\'':
					insq = true
				default:
					cur = append(cur, line[p])
				}
			}
			if p < n {
				p++
			}
		}
		args = append(args, string(cur))
	}
}

// parseScript reads a script file into steps.
func parseScript(path string) ([]step, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseScriptText(filepath.Base(path), string(data))
}

// parseScriptText parses the text of a script; name is for error messages.
func parseScriptText(name, text string) ([]step, error) {
	var steps []step
	var pending step
	hasPending := false
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			words, err := splitArgs(line[1:])
			if err != nil || len(words) == 0 {
				return nil, fmt.Errorf("%s:%d: bad directive %q: %v", name, lineNo, line, err)
			}
			hasPending = true
			switch strings.ToLower(words[0]) {
			case "sort":
				pending.sort = true
			case "sortpairs":
				pending.sortPairs = true
			case "scan":
				pending.scan = true
			case "len":
				pending.lenOnly = true
			case "skip-value":
				pending.skipValue = true
			case "words":
				pending.words = true
			case "in":
				pending.in = append([]string{}, words[1:]...)
			case "ttl":
				pending.ttl = true
				if len(words) > 1 {
					pending.ttlTol, err = strconv.ParseInt(words[1], 10, 64)
					if err != nil {
						return nil, fmt.Errorf("%s:%d: bad tolerance: %v", name, lineNo, err)
					}
				}
			case "sleep":
				if len(words) != 2 {
					return nil, fmt.Errorf("%s:%d: !sleep MS", name, lineNo)
				}
				ms, err := strconv.Atoi(words[1])
				if err != nil || ms < 0 || ms > 5000 {
					return nil, fmt.Errorf("%s:%d: bad sleep %q", name, lineNo, words[1])
				}
				steps = append(steps, step{line: lineNo, text: line, sleep: time.Duration(ms) * time.Millisecond})
			case "blocked":
				n, err := strconv.Atoi(words[len(words)-1])
				if len(words) != 2 || err != nil || n < 0 {
					return nil, fmt.Errorf("%s:%d: !blocked N", name, lineNo)
				}
				steps = append(steps, step{line: lineNo, text: line, waitBlocked: true, blocked: n})
			default:
				return nil, fmt.Errorf("%s:%d: unknown directive %q", name, lineNo, words[0])
			}
			continue
		}
		rest := line
		if strings.HasPrefix(line, "@") {
			word, after, _ := strings.Cut(line[1:], " ")
			switch {
			case strings.HasSuffix(word, "<"):
				pending.readOnly = true
				word = strings.TrimSuffix(word, "<")
			case strings.HasSuffix(word, ">"):
				pending.sendOnly = true
				word = strings.TrimSuffix(word, ">")
			}
			if word == "" || pending.readOnly && strings.TrimSpace(after) != "" {
				return nil, fmt.Errorf("%s:%d: bad connection prefix %q", name, lineNo, line)
			}
			if word != "main" {
				pending.conn = word
			}
			rest = after
		}
		args, err := splitArgs(rest)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, lineNo, err)
		}
		if len(args) == 0 && !pending.readOnly {
			return nil, fmt.Errorf("%s:%d: no command", name, lineNo)
		}
		pending.line, pending.text, pending.args = lineNo, line, args
		steps = append(steps, pending)
		pending, hasPending = step{}, false
	}
	if hasPending {
		return nil, fmt.Errorf("%s: directive at end of file without a command", name)
	}
	return steps, nil
}

// side is one server's connection during a script run.
type side struct {
	srv   *server
	resp3 bool // the connection starts with HELLO 3
	c     *Conn
	// others are where the script's other connections go, in the order
	// they are first used (round robin); extra holds them by name.
	others []*server
	extra  map[string]*Conn
}

// connFor returns the connection named name ("" the main one), dialled on
// first use.
func (s *side) connFor(name string) (*Conn, error) {
	if name == "" {
		if s.c == nil {
			if err := s.dial(); err != nil {
				return nil, err
			}
		}
		return s.c, nil
	}
	if c := s.extra[name]; c != nil {
		return c, nil
	}
	srv := s.srv
	if len(s.others) > 0 {
		srv = s.others[len(s.extra)%len(s.others)]
	}
	c, err := dialAs(srv.addr, s.resp3)
	if err != nil {
		return nil, err
	}
	if s.extra == nil {
		s.extra = map[string]*Conn{}
	}
	s.extra[name] = c
	return c, nil
}

// step runs a step on its connection: sends the command and reads the
// reply, only sends it, or only reads.
func (s *side) step(st step) (Reply, error) {
	c, err := s.connFor(st.conn)
	if err != nil {
		return Reply{}, err
	}
	var r Reply
	switch {
	case st.sendOnly:
		err = c.Send(st.args...)
		r = Reply{Kind: '+', Str: "(sent)"}
	case st.readOnly:
		r, err = c.Read()
	default:
		r, err = c.Do(st.args...)
	}
	if err != nil {
		// The connection is in an unknown state: drop it.
		c.Close()
		if st.conn == "" {
			s.c = nil
		} else {
			delete(s.extra, st.conn)
		}
	}
	return r, err
}

// dial opens the side's connection (after the last one broke): a new client, on database 0,
// in RESP3 if the side speaks it.
func (s *side) dial() error {
	c, err := dialAs(s.srv.addr, s.resp3)
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// dialAs opens a connection to addr, in RESP3 if resp3.
func dialAs(addr string, resp3 bool) (*Conn, error) {
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if resp3 {
		r, err := c.Do("HELLO", "3")
		if err == nil && r.Kind != '%' {
			err = fmt.Errorf("HELLO 3 answered %s", clip(r.String()))
		}
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (s *side) do(args ...string) (Reply, error) {
	if s.c == nil {
		if err := s.dial(); err != nil {
			return Reply{}, err
		}
	}
	r, err := s.c.Do(args...)
	if err != nil {
		// The connection is in an unknown state: drop it, the next command reconnects.
		s.c.Close()
		s.c = nil
	}
	return r, err
}

// doPipeline runs cmds as one pipeline.
func (s *side) doPipeline(cmds [][]string) ([]Reply, error) {
	if s.c == nil {
		if err := s.dial(); err != nil {
			return nil, err
		}
	}
	r, err := s.c.DoPipeline(cmds)
	if err != nil {
		s.c.Close()
		s.c = nil
	}
	return r, err
}

func (s *side) close() {
	if s.c != nil {
		s.c.Close()
	}
	for _, c := range s.extra {
		c.Close()
	}
}

// pair is the two servers a script runs against.
type pair struct {
	redis, pika *server
	password    string      // their requirepass, which reset AUTHs with
	resp3       bool        // scripts run on connections that chose RESP3 (HELLO 3)
	leaders     slotLeaders // a cluster's slot leaders (nil: a single node leads every slot)
	dbs         int         // reset empties databases 0..dbs
	behind      []*server   // processes pika's side also depends on (a cluster's nodes, etcd, haproxy)
	others      []*server   // where pika's side opens a script's other connections (nil: pika)
	// allow, if set, accepts a mismatch that is a known, allowed difference of pika's side,
	// returning why ("" if not allowed); runSteps logs every use.
	allow func(st step, redis, pika Reply) string
}

// mainPair is the servers without a password; the scripts may use databases 0..extraDBs.
func mainPair() pair { return pair{redis: redisSrv, pika: pikaSrv, dbs: extraDBs} }

// reset empties databases 0..p.dbs of srv, on a connection of its own: the script's
// connection then starts as any client's does, on database 0 and unauthenticated, whatever
// the previous script selected. Each database is flushed by itself because pika-node's
// FLUSHALL empties only the selected table.
func (p pair) reset(srv *server) error {
	c, err := Dial(srv.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	var cmds [][]string
	if p.password != "" {
		cmds = append(cmds, []string{"AUTH", p.password})
	}
	for db := p.dbs; db >= 0; db-- {
		cmds = append(cmds, []string{"SELECT", strconv.Itoa(db)}, []string{"FLUSHDB"})
	}
	for _, cmd := range cmds {
		r, err := c.Do(cmd...)
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(cmd, " "), err)
		}
		if r.String() != "+OK" {
			return fmt.Errorf("%s: %s", strings.Join(cmd, " "), r)
		}
	}
	return nil
}

// runScriptFile replays a script on the main pair of servers, in RESP3 if resp3.
func runScriptFile(t *testing.T, path string, pipelined, resp3 bool) {
	p := mainPair()
	p.resp3 = resp3
	runScript(t, path, pipelined, p)
}

// protocols are the client protocols every script is replayed in: each reply type must be
// redis-server's in both.
var protocols = []struct {
	name  string
	resp3 bool
}{{"resp2", false}, {"resp3", true}}

// runScript replays a script on both servers of p, each on a new connection. pipelined sends
// each run of plain commands (up to a sleep or a scan loop) as one pipeline, which is how
// pika-node's write batching meets the scripts: later commands must see the pending writes of
// earlier ones exactly as Redis's do.
func runScript(t *testing.T, path string, pipelined bool, p pair) {
	steps, err := parseScript(path)
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, filepath.Base(path), steps, pipelined, p)
}

// runSteps is runScript for steps already parsed; name labels its messages.
func runSteps(t *testing.T, name string, steps []step, pipelined bool, p pair) {
	sides := []*side{{srv: p.redis, resp3: p.resp3}, {srv: p.pika, resp3: p.resp3, others: p.others}}
	for _, s := range sides {
		defer s.close()
		if err := p.reset(s.srv); err != nil {
			t.Fatalf("%s: resetting %s: %v", name, s.srv.Name, err)
		}
	}
	dump := os.Getenv("COMPAT_DUMP") != ""
	mismatches := 0
	report := func(st step, got [2]string, ok bool, detail string, reps ...Reply) {
		if !ok && p.allow != nil && len(reps) == 2 {
			if why := p.allow(st, reps[0], reps[1]); why != "" {
				t.Logf("%s:%d: %s: redis=%s pika=%s: allowed difference: %s", name, st.line, st.text, clip(got[0]), clip(got[1]), why)
				ok = true
			}
		}
		if dump {
			t.Logf("%s:%d: %s: redis=%s pika=%s", name, st.line, st.text, clip(got[0]), clip(got[1]))
		}
		if ok {
			return
		}
		mismatches++
		if detail != "" {
			detail = " (" + detail + ")"
		}
		t.Errorf("%s:%d: %s: redis=%s pika=%s%s", name, st.line, st.text, clip(got[0]), clip(got[1]), detail)
		for _, s := range append([]*server{p.redis, p.pika}, p.behind...) {
			if s.Exited() {
				t.Fatalf("%s exited (%v); stopping %s\n%s", s.Name, s.Err(), name, s.Tail(40))
			}
		}
	}
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		if st.sleep > 0 {
			time.Sleep(st.sleep)
			continue
		}
		if st.waitBlocked {
			for _, s := range sides {
				if err := awaitBlocked(s.srv, st.blocked); err != nil {
					t.Fatalf("%s:%d: %s: %v", name, st.line, s.srv.Name, err)
				}
			}
			continue
		}
		if pipelined && !st.alone() {
			j := i
			var cmds [][]string
			for ; j < len(steps) && !steps[j].alone(); j++ {
				cmds = append(cmds, steps[j].args)
			}
			var reps [2][]Reply
			var errs [2]error
			for k, s := range sides {
				reps[k], errs[k] = s.doPipeline(cmds)
			}
			for n := range cmds {
				var got [2]string
				for k := range sides {
					if n < len(reps[k]) {
						got[k] = reps[k][n].String()
					} else {
						got[k] = fmt.Sprintf("<connection error: %v>", errs[k])
					}
				}
				ok := n < len(reps[0]) && n < len(reps[1])
				detail := ""
				if ok {
					ok, detail = compare(steps[i+n], reps[0][n], reps[1][n])
					report(steps[i+n], got, ok, detail, reps[0][n], reps[1][n])
				} else {
					report(steps[i+n], got, ok, detail)
				}
			}
			i = j - 1
			continue
		}
		var got [2]string
		var reps [2]Reply
		var errs [2]error
		for i, s := range sides {
			if st.scan {
				reps[i], errs[i] = scanAll(s, st.args)
			} else {
				reps[i], errs[i] = s.step(st)
			}
			if errs[i] != nil {
				got[i] = fmt.Sprintf("<connection error: %v>", errs[i])
			} else {
				got[i] = reps[i].String()
			}
		}
		ok := errs[0] == nil && errs[1] == nil
		detail := ""
		if ok {
			ok, detail = compare(st, reps[0], reps[1])
			report(st, got, ok, detail, reps[0], reps[1])
		} else {
			report(st, got, ok, detail)
		}
	}
	if mismatches > 0 {
		t.Logf("%s: %d mismatching commands", name, mismatches)
	}
}

func clip(s string) string {
	const max = 600
	if len(s) > max {
		return s[:max] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// scanAll runs a SCAN-family command from cursor 0 until the cursor is 0 again and returns the
// sorted, de-duplicated union of the elements (pairs joined as "field => value" for HSCAN and
// ZSCAN) as an array reply. An error reply on any page is returned as is.
func scanAll(s *side, args []string) (Reply, error) {
	cmd := strings.ToUpper(args[0])
	curIdx, pairs := 2, cmd == "HSCAN" || cmd == "ZSCAN"
	if cmd == "SCAN" {
		curIdx = 1
	}
	if len(args) <= curIdx {
		return s.do(args...)
	}
	a := slices.Clone(args)
	a[curIdx] = "0"
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 100000 {
			return Reply{Kind: '-', Str: "harness: scan did not terminate after 100000 pages"}, nil
		}
		r, err := s.do(a...)
		if err != nil || r.Kind == '-' {
			return r, err
		}
		if r.Kind != '*' || len(r.Elems) != 2 || r.Elems[0].Kind != '$' || r.Elems[1].Kind != '*' {
			return Reply{Kind: '-', Str: "harness: malformed scan page " + clip(r.String())}, nil
		}
		items := r.Elems[1].Elems
		if pairs && len(items)%2 != 0 {
			return Reply{Kind: '-', Str: "harness: odd number of items in scan page " + clip(r.String())}, nil
		}
		step := 1
		if pairs {
			step = 2
		}
		for i := 0; i < len(items); i += step {
			k := items[i].String()
			if pairs {
				k += " => " + items[i+1].String()
			}
			seen[k] = true
		}
		a[curIdx] = r.Elems[0].Str
		if a[curIdx] == "0" {
			break
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := Reply{Kind: '*', Elems: []Reply{}}
	for _, k := range keys {
		out.Elems = append(out.Elems, Reply{Kind: '+', Str: k})
	}
	return out, nil
}

// compare decides whether two replies match under the step's directives.
func compare(st step, r, p Reply) (bool, string) {
	if st.skipValue {
		return r.KindName() == p.KindName(), "types differ"
	}
	if r.Kind == '-' || p.Kind == '-' {
		return r.String() == p.String(), ""
	}
	switch {
	case st.ttl:
		if r.Kind != ':' || p.Kind != ':' {
			return r.String() == p.String(), ""
		}
		if r.Int < 0 || p.Int < 0 {
			return r.Int == p.Int, ""
		}
		tol := st.ttlTol
		if tol == 0 {
			tol = 2
			if strings.HasPrefix(strings.ToUpper(st.args[0]), "P") {
				tol = 2000
			}
		}
		d := r.Int - p.Int
		return d >= -tol && d <= tol, fmt.Sprintf("ttl tolerance %d", tol)
	case st.lenOnly || st.in != nil:
		if r.KindName() != p.KindName() {
			return false, "types differ"
		}
		if r.IsAggregate() && len(r.Elems) != len(p.Elems) {
			return false, "lengths differ"
		}
		if st.in != nil {
			for i, x := range []Reply{r, p} {
				if bad := notIn(x, st.in); bad != "" {
					return false, fmt.Sprintf("%s returned %s, not one of %q", []string{"redis", "pika"}[i], bad, st.in)
				}
			}
		}
		return true, ""
	case st.sort:
		return sortedString(r, 1) == sortedString(p, 1), "compared sorted"
	case st.sortPairs:
		return sortedString(r, 2) == sortedString(p, 2), "compared as sorted pairs"
	case st.words:
		return sortedWords(r).String() == sortedWords(p).String(), "compared with each string's words sorted"
	}
	return r.String() == p.String(), ""
}

// sortedWords is r with the space-separated words of each string in it
// sorted.
func sortedWords(r Reply) Reply {
	if r.IsAggregate() {
		out := r
		out.Elems = make([]Reply, len(r.Elems))
		for i, e := range r.Elems {
			out.Elems[i] = sortedWords(e)
		}
		return out
	}
	w := strings.Fields(r.Str)
	slices.Sort(w)
	r.Str = strings.Join(w, " ")
	return r
}

// notIn returns the first returned value that is not in allowed, or "".
func notIn(r Reply, allowed []string) string {
	vals := []Reply{r}
	if r.IsAggregate() {
		vals = r.Elems
	}
	for _, v := range vals {
		if v.Null || v.Kind == '_' {
			continue
		}
		s := v.Str
		if v.Kind == ':' {
			s = strconv.FormatInt(v.Int, 10)
		}
		if !slices.Contains(allowed, s) {
			return v.String()
		}
	}
	return ""
}

// sortedString renders an aggregate reply with its elements (or groups of n elements) sorted,
// prefixed by its kind. Pairs RESP3 sends as two-element arrays (ZRANGE WITHSCORES) are
// groups already.
func sortedString(r Reply, n int) string {
	if !r.IsAggregate() || len(r.Elems)%n != 0 {
		return r.String()
	}
	if n == 2 && r.Kind == '*' && len(r.Elems) > 0 && !slices.ContainsFunc(r.Elems, func(e Reply) bool {
		return e.Kind != '*' || len(e.Elems) != 2
	}) {
		n = 1
	}
	var groups []string
	for i := 0; i < len(r.Elems); i += n {
		g := Reply{Kind: '*', Elems: r.Elems[i : i+n]}
		groups = append(groups, g.String())
	}
	slices.Sort(groups)
	return "sorted" + r.KindName() + fmt.Sprint(groups)
}

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: `SET k v`, want: []string{"SET", "k", "v"}},
		{in: `  SET   "a b"  'c d' `, want: []string{"SET", "a b", "c d"}},
		{in: `SET "a\nb\x00c\x4g"`, want: []string{"SET", "a\nb\x00cx4g"}},
		{in: `SET 'it\'s' "q\"q"`, want: []string{"SET", "it's", `q"q`}},
		{in: `SET ""`, want: []string{"SET", ""}},
		{in: `SET "abc`, err: true},
		{in: `SET "abc"d`, err: true},
		{in: `SET 'abc`, err: true},
	} {
		got, err := splitArgs(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("splitArgs(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// awaitBlocked waits until srv reports n blocked clients (5 s at most).
func awaitBlocked(srv *server, n int) error {
	c, err := Dial(srv.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	want := "blocked_clients:" + strconv.Itoa(n) + "\r\n"
	var last string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r, err := c.Do("INFO", "clients")
		if err != nil {
			return err
		}
		if last = r.Str; strings.Contains(last, want) {
			return nil
		}
	}
	return fmt.Errorf("not %d blocked clients in 5 s: %q", n, last)
}
