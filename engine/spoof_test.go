package engine

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
	"golang.org/x/sys/unix"
)

const boundPolicy = `mode: %MODE%
zones:
  operations:  {level: 3, cidrs: [10.30.0.0/24], ports: [vops]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24], ports: [vsup], macs: ["02:00:00:00:20:10"]}
  control:     {level: 1, cidrs: [10.10.0.0/24], ports: [vctl, vctl2]}
  enterprise:  {level: 4, cidrs: [10.40.0.0/24]}
conduits: [%CONDUITS%]
rules:
  - {name: hmi-polls-plcs, from: supervisory, to: control, proto: tcp, dport: 502}
  - {name: ent-web, from: enterprise, to: operations, proto: tcp, dport: 80}
`

// Bridge ports of the fake namespace, by ifindex.
const (
	ixEnt, ixOps, ixSup, ixCtl = 2, 3, 4, 5
	ent                        = "10.40.0.10"
)

var (
	hmiMAC   = rules.MAC{2, 0, 0, 0, 0x20, 0x10}
	otherMAC = rules.MAC{2, 0, 0, 0, 0x40, 0x10}
	fromSup  = Ingress{Port: ixSup, MAC: hmiMAC, HasMAC: true}
	fromEnt  = Ingress{Port: ixEnt, MAC: otherMAC, HasMAC: true}
	fromCtl  = Ingress{Port: ixCtl, MAC: rules.MAC{2, 0, 0, 0, 0x10, 0x10}, HasMAC: true}
)

// fakeLinks is a namespace's interface list that a test can change.
type fakeLinks struct {
	mu    sync.Mutex
	links map[int]string
}

func (f *fakeLinks) set(index int, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, n := range f.links {
		if n == name && name != "" {
			delete(f.links, i)
		}
	}
	if name == "" {
		delete(f.links, index)
	} else {
		f.links[index] = name
	}
}

func (f *fakeLinks) list() ([]net.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []net.Interface
	for i, n := range f.links {
		out = append(out, net.Interface{Index: i, Name: n})
	}
	return out, nil
}

func newBoundEngine(t testing.TB, mode, conduits string) (*testEngine, *fakeLinks, *bytes.Buffer) {
	t.Helper()
	p, err := rules.Parse("bound.yaml", []byte(strings.NewReplacer("%MODE%", mode, "%CONDUITS%", conduits).Replace(boundPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	links := &fakeLinks{links: map[int]string{1: "lo", 10: "br0", ixEnt: "vent", ixOps: "vops", ixSup: "vsup", ixCtl: "vctl"}}
	var buf bytes.Buffer
	te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.NewJSONHandler(&buf, nil)),
		Now: func() int64 { return te.clock }, EventBuffer: 1024, Interfaces: links.list})
	return te, links, &buf
}

