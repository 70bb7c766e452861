package command

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	"github.com/pika-node/pika-node/node/geo"
)

// The GEO commands of Redis 7.0 (src/geo.c) over sorted sets: a point is
// a member whose score is its 52-bit geohash (package geo does the
// arithmetic). GEOADD is ZADD with those scores; the searches read the
// score ranges of the cells around the center. Options are compared as
// Redis's strcasecmp does (strcaseEqual).

func registerGeo(t *Table) {
	rw := Write | DenyOOM
	ro := ReadOnly
	t.Register(
		Spec{Name: "geoadd", Arity: -5, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGeoAdd},
		Spec{Name: "geodist", Arity: -4, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGeoDist},
		Spec{Name: "geohash", Arity: -2, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGeoHash},
		Spec{Name: "geopos", Arity: -2, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdGeoPos},
		// GEORADIUS and GEORADIUSBYMEMBER are write commands for their
		// STORE option, whose key Keys finds; COMMAND INFO shows 1 1 1
		// as Redis does.
		Spec{Name: "georadius", Arity: -6, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1,
			Keys: georadiusKeys(6, geoRadiusCoords), Handler: cmdGeoSearch(1, geoRadiusCoords)},
		Spec{Name: "georadius_ro", Arity: -6, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1,
			Handler: cmdGeoSearch(1, geoRadiusCoords|geoNoStore)},
		Spec{Name: "georadiusbymember", Arity: -5, Flags: rw, FirstKey: 1, LastKey: 1, Step: 1,
			Keys: georadiusKeys(5, geoRadiusMember), Handler: cmdGeoSearch(1, geoRadiusMember)},
		Spec{Name: "georadiusbymember_ro", Arity: -5, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1,
			Handler: cmdGeoSearch(1, geoRadiusMember|geoNoStore)},
		Spec{Name: "geosearch", Arity: -7, Flags: ro, FirstKey: 1, LastKey: 1, Step: 1,
			Handler: cmdGeoSearch(1, geoSearch)},
		Spec{Name: "geosearchstore", Arity: -8, Flags: rw, FirstKey: 1, LastKey: 2, Step: 1,
			Handler: cmdGeoSearch(2, geoSearch|geoSearchStore)},
	)
}

// geoError turns package geo's errors into replies.
func geoError(err error) error {
	var ce *geo.CoordError
	var ue *geo.UnitError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return Error("ERR " + err.Error())
	}
	return err
}

// parseLonLat parses a longitude and a latitude as extractLongLatOrReply:
// each a float (getDoubleFromObject), then both within Redis's limits.
func parseLonLat(lonArg, latArg []byte) (lon, lat float64, err error) {
	if lon, err = parseScore(lonArg); err != nil {
		return 0, 0, err
	}
	if lat, err = parseScore(latArg); err != nil {
		return 0, 0, err
	}
	return lon, lat, geoError(geo.CheckLonLat(lon, lat))
}

// parseUnit is extractUnitOrReply: the meters in a unit.
func parseUnit(u []byte) (float64, error) {
	m, err := geo.ParseUnit(string(u))
	return m, geoError(err)
}

// parseFloatOr parses a float as getDoubleFromObjectOrReply with msg.
func parseFloatOr(b []byte, msg string) (float64, error) {
	f, err := parseScore(b)
	if err != nil {
		return 0, Error("ERR " + msg)
	}
	return f, nil
}

// parseRadius is extractDistanceOrReply: <radius> <unit> into a circle.
func parseRadius(args [][]byte, s *geo.Shape) (err error) {
	r, err := parseFloatOr(args[0], "need numeric radius")
	if err != nil {
		return err
	}
	if r < 0 {
		return Error("ERR radius cannot be negative")
	}
	s.Radius = r
	s.Conversion, err = parseUnit(args[1])
	return err
}

// parseBox is extractBoxOrReply: <width> <height> <unit> into a box.
func parseBox(args [][]byte, s *geo.Shape) (err error) {
	w, err := parseFloatOr(args[0], "need numeric width")
	if err != nil {
		return err
	}
	h, err := parseFloatOr(args[1], "need numeric height")
	if err != nil {
		return err
	}
	if h < 0 || w < 0 {
		return Error("ERR height or width cannot be negative")
	}
	s.Width, s.Height = w, h
	s.Conversion, err = parseUnit(args[2])
	return err
}

// ---- GEOADD

