package pcaptest

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/internal/tbtest"
)

func TestPayloads(t *testing.T) {
	dir := Dir(t)
	path := filepath.Join(dir, "modbus", "modbusSmall.pcap")
	all, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, s := range all {
		if len(s.Payload) > 0 && (s.Src.Port() == 502 || s.Dst.Port() == 502) {
			want++
		}
	}
	got := Payloads(t, path, 502)
	if len(got) != want || want == 0 {
		t.Fatalf("%d payloads, want %d", len(got), want)
	}
	for _, s := range got {
		if len(s.Payload) == 0 || s.Src.Port() != 502 && s.Dst.Port() != 502 {
			t.Fatalf("unwanted segment %+v", s)
		}
	}
	if n := len(Seeds(t, "modbus", 502)); n <= len(got) {
		t.Errorf("%d seeds from all modbus captures, one alone gives %d", n, len(got))
	}
}

func TestDiffCounts(t *testing.T) {
	var r tbtest.Recorder
	DiffCounts(&r, map[string]int{"a": 1, "b": 2, "z": 1}, map[string]int{"a": 1, "b": 3, "c": 1})
	want := fmt.Sprint([]string{
		"b                      got 2, want 3",
		"c                      got 0, want 1",
		"z                      got 1, want 0",
	})
	if got := fmt.Sprint(r.Errs); got != want {
		t.Errorf("reported %s, want %s", got, want)
	}
}

func TestWithin(t *testing.T) {
	b := make([]byte, 10)
	for _, tc := range []struct {
		name string
		s, b []byte
		want bool
	}{
		{"empty", nil, b, true},
		{"whole", b, b, true},
		{"inside", b[3:7], b, true},
		{"past the end", b[3:10], b[:8], false},
		{"before", b[:2], b[2:], false},
		{"other array", make([]byte, 2), b, false},
		{"into nothing", b[:1], nil, false},
	} {
		if got := Within(tc.s, tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEachPDU(t *testing.T) {
	path := filepath.Join(Dir(t), "modbus", "modbusSmall.pcap")
	var want, wantRsp int
	for _, s := range Payloads(t, path, 502) {
		want += len(s.Payload)
		if s.Src.Port() == 502 {
			wantRsp += len(s.Payload)
		}
	}
	var got, gotRsp int
	EachPDU(t, path, 502, func(b []byte, fromPort bool) (int, string) {
		got++
		if fromPort {
			gotRsp++
		}
		return 1, ""
	})
	if got != want || gotRsp != wantRsp || wantRsp == 0 {
		t.Errorf("walked %d bytes, %d from the port; want %d, %d", got, gotRsp, want, wantRsp)
	}
	var r tbtest.Recorder
	calls := 0
	EachPDU(&r, path, 502, func(b []byte, _ bool) (int, string) {
		calls++
		return 0, "bad"
	})
	if n := len(Payloads(t, path, 502)); calls != n || len(r.Errs) != n {
		t.Errorf("a failing parse: %d calls, %d reports; want one each per payload (%d)", calls, len(r.Errs), n)
	}
}
