// Package geo owns the arithmetic of Redis 7.0's GEO commands, learned
// from redis-server 7.0's src/geohash.c, src/geohash_helper.c and
// src/geo.c, so that package command can answer GEOADD, GEOPOS, GEODIST,
// GEOHASH, GEORADIUS* and GEOSEARCH* over its sorted sets with the digits
// redis-server prints:
//
//   - the 52-bit geohash a point is stored under as its sorted set score
//     (Score): 26 bits of longitude in [-180, 180] interleaved with 26 of
//     latitude in [-85.05112878, 85.05112878], longitude in the odd bits;
//     and back (Decode), to the center of the cell as Redis decodes it,
//     including what Redis makes of scores GEOADD never writes (a member
//     ZADD gave -1, 0.5 or inf);
//   - the 11-character GEOHASH string, the point re-encoded over the
//     standard [-90, 90] latitude range (Hash);
//   - the haversine distance on a sphere of 6372797.560856 m with 7.0's
//     shortcut for points of one longitude (Distance), computed with the
//     platform's C sin, cos and asin where cgo is on (libm_cgo.go: Go's
//     math package differs from glibc's in the last bit of about a third
//     of the distances, which moves a printed distance now and then);
//   - the search of an area (Shape): the step (cell size) a radius needs,
//     the bounding box of a circle or of a 7.0 box (whose east and west
//     edges follow the meridians), the cell of the center and its 8
//     neighbours with the ones the box does not reach dropped, as the
//     score ranges Redis reads them in (Shape.Ranges), and the exact
//     in-circle and in-box tests a point must pass (Shape.Within);
//   - the order of the results: the sort by distance Redis does with
//     glibc's qsort (a stable merge sort) or, for a COUNT below the
//     number of matches, with its own partial quicksort, whose order of
//     equal distances SortPoints reproduces;
//   - the units (ParseUnit) and the text of the replies: distances with 4
//     decimals as fixedpoint_d2string rounds them (FormatDistance),
//     coordinates as addReplyHumanLongDouble prints a long double,
//     "%.17Lf" without trailing zeros (FormatCoord), and the "%f" of the
//     invalid-coordinates error (CoordError).
//
// It does not own storage, argument parsing or replies: package command
// reads the sorted sets and writes the answers. It has no state; its
// errors are types (CoordError, UnitError) whose text is Redis's message
// without the "ERR " prefix.
package geo