func TestSpoofedSource(t *testing.T) {
	type step struct {
		pkt    []byte
		in     Ingress
		accept bool
	}
	for _, tc := range []struct {
		name, mode, conduits string
		steps                []step
		spoofed              uint64
		wouldDrop            uint64
		reason, inPort       string // of the last packet's verdict line ("": none)
	}{
		{"genuine port and MAC", "enforce", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), fromSup, true}}, 0, 0, ReasonNewFlow, "vsup"},
		{"forged from another port", "enforce", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), Ingress{Port: ixEnt, MAC: hmiMAC, HasMAC: true}, false}}, 1, 1, ReasonSpoofed, "vent"},
		{"right port, other MAC", "enforce", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), Ingress{Port: ixSup, MAC: otherMAC, HasMAC: true}, false}}, 1, 1, ReasonSpoofed, "vsup"},
		{"right port, no MAC", "enforce", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), Ingress{Port: ixSup}, false}}, 1, 1, ReasonSpoofed, "vsup"},
		{"unknown ifindex", "enforce", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), Ingress{Port: 77, MAC: hmiMAC, HasMAC: true}, false}}, 1, 1, ReasonSpoofed, "ifindex 77"},
		{"a zone's second port", "enforce", "", []step{
			{tcp(hmi, plc, 40000, 502, fSYN), fromSup, true},
			{tcp(plc, hmi, 502, 40000, fSYN|fACK), fromCtl, true},
		}, 0, 0, "", ""},
		{"a forged reply: the server's binding applies", "enforce", "", []step{
			{tcp(hmi, plc, 40000, 502, fSYN), fromSup, true},
			{tcp(plc, hmi, 502, 40000, fSYN|fACK), fromEnt, false},
			{tcp(plc, hmi, 502, 40000, fSYN|fACK), fromCtl, true},
		}, 1, 1, "", ""},
		{"a tracked flow is not continued from another port", "enforce", "", []step{
			{tcp(hmi, plc, 40000, 502, fSYN), fromSup, true},
			{tcp(plc, hmi, 502, 40000, fSYN|fACK), fromCtl, true},
			{tcp(hmi, plc, 40000, 502, fACK|fPSH), Ingress{Port: ixEnt, MAC: hmiMAC, HasMAC: true}, false},
			{tcp(hmi, plc, 40000, 502, fACK|fPSH), fromSup, true},
		}, 1, 1, "", ""},
		{"monitor flags and passes", "monitor", "", []step{{tcp(hmi, plc, 40000, 502, fSYN), fromEnt, true}}, 1, 1, ReasonNewFlow, "vent"},
		{"monitor: forged and denied is one would-drop", "monitor", "", []step{{tcp(hmi, plc, 40000, 503, fSYN), fromEnt, true}}, 1, 1, ReasonNewFlow, "vent"},
		{"the stricter direction's mode: a reply may be enforced", "monitor", "{from: control, to: supervisory, mode: enforce}",
			[]step{{tcp(hmi, plc, 40000, 502, fSYN), fromEnt, false}}, 1, 1, ReasonSpoofed, "vent"},
		{"passthrough checks nothing", "passthrough", "", []step{{tcp(hmi, plc, 40000, 503, fSYN), fromEnt, true}}, 0, 0, ReasonPassthrough, "vent"},
		{"an unbound zone comes from anywhere", "enforce", "", []step{{tcp(ent, hist, 40000, 80, fSYN), fromCtl, true}}, 0, 0, ReasonNewFlow, "vctl"},
		{"an address outside every zone is not bound", "enforce", "", []step{{tcp("192.0.2.1", plc, 40000, 502, fSYN), fromEnt, false}}, 0, 1, ReasonNewFlow, "vent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te, _, buf := newBoundEngine(t, tc.mode, tc.conduits)
			w := te.Worker(0)
			for i, s := range tc.steps {
				if got := w.DecideIn(s.pkt, s.in); got != s.accept {
					t.Fatalf("packet %d: accept %v, want %v", i+1, got, s.accept)
				}
			}
			c := te.Counters()
			if c.Spoofed != tc.spoofed || c.WouldDrop != tc.wouldDrop {
				t.Errorf("spoofed %d would-drop %d, want %d %d", c.Spoofed, c.WouldDrop, tc.spoofed, tc.wouldDrop)
			}
			lines := drain(t, te, buf, DeniedLimit{Burst: -1})
			if tc.reason == "" {
				return
			}
			last := lines[len(lines)-1]
			if last["reason"] != tc.reason || last["in_port"] != tc.inPort {
				t.Errorf("last line reason %v in_port %v, want %s %s: %v", last["reason"], last["in_port"], tc.reason, tc.inPort, last)
			}
		})
	}
}

// TestSpoofedLine checks what a spoofed-source line says, that it is
// written once per source and port, and that monitor's flagged packet
// says would drop.
func TestSpoofedLine(t *testing.T) {
	for _, mode := range []string{"enforce", "monitor"} {
		te, _, buf := newBoundEngine(t, mode, "")
		w := te.Worker(0)
		for i := range 50 {
			w.DecideIn(tcp(hmi, plc, uint16(40000+i), 502, fSYN), fromEnt)
		}
		w.DecideIn(tcp(hmi, plc, 41000, 502, fSYN), Ingress{Port: ixOps, MAC: hmiMAC, HasMAC: true})
		lines := drain(t, te, buf, DeniedLimit{Burst: -1})
		var spoofed []map[string]any
		for _, l := range lines {
			if l["reason"] == ReasonSpoofed {
				spoofed = append(spoofed, l)
			}
		}
		if len(spoofed) != 2 {
			t.Fatalf("%s: %d spoofed-source lines for 51 packets from 2 ports, want 2: %v", mode, len(spoofed), spoofed)
		}
		l := spoofed[0]
		wantVerdict := map[string]string{"enforce": "drop", "monitor": "accept"}[mode]
		if l["verdict"] != wantVerdict || l["would"] != "drop" || l["mode"] != mode || l["in_port"] != "vent" ||
			l["src"] != hmi || l["dst"] != plc || l["from_zone"] != "supervisory" || l["to_zone"] != "control" ||
			l["bound_zone"] != "supervisory" || l["src_mac"] != otherMAC.String() || l["rule"] != "" ||
			!equalList(l["expected_ports"], "vsup") || !equalList(l["expected_macs"], hmiMAC.String()) {
			t.Errorf("%s: line %v", mode, l)
		}
		if spoofed[1]["in_port"] != "vops" {
			t.Errorf("%s: second line %v", mode, spoofed[1])
		}
		if c := te.Counters(); c.Spoofed != 51 || c.WouldDrop != 51 {
			t.Errorf("%s: counters %+v", mode, c)
		}
	}
}

