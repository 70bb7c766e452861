package structlib

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pika-node/pika-node/internal/testproc"
)

// prelude defines show, which turns values into strings both sides
// print alike: numbers with 17 significant digits (NaNs with their bits),
// strings as they are, anything else as its type and tostring.
const prelude = `local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end
local function show(...)
  local r = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    local t = type(v)
    if t == 'number' then
      if v ~= v then r[#r+1] = 'nan ' .. hex(struct.pack('>d', v))
      elseif v == 1/0 then r[#r+1] = 'inf'
      elseif v == -1/0 then r[#r+1] = '-inf'
      else r[#r+1] = string.format('%.17g', v) end
    elseif t == 'string' then r[#r+1] = v
    else r[#r+1] = t .. ' ' .. tostring(v) end
  end
  return r
end
`

// s is a script: the prelude, then body.
func s(body string) string { return prelude + body }

// try is a script that shows the results of call (a Lua expression
// calling the library) made in a pcall: true and the values, or false and
// the error message.
func try(call string) string {
	return s("return show(pcall(function() return " + call + " end))")
}

// tries is a script that shows, for each call, its pcall's results joined
// by spaces.
func tries(calls ...string) string {
	var b strings.Builder
	b.WriteString(prelude)
	b.WriteString("local r = {}\n")
	for _, c := range calls {
		b.WriteString("r[#r+1] = table.concat(show(pcall(function() return " + c + " end)), ' ')\n")
	}
	b.WriteString("return r\n")
	return b.String()
}

// packUnpack is a script that packs each value with format fmt, then
// unpacks the result, showing both.
func packUnpack(fmt string, vals ...string) string {
	var calls []string
	for _, v := range vals {
		calls = append(calls, "struct.pack('"+fmt+"', "+v+")", "struct.unpack('"+fmt+"', struct.pack('"+fmt+"', "+v+"))")
	}
	return tries(calls...)
}

// integerValues are numbers that the C converts to integers in ways worth
// checking: fractions, both signs, and values out of every type's range.
func integerValues() []string {
	return []string{
		"0", "1", "-1", "1.9", "-1.9", "127", "128", "-128", "-129", "255", "256", "300", "-300",
		"32767", "32768", "-32769", "65535", "70000", "2^31", "-2^31-1", "2^32-1", "2^32+5", "-2^32",
		"2^53+1", "2^62", "2^63", "-2^63", "2^63+2^11", "2^64", "2^64+2^12", "-2^64", "1e300", "-1e300",
		"1/0", "-1/0", "0/0", "-(0/0)", "'0x10'", "' 12 '", "'-7.5'",
	}
}

