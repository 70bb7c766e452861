package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestSlowlogAndLatency checks what SLOWLOG and LATENCY keep of the
// commands this node ran: entries newest first with the client's address
// and name, secrets redacted, EXEC left out and its commands logged; the
// latency monitor's samples; LATENCY HISTOGRAM's counts.
func TestSlowlogAndLatency(t *testing.T) {
	addr, stop := startNode(t, t.TempDir(), nil)
	defer stop()
	ctx := context.Background()
	// One connection: the entries name it.
	c := newClient(t, addr, nil).Conn()
	defer c.Close()
	do := func(args ...any) any {
		t.Helper()
		v, err := c.Do(ctx, args...).Result()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return v
	}
	// DEBUG is refused by default, as by redis-server 7.0 (enable-debug-command no).
	if err := c.Do(ctx, "DEBUG", "SLEEP", "0").Err(); err == nil || err.Error() != string(errDebugNotAllowed) {
		t.Fatalf("DEBUG under enable-debug-command no: %v", err)
	}
	do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	do("SLOWLOG", "RESET")
	do("CLIENT", "SETNAME", "app")
	do("SET", "k", strings.Repeat("v", 130))
	if err := c.Do(ctx, "AUTH", "secret").Err(); err == nil {
		t.Fatal("AUTH with no password set succeeded")
	} // an error, logged all the same
	pipe := c.TxPipeline()
	pipe.Incr(ctx, "n")
	pipe.Get(ctx, "n")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	entries := do("SLOWLOG", "GET", "-1").([]any)
	var got []string
	for _, e := range entries {
		f := e.([]any)
		var args []string
		for _, a := range f[3].([]any) {
			args = append(args, a.(string))
		}
		got = append(got, strings.Join(args, " "))
		if f[4].(string) == "" || (f[5].(string) != "app") != (len(got) == len(entries)) {
			t.Errorf("entry %v: want the client's address and name", f)
		}
	}
	want := []string{
		"get n", "incr n", "multi", "AUTH (redacted)",
		"SET k " + strings.Repeat("v", 128) + "... (2 more bytes)", "CLIENT SETNAME app",
	}
	// SLOWLOG RESET is logged after it ran, unnamed yet.
	if len(got) < len(want) || fmt.Sprint(got[:len(want)]) != fmt.Sprint(want) {
		t.Fatalf("SLOWLOG GET -1 =\n%q\nwant first\n%q", got, want)
	}
	if n := do("SLOWLOG", "LEN").(int64); n != int64(len(entries))+1 {
		t.Fatalf("SLOWLOG LEN = %d after GET of %d", n, len(entries))
	}
	do("CONFIG", "SET", "slowlog-max-len", "2")
	if n := do("SLOWLOG", "LEN").(int64); n != 2 {
		t.Fatalf("SLOWLOG LEN = %d under slowlog-max-len 2", n)
	}

	// A latency spike of a command, and none of a fast one under the threshold.
	do("CONFIG", "SET", "latency-monitor-threshold", "1")
	script := "local t = redis.call('TIME') local s = t[1]*1000000+t[2] repeat local u = redis.call('TIME') until (u[1]*1000000+u[2]) - s > 5000 return 1"
	do("EVAL", script, "0")
	latest := do("LATENCY", "LATEST").([]any)
	if len(latest) != 1 || latest[0].([]any)[0] != "command" || latest[0].([]any)[2].(int64) < 5 {
		t.Fatalf("LATENCY LATEST = %v", latest)
	}
	if h := do("LATENCY", "HISTORY", "command").([]any); len(h) != 1 {
		t.Fatalf("LATENCY HISTORY = %v", h)
	}
	if d := do("LATENCY", "DOCTOR").(string); !strings.Contains(d, "1. command: 1 latency spikes") {
		t.Fatalf("LATENCY DOCTOR = %q", d)
	}
	if n := do("LATENCY", "RESET").(int64); n != 1 {
		t.Fatalf("LATENCY RESET = %d", n)
	}
	if ls := do("INFO", "latencystats").(string); !strings.Contains(ls, "latency_percentiles_usec_set:p50=") || !strings.Contains(ls, ",p99.9=") {
		t.Fatalf("INFO latencystats = %q", ls)
	}
	hist := do("LATENCY", "HISTOGRAM", "set", "nosuch").(map[any]any)
	set, ok := hist["set"].(map[any]any)
	if len(hist) != 1 || !ok || set["calls"].(int64) != 1 {
		t.Fatalf("LATENCY HISTOGRAM set nosuch = %v", hist)
	}
}
