package cjson

import (
	"github.com/pika-node/pika-node/node/script/luaarg"
	lua "github.com/yuin/gopher-lua"
)

// tokenType is a JSON token kind; its String is the name lua_cjson's parse
// errors show.
type tokenType int

const (
	tObjBegin tokenType = iota
	tObjEnd
	tArrBegin
	tArrEnd
	tString
	tNumber
	tBoolean
	tNull
	tColon
	tComma
	tEnd
	tWhitespace
	tError
	tUnknown
)

var tokenNames = [...]string{
	"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END",
	"T_WHITESPACE", "T_ERROR", "T_UNKNOWN",
}

func (t tokenType) String() string { return tokenNames[t] }

// token is one JSON token: its kind, its 0-based offset, and its value or,
// for tError, the reason.
type token struct {
	typ   tokenType
	index int
	str   string
	num   float64
	b     bool
}

// decoder parses one cjson.decode input. The input behaves as the C
// string lua_cjson reads: a NUL byte ends it.
type decoder struct {
	L     *lua.LState
	cfg   *config
	null  *lua.LUserData
	data  string
	pos   int
	depth int
	tmp   []byte
}

func decode(L *lua.LState, cfg *config, null *lua.LUserData, s string) lua.LValue {
	// Detect UTF-16/32 by a NUL in one of the first two bytes (RFC 4627).
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		luaarg.Raise(L, "JSON parser does not support UTF-16 or UTF-32")
	}
	d := decoder{L: L, cfg: cfg, null: null, data: s}
	var tok token
	d.next(&tok)
	v := d.value(&tok, 1)
	d.next(&tok)
	if tok.typ != tEnd {
		d.parseError("the end", &tok)
	}
	return v
}

func (d *decoder) at(i int) byte {
	if i < len(d.data) {
		return d.data[i]
	}
	return 0
}

// setError makes tok an error token at the current position.
func (d *decoder) setError(tok *token, reason string) {
	tok.typ = tError
	tok.index = d.pos
	tok.str = reason
}

// punctuation holds the characters that are tokens by themselves.
var punctuation = map[byte]tokenType{
	'{': tObjBegin, '}': tObjEnd, '[': tArrBegin, ']': tArrEnd, ',': tComma, ':': tColon,
}

func (d *decoder) next(tok *token) {
	for {
		c := d.at(d.pos)
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		d.pos++
	}
	tok.index = d.pos
	c := d.at(d.pos)
	if typ, ok := punctuation[c]; ok {
		tok.typ = typ
		d.pos++
		return
	}
	switch c {
	case 0:
		tok.typ = tEnd
	case '"':
		d.stringToken(tok)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !d.cfg.decodeInvalid && d.invalidNumber() {
			d.setError(tok, "invalid number")
			return
		}
		d.numberToken(tok)
	case 'f', 'i', 'I', 'n', 'N', 't', '+':
		switch {
		case d.hasPrefix("true"):
			tok.typ, tok.b = tBoolean, true
			d.pos += 4
		case d.hasPrefix("false"):
			tok.typ, tok.b = tBoolean, false
			d.pos += 5
		case d.hasPrefix("null"):
			tok.typ = tNull
			d.pos += 4
		case d.cfg.decodeInvalid && d.invalidNumber():
			d.numberToken(tok)
		default:
			d.setError(tok, "invalid token")
		}
	default:
		d.setError(tok, "invalid token")
	}
}

func (d *decoder) hasPrefix(w string) bool {
	for i := 0; i < len(w); i++ {
		if d.at(d.pos+i) != w[i] {
			return false
		}
	}
	return true
}

// invalidNumber reports whether the number at the current position is one
// strict JSON rejects but strtod reads: a leading '+', hexadecimal, leading
// zeros, inf or nan.
func (d *decoder) invalidNumber() bool {
	p := d.pos
	c := d.at(p)
	if c == '+' {
		return true
	}
	if c == '-' {
		p++
		c = d.at(p)
	}
	if c == '0' {
		c2 := d.at(p + 1)
		return c2|0x20 == 'x' || luaarg.IsDigit(c2)
	}
	if c <= '9' || c >= 0x80 { // lua_cjson compares a signed char
		return false
	}
	return luaarg.HasPrefixFold(d.data, p, "inf") || luaarg.HasPrefixFold(d.data, p, "nan")
}

func (d *decoder) numberToken(tok *token) {
	f, end := luaarg.Strtod(d.data, d.pos)
	if end == d.pos {
		d.setError(tok, "invalid number")
		return
	}
	tok.typ = tNumber
	tok.num = f
	d.pos = end
}