// equalList reports whether v, a decoded JSON value, is the list want.
func equalList(v any, want ...any) bool {
	l, ok := v.([]any)
	return ok && slices.Equal(l, want)
}

// TestSpoofPortsResolved follows ports that appear later, change index or
// are renamed: a miss reads the names again, at most once a second.
func TestSpoofPortsResolved(t *testing.T) {
	te, links, _ := newBoundEngine(t, "enforce", "")
	w := te.Worker(0)
	syn := func(sport uint16) []byte { return tcp(hmi, plc, sport, 502, fSYN) }
	if !w.DecideIn(syn(40000), fromSup) || te.ports.reads.Load() != 1 {
		t.Fatalf("first packet: reads %d", te.ports.reads.Load())
	}
	// vsup is re-created with a new index.
	links.set(14, "vsup")
	moved := Ingress{Port: 14, MAC: hmiMAC, HasMAC: true}
	te.clock += 500e6
	if w.DecideIn(syn(40001), moved) {
		t.Error("a read within the second: the new index is not known yet")
	}
	te.clock += 600e6
	if !w.DecideIn(syn(40002), moved) || te.ports.reads.Load() != 2 {
		t.Errorf("after a second the miss reads the names again: reads %d", te.ports.reads.Load())
	}
	// A flood of forged packets reads the names at most once a second.
	for i := range 1000 {
		w.DecideIn(syn(uint16(41000+i)), fromEnt)
	}
	if r := te.ports.reads.Load(); r != 2 {
		t.Errorf("reads %d after a flood within one second", r)
	}
	// vctl2, named by the policy, appears.
	links.set(20, "vctl2")
	te.clock += 2e9
	if !w.DecideIn(tcp(plc, hmi, 502, 40002, fSYN|fACK), Ingress{Port: 20}) {
		t.Error("reply on the control zone's second port, appeared later")
	}
	// The old vsup index now names another port.
	links.set(ixSup, "vent2")
	te.clock += 2e9
	if w.DecideIn(syn(40003), fromSup) {
		t.Error("renamed port still admitted")
	}
}

func TestSpoofUnknownIngressNotChecked(t *testing.T) {
	te, _, _ := newBoundEngine(t, "enforce", "")
	if !te.Worker(0).Decide(tcp(hmi, plc, 40000, 502, fSYN)) || te.ports.reads.Load() != 0 {
		t.Error("Decide (replay) must skip the binding check and never read interfaces")
	}
}

func TestSpoofNoAllocs(t *testing.T) {
	te, _, _ := newBoundEngine(t, "enforce", "")
	w := te.Worker(0)
	w.DecideIn(tcp(hmi, plc, 40000, 502, fSYN), fromSup)
	w.DecideIn(tcp(plc, hmi, 502, 40000, fSYN|fACK), fromCtl)
	data := tcp(hmi, plc, 40000, 502, fACK|fPSH)
	forged := tcp(hmi, plc, 40001, 502, fSYN)
	w.DecideIn(forged, fromEnt)
	te.verdicts()
	for name, c := range map[string]struct {
		pkt []byte
		in  Ingress
	}{"established, bound": {data, fromSup}, "forged again": {forged, fromEnt}} {
		if n := testing.AllocsPerRun(1000, func() { w.DecideIn(c.pkt, c.in) }); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
	}
}

