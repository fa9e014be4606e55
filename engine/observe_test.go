package engine

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
	"github.com/conduit-ot/conduit/rules"
)

// newObservedEngine is newAppEngine with an observer that renders each
// report into *seen.
func newObservedEngine(t testing.TB, mode, port, cond string, seen *[]string) *testEngine {
	t.Helper()
	src := strings.NewReplacer("%MODE%", mode, "%PROTO%", "tcp", "%PORT%", port, "%COND%", cond).Replace(appPolicy)
	p, err := rules.Parse("app.yaml", []byte(src))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() int64 { return te.clock }, EventBuffer: 1024,
		OnRequest: func(r RequestSeen) { *seen = append(*seen, summary(t, r)) }})
	return te
}

// summary renders a report as "kind name[!failure][+]" (+: counted), or
// "unparsed reason err detail", and checks its flow.
func summary(t testing.TB, r RequestSeen) string {
	if r.Client != netip.MustParseAddr(hmi) || r.Server != netip.MustParseAddr(plc) || r.Proto != 6 || r.Port < 100 {
		t.Errorf("report of flow %s -> %s:%d proto %d", r.Client, r.Server, r.Port, r.Proto)
	}
	if r.Kind == KindUnparsed {
		return strings.Join([]string{"unparsed", r.Reason, r.Err, r.Detail}, " ")
	}
	s := r.Kind.String() + " " + r.Name()
	if r.Failure != proto.Pass {
		s += "!" + r.Failure.String()
	}
	if r.Counted {
		s += "+"
	}
	return s
}

// TestObserveRequests: the observer hears every request the condition
// judges, named as a condition lists it, and counted when the rule counts
// it; and why a packet could not be judged.
func TestObserveRequests(t *testing.T) {
	const mei13 = "\x00\x09\x00\x00\x00\x04\x01\x2b\x0d\x00" // function 43, MEI type 13
	cases := []struct {
		name, port, cond string
		reqs             [][]byte // client segments, in order
		want             []string
	}{
		{"modbus", "502", "    modbus: {functions: [read_holding_registers, 43]}",
			[][]byte{modbustest.Request(1, 1, 3, 0, 10), modbustest.Request(2, 7, 6, 0, 1), []byte(mei13)},
			[]string{"modbus read_holding_registers+", "modbus write_single_register!functions", "modbus 43+"}},
		{"modbus unparsed", "502", "    modbus: {}\n    on_unparsed: allow",
			[][]byte{{0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1}, modbustest.Request(2, 1, 3, 0, 1)},
			[]string{"unparsed malformed-modbus bad-protocol-id ", "modbus read_holding_registers+"}},
		{"dnp3 over transport segments", "20000", "    dnp3: {functions: [direct_operate]}",
			dnp3Fragment(0xc4, 10, 1, 0, dnp3Operate(3, 20), 249),
			[]string{"dnp3 direct_operate", "dnp3 direct_operate+"}},
		{"s7 over COTP pieces", "102", "    s7: {functions: [write_var]}",
			s7Pieces(s7WriteVar(100), 20, 60),
			[]string{"s7 write_var", "s7 write_var+"}},
		{"enip carrying cip", "44818", "    cip: {services: [get_attribute_single]}",
			[][]byte{enipSetAttr(0x0e, 4)},
			[]string{"enip send_rr_data", "cip get_attribute_single", "enip send_rr_data+"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			te := newObservedEngine(t, "monitor", tc.port, tc.cond, &seen)
			port, _ := strconv.Atoi(tc.port)
			s := newSessionTo(t, te, uint16(port))
			for _, b := range tc.reqs {
				s.req(b)
			}
			if !slices.Equal(seen, tc.want) {
				t.Errorf("reports %q, want %q", seen, tc.want)
			}
			counted := 0
			for _, x := range seen {
				if strings.HasSuffix(x, "+") && !strings.HasPrefix(x, "cip ") {
					counted++
				}
			}
			if r := te.requests("hmi-reads"); r != uint64(counted) {
				t.Errorf("the rule counted %d requests, the reports %d", r, counted)
			}
		})
	}
}

// TestObserveReversedPickup: a flow picked up by its server's segment is
// reported in the rule's direction.
func TestObserveReversedPickup(t *testing.T) {
	var seen []string
	te := newObservedEngine(t, "enforce", "502", "    modbus: {}", &seen)
	w := te.Worker(0)
	w.Decide(seg(plc, hmi, 502, 40000, fACK|fPSH, 7000, 900, mbReadRsp(1, 1, 2)))
	w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 900, 7013, modbustest.Request(2, 1, 3, 0, 2)))
	if !slices.Equal(seen, []string{"modbus read_holding_registers+"}) {
		t.Errorf("reports %q", seen)
	}
}