// cmdGeoAdd is GEOADD key [NX|XX] [CH] lon lat member ...: Redis turns it
// into ZADD key [options] score member ..., and so does this, so that its
// replies, errors and events ("zadd") are ZADD's.
func cmdGeoAdd(c *Ctx) error {
	at := 2
	xx, nx := false, false
	var opts [][]byte
options:
	for ; at < len(c.Args); at++ {
		switch a := c.Args[at]; {
		case strcaseEqual(a, "nx"):
			nx = true
			opts = append(opts, []byte("nx"))
		case strcaseEqual(a, "xx"):
			xx = true
			opts = append(opts, []byte("xx"))
		case strcaseEqual(a, "ch"):
			opts = append(opts, []byte("ch"))
		default:
			break options
		}
	}
	if (len(c.Args)-at)%3 != 0 || (xx && nx) {
		return ErrSyntax
	}
	elements := (len(c.Args) - at) / 3
	zargs := make([][]byte, 0, 2+len(opts)+2*elements)
	zargs = append(zargs, []byte("zadd"), c.Args[1])
	zargs = append(zargs, opts...)
	for i := range elements {
		e := c.Args[at+3*i:]
		lon, lat, err := parseLonLat(e[0], e[1])
		if err != nil {
			return err
		}
		zargs = append(zargs, strconv.AppendUint(nil, geo.Score(lon, lat), 10), e[2])
	}
	args := c.Args
	c.Args = zargs
	defer func() { c.Args = args }()
	return zaddGeneric(c, 0)
}

// ---- GEOPOS / GEOHASH / GEODIST

// geoScores calls fn for each member argument from 2 on with its score,
// found false for a member (or key) that is not there, after the array
// header.
func geoScores(c *Ctx, fn func(score float64, found bool)) error {
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	c.R.Array(len(c.Args) - 2)
	for _, member := range c.Args[2:] {
		if !ok {
			fn(0, false)
			continue
		}
		s, found, err := z.score(member)
		if err != nil {
			return err
		}
		fn(s, found)
	}
	return nil
}

func cmdGeoPos(c *Ctx) error {
	return geoScores(c, func(score float64, found bool) {
		if !found {
			c.R.NullArray()
			return
		}
		lon, lat := geo.Decode(score)
		c.R.Array(2)
		c.R.Double([]byte(geo.FormatCoord(lon)))
		c.R.Double([]byte(geo.FormatCoord(lat)))
	})
}

func cmdGeoHash(c *Ctx) error {
	return geoScores(c, func(score float64, found bool) {
		if !found {
			c.R.Null()
			return
		}
		c.R.BulkString(geo.Hash(score))
	})
}

// cmdGeoDist is GEODIST key member1 member2 [unit]: the unit is checked
// before the key is read.
func cmdGeoDist(c *Ctx) error {
	toMeters := 1.0
	switch {
	case len(c.Args) == 5:
		m, err := parseUnit(c.Args[4])
		if err != nil {
			return err
		}
		toMeters = m
	case len(c.Args) > 5:
		return ErrSyntax
	}
	z, ok, err := getZSet(c, c.Args[1])
	if err != nil {
		return err
	}
	if !ok {
		c.R.Null()
		return nil
	}
	var pos [2][2]float64
	for i, member := range c.Args[2:4] {
		s, found, err := z.score(member)
		if err != nil {
			return err
		}
		if !found {
			c.R.Null()
			return nil
		}
		pos[i][0], pos[i][1] = geo.Decode(s)
	}
	c.R.BulkString(geo.FormatDistance(geo.Distance(pos[0][0], pos[0][1], pos[1][0], pos[1][1]) / toMeters))
	return nil
}

// ---- GEORADIUS, GEORADIUSBYMEMBER, their _RO forms, GEOSEARCH and
// GEOSEARCHSTORE (Redis's georadiusGeneric)

// The variants of georadiusGeneric.
const (
	geoRadiusCoords = 1 << iota // around coordinates (GEORADIUS*)
	geoRadiusMember             // around a member (GEORADIUSBYMEMBER*)
	geoNoStore                  // no STORE or STOREDIST (the _RO forms)
	geoSearch                   // GEOSEARCH's arguments
	geoSearchStore              // GEOSEARCHSTORE: STOREDIST takes no key
)

var errGeoMember = Error("ERR could not decode requested zset member")

// geoQuery is a parsed search.
type geoQuery struct {
	shape                         geo.Shape
	store                         []byte // the destination, nil when replying
	storeDist                     bool
	withDist, withHash, withCoord bool
	order                         geo.Order
	any                           bool
	count                         int64 // 0: all
	fromMember, fromLonLat        bool
	byRadius, byBox               bool
}

