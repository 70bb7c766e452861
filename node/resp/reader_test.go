package resp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, limits Limits) ([][][]byte, error) {
	t.Helper()
	r := NewReader(strings.NewReader(in), limits)
	var cmds [][][]byte
	for {
		args, err := r.ReadCommand()
		if err != nil {
			if err == io.EOF {
				return cmds, nil
			}
			return cmds, err
		}
		if args != nil {
			cmds = append(cmds, args)
		}
	}
}

func TestReadCommand(t *testing.T) {
	cases := []struct {
		in      string
		want    []string // each command's args joined by "|"
		wantErr string
	}{
		{in: "*1\r\n$4\r\nPING\r\n", want: []string{"PING"}},
		{in: "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", want: []string{"GET|"}},
		{in: "PING\r\nECHO hi\n", want: []string{"PING", "ECHO|hi"}},
		{in: "set \"a b\" 'c d'\r\n", want: []string{"set|a b|c d"}},
		{in: "echo \"\\x41\\n\"\r\n", want: []string{"echo|A\n"}},
		{in: "\r\n\r\n*0\r\n*-1\r\nPING\r\n", want: []string{"PING"}},
		{in: "*1\r\n$4\r\nPINGxx\r\n", want: []string{"PING"}}, // CRLF after a bulk is skipped unchecked, as Redis does
		{in: "*x\r\n", wantErr: "Protocol error: invalid multibulk length"},
		{in: "*01\r\n", wantErr: "Protocol error: invalid multibulk length"},
		{in: "*+1\r\n", wantErr: "Protocol error: invalid multibulk length"},
		{in: "*3000000000\r\n", wantErr: "Protocol error: invalid multibulk length"},
		{in: "*1\r\nx\r\n", wantErr: "Protocol error: expected '$', got 'x'"},
		{in: "*1\r\n$-1\r\n", wantErr: "Protocol error: invalid bulk length"},
		{in: "*1\r\n$536870913\r\n", wantErr: "Protocol error: invalid bulk length"},
		{in: "set \"a b\r\n", wantErr: "Protocol error: unbalanced quotes in request"},
		{in: "get \"a\"b\r\n", wantErr: "Protocol error: unbalanced quotes in request"},
		{in: strings.Repeat("x", 70000), wantErr: "Protocol error: too big inline request"},
		{in: "*" + strings.Repeat("1", 70000), wantErr: "Protocol error: too big mbulk count string"},
		{in: "*1\r\n$" + strings.Repeat("1", 70000), wantErr: "Protocol error: too big bulk count string"},
	}
	for _, c := range cases {
		cmds, err := readAll(t, c.in, Limits{})
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%.40q: err %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.40q: unexpected err %v", c.in, err)
			continue
		}
		var got []string
		for _, cmd := range cmds {
			got = append(got, string(bytes.Join(cmd, []byte("|"))))
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%.40q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// A command that announces a huge argument costs memory only as data
// arrives, and a command beyond MaxQuery is refused.
func TestQueryLimit(t *testing.T) {
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n" + strings.Repeat("v", 2000) + "\r\n"
	_, err := readAll(t, in, Limits{MaxBulk: 4096, MaxQuery: 1024})
	if !errors.Is(err, ErrQueryLimit) {
		t.Fatalf("err = %v, want ErrQueryLimit", err)
	}
	// Many empty arguments count too.
	in = "*100000\r\n" + strings.Repeat("$0\r\n\r\n", 100000)
	_, err = readAll(t, in, Limits{MaxBulk: 4096, MaxQuery: 1 << 20})
	if !errors.Is(err, ErrQueryLimit) {
		t.Fatalf("empty args: err = %v, want ErrQueryLimit", err)
	}
}

func TestLargeBulk(t *testing.T) {
	val := bytes.Repeat([]byte("abcdefgh"), 600_000) // 4.8 MB, several growth steps
	in := "*2\r\n$4\r\nECHO\r\n$" + strconv.Itoa(len(val)) + "\r\n" + string(val) + "\r\n"
	cmds, err := readAll(t, in, Limits{})
	if err != nil || len(cmds) != 1 || !bytes.Equal(cmds[0][1], val) {
		t.Fatalf("large bulk: err %v, %d cmds", err, len(cmds))
	}
}

func TestParseInt(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63}
	for s, want := range good {
		if got, ok := ParseInt([]byte(s)); !ok || got != want {
			t.Errorf("ParseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "01", "-0", "+1", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1e3", "0x10"} {
		if _, ok := ParseInt([]byte(s)); ok {
			t.Errorf("ParseInt(%q) accepted", s)
		}
	}
}

func encodeCommand(args [][]byte) []byte {
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// FuzzReadCommand feeds arbitrary bytes to the reader: it must never panic
// or return arguments beyond the limits, and every command it returns must
// survive a round trip through the multibulk encoding.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", "set \"a\\x00b\" 'c'\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*1\r\n$-1\r\n", "*x\r\n", "\"unbalanced\r\n", "*1\r\n$536870913\r\n", "*2\r\n$1\r\na\r\n",
	} {
		f.Add([]byte(s))
	}
	limits := Limits{MaxBulk: 1 << 16, MaxQuery: 1 << 18}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), limits)
		for i := 0; i < 1000; i++ {
			args, err := r.ReadCommand()
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &pe) && !errors.Is(err, ErrQueryLimit) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if len(args) == 0 {
				continue
			}
			var total int64
			for _, a := range args {
				if int64(len(a)) > limits.MaxBulk {
					t.Fatalf("argument of %d bytes beyond MaxBulk", len(a))
				}
				total += int64(len(a))
			}
			if total > limits.MaxQuery {
				t.Fatalf("command of %d bytes beyond MaxQuery", total)
			}
			back, err := NewReader(bytes.NewReader(encodeCommand(args)), limits).ReadCommand()
			if err != nil || len(back) != len(args) {
				t.Fatalf("round trip failed: %v", err)
			}
			for j := range args {
				if !bytes.Equal(back[j], args[j]) {
					t.Fatalf("round trip changed arg %d", j)
				}
			}
		}
	})
}

