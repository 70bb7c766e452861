package compat

import (
	"slices"
	"strings"
	"testing"
)

// Every command pika-node has shows redis-server 7.0's ACL categories in
// COMMAND INFO, and ACL CAT <category> lists what redis-server lists of
// the commands pika-node has; ACL GENPASS gives the bits asked for.
func TestACLCategoriesAndGenpass(t *testing.T) {
	conns := newConfigConn(t)
	pika, redis := conns.pka, conns.redis
	names, err := pika.Do("COMMAND", "LIST")
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, n := range names.Elems {
		ours[n.Str] = true
	}
	checked := 0
	for name := range ours {
		p, err := pika.Do("COMMAND", "INFO", name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := redis.Do("COMMAND", "INFO", name)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Elems) != 1 || len(r.Elems[0].Elems) < 7 {
			continue // a command redis-server does not have
		}
		if got, want := categories(p.Elems[0].Elems[6]), categories(r.Elems[0].Elems[6]); got != want {
			t.Errorf("COMMAND INFO %s: categories %s, redis-server %s", name, got, want)
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("compared %d commands' categories, want them all (over 100)", checked)
	}
	cats, err := redis.Do("ACL", "CAT")
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats.Elems {
		p, err := pika.Do("ACL", "CAT", cat.Str)
		if err != nil {
			t.Fatal(err)
		}
		r, err := redis.Do("ACL", "CAT", cat.Str)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range r.Elems {
			if top, _, _ := strings.Cut(e.Str, "|"); ours[top] {
				want = append(want, e.Str)
			}
		}
		var got []string
		for _, e := range p.Elems {
			got = append(got, e.Str)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("ACL CAT %s: %d names, want %d: %v, want %v", cat.Str, len(got), len(want), got, want)
		}
	}
	for bits, chars := range map[string]int{"": 64, "1": 1, "5": 2, "8": 2, "9": 3, "4096": 1024} {
		args := []string{"ACL", "GENPASS"}
		if bits != "" {
			args = append(args, bits)
		}
		r, err := pika.Do(args...)
		if err != nil || len(r.Str) != chars || strings.Trim(r.Str, "0123456789abcdef") != "" {
			t.Errorf("ACL GENPASS %s: %q, %v; want %d hex digits", bits, r.Str, err, chars)
		}
	}
}

// categories renders a COMMAND INFO categories element sorted.
func categories(r Reply) string {
	var out []string
	for _, e := range r.Elems {
		out = append(out, e.Str)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
