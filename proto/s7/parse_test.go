package s7

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

var readDB = job(1, varParam(FuncReadVar, anyItem(4)), nil)

var parseTests = []struct {
	name string
	b    []byte
	n    int // -1: len(b)
	err  pdu.Error
	want string // summary; checked when err is OK or want is set
}{
	// TPKT.
	{name: "empty", err: pdu.ErrShort},
	{name: "short tpkt header", b: []byte{3, 0, 0}, err: pdu.ErrShort},
	{name: "short tpkt", b: s7(readDB)[:20], err: pdu.ErrShort},
	{name: "tpkt version", b: cat([]byte{2}, s7(readDB)[1:]), err: ErrTPKTVersion},
	{name: "tpkt length too small", b: []byte{3, 0, 0, 6, 2, 0xf0, 0x80}, err: ErrTPKTLength},
	{name: "next tpkt follows", b: cat(tpkt(dt(false, nil)), s7(readDB)), n: 7, want: "cotp f0 eot=false nr=0 data=0"},

	// COTP.
	{name: "connect request", b: tpkt(connect(COTPConnectRequest, 0, 1, cparam(0xc1, 1, 0), cparam(0xc2, 1, 2), cparam(0xc0, 9))), n: -1,
		want: "cotp e0 dst=0000 src=0001 tsap=0100/0102 size=9"},
	{name: "connect confirm", b: tpkt(connect(COTPConnectConfirm, 1, 3, cparam(0xc0, 9), cparam(0xc1, 1, 0), cparam(0xc2, 1, 2), cparam(0xc3, 7))), n: -1,
		want: "cotp d0 dst=0001 src=0003 tsap=0100/0102 size=9"},
	{name: "connect request without parameters", b: tpkt(connect(COTPConnectRequest, 0, 1)), n: -1, want: "cotp e0 dst=0000 src=0001 tsap=/ size=0"},
	{name: "connect parameter past header", b: tpkt(connect(COTPConnectRequest, 0, 1, []byte{0xc1, 5, 1})), n: -1, err: ErrCOTPParam},
	{name: "connect parameter without length", b: tpkt(connect(COTPConnectRequest, 0, 1, []byte{0xc1})), n: -1, err: ErrCOTPParam},
	{name: "connect too short", b: tpkt([]byte{5, 0xe0, 0, 0, 0, 1}), n: -1, err: ErrCOTPLength},
	{name: "disconnect request", b: tpkt([]byte{6, 0x80, 0, 1, 0, 3, 0}), n: -1, want: "cotp 80"},
	{name: "error tpdu", b: tpkt([]byte{4, 0x70, 0, 1, 0}), n: -1, want: "cotp 70"},
	{name: "unknown tpdu", b: tpkt([]byte{2, 0x30, 0x80}), n: -1, err: ErrCOTPType},
	{name: "length indicator past tpkt", b: tpkt([]byte{9, 0xf0, 0x80}), n: -1, err: ErrCOTPLength},
	{name: "length indicator reserved", b: tpkt(cat([]byte{255, 0xf0, 0x80}, make([]byte, 260))), n: -1, err: ErrCOTPLength},
	{name: "data length indicator too small", b: tpkt([]byte{1, 0xf0, 0x80}), n: -1, err: ErrCOTPLength},
	{name: "empty data", b: tpkt(dt(true, nil)), n: -1, want: "cotp f0 eot=true nr=0 data=0"},
	{name: "fragment", b: tpkt(dt(false, readDB[:8])), n: -1, want: "cotp-fragment f0 eot=false nr=0 data=8"},
	{name: "data with tpdu number", b: tpkt([]byte{2, 0xf0, 0x85}), n: -1, want: "cotp f0 eot=true nr=5 data=0"},

	// S7 header.
	{name: "s7plus", b: s7([]byte{0x72, 1, 0, 20, 0x31}), n: -1, want: "s7plus v=1"},
	{name: "s7plus truncated", b: s7([]byte{0x72, 1, 0}), n: -1, err: ErrS7Header},
	{name: "protocol id", b: s7([]byte{0x33, 1, 0, 0, 0, 0, 0, 0, 0, 0}), n: -1, err: ErrProtocolID},
	{name: "header truncated", b: s7(readDB[:9]), n: -1, err: ErrS7Header},
	{name: "ack header truncated", b: s7(ack(ROSCTRAckData, 1, 0, 0, nil, nil)[:11]), n: -1, err: ErrS7Header},
	{name: "rosctr", b: s7(cat([]byte{0x32, 4}, readDB[2:])), n: -1, err: ErrROSCTR},
	{name: "lengths past pdu", b: s7(readDB[:len(readDB)-1]), n: -1, err: ErrS7Length},
	{name: "bytes after pdu", b: s7(cat(readDB, []byte{0})), n: -1, err: ErrS7Length},
	{name: "job without parameter", b: s7(job(1, nil, nil)), n: -1, err: ErrNoFunction},
	{name: "ack data without parameter", b: s7(ack(ROSCTRAckData, 1, 0, 0, nil, nil)), n: -1, err: ErrNoFunction},
	{name: "ack with error only", b: s7(ack(ROSCTRAck, 0x15, 0xd2, 0x0c, nil, nil)), n: -1, want: "ack ref=21 err=d20c param=0 data=0"},
	{name: "ack with parameter", b: s7(ack(ROSCTRAck, 2, 0x85, 0, []byte{FuncWriteVar, 1}, nil)), n: -1, want: "ack ref=2 err=8500 f=05 items=1 param=2 data=0"},

	// Jobs and their acks.
	{name: "setup communication", b: s7(job(1, setupParam(480), nil)), n: -1, want: "job ref=1 f=f0 pdu=480 param=8 data=0"},
	{name: "setup communication reply", b: s7(ack(ROSCTRAckData, 1, 0, 0, setupParam(240), nil)), n: -1, want: "ack_data ref=1 err=0000 f=f0 pdu=240 param=8 data=0"},
	{name: "setup communication short", b: s7(job(1, setupParam(480)[:7], nil)), n: -1, err: ErrSetup},
	{name: "read var", b: s7(readDB), n: -1, want: "job ref=1 f=04 items=1 param=14 data=0"},
	{name: "write var five items", b: s7(job(9, varParam(FuncWriteVar, anyItem(1), anyItem(2), anyItem(3), anyItem(4), anyItem(5)), make([]byte, 40))), n: -1,
		want: "job ref=9 f=05 items=5 param=62 data=40"},
	{name: "read var reply", b: s7(ack(ROSCTRAckData, 1, 0, 0, []byte{FuncReadVar, 1}, []byte{0xff, 4, 0, 32, 1, 2, 3, 4})), n: -1,
		want: "ack_data ref=1 err=0000 f=04 items=1 param=2 data=8"},
	{name: "read var reply without count", b: s7(ack(ROSCTRAckData, 1, 0, 0, []byte{FuncReadVar}, nil)), n: -1, err: ErrVarItems},
	{name: "read var without count", b: s7(job(1, []byte{FuncReadVar}, nil)), n: -1, err: ErrVarItems},
	{name: "read var fewer items than count", b: s7(job(1, cat([]byte{FuncReadVar, 2}, anyItem(4)), nil)), n: -1, err: ErrVarItems},
	{name: "read var more items than count", b: s7(job(1, cat([]byte{FuncReadVar, 1}, anyItem(4), anyItem(4)), nil)), n: -1, err: ErrVarItems},
	{name: "read var item past parameter", b: s7(job(1, cat([]byte{FuncReadVar, 1}, anyItem(4)[:8]), nil)), n: -1, err: ErrVarItems},
	{name: "read var item header cut", b: s7(job(1, []byte{FuncReadVar, 1, 0x12}, nil)), n: -1, err: ErrVarItems},
	{name: "request download", b: s7(job(14, cat(blockParam(FuncRequestDownload, "_0A00001P"), []byte{13}, []byte("1000500000400")), nil)), n: -1,
		want: "job ref=14 f=1a file=_0A00001P param=32 data=0"},
	{name: "download block", b: s7(job(1, blockParam(FuncDownloadBlock, "_0A00001P"), nil)), n: -1, want: "job ref=1 f=1b file=_0A00001P param=18 data=0"},
	{name: "download ended", b: s7(job(7, blockParam(FuncDownloadEnded, "_0A00001P"), nil)), n: -1, want: "job ref=7 f=1c file=_0A00001P param=18 data=0"},
	{name: "start upload", b: s7(job(8, blockParam(FuncStartUpload, "_0B00000A"), nil)), n: -1, want: "job ref=8 f=1d file=_0B00000A param=18 data=0"},
	{name: "upload", b: s7(job(9, []byte{FuncUpload, 0, 0, 0, 0, 0, 0, 7}, nil)), n: -1, want: "job ref=9 f=1e param=8 data=0"},
	{name: "end upload", b: s7(job(10, []byte{FuncEndUpload, 0, 0, 0, 0, 0, 0, 7}, nil)), n: -1, want: "job ref=10 f=1f param=8 data=0"},
	{name: "upload short", b: s7(job(9, []byte{FuncUpload, 0, 0, 0, 0, 0, 0}, nil)), n: -1, err: ErrBlockControl},
	{name: "download block without name", b: s7(job(1, blockParam(FuncDownloadBlock, "")[:8], nil)), n: -1, err: ErrBlockControl},
	{name: "download block name past parameter", b: s7(job(1, blockParam(FuncDownloadBlock, "_0A00001P")[:12], nil)), n: -1, err: ErrBlockControl},
	{name: "pi service insert", b: s7(job(15, piParam(cat([]byte{1, 0}, []byte("0A00001P")), "_INSE"), nil)), n: -1,
		want: "job ref=15 f=28 pi=_INSE(01003041303030303150) param=26 data=0"},
	{name: "pi service garbage collect", b: s7(job(30, piParam(nil, "_GARB"), nil)), n: -1, want: "job ref=30 f=28 pi=_GARB() param=16 data=0"},
	{name: "pi service short", b: s7(job(1, piParam(nil, "_GARB")[:9], nil)), n: -1, err: ErrPIService},
	{name: "pi service parameters past parameter", b: s7(job(1, cat(piParam(nil, "")[:8], be16(30), []byte{1, 2}), nil)), n: -1, err: ErrPIService},
	{name: "pi service name past parameter", b: s7(job(1, piParam(nil, "_GARB")[:13], nil)), n: -1, err: ErrPIService},
	{name: "pi service reply", b: s7(ack(ROSCTRAckData, 15, 0, 0, []byte{FuncPIService}, nil)), n: -1, want: "ack_data ref=15 err=0000 f=28 param=1 data=0"},
	{name: "plc stop", b: s7(job(28, stopParam("P_PROGRAM"), nil)), n: -1, want: "job ref=28 f=29 pi=P_PROGRAM() param=16 data=0"},
	{name: "plc stop short", b: s7(job(28, stopParam("P_PROGRAM")[:6], nil)), n: -1, err: ErrPIService},
	{name: "plc stop name past parameter", b: s7(job(28, stopParam("P_PROGRAM")[:10], nil)), n: -1, err: ErrPIService},
	{name: "unknown function", b: s7(job(1, []byte{0x42, 1, 2}, nil)), n: -1, want: "job ref=1 f=42 param=3 data=0"},

	// Userdata.
	{name: "userdata read szl", b: s7(userdata(udParam(UserdataRequest, GroupCPU, 1, 0, false), []byte{0xff, 9, 0, 4, 1, 0x32, 0, 4})), n: -1,
		want: "userdata ref=7 request g=4 sub=01 seq=0 param=8 data=8"},
	{name: "userdata response fragment", b: s7(userdata(udParam(UserdataResponse, GroupCPU, 1, 2, true), []byte{0xff, 9, 0, 0})), n: -1,
		want: "userdata ref=7 response g=4 sub=01 seq=2 unit=213 last=1 uerr=d209 param=12 data=4"},
	{name: "userdata push", b: s7(userdata(udParam(UserdataPush, GroupCyclic, 1, 0, false), nil)), n: -1,
		want: "userdata ref=7 push g=2 sub=01 seq=0 param=8 data=0"},
	{name: "userdata without parameter", b: s7(userdata(nil, nil)), n: -1, err: ErrNoFunction},
	{name: "userdata parameter short", b: s7(userdata(udParam(UserdataRequest, GroupCPU, 1, 0, false)[:7], nil)), n: -1, err: ErrUserdata},
	{name: "userdata head", b: s7(userdata(cat([]byte{0, 1, 0x13}, udParam(UserdataRequest, GroupCPU, 1, 0, false)[3:]), nil)), n: -1, err: ErrUserdata},
	{name: "userdata length byte", b: s7(userdata(cat(udParam(UserdataRequest, GroupCPU, 1, 0, false), []byte{0}), nil)), n: -1, err: ErrUserdata},
	{name: "userdata odd length", b: s7(userdata(cat(udParam(UserdataRequest, GroupCPU, 1, 0, false)[:3], []byte{6, 0x11, 0x44, 1, 0, 0, 0}), nil)), n: -1, err: ErrUserdata},
}