func TestCompleteBuffered(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"PING", false},
		{"PING\r\n", true},
		{"*2\r\n$3\r\nGET\r\n$1\r\nk", false},
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", true},
		{"*2\r\n$3\r\nGET\r\n", false},
		{"*2\r", false},
		{"*x\r\n", true}, // malformed: ReadCommand fails at once
		{"*1\r\n$-5\r\n", true},
		{"*1\r\nx", true},
	}
	for _, c := range cases {
		r := NewReader(strings.NewReader(c.in), Limits{})
		if c.in != "" {
			_, _ = r.br.Peek(len(c.in)) // fill the buffer
		}
		if got := r.CompleteBuffered(); got != c.want {
			t.Errorf("%q: got %v want %v", c.in, got, c.want)
		}
	}
}

// Readers sharing a Budget cannot together hold more than it, beyond each
// command's free allowance; a finished command gives its share back.
func TestBudgetIsShared(t *testing.T) {
	budget := NewBudget(200 << 10)
	cmd := func(size int) string {
		return "*2\r\n$4\r\nECHO\r\n$" + strconv.Itoa(size) + "\r\n" + strings.Repeat("x", size) + "\r\n"
	}
	a := NewReader(strings.NewReader(cmd(150<<10)+cmd(10)), Limits{Budget: budget})
	if _, err := a.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if used := budget.Used(); used < 80<<10 || used > 100<<10 {
		t.Fatalf("budget used %d after a 150 KB command, want about 150 KB - 64 KB", used)
	}
	b := NewReader(strings.NewReader(cmd(200<<10)), Limits{Budget: budget})
	if _, err := b.ReadCommand(); !errors.Is(err, ErrQueryLimit) {
		t.Fatalf("second reader: err %v, want ErrQueryLimit while the first holds its share", err)
	}
	b.Release()
	a.Release() // the caller is done with the 150 KB command
	if _, err := a.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if used := budget.Used(); used != 0 {
		t.Fatalf("budget used %d after the big command was released", used)
	}
	c := NewReader(strings.NewReader(cmd(200<<10)), Limits{Budget: budget})
	if _, err := c.ReadCommand(); err != nil {
		t.Fatalf("after release: %v", err)
	}
	c.Release()
	if used := budget.Used(); used != 0 {
		t.Fatalf("budget used %d after Release", used)
	}
}

// Until the connection authenticates, a command has at most 10 arguments
// of 16 KB each; the check follows the state from command to command.
func TestUnauthenticatedBounds(t *testing.T) {
	authed := false
	limits := Limits{Unauthenticated: func() bool { return !authed }}
	cmd := func(args ...string) string { return string(encodeCommand(stringsToBytes(args))) }
	ten := cmd("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	eleven := cmd("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")
	bulk := func(n int) string { return cmd("GET", strings.Repeat("x", n)) }
	for _, tc := range []struct {
		in   string
		want error
	}{
		{ten + bulk(16384), nil},
		{eleven, errUnauthMbulk},
		{bulk(16385), errUnauthBulk},
	} {
		if _, err := readAll(t, tc.in, limits); err != tc.want {
			t.Errorf("%.40q: %v, want %v", tc.in, err, tc.want)
		}
	}
	authed = true
	if cmds, err := readAll(t, eleven+bulk(1<<20), limits); err != nil || len(cmds) != 2 {
		t.Errorf("authenticated: %d commands, %v", len(cmds), err)
	}
}

func stringsToBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
