// Command gentable writes table.go, redisconf's parameter table, from what a real
// redis-server 7.0 answers. probe.py (next to this file) starts a scratch redis-server and
// records, for every parameter CONFIG GET * lists, its default, the replies to CONFIG SET of
// the default and of an invalid value (which tell the parameter's kind and Redis's error
// strings), the bounds of numbers and the parameters that change along with it:
//
//	python3 probe.py > redis70.json
//	go run . -in redis70.json -out ../../table.go
//
// What one probe cannot tell is written below, each item found by probing redis-server 7.0.15
// by hand: the hidden parameters, the unsigned memory parameters, the adjusted ones, the
// synonyms of enums, the aliases of string parameters and which parser reads each special one.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// record is one parameter as probe.py writes it.
type record struct {
	Name     string    `json:"name"`
	Default  string    `json:"default"`
	SetSame  string    `json:"set_same"`
	SetBad   string    `json:"set_bad"`
	SetMax   string    `json:"set_max"`
	SetMin   string    `json:"set_min"`
	SetZero  string    `json:"set_zero"`
	Aliases  *[]string `json:"aliases"`
	Get1GB   string    `json:"get_after_1gb"`
	hidden   bool
	kind     string
	min, max int64
}

func main() {
	in := flag.String("in", "redis70.json", "probe.py's output")
	out := flag.String("out", "table.go", "the Go file to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var recs []*record
	if err := json.Unmarshal(data, &recs); err != nil {
		log.Fatal(err)
	}

	// Defaults the probe's command line changed (--port, --bind, --dir, --save ""): the table
	// has redis-server's own, or none for the directory it runs in.
	defaults := map[string]string{"port": "6379", "bind": "* -::*", "dir": "", "save": "3600 1 300 100 60 10000"}
	// Memory parameters kept as unsigned 64-bit numbers: they take 2^64-1.
	unsigned := map[string]bool{"maxmemory": true, "cluster-link-sendbuf-limit": true}
	// Values Redis changes when it applies them.
	adjust := map[string]string{"hz": "adjustHz", "repl-backlog-size": "adjustBacklog"}
	// Enum names that show as another name of the same value.
	showAs := map[string]map[string]string{"oom-score-adj": {"relative": "yes"}}
	// Parameters read by their own parser (their invalid-value replies are their own).
	special := map[string]string{
		"save":                              "parseSave",
		"client-output-buffer-limit":        "parseClientOutputBufferLimit",
		"notify-keyspace-events":            "parseNotifyKeyspaceEvents",
		"oom-score-adj-values":              "parseOOMScoreAdjValues",
		"latency-tracking-info-percentiles": "parsePercentiles",
		"proc-title-template":               "parseProcTitleTemplate",
		"cluster-announce-hostname":         "parseHostname",
		"shutdown-on-sigint":                "parseShutdownOn",
		"shutdown-on-sigterm":               "parseShutdownOn",
	}
	// Strings whose invalid-value reply is a failure to apply it, not a parse error.
	applyFails := map[string]bool{"bind": true}
	// Alias pairs the probe does not find (it only tries numbers and yes/no), and which name
	// of each pair is the alias: the older one.
	extraAliases := map[string]string{"replica-announce-ip": "slave-announce-ip", "replicaof": "slaveof"}
	isAlias := func(name string) bool {
		return strings.Contains(name, "slave") || strings.Contains(name, "ziplist") || name == "lua-time-limit"
	}
	// Parameters only an exact CONFIG GET shows.
	hidden := []*record{
		{Name: "key-load-delay", Default: "0", kind: "Int", min: math.MinInt32, max: math.MaxInt32},
		{Name: "loading-process-events-interval-bytes", Default: "2097152", kind: "Int", min: 1024, max: math.MaxInt32},
		{Name: "lua-enable-deprecated-api", Default: "no", kind: "Bool", SetSame: "can't set immutable config"},
		{Name: "rdb-key-save-delay", Default: "0", kind: "Int", min: math.MinInt32, max: math.MaxInt32},
		{Name: "use-exit-on-panic", Default: "no", kind: "Bool"},
		{Name: "watchdog-period", Default: "0", kind: "Int", min: 0, max: math.MaxInt32},
	}
	for _, h := range hidden {
		h.hidden = true
	}

	between := regexp.MustCompile(`between (-?\d+) and (-?\d+) inclusive`)
	byName := map[string]*record{}
	for _, r := range recs {
		byName[r.Name] = r
		if d, ok := defaults[r.Name]; ok {
			r.Default = d
		}
		bad := r.SetBad
		switch {
		case strings.Contains(r.SetSame, "can't set"):
			r.kind = guessKind(r.Default)
		case special[r.Name] != "":
			r.kind = "Special"
		case strings.Contains(bad, "argument must be 'yes' or 'no'"):
			r.kind = "Bool"
		case strings.Contains(bad, "couldn't be parsed into an integer"):
			r.kind = "Int"
		case strings.Contains(bad, "argument must be a memory value"), strings.Contains(bad, "memory or percent value"):
			r.kind = "Memory"
		case strings.Contains(bad, "must be one of the following: "):
			r.kind = "Enum"
		case bad == "OK" || applyFails[r.Name]:
			r.kind = "String"
		default:
			log.Fatalf("%s: cannot tell its kind from %q", r.Name, bad)
		}
		if r.kind == "Int" || r.kind == "Memory" {
			r.min, r.max = 0, math.MaxInt64
			for _, s := range []string{r.SetMax, r.SetMin, r.SetZero} {
				if m := between.FindStringSubmatch(s); m != nil {
					r.min, _ = strconv.ParseInt(m[1], 10, 64)
					r.max, _ = strconv.ParseInt(m[2], 10, 64)
				}
			}
		}
	}
	recs = append(recs, hidden...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })

	alias := map[string]string{} // name -> its alias
	for name, a := range extraAliases {
		alias[name] = a
	}
	for _, r := range recs {
		if r.Aliases == nil || len(*r.Aliases) == 0 || isAlias(r.Name) {
			continue
		}
		if len(*r.Aliases) != 1 {
			log.Fatalf("%s: aliases %v", r.Name, *r.Aliases)
		}
		alias[r.Name] = (*r.Aliases)[0]
	}
	for name, a := range alias {
		r, ra := byName[name], byName[a]
		if r == nil || ra == nil || !isAlias(a) || r.Default != ra.Default || r.kind != ra.kind || r.min != ra.min || r.max != ra.max {
			log.Fatalf("alias %s of %s does not match it", a, name)
		}
	}

	var b strings.Builder
	b.WriteString("// Code generated by internal/gentable from a probe of redis-server 7.0.15; DO NOT EDIT.\n\n")
	b.WriteString("package redisconf\n\nimport \"math\"\n\n")
	b.WriteString("// table returns every parameter redis-server 7.0 has, in name order (aliases as Alias).\n")
	b.WriteString("func table() []Param {\n\treturn []Param{\n")
	n := 0
	for _, r := range recs {
		if aliasOf(alias, r.Name) {
			continue
		}
		n++
		f := []string{"Name: " + strconv.Quote(r.Name)}
		if a := alias[r.Name]; a != "" {
			f = append(f, "Alias: "+strconv.Quote(a))
		}
		f = append(f, "Kind: "+r.kind)
		var flags []string
		if strings.Contains(r.SetSame, "can't set immutable config") {
			flags = append(flags, "Immutable")
		}
		if strings.Contains(r.SetSame, "can't set protected config") {
			flags = append(flags, "Protected")
		}
		if r.hidden {
			flags = append(flags, "Hidden")
		}
		if unsigned[r.Name] {
			flags = append(flags, "Unsigned")
		}
		if strings.Contains(r.SetBad, "memory or percent value") {
			flags = append(flags, "Percent")
		}
		if len(flags) > 0 {
			f = append(f, "Flags: "+strings.Join(flags, " | "))
		}
		f = append(f, "Default: "+strconv.Quote(r.Default))
		if (r.kind == "Int" || r.kind == "Memory") && !strings.Contains(r.SetSame, "can't set") {
			f = append(f, "Min: "+num(r.min), "Max: "+num(r.max))
		}
		if r.kind == "Enum" {
			names := strings.Split(r.SetBad[strings.Index(r.SetBad, "following: ")+len("following: "):], ", ")
			var opts []string
			for _, o := range names {
				if s := showAs[r.Name][o]; s != "" {
					opts = append(opts, fmt.Sprintf("{Name: %q, ShowAs: %q}", o, s))
				} else {
					opts = append(opts, fmt.Sprintf("{Name: %q}", o))
				}
			}
			f = append(f, "Options: []Option{"+strings.Join(opts, ", ")+"}")
		}
		if p := special[r.Name]; p != "" {
			f = append(f, "Parse: "+p)
		}
		if a := adjust[r.Name]; a != "" {
			f = append(f, "Adjust: "+a)
		}
		fmt.Fprintf(&b, "\t\t{%s},\n", strings.Join(f, ", "))
	}
	b.WriteString("\t}\n}\n")
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		log.Fatalf("%v\n%s", err, b.String())
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d parameters (%d names) written to %s", n, len(recs), *out)
}

// aliasOf reports whether name is some parameter's alias.
func aliasOf(alias map[string]string, name string) bool {
	for _, a := range alias {
		if a == name {
			return true
		}
	}
	return false
}

// guessKind is the kind of an immutable parameter, which CONFIG SET never reads: from its
// default, for documentation only.
func guessKind(def string) string {
	if def == "yes" || def == "no" {
		return "Bool"
	}
	if _, err := strconv.ParseInt(def, 10, 64); err == nil {
		return "Int"
	}
	return "String"
}

func num(x int64) string {
	switch x {
	case math.MaxInt64:
		return "math.MaxInt64"
	case math.MaxInt32:
		return "math.MaxInt32"
	case math.MinInt32:
		return "math.MinInt32"
	case math.MaxUint32:
		return "math.MaxUint32"
	}
	return strconv.FormatInt(x, 10)
}
