package dnp3test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/dnp3"
)

// TestAppParses checks that the parser accepts the fragments the builders
// make and sees their link, transport and application fields.
func TestAppParses(t *testing.T) {
	var f dnp3.Frame
	for _, tc := range []struct {
		name             string
		b                []byte
		master           bool
		dst, src         uint16
		seq, fc, appCtrl uint8
		objects          []dnp3.ObjectHeader // of a request
	}{
		{"class 0 read", Frame(MasterData, 10, 1, Request(35, dnp3.FuncRead, Class0)), true, 10, 1, 35, dnp3.FuncRead, 0xc3,
			[]dnp3.ObjectHeader{{Group: 60, Variation: 1, Qualifier: dnp3.RangeAll}}},
		// The parser walks no response objects: a read of the same points
		// shows it the object headers the builders write.
		{"analogs and binaries headers", Frame(MasterData, 10, 1, Request(2, dnp3.FuncRead, append(Analogs(4, 100)[:5], Binaries(8, 0x5a)[:5]...))),
			true, 10, 1, 2, dnp3.FuncRead, 0xc2,
			[]dnp3.ObjectHeader{{Group: 30, Variation: 2, Start: 0, Stop: 3}, {Group: 1, Variation: 2, Start: 0, Stop: 7}}},
		{"solicited response", Frame(OutstationData, 1, 10, Response(17, dnp3.FuncResponse, false, Analogs(4, 100))), false, 1, 10, 17, dnp3.FuncResponse, 0xc1, nil},
		{"unsolicited response", Frame(OutstationData, 1, 10, Response(3, dnp3.FuncUnsolicitedResponse, true, Binaries(8, 1))), false, 1, 10, 3, dnp3.FuncUnsolicitedResponse,
			0xc0 | dnp3.AppCON | dnp3.AppUNS | 3, nil},
	} {
		n, err := dnp3.Parse(tc.b, &f)
		if err != "" || n != len(tc.b) {
			t.Errorf("%s: Parse = %d, %q; want %d, no error", tc.name, n, err, len(tc.b))
			continue
		}
		if f.FromMaster() != tc.master || !f.Primary() || f.LinkFunction != dnp3.LinkUnconfirmedUserData ||
			f.Destination != tc.dst || f.Source != tc.src || !f.FIR() || !f.FIN() || f.Seq() != tc.seq&0x3f {
			t.Errorf("%s: link and transport %+v", tc.name, f)
		}
		if !f.HasApp || f.App.Function != tc.fc || f.App.Control != tc.appCtrl || f.App.IIN != 0 {
			t.Errorf("%s: application header %+v", tc.name, f.App)
		}
		if tc.objects == nil {
			continue
		}
		if got := f.App.Objects[:f.App.NumObjects]; !f.App.ObjectsComplete || len(got) != len(tc.objects) {
			t.Errorf("%s: objects %+v (complete %v), want %+v", tc.name, got, f.App.ObjectsComplete, tc.objects)
			continue
		}
		for i, h := range tc.objects {
			if f.App.Objects[i] != h {
				t.Errorf("%s: object %d is %+v, want %+v", tc.name, i, f.App.Objects[i], h)
			}
		}
	}
	// The objects' data: a flag and a little-endian value for each analog,
	// a flag with the state in bit 7 for each binary.
	if b := Analogs(2, 0x0102); string(b[5:]) != "\x01\x02\x01\x01\x09\x01" {
		t.Errorf("analogs % x, want 01 02 01 01 09 01", b[5:])
	}
	if b := Binaries(3, 0b101); string(b[5:]) != "\x81\x01\x81" {
		t.Errorf("binaries % x, want 81 01 81 (points 0 and 2 on)", b[5:])
	}
}
