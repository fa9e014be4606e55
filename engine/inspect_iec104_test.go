package engine

import (
	"testing"

	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
)

// TestInspectIEC104Stream follows an IEC 104 session through the engine in
// enforce: a master that may interrogate and synchronise clocks (not
// command) against an outstation on tcp/2404.
func TestInspectIEC104Stream(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "2404", `    iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1]}`)
	s := newSessionTo(t, te, iec104.Port)
	gi := iec104test.Command(0, 0, iec104.C_IC_NA_1, iec104.CauseAct, 1, 0)
	clock := iec104test.Command(2, 0, iec104.C_CS_NA_1, iec104.CauseAct, 1, 0)

	// Link control passes and is no request.
	if !s.req(iec104test.U(iec104.StartDTAct)).Accept || !s.rsp(iec104test.U(iec104.StartDTCon)).Accept {
		t.Fatal("STARTDT refused")
	}
	// An interrogation and an S frame in one segment, a clock sync split
	// over two.
	if !s.req(cat(gi, iec104test.S(0))).Accept || !s.req(clock[:9]).Accept || !s.req(clock[9:]).Accept {
		t.Fatal("interrogation or clock sync refused")
	}
	if n := te.requests("hmi-reads"); n != 2 {
		t.Errorf("requests = %d after an interrogation and a clock sync, want 2", n)
	}
	if lines := te.appLines(); len(lines) != 0 {
		t.Errorf("lines after allowed traffic: %+v", lines)
	}
	// The outstation's confirmation, measured values, and a negative
	// confirmation (the outstation refused the clock sync), one segment.
	con := iec104test.Command(0, 1, iec104.C_IC_NA_1, iec104.CauseActCon, 1, 0)
	meas := iec104test.I(1, 1, append([]byte{iec104.M_ME_NC_1, 2, iec104.CauseInroGen, 0, 1, 0}, make([]byte, 16)...))
	neg := iec104test.Command(2, 2, iec104.C_CS_NA_1, iec104.CauseActCon|0x40, 1, 0)
	if !s.rsp(cat(con, meas, neg)).Accept {
		t.Fatal("the outstation's answers refused")
	}
	lines := te.appLines()
	if len(lines) != 1 || lines[0].reason != ReasonException || !lines[0].accept || lines[0].app.Side != inspect.RspSide ||
		iec104Attr(&lines[0].app, "type_id") != "C_CS_NA_1" || iec104Attr(&lines[0].app, "negative") != "true" ||
		lines[0].app.Offset != uint32(6+len(con)+len(meas)) {
		t.Fatalf("negative confirmation: lines %+v", lines)
	}
	// A single command is dropped, and said so.
	sc := iec104test.Command(3, 3, iec104.C_SC_NA_1, iec104.CauseAct, 1, 4500)
	if s.req(sc).Accept {
		t.Fatal("single command passed")
	}
	lines = te.appLines()
	if len(lines) != 1 || lines[0].reason != ReasonViolation || lines[0].accept ||
		iec104Attr(&lines[0].app, "type_id") != "C_SC_NA_1" || iec104Attr(&lines[0].app, "violates") != "type_ids" ||
		appInt(&lines[0].app, "ioa") != 4500 {
		t.Fatalf("single command: lines %+v", lines)
	}

	// A malformed APDU (a U frame with two functions) on a new session.
	s2 := &session{t: t, te: te, cseq: 7000, sseq: 9000, sport: 40001, dport: iec104.Port}
	w := te.Worker(0)
	if !w.Decide(seg(hmi, plc, s2.sport, s2.dport, fSYN, s2.cseq, 0, nil)) ||
		!w.Decide(seg(plc, hmi, s2.dport, s2.sport, fSYN|fACK, s2.sseq, s2.cseq+1, nil)) ||
		!w.Decide(seg(hmi, plc, s2.sport, s2.dport, fACK, s2.cseq+1, s2.sseq+1, nil)) {
		t.Fatal("second handshake refused")
	}
	s2.cseq, s2.sseq = s2.cseq+1, s2.sseq+1
	te.verdicts()
	if s2.req([]byte{0x68, 4, 0x43 | 0x04, 0, 0, 0}).Accept {
		t.Fatal("a U frame with two functions passed")
	}
	lines = te.appLines()
	if len(lines) != 1 || lines[0].reason != "malformed-iec104" || iec104Attr(&lines[0].app, "error") != "bad-control" ||
		iec104Attr(&lines[0].app, "format") != "u" {
		t.Fatalf("malformed U frame: lines %+v", lines)
	}
}

func TestInspectIEC104NoAllocs(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "2404", `    iec104: {type_ids: [C_IC_NA_1]}`)
	newSessionTo(t, te, iec104.Port).checkNoAllocs(iec104test.Command(0, 0, iec104.C_IC_NA_1, iec104.CauseAct, 1, 0),
		iec104test.Command(0, 0, iec104.C_SC_NA_1, iec104.CauseAct, 1, 1))
}