// parseGeoOptions parses the options from args[base] on as
// georadiusGeneric's loop does, in order, with its errors. memberPos finds
// a FROMMEMBER member's position (an error when it is not in the set);
// nil when the source key does not exist, whose FROMMEMBER is then taken
// unchecked as Redis does.
func parseGeoOptions(args [][]byte, base, flags int, q *geoQuery, memberPos func([]byte) (float64, float64, error)) error {
	search := flags&geoSearch != 0
	canStore := flags&(geoNoStore|geoSearch) == 0
	remaining := len(args) - base
	for i := 0; i < remaining; i++ {
		a := args[base+i]
		switch {
		case strcaseEqual(a, "withdist"):
			q.withDist = true
		case strcaseEqual(a, "withhash"):
			q.withHash = true
		case strcaseEqual(a, "withcoord"):
			q.withCoord = true
		case strcaseEqual(a, "any"):
			q.any = true
		case strcaseEqual(a, "asc"):
			q.order = geo.Asc
		case strcaseEqual(a, "desc"):
			q.order = geo.Desc
		case strcaseEqual(a, "count") && i+1 < remaining:
			n, err := parseInt(args[base+i+1])
			if err != nil {
				return err
			}
			if n <= 0 {
				return Error("ERR COUNT must be > 0")
			}
			q.count = n
			i++
		case strcaseEqual(a, "store") && i+1 < remaining && canStore:
			q.store, q.storeDist = args[base+i+1], false
			i++
		case strcaseEqual(a, "storedist") && i+1 < remaining && canStore:
			q.store, q.storeDist = args[base+i+1], true
			i++
		case strcaseEqual(a, "storedist") && search && flags&geoSearchStore != 0:
			q.storeDist = true
		case strcaseEqual(a, "frommember") && i+1 < remaining && search && !q.fromLonLat:
			if memberPos != nil {
				lon, lat, err := memberPos(args[base+i+1])
				if err != nil {
					return err
				}
				q.shape.Lon, q.shape.Lat = lon, lat
			}
			q.fromMember = true
			i++
		case strcaseEqual(a, "fromlonlat") && i+2 < remaining && search && !q.fromMember:
			lon, lat, err := parseLonLat(args[base+i+1], args[base+i+2])
			if err != nil {
				return err
			}
			q.shape.Lon, q.shape.Lat = lon, lat
			q.fromLonLat = true
			i += 2
		case strcaseEqual(a, "byradius") && i+2 < remaining && search && !q.byBox:
			if err := parseRadius(args[base+i+1:], &q.shape); err != nil {
				return err
			}
			q.shape.Kind = geo.Circle
			q.byRadius = true
			i += 2
		case strcaseEqual(a, "bybox") && i+3 < remaining && search && !q.byRadius:
			if err := parseBox(args[base+i+1:], &q.shape); err != nil {
				return err
			}
			q.shape.Kind = geo.Box
			q.byBox = true
			i += 3
		default:
			return ErrSyntax
		}
	}
	return nil
}

// georadiusKeys is the Keys of GEORADIUS and GEORADIUSBYMEMBER: the
// source, and the STORE or STOREDIST destination the handler will write
// (the options parsed as it parses them; none when they do not parse, the
// command then failing).
func georadiusKeys(base, flags int) func(args [][]byte) ([][]byte, error) {
	return func(args [][]byte) ([][]byte, error) {
		keys := [][]byte{args[1]}
		var q geoQuery
		if parseGeoOptions(args, base, flags, &q, nil) == nil && q.store != nil {
			keys = append(keys, q.store)
		}
		return keys, nil
	}
}

