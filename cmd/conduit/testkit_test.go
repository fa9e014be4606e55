package main

// Helpers shared by the unit tests of this package.

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// opsPacket is an IPv4 TCP (proto 6) or UDP (17) packet (checksums zero:
// conduit does not check them).
func opsPacket(proto byte, src, dst string, sport, dport uint16, seq, ack uint32, flags byte, payload []byte) []byte {
	hl := 20
	if proto == 17 {
		hl = 8
	}
	b := make([]byte, 20+hl+len(payload))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	if proto == 17 {
		binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	} else {
		binary.BigEndian.PutUint32(b[24:], seq)
		binary.BigEndian.PutUint32(b[28:], ack)
		b[32], b[33] = 5<<4, flags
		binary.BigEndian.PutUint16(b[34:], 65535)
	}
	copy(b[20+hl:], payload)
	return b
}

// opsSyn is an IPv4 TCP SYN of 40 bytes.
func opsSyn(src, dst string, sport, dport uint16) []byte {
	return opsPacket(6, src, dst, sport, dport, 0, 0, 0x02, nil)
}

// tempFile writes content to a file name in a fresh temporary directory
// and returns its path.
func tempFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantContains fails t for each of wants that out, the output of what,
// lacks.
func wantContains(t testing.TB, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, out)
		}
	}
}

// verdictLines returns the verdict lines of the JSON event log at path,
// failing the test on a line that is not JSON.
func verdictLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if m["event"] == "verdict" {
			out = append(out, m)
		}
	}
	return out
}
