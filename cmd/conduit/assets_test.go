package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
)

func TestAssetsOffline(t *testing.T) {
	dir := pcaptest.Dir(t)
	files := []string{filepath.Join(dir, "enip", "enip_test.pcap"), filepath.Join(dir, "dnp3", "dnp3.pcap")}
	var out, errb bytes.Buffer
	if code := runAssets(append([]string{"--json"}, files...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r assetsReply
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sources) != 2 || len(r.Assets) < 4 {
		t.Fatalf("reply %+v", r)
	}
	out.Reset()
	if code := runAssets(files, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"1756-ENBT/A", "Rockwell Automation/Allen-Bradley", "rev 4.03", "dnp3 address 4,6", "enip/44818 (1 clients)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
}

// TestAssetsUnreadable: a capture that cannot be read is an error, and
// no inventory is printed as if it were complete.
func TestAssetsUnreadable(t *testing.T) {
	bad := tempFile(t, "bad.pcap", "not a capture")
	for _, args := range [][]string{{bad}, {filepath.Join(t.TempDir(), "missing.pcap")}} {
		var out, errb bytes.Buffer
		if code := runAssets(args, &out, &errb); code != 1 || out.Len() != 0 || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1, nothing, an error", args, code, out.String(), errb.String())
		}
	}
}
