package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pika-node/pika-node/node/rdb"
)

// transferOpts are the flags of import and export.
type transferOpts struct {
	url       string // --from (import) or --to (export)
	table     string
	state     string
	limitMBps float64
	verify    bool
	batch     int
	pika      string // --pika host:port: the cluster's RESP address (default: found through the API)
	password  string // --table-password (env PIKACTL_TABLE_PASSWORD)
}

// transferState is what --state keeps after every batch: where the SCAN
// of the source is, and the counts so far. A restart with the same file
// continues from Cursor; the batch in flight at a crash is copied again
// (RESTORE ... REPLACE makes that harmless) and counted once.
type transferState struct {
	Direction string    `json:"direction"` // "import" or "export"
	Remote    string    `json:"remote"`    // the redis URL, password removed
	Table     string    `json:"table"`
	Cursor    uint64    `json:"cursor"`
	Done      bool      `json:"done"`
	Copied    int64     `json:"copied"`
	Skipped   int64     `json:"skipped"` // gone between SCAN and DUMP
	Failed    int64     `json:"failed"`
	Bytes     int64     `json:"bytes"`
	Elapsed   float64   `json:"elapsed_seconds"` // copying time of the runs so far
	FailedKey []string  `json:"failed_keys,omitempty"`
	Errors    []string  `json:"errors,omitempty"`
	Started   time.Time `json:"started"`
}

// maxListed is how many failed keys (and verify differences) are kept to
// show.
const maxListed = 20

// transferSummary is what import and export print at the end (--json: as is).
type transferSummary struct {
	transferState
	MBps   float64         `json:"mb_per_second"`
	Verify *transferVerify `json:"verify,omitempty"`
	Source string          `json:"source"`
	Dest   string          `json:"destination"`
}

// transferVerify is --verify's report.
type transferVerify struct {
	Checked     int64    `json:"checked"`
	Missing     int64    `json:"missing"`     // on the source, not on the destination
	Extra       int64    `json:"extra"`       // on the destination, not on the source
	Different   int64    `json:"different"`   // both, other values or expiry
	Differences []string `json:"differences"` // the first ones
}

func (a *app) importCmd() *cobra.Command { return a.transferCmd("import") }
func (a *app) exportCmd() *cobra.Command { return a.transferCmd("export") }

func (a *app) transferCmd(dir string) *cobra.Command {
	var o transferOpts
	urlFlag, short, long := "from", "Copy a redis-server (or another pika-node) into a table",
		`Copies every key of a redis-server (or another pika-node) into table --table of this
cluster: SCAN of the source, DUMP and PTTL of each key, RESTORE ... REPLACE here, pipelined
(--batch keys a round trip). With --state FILE the SCAN cursor and the counts are saved after
every batch, and a run with the same file continues where the last one stopped (a key of the
batch in flight is copied again). --limit-mbps paces the copy (payload megabytes a second).
--verify then compares every key of both sides (values decoded from DUMP, order-free for sets
and hashes, and whether each has an expiry) and lists the differences; exit status 1 when
there are any, or when keys failed.`
	if dir == "export" {
		urlFlag, short, long = "to", "Copy a table to a redis-server (or another pika-node)",
			`Copies every key of table --table of this cluster to a redis-server (or another
pika-node), as import does the other way (same flags).`
	}
	example := `  pikactl import --from redis://10.0.0.9:6379/0 --table users --state users.import --limit-mbps 50
  pikactl import --from redis://default:pw@10.0.0.9:6379/0 --table users --state users.import --verify
  pikactl --json import --from redis://10.0.0.9:6379 --table users --pika 10.0.0.5:9221`
	if dir == "export" {
		example = `  pikactl export --to redis://10.0.0.9:6379/0 --table users --state users.export
  pikactl export --to redis://10.0.0.9:6379/1 --table users --verify`
	}
	cmd := &cobra.Command{
		Use:     dir + " --" + urlFlag + " redis://[user:pass@]host:port[/db] --table T",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    positional(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.url == "" || o.table == "" {
				return usagef(cmd, "--%s and --table are required", urlFlag)
			}
			if o.batch < 1 || o.limitMBps < 0 {
				return usagef(cmd, "--batch must be positive and --limit-mbps not negative")
			}
			return a.runTransfer(cmd, dir, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, urlFlag, "", "the redis-server: redis://[user:pass@]host:port[/db] (rediss:// for TLS)")
	f.StringVar(&o.table, "table", "", "the table of this cluster")
	f.StringVar(&o.state, "state", "", "keep the progress in this file and resume from it")
	f.Float64Var(&o.limitMBps, "limit-mbps", 0, "copy at most this many megabytes (of payload) a second; 0: no limit")
	f.BoolVar(&o.verify, "verify", false, "compare every key of both sides afterwards")
	f.IntVar(&o.batch, "batch", 200, "keys a pipelined round trip")
	f.StringVar(&o.pika, "pika", "", "the cluster's RESP address, host:port (default: a live node's, from the API)")
	f.StringVar(&o.password, "table-password", "", "the table's password, when the admin token is not at hand (env PIKACTL_TABLE_PASSWORD)")
	return cmd
}

// pikaClient connects to the table through the cluster's RESP port: as
// pika-admin with the admin token, else with the table's password.
func (a *app) pikaClient(cmd *cobra.Command, o transferOpts) (*redis.Client, error) {
	addr := o.pika
	token, err := a.adminToken()
	if err != nil {
		return nil, err
	}
	if addr == "" {
		err := a.call(cmd, func(ctx context.Context, b backend) error {
			nodes, err := b.Nodes(ctx)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.Alive && n.RESP != "" {
					addr = n.RESP
					return nil
				}
			}
			return errors.New("no live node with a RESP address")
		})
		if err != nil {
			return nil, err
		}
	}
	password := cmp.Or(o.password, a.getenv("PIKACTL_TABLE_PASSWORD"))
	table := o.table
	opts := &redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: 3,
		ReadTimeout: a.opts.timeout, WriteTimeout: a.opts.timeout, PoolSize: 4,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			switch {
			case token != "":
				if err := cn.Do(ctx, "AUTH", "pika-admin", token).Err(); err != nil {
					return fmt.Errorf("AUTH pika-admin: %w", err)
				}
			case password != "":
				if err := cn.Do(ctx, "AUTH", password).Err(); err != nil {
					return fmt.Errorf("AUTH: %w", err)
				}
			}
			if err := cn.Do(ctx, "SELECT", table).Err(); err != nil {
				return fmt.Errorf("SELECT %s: %w", table, err)
			}
			return nil
		},
	}
	return redis.NewClient(opts), nil
}