func TestParse(t *testing.T) {
	for _, tc := range parseTests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var p PDU
			// Leave another PDU's fields behind: Parse must clear them.
			Parse(s7(job(99, piParam([]byte{1}, "_X"), nil)), pdu.Response, &p)
			n, err := Parse(tc.b, pdu.Request, &p)
			want := tc.n
			if want == -1 {
				want = len(tc.b)
			}
			if n != want || err != tc.err {
				t.Fatalf("Parse = %d, %q; want %d, %q", n, err, want, tc.err)
			}
			if p.Dir != pdu.Request {
				t.Errorf("Dir %v", p.Dir)
			}
			if (err == pdu.OK || tc.want != "") && summary(&p) != tc.want {
				t.Errorf("got  %s\nwant %s", summary(&p), tc.want)
			}
			if err == pdu.OK && int(p.TPKTLength) != n {
				t.Errorf("TPKTLength %d", p.TPKTLength)
			}
		})
	}
}

func TestParseSubSlices(t *testing.T) {
	b := s7(job(15, piParam([]byte{1, 0}, "_INSE"), nil))
	var p PDU
	if _, err := Parse(b, pdu.Request, &p); err != pdu.OK {
		t.Fatal(err)
	}
	if !bytes.Equal(p.PIService, []byte("_INSE")) || &p.PIService[0] != &b[len(b)-5] || cap(p.PIService) != 5 {
		t.Fatalf("PIService %q is not a capped view of the input", p.PIService)
	}
	if cap(p.Param) != len(p.Param) || cap(p.PIParams) != len(p.PIParams) || &p.COTP.Data[0] != &b[7] {
		t.Fatal("views are not capped sub-slices of the input")
	}
}

