package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	for _, body := range [][]byte{nil, {}, {0xf5, 0x00}, bytes.Repeat([]byte{0xab}, 1000)} {
		p := Seal(bytes.Clone(body))
		if len(p) != len(body)+trailerLen {
			t.Fatalf("Seal added %d bytes, want %d", len(p)-len(body), trailerLen)
		}
		got, ver, err := Open(p)
		if err != nil || ver != Version || !bytes.Equal(got, body) {
			t.Fatalf("Open(Seal(%x)) = %x, %d, %v", body, got, ver, err)
		}
		// The body Open returns cannot grow over the trailer.
		_ = append(got, 0xff)
		if _, _, err := Open(p); err != nil {
			t.Fatalf("appending to the opened body changed the payload: %v", err)
		}
	}
}

// TestOpenRedis opens the empty FUNCTION DUMP payload of redis-server 7.0.
func TestOpenRedis(t *testing.T) {
	body, ver, err := Open(redisEmptyDump)
	if err != nil || ver != 10 || len(body) != 0 {
		t.Fatalf("Open = %x, %d, %v", body, ver, err)
	}
	if !bytes.Equal(Seal(nil), redisEmptyDump) {
		t.Fatalf("Seal(nil) = %x, want %x", Seal(nil), redisEmptyDump)
	}
}

func TestOpenRefuses(t *testing.T) {
	if _, ver, err := Open(sealVersion([]byte{1}, 9)); err != nil || ver != 9 {
		t.Fatalf("version 9: %d, %v", ver, err)
	}
	if _, _, err := Open(sealVersion(nil, 0)); err != nil {
		t.Fatalf("version 0: %v", err)
	}
	bad := map[string][]byte{
		"empty":       nil,
		"9 bytes":     Seal(nil)[1:],
		"version 11":  sealVersion([]byte{1}, 11),
		"version max": sealVersion([]byte{1}, 0xffff),
		"zero crc":    append([]byte{1, 10, 0}, make([]byte, 8)...),
	}
	p := Seal([]byte("some body"))
	for i := range p {
		for bit := range 8 {
			q := bytes.Clone(p)
			q[i] ^= 1 << bit
			bad["flip "+string(rune('A'+i))+string(rune('0'+bit))] = q
		}
	}
	for name, p := range bad {
		body, ver, err := Open(p)
		if !errors.Is(err, ErrPayload) || body != nil || ver != 0 {
			t.Errorf("%s: Open = %x, %d, %v; want ErrPayload", name, body, ver, err)
		}
		if err != nil && err.Error() != "ERR DUMP payload version or checksum are wrong" {
			t.Errorf("%s: error text %q", name, err.Error())
		}
	}
}

// sealVersion is body with a trailer of version v and a correct checksum.
func sealVersion(body []byte, v uint16) []byte {
	p := binary.LittleEndian.AppendUint16(bytes.Clone(body), v)
	return binary.LittleEndian.AppendUint64(p, CRC64(0, p))
}