// remoteClient connects to the redis URL.
func (a *app) remoteClient(cmd *cobra.Command, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, usagef(cmd, "%v", err)
	}
	opts.Protocol, opts.DisableIdentity, opts.MaxRetries = 2, true, 3
	opts.ReadTimeout, opts.WriteTimeout, opts.PoolSize = a.opts.timeout, a.opts.timeout, 4
	return redis.NewClient(opts), nil
}

// redactURL drops the password from a redis URL for the state file and
// the output.
func redactURL(url string) string {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB)
}

func (a *app) runTransfer(cmd *cobra.Command, dir string, o transferOpts) error {
	ctx := cmd.Context()
	remote, err := a.remoteClient(cmd, o.url)
	if err != nil {
		return err
	}
	defer remote.Close()
	pika, err := a.pikaClient(cmd, o)
	if err != nil {
		return err
	}
	defer pika.Close()
	src, dst := remote, pika
	srcName, dstName := redactURL(o.url), "table "+o.table
	if dir == "export" {
		src, dst = pika, remote
		srcName, dstName = dstName, srcName
	}
	for _, c := range []*redis.Client{src, dst} {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("%s: %w", c.Options().Addr, err)
		}
	}
	st := &transferState{Direction: dir, Remote: redactURL(o.url), Table: o.table, Started: time.Now().UTC()}
	if o.state != "" {
		if err := loadState(o.state, st); err != nil {
			return err
		}
		if st.Direction != dir || st.Remote != redactURL(o.url) || st.Table != o.table {
			return usagef(cmd, "--state %s is a %s of %s and table %s, not this one", o.state, st.Direction, st.Remote, st.Table)
		}
	}
	total, _ := src.DBSize(ctx).Result()
	var bar *progressbar.ProgressBar
	if a.s.outTerminal && !a.opts.json && !st.Done {
		bar = progressbar.NewOptions64(max(total, 1),
			progressbar.OptionSetWriter(a.s.err),
			progressbar.OptionSetDescription(dir),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("keys"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
		)
		_ = bar.Set64(st.Copied + st.Skipped + st.Failed)
	}
	runErr := copyKeys(ctx, src, dst, o, st, func() error {
		if bar != nil {
			bar.Describe(fmt.Sprintf("%s: %s", dir, formatBytes(st.Bytes)))
			_ = bar.Set64(st.Copied + st.Skipped + st.Failed)
		}
		if o.state != "" {
			return saveState(o.state, st)
		}
		return nil
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(a.s.err)
	}
	sum := transferSummary{transferState: *st, Source: srcName, Dest: dstName}
	if st.Elapsed > 0 {
		sum.MBps = float64(st.Bytes) / 1e6 / st.Elapsed
	}
	if runErr == nil && o.verify {
		v, err := verifyKeys(ctx, src, dst, o.batch)
		if err != nil {
			runErr = fmt.Errorf("verify: %w", err)
		}
		sum.Verify = v
	}
	if err := a.printTransfer(sum); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if st.Failed > 0 || (sum.Verify != nil && sum.Verify.Missing+sum.Verify.Extra+sum.Verify.Different > 0) {
		return &errPartial{msg: "some keys were not copied, or differ"}
	}
	return nil
}

func (a *app) printTransfer(s transferSummary) error {
	if a.opts.json {
		return writeJSON(a.s.out, s)
	}
	w := a.s.out
	fmt.Fprintf(w, "%s %s -> %s: %d keys copied, %d skipped (gone), %d failed; %s in %s (%.1f MB/s)\n",
		s.Direction, s.Source, s.Dest, s.Copied, s.Skipped, s.Failed, formatBytes(s.Bytes),
		formatDuration(time.Duration(s.Elapsed*float64(time.Second))), s.MBps)
	for i, k := range s.FailedKey {
		fmt.Fprintf(w, "  failed: %q: %s\n", k, s.Errors[i])
	}
	if v := s.Verify; v != nil {
		fmt.Fprintf(w, "verify: %d keys checked, %d missing, %d extra, %d different\n", v.Checked, v.Missing, v.Extra, v.Different)
		for _, d := range v.Differences {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	return nil
}

func loadState(path string, st *transferState) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("--state %s: %w", path, err)
	}
	return nil
}

// saveState writes the state through a temporary file and a rename, so a
// crash leaves the old state or the new one.
func saveState(path string, st *transferState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// copyKeys copies from st.Cursor until the SCAN ends, calling saved after
// every batch (its error stops the copy).
func copyKeys(ctx context.Context, src, dst *redis.Client, o transferOpts, st *transferState, saved func() error) error {
	start := time.Now()
	base := st.Elapsed
	var sentBytes int64
	for !st.Done {
		keys, next, err := src.Scan(ctx, st.Cursor, "", int64(o.batch)).Result()
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		if len(keys) > 0 {
			n, err := copyBatch(ctx, src, dst, keys, st)
			if err != nil {
				return err
			}
			sentBytes += n
		}
		st.Cursor = next
		st.Done = next == 0
		st.Elapsed = base + time.Since(start).Seconds()
		if err := saved(); err != nil {
			return err
		}
		if o.limitMBps > 0 {
			// Pace: sleep until this run's bytes fit the rate.
			due := time.Duration(float64(sentBytes) / (o.limitMBps * 1e6) * float64(time.Second))
			if wait := due - time.Since(start); wait > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(wait):
				}
			}
		}
	}
	st.Elapsed = base + time.Since(start).Seconds()
	return saved()
}