func (d *decoder) stringToken(tok *token) {
	d.pos++ // the opening quote
	d.tmp = d.tmp[:0]
	for {
		c := d.at(d.pos)
		if c == '"' {
			break
		}
		if c == 0 {
			d.setError(tok, "unexpected end of string")
			return
		}
		if c == '\\' {
			switch d.at(d.pos + 1) {
			case '"':
				c = '"'
			case '\\':
				c = '\\'
			case '/':
				c = '/'
			case 'b':
				c = '\b'
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'f':
				c = '\f'
			case 'r':
				c = '\r'
			case 'u':
				if !d.unicodeEscape() {
					d.setError(tok, "invalid unicode escape code")
					return
				}
				continue
			default:
				d.setError(tok, "invalid escape code")
				return
			}
			d.pos++
		}
		d.tmp = append(d.tmp, c)
		d.pos++
	}
	d.pos++ // the closing quote
	tok.typ = tString
	tok.str = string(d.tmp)
}

// hex4 reads the 4 hex digits at i, or returns -1.
func (d *decoder) hex4(i int) int {
	v := 0
	for j := 0; j < 4; j++ {
		c := d.at(i + j)
		switch {
		case luaarg.IsDigit(c):
			v = v<<4 | int(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			v = v<<4 | int(c|0x20-'a'+10)
		default:
			return -1
		}
	}
	return v
}

// unicodeEscape appends the UTF-8 of the \uXXXX escape (or surrogate pair
// of escapes) at the current position and moves past it.
func (d *decoder) unicodeEscape() bool {
	cp := d.hex4(d.pos + 2)
	if cp < 0 {
		return false
	}
	n := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 { // a low surrogate first
			return false
		}
		if d.at(d.pos+6) != '\\' || d.at(d.pos+7) != 'u' {
			return false
		}
		low := d.hex4(d.pos + 8)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return false
		}
		cp = ((cp&0x3FF)<<10 | low&0x3FF) + 0x10000
		n = 12
	}
	switch {
	case cp <= 0x7F:
		d.tmp = append(d.tmp, byte(cp))
	case cp <= 0x7FF:
		d.tmp = append(d.tmp, byte(cp>>6|0xC0), byte(cp&0x3F|0x80))
	case cp <= 0xFFFF:
		d.tmp = append(d.tmp, byte(cp>>12|0xE0), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	default:
		d.tmp = append(d.tmp, byte(cp>>18|0xF0), byte(cp>>12&0x3F|0x80), byte(cp>>6&0x3F|0x80), byte(cp&0x3F|0x80))
	}
	d.pos += n
	return true
}

// parseError raises lua_cjson's syntax error: what was expected and the
// token found instead, at its 1-based character position.
func (d *decoder) parseError(expected string, tok *token) {
	found := tok.str
	if tok.typ != tError {
		found = tok.typ.String()
	}
	luaarg.Raise(d.L, "Expected %s but found %s at character %d", expected, found, tok.index+1)
}

// descend enters an object or an array. slots is the number of Lua stack
// slots lua_cjson has in use and need the ones it will push, which
// lua_checkstack bounds.
func (d *decoder) descend(slots, need int) {
	d.depth++
	if d.depth <= int(d.cfg.decodeMaxDepth) && slots+need <= luaarg.MaxCStack {
		return
	}
	luaarg.Raise(d.L, "Found too many nested data structures (%d) at character %d", d.depth, d.pos)
}

// value converts the value starting with tok. slots is the number of Lua
// stack slots lua_cjson would be using before pushing it.
func (d *decoder) value(tok *token, slots int) lua.LValue {
	switch tok.typ {
	case tString:
		return lua.LString(tok.str)
	case tNumber:
		return lua.LNumber(tok.num)
	case tBoolean:
		return lua.LBool(tok.b)
	case tNull:
		return d.null
	case tObjBegin:
		return d.object(slots)
	case tArrBegin:
		return d.array(slots)
	}
	d.parseError("value", tok)
	return lua.LNil
}

// object decodes an object's members into a table.
func (d *decoder) object(slots int) *lua.LTable {
	return d.container(slots, 3, tObjEnd, "object", func(t *lua.LTable, tok *token) {
		if tok.typ != tString {
			d.parseError("object key string", tok)
		}
		key := tok.str
		d.next(tok)
		if tok.typ != tColon {
			d.parseError("colon", tok)
		}
		d.next(tok)
		t.RawSetString(key, d.value(tok, slots+2))
	})
}

// array decodes an array's elements into a table at keys 1..n.
func (d *decoder) array(slots int) *lua.LTable {
	i := 0
	return d.container(slots, 2, tArrEnd, "array", func(t *lua.LTable, tok *token) {
		i++
		t.RawSetInt(i, d.value(tok, slots+1))
	})
}

// container decodes an object or an array (what) whose opening bracket
// has been read, up to its closing one, end: member decodes each member,
// starting at tok, into t. slots and need are descend's.
func (d *decoder) container(slots, need int, end tokenType, what string, member func(t *lua.LTable, tok *token)) *lua.LTable {
	d.descend(slots, need)
	t := d.L.NewTable()
	var tok token
	d.next(&tok)
	if tok.typ == end {
		d.depth--
		return t
	}
	for {
		member(t, &tok)
		d.next(&tok)
		if tok.typ == end {
			d.depth--
			return t
		}
		if tok.typ != tComma {
			d.parseError("comma or "+what+" end", &tok)
		}
		d.next(&tok)
	}
}
