package peer

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, raw := range []string{
		"+OK\r\n", "-ERR x\r\n", ":42\r\n", "$-1\r\n", "$0\r\n\r\n", "$3\r\nabc\r\n",
		"*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
		// RESP3, a forwarded command's reply to a HELLO 3 client.
		"_\r\n", ",1.5\r\n", ",-inf\r\n", "#t\r\n", "(12345678901234567890\r\n",
		"=8\r\ntxt:info\r\n", "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "~2\r\n:1\r\n:2\r\n",
		">2\r\n$7\r\nmessage\r\n_\r\n", "|1\r\n+a\r\n:1\r\n$1\r\nx\r\n",
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(raw+"+next\r\n")), 1<<20)
		if err != nil || string(got) != raw {
			t.Errorf("readReply(%q) = %q, %v", raw, got, err)
		}
	}
	for _, bad := range []string{
		"?x\r\n", "$5\r\nab\r\n", "$3\r\nabcXY", "$-2\r\n", "*x\r\n", ":1\n",
		"$99999999999\r\n", strings.Repeat("*1\r\n", 100) + ":1\r\n",
		"=-1\r\n", "%-1\r\n", "~-1\r\n", "%1\r\n:1\r\n", "|1\r\n+a\r\n:1\r\n",
	} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad)), 1<<20); err == nil {
			t.Errorf("readReply(%q) accepted", bad)
		}
	}
	if _, err := readReply(bufio.NewReader(strings.NewReader("$10\r\n0123456789\r\n")), 8); err == nil {
		t.Error("a reply over the limit was accepted")
	}
}

func TestElemsAndInt(t *testing.T) {
	el, err := Elems([]byte("*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"))
	if err != nil || len(el) != 3 || string(el[0]) != "$1\r\na\r\n" || string(el[1]) != "$-1\r\n" || string(el[2]) != ":7\r\n" {
		t.Fatalf("Elems = %q, %v", el, err)
	}
	if _, err := Elems([]byte(":1\r\n")); err == nil {
		t.Fatal("Elems of an integer")
	}
	if v, err := Int([]byte(":-12\r\n")); err != nil || v != -12 {
		t.Fatalf("Int = %d, %v", v, err)
	}
	if !IsError([]byte("-E\r\n")) || IsError([]byte("+OK\r\n")) {
		t.Fatal("IsError")
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n:1\r\n"))
	f.Add([]byte("$3\r\nabc\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := readReply(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		if err == nil && !bytes.HasPrefix(b, raw) {
			t.Fatalf("reply %q is not a prefix of the input", raw)
		}
	})
}