// copyBatch moves keys: DUMP and PTTL of each from src in one pipeline,
// RESTORE ... REPLACE of each into dst in another. It returns the payload
// bytes sent.
func copyBatch(ctx context.Context, src, dst *redis.Client, keys []string, st *transferState) (int64, error) {
	dumps := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err := src.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			dumps[i] = p.Dump(ctx, k)
			ttls[i] = p.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		if _, ok := err.(redis.Error); !ok {
			return 0, fmt.Errorf("DUMP: %w", err)
		}
	}
	restores := make([]*redis.Cmd, len(keys))
	var n int64
	_, err = dst.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			payload, err := dumps[i].Result()
			if err != nil {
				continue // gone (nil) or refused: counted below
			}
			ttl := int64(0)
			if d, err := ttls[i].Result(); err == nil && d > 0 {
				ttl = d.Milliseconds()
			}
			n += int64(len(payload))
			restores[i] = p.Do(ctx, "RESTORE", k, ttl, payload, "REPLACE")
		}
		return nil
	})
	if err != nil {
		if _, ok := err.(redis.Error); !ok {
			return 0, fmt.Errorf("RESTORE: %w", err)
		}
	}
	for i, k := range keys {
		derr := dumps[i].Err()
		switch {
		case errors.Is(derr, redis.Nil):
			st.Skipped++
		case derr != nil:
			st.fail(k, "DUMP: "+derr.Error())
		case restores[i].Err() != nil:
			st.fail(k, "RESTORE: "+restores[i].Err().Error())
		default:
			st.Copied++
		}
	}
	st.Bytes += n
	return n, nil
}

