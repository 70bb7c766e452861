package command

import (
	"slices"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/router"
	"github.com/pika-node/pika-node/storage"
)

// The replies of the GEO commands over the node's sorted sets (the digits
// are redis-server 7.0.15's; node/compat's geo.txt compares many more
// with a running redis-server, node/geo the arithmetic).
func TestGeoCommands(t *testing.T) {
	n := newTestNode(t)
	n.expect(":2", "GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
	n.expect("$3479099956230698", "ZSCORE", "Sicily", "Palermo")
	n.expect("*2 *2 $13.36138933897018433 $38.11555639549629859 *-1", "GEOPOS", "Sicily", "Palermo", "nosuch")
	n.expect("*2 $sqc8b49rny0 $-1", "GEOHASH", "Sicily", "Palermo", "nosuch")
	n.expect("$166.2742", "GEODIST", "Sicily", "Palermo", "Catania", "km")
	n.expect("-ERR unsupported unit provided. please use M, KM, FT, MI", "GEODIST", "Sicily", "Palermo", "Catania", "parsec")
	n.expect("-ERR invalid longitude,latitude pair 200.000000,10.000000", "GEOADD", "Sicily", "200", "10", "x")
	n.expect("-ERR syntax error", "GEOADD", "Sicily", "NX", "XX", "1", "1", "x")
	n.expect(":0", "GEOADD", "Sicily", "CH", "NX", "13.361389", "38.115556", "Palermo")
	n.expect(":1", "GEOADD", "Sicily", "CH", "XX", "13", "38", "Palermo", "1", "1", "nosuch")
	n.expect("*1 *3 $Catania $56.4413 *2 $15.08726745843887329 $37.50266842333162032",
		"GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "ASC")
	n.expect("*1 *2 $Catania :3479447370796909", "GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "200", "200", "km", "WITHHASH")
	// STORE into another slot.
	if router.SlotOf([]byte("Sicily"), storage.DefaultSlots) == router.SlotOf([]byte("geodst"), storage.DefaultSlots) {
		t.Fatal("the destination should be in another slot than the source")
	}
	n.expect(":1", "GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "geodst")
	n.expect("*2 $Catania $56.441257870158204", "ZRANGE", "geodst", "0", "-1", "WITHSCORES")
	n.expect(":1", "GEOSEARCHSTORE", "geodst", "Sicily", "FROMMEMBER", "Catania", "BYRADIUS", "1", "km")
	n.expect("*2 $Catania $3479447370796909", "ZRANGE", "geodst", "0", "-1", "WITHSCORES")
	n.expect(":0", "GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "geodst")
	n.expect(":0", "EXISTS", "geodst")
	n.expect("-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GeoSearch", "GeoSearch", "Sicily", "BYRADIUS", "1", "km", "ASC", "WITHDIST")
	n.expect("-ERR syntax error", "GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "geodst")
	n.expect("+OK", "SET", "str", "x")
	n.expect("-WRONGTYPE Operation against a key holding the wrong kind of value", "GEOPOS", "str", "x")
}

// Every geo write emits Redis's events: GEOADD zadd's, a stored search
// georadiusstore or geosearchstore, an empty one del for a destination
// that existed.
func TestGeoEvents(t *testing.T) {
	sicily := "GEOADD s 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"
	runHZEventCases(t, []hzEventCase{
		{"geoadd", nil, sicily, "zadd s"},
		{"geoadd unchanged", []string{sicily}, "GEOADD s 13.361389 38.115556 Palermo", ""},
		{"geoadd moved", []string{sicily}, "GEOADD s 13 38 Palermo", "zadd s"},
		{"geoadd xx missing", nil, "GEOADD s XX 1 1 a", ""},
		{"geoadd bad", nil, "GEOADD s 1 1 a 200 1 b", ""},
		{"georadius store", []string{sicily}, "GEORADIUS s 15 37 200 km STORE d", "georadiusstore d"},
		{"georadiusbymember storedist", []string{sicily}, "GEORADIUSBYMEMBER s Catania 200 km STOREDIST d", "georadiusstore d"},
		{"geosearchstore", []string{sicily}, "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYRADIUS 200 km", "geosearchstore d"},
		{"geosearchstore empty", []string{sicily, "SET d x"}, "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYRADIUS 0 km", "del d"},
		{"geosearchstore empty missing", []string{sicily}, "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYRADIUS 0 km", ""},
		{"georadius missing source", []string{"SET d x"}, "GEORADIUS s 15 37 200 km STORE d", "del d"},
		{"georadius no store", []string{sicily}, "GEORADIUS s 15 37 200 km", ""},
	})
}

// GEORADIUS and GEORADIUSBYMEMBER lock the destination their handler
// writes: the last STORE or STOREDIST of options that parse.
func TestGeoRadiusKeys(t *testing.T) {
	tbl := NewTable()
	for _, tc := range []struct{ line, want string }{
		{"GEORADIUS k 1 2 3 m", "k"},
		{"GEORADIUS k 1 2 3 m STORE d", "k d"},
		{"GEORADIUS k 1 2 3 m STOREDIST d STORE e", "k e"},
		{"GEORADIUS k 1 2 3 m STORE d COUNT 2 STOREDIST e", "k e"},
		{"GEORADIUS k 1 2 3 m STORE", "k"},
		{"GEORADIUS k 1 2 3 m STORE d BOGUS", "k"},
		{"GEORADIUS k 1 2 3 m COUNT STORE d", "k"},
		{"GEORADIUSBYMEMBER k m 3 m STORE d", "k d"},
		{"GEORADIUSBYMEMBER k m 3 m store d withdist", "k d"},
		{"GEORADIUS_RO k 1 2 3 m STORE d", "k"},
		{"GEOSEARCHSTORE d k FROMMEMBER m BYRADIUS 1 m", "d k"},
		{"GEOSEARCH k FROMMEMBER m BYRADIUS 1 m", "k"},
	} {
		args := strings.Fields(tc.line)
		bargs := make([][]byte, len(args))
		for i, a := range args {
			bargs[i] = []byte(a)
		}
		keys, err := tbl.Lookup(bargs[0]).KeysOf(bargs)
		var got []string
		for _, k := range keys {
			got = append(got, string(k))
		}
		if err != nil || !slices.Equal(got, strings.Fields(tc.want)) {
			t.Errorf("%s: keys %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}