// cmdGeoSearch is georadiusGeneric for the source key at src.
func cmdGeoSearch(src, flags int) Handler {
	return func(c *Ctx) error {
		z, exists, err := getZSet(c, c.Args[src])
		if err != nil {
			return err
		}
		memberPos := func(member []byte) (float64, float64, error) {
			s, ok, err := z.score(member)
			if err != nil {
				return 0, 0, err
			}
			if !ok {
				return 0, 0, errGeoMember
			}
			lon, lat := geo.Decode(s)
			return lon, lat, nil
		}
		var q geoQuery
		var base int
		switch {
		case flags&geoRadiusCoords != 0:
			base = 6
			q.shape.Kind = geo.Circle
			if q.shape.Lon, q.shape.Lat, err = parseLonLat(c.Args[2], c.Args[3]); err != nil {
				return err
			}
			if err := parseRadius(c.Args[4:], &q.shape); err != nil {
				return err
			}
		case flags&geoRadiusMember != 0 && !exists:
			// Nothing to search, but the options are parsed for the
			// reply (an array, or 0 for STORE).
			base = 5
		case flags&geoRadiusMember != 0:
			base = 5
			q.shape.Kind = geo.Circle
			if q.shape.Lon, q.shape.Lat, err = memberPos(c.Args[2]); err != nil {
				return err
			}
			if err := parseRadius(c.Args[3:], &q.shape); err != nil {
				return err
			}
		default:
			base = 2
			if flags&geoSearchStore != 0 {
				base = 3
				q.store = c.Args[1]
			}
		}
		pos := memberPos
		if !exists {
			pos = nil
		}
		if err := parseGeoOptions(c.Args, base, flags, &q, pos); err != nil {
			return err
		}
		if q.store != nil && (q.withDist || q.withHash || q.withCoord) {
			what := "STORE option in GEORADIUS"
			if flags&geoSearchStore != 0 {
				what = "GEOSEARCHSTORE"
			}
			return Error("ERR " + what + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
		}
		if flags&geoSearch != 0 && !q.fromMember && !q.fromLonLat {
			return Error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + string(c.Args[0]))
		}
		if flags&geoSearch != 0 && !q.byRadius && !q.byBox {
			return Error("ERR exactly one of BYRADIUS and BYBOX can be specified for " + string(c.Args[0]))
		}
		if q.any && q.count == 0 {
			return Error("ERR the ANY argument requires COUNT argument")
		}
		event := "georadiusstore"
		if flags&geoSearch != 0 {
			event = "geosearchstore"
		}
		if !exists {
			if q.store != nil {
				return zstore(c, q.store, nil, event) // deletes it, replies 0
			}
			c.R.Array(0)
			return nil
		}
		// COUNT without an order means the nearest (not with ANY).
		if q.count != 0 && q.order == geo.Unsorted && !q.any {
			q.order = geo.Asc
		}
		limit := int64(0)
		if q.any {
			limit = q.count
		}
		points, err := geoPoints(z, &q.shape, limit)
		if err != nil {
			return err
		}
		n := len(points)
		if q.count != 0 && int64(n) > q.count {
			n = int(q.count)
		}
		geo.SortPoints(points, q.order, n)
		points = points[:n]
		for i := range points {
			points[i].Dist /= q.shape.Conversion
		}
		if q.store != nil {
			return zstore(c, q.store, geoItems(points, q.storeDist), event)
		}
		replyGeoPoints(c, points, &q)
		return nil
	}
}

// geoPoints reads the members in the shape's cells, in Redis's order,
// keeping those within the shape; with a limit (COUNT ... ANY), it stops
// once it has that many.
func geoPoints(z *zset, s *geo.Shape, limit int64) ([]geo.Point, error) {
	var points []geo.Point
	full := func() bool { return limit > 0 && int64(len(points)) >= limit }
	for _, r := range s.Ranges() {
		if full() {
			break
		}
		hi := math.Nextafter(r.Max, math.Inf(-1)) // Max is excluded
		if !(r.Min <= hi) {
			continue
		}
		err := z.walk(r.Min, hi, false, func(score float64, member []byte) bool {
			if lon, lat, dist, ok := s.Within(score); ok {
				points = append(points, geo.Point{Member: bytes.Clone(member), Score: score, Lon: lon, Lat: lat, Dist: dist})
			}
			return !full()
		})
		if err != nil {
			return nil, err
		}
	}
	return points, nil
}

// geoItems are the points as a sorted set: scored by their geohash, or by
// their distance (in the search's unit) for STOREDIST. A member is found
// once (Redis would fail on a repeat).
func geoItems(points []geo.Point, dist bool) []zitem {
	items := make([]zitem, 0, len(points))
	seen := make(map[string]bool, len(points))
	for _, p := range points {
		if seen[string(p.Member)] {
			continue
		}
		seen[string(p.Member)] = true
		score := p.Score
		if dist {
			score = p.Dist
		}
		items = append(items, zitem{member: p.Member, score: score})
	}
	return items
}

// replyGeoPoints sends a search's results: members, or for each an array
// of the member and what was asked for, in the order distance (4
// decimals, a string), hash (an integer), coordinates (a pair of doubles).
func replyGeoPoints(c *Ctx, points []geo.Point, q *geoQuery) {
	opts := 0
	for _, on := range []bool{q.withDist, q.withHash, q.withCoord} {
		if on {
			opts++
		}
	}
	c.R.Array(len(points))
	for _, p := range points {
		if opts > 0 {
			c.R.Array(opts + 1)
		}
		c.R.Bulk(p.Member)
		if q.withDist {
			c.R.BulkString(geo.FormatDistance(p.Dist))
		}
		if q.withHash {
			c.R.Int(geo.ScoreInt(p.Score))
		}
		if q.withCoord {
			c.R.Array(2)
			c.R.Double([]byte(geo.FormatCoord(p.Lon)))
			c.R.Double([]byte(geo.FormatCoord(p.Lat)))
		}
	}
}