func (st *transferState) fail(key, why string) {
	st.Failed++
	if len(st.FailedKey) < maxListed {
		st.FailedKey = append(st.FailedKey, key)
		st.Errors = append(st.Errors, why)
	}
}

// verifyKeys compares both sides: every key of src against dst (its value
// decoded from DUMP, compared as its type compares, and whether it has an
// expiry), then which keys of dst src lacks.
func verifyKeys(ctx context.Context, src, dst *redis.Client, batch int) (*transferVerify, error) {
	v := &transferVerify{Differences: []string{}}
	note := func(format string, args ...any) {
		if len(v.Differences) < maxListed {
			v.Differences = append(v.Differences, fmt.Sprintf(format, args...))
		}
	}
	err := scanAll(ctx, src, batch, func(keys []string) error {
		a, err := dumpAll(ctx, src, keys)
		if err != nil {
			return err
		}
		b, err := dumpAll(ctx, dst, keys)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if a[i].gone {
				continue // expired or deleted since the SCAN
			}
			v.Checked++
			switch {
			case b[i].gone:
				v.Missing++
				note("missing: %q", k)
			case !sameDump(a[i], b[i]):
				v.Different++
				note("different: %q", k)
			}
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	err = scanAll(ctx, dst, batch, func(keys []string) error {
		cmds := make([]*redis.IntCmd, len(keys))
		if _, err := src.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Exists(ctx, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for i, k := range keys {
			if cmds[i].Val() == 0 {
				v.Extra++
				note("extra: %q", k)
			}
		}
		return nil
	})
	return v, err
}

func scanAll(ctx context.Context, c *redis.Client, batch int, fn func(keys []string) error) error {
	var cursor uint64
	seen := map[string]bool{} // a SCAN may return a key twice
	for {
		keys, next, err := c.Scan(ctx, cursor, "", int64(batch)).Result()
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		fresh := keys[:0]
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				fresh = append(fresh, k)
			}
		}
		if len(fresh) > 0 {
			if err := fn(fresh); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// keyDump is one key's DUMP and whether it expires.
type keyDump struct {
	gone    bool
	payload string
	expires bool
}

func dumpAll(ctx context.Context, c *redis.Client, keys []string) ([]keyDump, error) {
	dumps := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			dumps[i] = p.Dump(ctx, k)
			ttls[i] = p.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		if _, ok := err.(redis.Error); !ok {
			return nil, err
		}
	}
	out := make([]keyDump, len(keys))
	for i := range keys {
		p, err := dumps[i].Result()
		d, _ := ttls[i].Result()
		out[i] = keyDump{gone: err != nil, payload: p, expires: d > 0}
	}
	return out, nil
}

// sameDump compares two keys by their decoded values: byte-equal payloads
// are equal; otherwise both are decoded (node/rdb) and compared as their
// type compares (a set's or hash's members in any order).
func sameDump(a, b keyDump) bool {
	if a.expires != b.expires {
		return false
	}
	if a.payload == b.payload {
		return true
	}
	va, err := rdb.Decode([]byte(a.payload))
	if err != nil {
		return false
	}
	vb, err := rdb.Decode([]byte(b.payload))
	if err != nil {
		return false
	}
	return sameValue(va, vb)
}

func sameValue(a, b *rdb.Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	sortedItems := func(items [][]byte) [][]byte {
		s := slices.Clone(items)
		slices.SortFunc(s, bytes.Compare)
		return s
	}
	switch a.Kind {
	case rdb.KindString:
		return bytes.Equal(a.Str, b.Str)
	case rdb.KindList:
		return slices.EqualFunc(a.Items, b.Items, bytes.Equal)
	case rdb.KindSet:
		return slices.EqualFunc(sortedItems(a.Items), sortedItems(b.Items), bytes.Equal)
	case rdb.KindHash:
		fa := make(map[string]string, len(a.Fields))
		for _, f := range a.Fields {
			fa[string(f[0])] = string(f[1])
		}
		if len(fa) != len(b.Fields) {
			return false
		}
		for _, f := range b.Fields {
			if v, ok := fa[string(f[0])]; !ok || v != string(f[1]) {
				return false
			}
		}
		return true
	case rdb.KindZSet:
		za, zb := slices.Clone(a.ZSet), slices.Clone(b.ZSet)
		rdb.SortZSet(za)
		rdb.SortZSet(zb)
		return slices.EqualFunc(za, zb, func(x, y rdb.ZMember) bool {
			return bytes.Equal(x.Member, y.Member) && (x.Score == y.Score || math.IsNaN(x.Score) && math.IsNaN(y.Score))
		})
	}
	return false
}