func BenchmarkDecideIn(b *testing.B) {
	for _, mode := range []string{"monitor", "enforce"} {
		b.Run(mode+"/established-bound", func(b *testing.B) {
			te, _, _ := newBoundEngine(b, mode, "")
			w := te.Worker(0)
			w.DecideIn(tcp(hmi, plc, 40000, 502, fSYN), fromSup)
			pkt := tcp(hmi, plc, 40000, 502, fACK|fPSH)
			b.ReportAllocs()
			for b.Loop() {
				w.DecideIn(pkt, fromSup)
			}
		})
	}
	b.Run("enforce/forged", func(b *testing.B) {
		te, _, _ := newBoundEngine(b, "enforce", "")
		w := te.Worker(0)
		pkt := tcp(hmi, plc, 40000, 502, fACK|fPSH)
		w.DecideIn(pkt, fromEnt)
		b.ReportAllocs()
		for b.Loop() {
			w.DecideIn(pkt, fromEnt)
		}
	})
}

// TestServeIngress: Serve hands the reader's bridge port and source MAC to
// the decision, so a forged source from the wrong port is dropped and the
// same packet from its own port and MAC passes.
func TestServeIngress(t *testing.T) {
	te, _, _ := newBoundEngine(t, "enforce", "")
	q, k := fakeQueue(t, time.Second)
	pkts := []struct {
		physIn uint32
		mac    rules.MAC
		want   uint32
	}{{ixEnt, hmiMAC, nfq.Drop}, {ixSup, otherMAC, nfq.Drop}, {ixSup, hmiMAC, nfq.Accept}}
	for i, p := range pkts {
		msg := nfqtest.PacketMessageFrom(0, uint32(i+1), tcp(hmi, plc, 40000, 502, fSYN), false, p.physIn, p.mac[:])
		if _, err := unix.Write(k, msg); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range servedVerdicts(t, te, q, k, len(pkts)) {
		if v.ID != uint32(i+1) || v.Verdict != pkts[i].want {
			t.Errorf("verdict %d = %+v, want %d", i, v, pkts[i].want)
		}
	}
	if c := te.Counters(); c.Spoofed != 2 {
		t.Errorf("spoofed %d", c.Spoofed)
	}
}

func TestResolvePorts(t *testing.T) {
	te, links, _ := newBoundEngine(t, "enforce", "")
	links.set(ixCtl, "") // vctl is gone; vctl2 never existed
	missing, err := te.ResolvePorts(te.store.Load().Policy)
	if err != nil || !slices.Equal(missing, []string{"vctl", "vctl2"}) || te.ports.reads.Load() != 1 {
		t.Errorf("missing %v, %v, reads %d", missing, err, te.ports.reads.Load())
	}
	if n, ok := te.PortName(ixSup); !ok || n != "vsup" {
		t.Errorf("PortName(%d) = %q %v", ixSup, n, ok)
	}
}

// TestSpoofAdmitMemo: the memo of the last admitted source and port is
// forgotten when the interface names are read again or the policy changes.
func TestSpoofAdmitMemo(t *testing.T) {
	te, links, _ := newBoundEngine(t, "enforce", "")
	w := te.Worker(0)
	syn := tcp(hmi, plc, 40000, 502, fSYN)
	if !w.DecideIn(syn, fromSup) || !w.DecideIn(syn, fromSup) {
		t.Fatal("genuine packets refused")
	}
	links.set(ixSup, "vother") // renamed under its index
	if err := te.ports.read(); err != nil {
		t.Fatal(err)
	}
	if w.DecideIn(syn, fromSup) {
		t.Error("admitted from a renamed port: the memo outlived the names")
	}
	links.set(ixSup, "vsup")
	te.ports.read()
	if !w.DecideIn(syn, fromSup) {
		t.Fatal("refused after the name came back")
	}
	moved := strings.Replace(strings.NewReplacer("%MODE%", "enforce", "%CONDUITS%", "").Replace(boundPolicy), "ports: [vsup]", "ports: [vent]", 1)
	r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(string) (*rules.Policy, error) { return rules.Parse("bound.yaml", []byte(moved)) }}
	if res := r.Reload("test"); !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	if w.DecideIn(syn, fromSup) {
		t.Error("admitted after a policy that binds the zone elsewhere: the memo outlived the policy")
	}
}