// TestObserverCostsNoAllocs: with or without an observer, an inspected
// packet allocates nothing (TestInspectNoAllocs has none; here one that
// counts); the observer hears each request.
func TestObserverCostsNoAllocs(t *testing.T) {
	for _, observe := range []bool{false, true} {
		calls := 0
		p, err := rules.Parse("app.yaml", []byte(strings.NewReplacer("%MODE%", "enforce", "%PROTO%", "tcp", "%PORT%", "502", "%COND%", readOnly).Replace(appPolicy)))
		if err != nil {
			t.Fatal(err)
		}
		te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
		cfg := Config{Store: te.store, Log: slog.New(slog.DiscardHandler), Now: func() int64 { return te.clock }, EventBuffer: 1024}
		if observe {
			cfg.OnRequest = func(RequestSeen) { calls++ }
		}
		te.Engine = New(cfg)
		s := newSession(t, te)
		w := te.Worker(0)
		const n = 1001
		pkts := make([][]byte, n)
		for i := range pkts {
			pkts[i] = seg(hmi, plc, s.sport, 502, fACK|fPSH, s.cseq+uint32(12*i), s.sseq, modbustest.Request(uint16(i), 1, 3, 0, 10))
		}
		i := 0
		if a := testing.AllocsPerRun(n-1, func() {
			w.Decide(pkts[i])
			i++
		}); a != 0 {
			t.Errorf("observer %v: %.1f allocations per inspected packet", observe, a)
		}
		if want := map[bool]int{false: 0, true: n}[observe]; calls != want {
			t.Errorf("observer %v: %d reports, want %d", observe, calls, want)
		}
	}
}

// TestPanicInInspection: an observer that panics on every request costs
// each packet its verdict line, not the follower's memory. The flow,
// picked up mid-stream, takes its stream slot in the packet that panics:
// the slot stays the flow's, and the next packet uses it.
func TestPanicInInspection(t *testing.T) {
	p, err := rules.Parse("app.yaml", []byte(strings.NewReplacer("%MODE%", "enforce", "%PROTO%", "tcp", "%PORT%", "502", "%COND%", readOnly).Replace(appPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.DiscardHandler), Now: func() int64 { return te.clock }, EventBuffer: 1024,
		OnRequest: func(RequestSeen) { panic("observer") }})
	w := te.Worker(0)
	const n = 5
	for i := range n {
		w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 1000+uint32(12*i), 5000, modbustest.Request(uint16(i), 1, 3, 0, 10)))
	}
	if c := te.Counters(); c.Panics != n {
		t.Fatalf("%d panics, want %d", c.Panics, n)
	}
	if used, free, _ := w.insp.Slots(); used != 1 || free != 0 {
		t.Errorf("%d stream slots taken, %d free after %d packets of one flow; want 1, 0", used, free, n)
	}
	if err := w.insp.Check(); err != nil {
		t.Error(err)
	}
}

// TestPanicInReassembly: an S7 write in three COTP pieces is gathered in
// a large buffer; the observer panics when it hears the write that
// follows in the same segment, and the buffer goes back to the pool.
func TestPanicInReassembly(t *testing.T) {
	const writeOK = `    s7: {functions: [setup_communication, write_var]}`
	p, err := rules.Parse("app.yaml", []byte(strings.NewReplacer("%MODE%", "enforce", "%PROTO%", "tcp", "%PORT%", "102", "%COND%", writeOK).Replace(appPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
	writes := 0
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.DiscardHandler), Now: func() int64 { return te.clock }, EventBuffer: 1024,
		OnRequest: func(r RequestSeen) {
			if r.Code == 5 { // write_var
				if writes++; writes == 2 {
					panic("observer")
				}
			}
		}})
	s := newSessionTo(t, te, 102)
	if !s.req(cat(s7Pieces(s7Setup(1, 960))...)).Accept || !s.rsp(cat(s7Pieces(s7Setup(3, 240))...)).Accept {
		t.Fatal("setup refused")
	}
	w := te.Worker(0)
	s.req(cat(cat(s7Pieces(s7WriteVar(100), 40, 90)...), cat(s7Pieces(s7WriteVar(10))...)))
	if c := te.Counters(); c.Panics != 1 {
		t.Fatalf("%d panics, want 1", c.Panics)
	}
	// Every large buffer is spare or held by a slot: none is lost.
	if err := w.insp.Check(); err != nil {
		t.Error(err)
	}
}