// structCases are the scripts compared with redis-server.
func structCases() []testproc.LuaCase {
	return []testproc.LuaCase{
		{Name: "round trip I2", Script: `return {struct.unpack(">I2", struct.pack(">I2", 513))}`},
		{Name: "unpack returns the next position", Script: try("struct.unpack('>I2 c2 s', 'abcdefg\\0hi', 2)")},
		{Name: "library table", Script: `local k = {} for name, f in pairs(struct) do k[#k+1] = name .. ':' .. type(f) end table.sort(k) return k`},
		{Name: "pack b B", Script: packUnpack("b", integerValues()...)},
		{Name: "pack B", Script: packUnpack("B", integerValues()...)},
		{Name: "pack h big", Script: packUnpack(">h", integerValues()...)},
		{Name: "pack H big", Script: packUnpack(">H", integerValues()...)},
		{Name: "pack H little", Script: packUnpack("<H", integerValues()...)},
		{Name: "pack l", Script: packUnpack("<l", integerValues()...)},
		{Name: "pack L", Script: packUnpack(">L", integerValues()...)},
		{Name: "pack T", Script: packUnpack("T", integerValues()...)},
		{Name: "pack i I default size", Script: packUnpack("<i", integerValues()...)},
		{Name: "pack I big", Script: packUnpack(">I", integerValues()...)},
		{Name: "pack sized integers", Script: tries(
			"struct.pack('<i1i2i3i4i5i6i7i8', -2, -2, -2, -2, -2, -2, -2, -2)",
			"struct.pack('>I1I2I3I4I5I6I7I8', 1, 2, 3, 4, 5, 6, 7, 8)",
			"struct.pack('<i16', -1)", "struct.pack('>i16', -1)", "struct.pack('<I32', 2^64-2^11)",
			"struct.pack('>i9', 0x0102030405060708)", "struct.pack('<i0', 5)", "struct.pack('I12', -3)",
			"struct.unpack('<i1i2i3i4i5i6i7i8', struct.pack('<i1i2i3i4i5i6i7i8', -2, -2, -2, -2, -2, -2, -2, -2))",
			"struct.unpack('>I3i3I5i5I7i7', struct.pack('>I3i3I5i5I7i7', -5, -5, 2^39+7, 2^39+7, -1, 2^55))")},
		{Name: "unpack sized integers beyond 8 bytes", Script: tries(
			`struct.unpack('<i12', string.rep('\255', 12))`,
			`struct.unpack('<i12', '\0\0\0\128\0\0\0\0\0\0\0\0')`,
			`struct.unpack('<i12', '\0\0\0\0\0\0\0\0\0\0\0\128')`,
			`struct.unpack('>i12', '\128\0\0\0\0\0\0\0\0\0\0\1')`,
			`struct.unpack('<i16', '\1\2\3\4\5\6\7\128\9\10\11\12\13\14\15\16')`,
			`struct.unpack('<I16', '\1\2\3\4\5\6\7\128\9\10\11\12\13\14\15\16')`,
			`struct.unpack('>i10', '\255\255\128\0\0\0\0\0\0\1')`,
			`struct.unpack('<i32', string.rep('\200', 32))`,
			`struct.unpack('<i0', '')`, `struct.unpack('<I0i0', 'abc')`,
			`struct.unpack('<i3', '\255\255\255')`, `struct.unpack('>i5', '\128\0\0\0\1')`)},
		{Name: "unpack integer types", Script: tries(
			`struct.unpack('<bBhHlLTiI', string.rep('\255', 42))`,
			`struct.unpack('>bBhHlLTiI', string.rep('\128', 42))`,
			`struct.unpack('<bBhHlLTiI', string.rep('\127', 42))`,
			`struct.unpack('>hHiIlL', '\1\2\3\4\5\6\7\8\9\10\11\12\13\14\15\16\17\18\19\20\21\22\23\24\25\26\27\28\29\30\31\32\33\34\35\36')`,
			`struct.unpack('<L', '\255\255\255\255\255\255\255\255')`,
			`struct.unpack('<L', '\1\8\0\0\0\0\0\128')`,
			`struct.unpack('<l', '\1\0\0\0\0\0\0\128')`)},
		{Name: "pack f d", Script: packUnpack("<f", "1.5", "0.1", "-0.0", "1/0", "-1/0", "1e300", "-1e300", "1e-50", "1e-40",
			"3.4028235677973366e38", "3.4028234663852886e38", "16777217", "16777219", "2^-149", "2^-150", "0/0", "-(0/0)", "'2.5'", "' 0x10 '")},
		{Name: "pack d", Script: packUnpack(">d", "1.5", "0.1", "-0.0", "1/0", "1e300", "2^-1074", "0/0", "'1e2'")},
		{Name: "pack d both orders", Script: tries("struct.pack('<d>d', 0.1, 0.1)", "struct.pack('>f<f', -2.75, -2.75)", "struct.unpack('<d>d', struct.pack('<d>d', -1e-300, 1e300))")},
		{Name: "unpack f d bit patterns", Script: tries(
			`struct.unpack('<f', '\0\0\192\127')`, `struct.unpack('<f', '\1\0\192\255')`, `struct.unpack('<f', '\1\0\128\127')`,
			`struct.unpack('>f', '\0\0\0\1')`, `struct.unpack('>f', '\128\0\0\0')`, `struct.unpack('>f', '\127\127\255\255')`,
			`struct.unpack('>d', '\127\240\0\0\0\0\0\1')`, `struct.unpack('>d', '\255\248\0\0\0\0\0\0')`, `struct.unpack('>d', '\127\248\0\0\0\0\0\123')`,
			`struct.unpack('>d', '\0\0\0\0\0\0\0\1')`, `struct.unpack('>d', '\128\0\0\0\0\0\0\0')`, `struct.unpack('<d', '\255\255\255\255\255\255\239\127')`)},
		{Name: "alignment", Script: tries(
			"struct.pack('!4 b i4 b h b d', 1, 2, 3, 4, 5, 6)", "struct.size('!4 b i4 b h b d')",
			"struct.unpack('!4 b i4 b h b d', struct.pack('!4 b i4 b h b d', 1, 2, 3, 4, 5, 6))",
			"struct.pack('! b d b l b T', 1, 2, 3, 4, 5, 6)", "struct.size('! b d b l b T')",
			"struct.pack('!2 b i4 b h b d', 1, 2, 3, 4, 5, 6)", "struct.pack('!1 b i4', 1, 2)",
			"struct.pack('!16 b d b i8 b I16', 1, 2, 3, 4, 5, 6)", "struct.size('!16 b d b i8 b I16')",
			"struct.pack('!8 b c3 b s b x b f', 1, 'abc', 2, 'de', 3, 4, 5)",
			"struct.unpack('!8 b c3 b s b x b f', struct.pack('!8 b c3 b s b x b f', 1, 'abc', 2, 'de', 3, 4, 5))",
			"struct.pack('<!4 b >i4 b', 1, 2, 3)", "struct.pack('b !4 i4 !2 b i4', 1, 2, 3, 4)",
			"struct.unpack('!4 i4', 'abcdefghij', 2)", "struct.unpack('!4 b i4', 'abcdefghij', 3)")},
		{Name: "alignment of sizes not powers of two", Script: tries(
			"struct.size('!8bi3bi3')", "struct.pack('!8bi3bi3', 1, 2, 3, 4)", "struct.size('!8 b i5 b i6 b i7 b i12')",
			"struct.pack('!8 b i5 b i6', 1, 2, 3, 4)", "struct.unpack('!8 b i5 b i6', struct.pack('!8 b i5 b i6', 1, 2, 3, 4))",
			"struct.size('!4 b i3 b i3 b i3')", "struct.size('!2 bi3bi3')")},
		{Name: "alignment errors", Script: tries("struct.pack('!3 i', 1)", "struct.size('!0')", "struct.unpack('!6', '')",
			"struct.pack('!99999999999', 1)", "struct.size('!2147483648')", "struct.size('!2147483647')", "struct.size('!1073741824 b d')")},
		{Name: "c option", Script: tries(
			"struct.pack('c5', 'hello world')", "struct.pack('c0', 'abc')", "struct.pack('c0', '')", "struct.pack('c', 'xyz')",
			"struct.pack('c3c0c2', 'abcdef', 'gh', 'ijk')", "struct.pack('c3', 123456)", "struct.pack('c0', 'a\\0b')",
			"struct.unpack('c3', 'abcdef')", "struct.unpack('c3c2', 'abcdef')", "struct.unpack('c', 'abcdef')",
			"struct.unpack('c1c0', '3abcdef')", "struct.unpack('b c0', '\\3abcdef')", "struct.unpack('b x c0 b', '\\2\\0xyz')",
			"struct.unpack('B c0 B c0', '\\1a\\2bc')", "struct.unpack('c2 c0', '2.abc')", "struct.unpack('c0', '5')",
			"struct.unpack('B c0', '\\5abc')", "struct.unpack('c0', 'abc')", "struct.unpack('s c0', '3\\0abcdef')",
			"struct.unpack('d c0', struct.pack('d', 2.7) .. 'abcdef')", "struct.unpack('d c0', struct.pack('d', -1) .. 'abcdef')",
			"struct.unpack('d c0', struct.pack('d', 0) .. 'abcdef')", "struct.unpack('d c0', struct.pack('d', 2^64) .. 'abc')",
			"struct.unpack('d c0', struct.pack('d', 0/0) .. 'abc')", "struct.unpack('c0', '')")},
		{Name: "c option errors", Script: tries(
			"struct.pack('c5', 'ab')", "struct.pack('b c5', 1, 'ab')", "struct.pack('c2147483647', 'x')",
			"struct.unpack('c2147483647', 'abc')", "struct.pack('c99999999999', 'x')", "struct.unpack('c4', 'abc')",
			"struct.pack('c2', {})", "struct.pack('c2')", "struct.unpack('c2', 12)", "struct.pack('c0', true)")},
		{Name: "s option", Script: tries(
			"struct.pack('s', 'abc')", "struct.pack('s', '')", "struct.pack('s', 'a\\0b')", "struct.pack('ss', 'ab', 'cd')",
			"struct.unpack('s', 'abc\\0def')", "struct.unpack('ss', 'abc\\0def\\0')", "struct.unpack('s', '\\0')",
			"struct.unpack('sb', 'abc\\0\\255')", "struct.unpack('s', 'abc')", "struct.unpack('s', '')",
			"struct.unpack('bs', '\\1')", "struct.pack('s', {})")},
		{Name: "x and spaces", Script: tries(
			"struct.pack('bxb', 1, 2)", "struct.pack('  b  x  x b ', 1, 2)", "struct.unpack('bxb', '\\1\\0\\2')",
			"struct.unpack('xxb', 'abc')", "struct.size('xxx')", "struct.unpack('x', '')", "struct.pack('x')",
			"struct.pack('x4', 1)")},
		{Name: "endianness switches", Script: tries(
			"struct.pack('<h>h<h', 0x0102, 0x0102, 0x0102)", "struct.pack('>i<i', 1, 1)",
			"struct.unpack('<h>h', '\\1\\2\\1\\2')", "struct.pack('>', 1)", "struct.pack('<<>>b', 1)")},
		{Name: "unpack start position", Script: tries(
			"struct.unpack('b', 'abc', 2)", "struct.unpack('b', 'abc', 3)", "struct.unpack('b', 'abc', 4)",
			"struct.unpack('b', 'abc', 0)", "struct.unpack('b', 'abc', -1)", "struct.unpack('b', 'abc', '2')",
			"struct.unpack('b', 'abc', 1.9)", "struct.unpack('b', 'abc', nil)", "struct.unpack('b', 'abc', 'x')",
			"struct.unpack('b', 'abc', {})", "struct.unpack('b', 'abc', 2^53)", "struct.unpack('b', 'abc', 0/0)",
			"struct.unpack('b', 'abc', 1/0)", "struct.unpack('b', 'abc', 0.5)", "struct.unpack('b', 'abc', -0.5)",
			"struct.unpack('i4', 'abcdefgh', -1)", "struct.unpack('>', 'abc', 100)", "struct.unpack('>', 'abc', 4)",
			"struct.unpack('s', 'ab\\0cd\\0', 4)", "struct.unpack('c0', 'abc', 2)")},
		{Name: "empty format", Script: tries(
			"struct.pack('')", "struct.unpack('', 'abc')", "struct.unpack('', 'abc', -5)", "struct.unpack('', '', 10)",
			"struct.unpack('', 'abc', 2^60)", "struct.unpack('', 'abc', -2^60)", "struct.size('')")},
		{Name: "size", Script: tries(
			"struct.size('b')", "struct.size('bBhHlLTiIfd')", "struct.size('i1i2i3i5i16i32')", "struct.size('c10')",
			"struct.size('c')", "struct.size('<>!4 b i4 h')", "struct.size('q')", "struct.size('bq5')", "struct.size('5')",
			"struct.size('s')", "struct.size('c0')", "struct.size('b c0')", "struct.size('#')", "struct.size('q#')",
			"struct.size('i33')", "struct.size('i99999999999')", "struct.size('c2147483647c2147483647')", "struct.size()",
			"struct.size(12)", "struct.size({})")},
		{Name: "invalid format options", Script: tries(
			"struct.pack('q', 1)", "struct.pack('#')", "struct.pack('z', 1)", "struct.pack('\\255', 1)", "struct.pack('b4', 1)",
			"struct.unpack('q', 'abc')", "struct.unpack('q', 'abc', 5)", "struct.unpack('bj', 'abc')", "struct.pack('%')",
			"struct.unpack('y', '')")},
		{Name: "integral sizes", Script: tries(
			"struct.pack('i33', 1)", "struct.pack('I32', 1)", "struct.pack('i99999999999', 1)", "struct.unpack('i2147483648', 'abc')",
			"struct.pack('i2147483647', 1)", "struct.unpack('I33', '')", "struct.pack('c2147483648', 'a')")},
		{Name: "missing and wrong arguments", Script: tries(
			"struct.pack('i')", "struct.pack('ii', 1)", "struct.pack('c')", "struct.pack('d')", "struct.pack()",
			"struct.pack(nil)", "struct.pack({})", "struct.pack('i', 'x')", "struct.pack('i', {})", "struct.pack('i', true)",
			"struct.pack('d', 'abc')", "struct.pack('f', nil)", "struct.pack('s', nil)", "struct.pack('bbs', 1, 2)",
			"struct.unpack('i')", "struct.unpack('i', {})", "struct.unpack(nil, 'x')", "struct.unpack()",
			"struct.unpack('i', nil)", "struct.pack('i', 1, 2, 3)")},
		{Name: "numbers as strings", Script: tries(
			"struct.pack('s', 12.5)", "struct.pack('c0', 1e15)", "struct.pack('c0', 2^53)", "struct.pack('c0', 1/0)",
			"struct.pack('c0', -1/0)", "struct.pack('c0', 0/0)", "struct.pack('c0', -(0/0))", "struct.pack('c0', 0.1)",
			"struct.pack('c0', -0.0)", "struct.pack('c0', 1e-5)", "struct.pack('c0', 123456789012345678)",
			"struct.pack('c0', 100)", "struct.pack('c0', 1e14)", "struct.pack('c0', 2^63)", "struct.pack('c0', 1/3)",
			"struct.pack('s', 5e-324)", "struct.unpack('c2', 12)", "struct.unpack('c4', 1e15)", "struct.pack(5)",
			"struct.unpack(12, 'abc')", "struct.size(3)", "struct.pack(1.5, 1)")},
		{Name: "numeric strings as numbers", Script: tries(
			"struct.pack('<i', '0x10')", "struct.pack('<i', ' 12 ')", "struct.pack('>d', '1e2')", "struct.pack('<h', '-0x8000')",
			"struct.pack('b', '1e')", "struct.pack('<i', 'nan(5)')", "struct.pack('>d', 'nan(0x1234)')", "struct.pack('>d', '-nan')",
			"struct.pack('<i', '12\\0abc')")},
		{Name: "NUL ends the format", Script: tries("struct.pack('b\\0b', 1, 2)", "struct.unpack('b\\0q', 'abc')", "struct.size('i\\0#')")},
		{Name: "too many results", Script: tries(
			"#{struct.unpack(string.rep('b', 7996), string.rep('\\0', 8000))}",
			"#{struct.unpack(string.rep('b', 7997), string.rep('\\0', 8000))}",
			"#{struct.unpack(string.rep('b', 7998), string.rep('\\0', 8000))}",
			"#{struct.unpack(string.rep('b', 8000), string.rep('\\0', 8000))}",
			"#{struct.unpack(string.rep('x', 9000), string.rep('\\0', 9000))}",
			"#{struct.unpack(string.rep('b', 7997) .. 'x', string.rep('\\0', 8000))}",
			"#{struct.unpack(string.rep('b', 7997) .. 'c0', string.rep('\\0', 8000))}")},
		{Name: "errors called from pcall", Script: `return {select(2, pcall(struct.pack, 'q')), select(2, pcall(struct.unpack, 'i', 'a')), select(2, pcall(struct.size, 's')), select(2, pcall(struct.pack, 'i33', 1)), select(2, pcall(struct.unpack, 'b', 'a', 0))}`},
		{Name: "errors via other names", Script: "local p, u = struct.pack, struct.unpack\nlocal t = {struct.size}\nreturn {select(2, pcall(function() return p('q') end)), select(2, pcall(function()\n  return u('i', 'a')\nend)), select(2, pcall(function() return t[1]('s') end))}"},
		{Name: "integers", Script: testproc.EachValue("struct.pack('>i', x)", integerValues()...)},
		{Name: "round trips", Script: s(`local r = {}
for _, f in ipairs({'<i2', '>I4', '<l', '>L', '!4 b i4 h d', '<c3 s b', '>T f'}) do
  local vals = {}
  for i = 1, 6 do vals[i] = (i * 1234567) % 65521 end
  if f == '<c3 s b' then vals = {'abc', 'hello', 7} end
  local p = struct.pack(f, unpack(vals))
  r[#r+1] = table.concat(show(struct.unpack(f, p)), ',') .. ' ' .. struct.size((f:gsub('s', 'c5'))) .. ' ' .. #p
end
return r`)},
	}
}

// TestAgainstRedis runs every case on redis-server and in gopher-lua and
// compares the replies.
func TestAgainstRedis(t *testing.T) {
	testproc.CompareLua(t, Open, nil, structCases())
}

// TestOpenSetsOnlyStruct checks that Open adds the global "struct" and
// nothing else.
func TestOpenSetsOnlyStruct(t *testing.T) {
	if got := testproc.LuaGlobalsAdded(Open); !reflect.DeepEqual(got, []string{"struct"}) {
		t.Fatalf("Open added globals %q, want only \"struct\"", got)
	}
}