// TestParseS7Fragments walks a stream as a reassembler would: Parse until
// a fragment starts a TSDU, ParseTPKT while joining the pieces, ParseS7 on
// the joined data.
func TestParseS7Fragments(t *testing.T) {
	s7pdu := job(3, varParam(FuncWriteVar, anyItem(4), anyItem(4)), make([]byte, 16))
	stream := cat(s7(readDB), tpkt(dt(false, s7pdu[:10])), tpkt(dt(false, s7pdu[10:20])), tpkt(dt(true, s7pdu[20:])), s7(readDB))
	var p PDU
	var joined []byte
	var got []string
	pending := false
	for b := stream; len(b) > 0; {
		parse := Parse
		if pending {
			parse = ParseTPKT
		}
		n, err := parse(b, pdu.Request, &p)
		if err != pdu.OK {
			t.Fatalf("Parse: %q", err)
		}
		b = b[n:]
		switch {
		case p.Kind == KindFragment:
			pending = true
			joined = append(joined, p.COTP.Data...)
			continue
		case pending && p.COTP.EOT:
			pending = false
			joined = append(joined, p.COTP.Data...)
			if err := ParseS7(joined, pdu.Request, &p); err != pdu.OK {
				t.Fatalf("ParseS7: %q", err)
			}
		}
		got = append(got, summary(&p))
	}
	want := []string{"job ref=1 f=04 items=1 param=14 data=0", "job ref=3 f=05 items=2 param=26 data=16", "job ref=1 f=04 items=1 param=14 data=0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// The last piece alone is not an S7 PDU.
	if _, err := Parse(tpkt(dt(true, s7pdu[20:])), pdu.Request, &p); err != ErrProtocolID {
		t.Fatalf("last fragment alone: %q", err)
	}
	if err := ParseS7(nil, pdu.Request, &p); err != ErrProtocolID {
		t.Fatalf("ParseS7(nil) = %q", err)
	}
}

func TestParseStreamCuts(t *testing.T) {
	b := s7(job(15, piParam([]byte{1, 0}, "_INSE"), nil))
	var p PDU
	for cut := 0; cut < len(b); cut++ {
		if n, err := Parse(b[:cut], pdu.Request, &p); n != 0 || err != pdu.ErrShort {
			t.Fatalf("cut %d: Parse = %d, %q", cut, n, err)
		}
	}
}

func TestBlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  string
		num  uint32
	}{
		{"_0A00001P", "DB", 1}, {"_0800035A", "OB", 35}, {"_0B00000A", "SDB", 0}, {"_0C00123P", "FC", 123},
		{"_0D00001P", "SFC", 1}, {"_0E65535B", "FB", 65535}, {"_0F00004P", "SFB", 4},
		{"_0G00001P", "", 0}, {"_0A0000xP", "", 0}, {"_0A00001", "", 0}, {"00A00001P", "", 0}, {"_1A00001P", "", 0},
	} {
		typ, num := Block([]byte(tc.name))
		if typ != tc.typ || num != tc.num {
			t.Errorf("Block(%s) = %s %d, want %s %d", tc.name, typ, num, tc.typ, tc.num)
		}
	}
}

func TestHeaderViews(t *testing.T) {
	b := s7(ack(ROSCTRAckData, 0x1234, 0xd2, 0x0c, []byte{FuncReadVar, 1}, []byte{0xff, 4, 0, 8, 1}))
	tp := TPKT(b)
	if tp.Version() != 3 || int(tp.Length()) != len(b) || !bytes.Equal(tp.Payload(), b[4:]) {
		t.Fatalf("TPKT view %d %d", tp.Version(), tp.Length())
	}
	h := Header(b[7:])
	if h.ProtocolID() != ProtocolS7 || h.ROSCTR() != ROSCTRAckData || h.PDURef() != 0x1234 || h.ParamLen() != 2 ||
		h.DataLen() != 5 || h.ErrorClass() != 0xd2 || h.ErrorCode() != 0x0c {
		t.Fatalf("S7 header view % x", h)
	}
}
