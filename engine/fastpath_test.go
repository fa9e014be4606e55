package engine

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
	"golang.org/x/sys/unix"
)

// fakeKernel is the kernel's connection table for the fast path's tests:
// entries by original tuple, with marks and counters.
type fakeKernel struct {
	mu       sync.Mutex
	ents     map[ctnl.Tuple]*ctnl.Entry
	setMarks int // SetMark requests that found their entry
	noCount  bool
}

func newFakeKernel() *fakeKernel { return &fakeKernel{ents: map[ctnl.Tuple]*ctnl.Entry{}} }

func (k *fakeKernel) open() (KernelConntrack, error) { return k, nil }

func rev(t ctnl.Tuple) ctnl.Tuple {
	return ctnl.Tuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src, SrcPort: t.DstPort, DstPort: t.SrcPort}
}

// add creates the kernel entry of a connection whose first packet went
// from src to dst.
func (k *fakeKernel) add(proto uint8, src, dst string, sport, dport uint16) ctnl.Tuple {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := ctnl.Tuple{Proto: proto, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport}
	k.ents[t] = &ctnl.Entry{Proto: proto, Src: t.Src, Dst: t.Dst, SrcPort: sport, DstPort: dport, Established: true, HasCounters: !k.noCount}
	return t
}

func (k *fakeKernel) find(t ctnl.Tuple) *ctnl.Entry {
	if e := k.ents[t]; e != nil {
		return e
	}
	return k.ents[rev(t)]
}

// count adds packets of size bytes in the entry's direction d.
func (k *fakeKernel) count(t ctnl.Tuple, d int, packets, size uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.find(t)
	e.Packets[d] += packets
	e.Bytes[d] += packets * size
}

func (k *fakeKernel) mark(t ctnl.Tuple) uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.find(t); e != nil {
		return e.Mark
	}
	return 0
}

func (k *fakeKernel) remove(t ctnl.Tuple) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.ents, t)
	delete(k.ents, rev(t))
}

func (k *fakeKernel) SetMark(t ctnl.Tuple, mark, mask uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.find(t)
	if e == nil {
		return ctnl.ErrNoEntry
	}
	e.Mark = e.Mark&^mask ^ mark
	k.setMarks++
	return nil
}

func (k *fakeKernel) Get(t ctnl.Tuple) (ctnl.Entry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.find(t); e != nil {
		return *e, nil
	}
	return ctnl.Entry{}, ctnl.ErrNoEntry
}

func (k *fakeKernel) Delete(t ctnl.Tuple) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.find(t) == nil {
		return ctnl.ErrNoEntry
	}
	delete(k.ents, t)
	delete(k.ents, rev(t))
	return nil
}

func (k *fakeKernel) DumpMarked(mask uint32) ([]ctnl.Entry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ctnl.Entry
	for _, e := range k.ents {
		if e.Mark&mask == mask {
			out = append(out, *e)
		}
	}
	return out, nil
}

func (k *fakeKernel) Close() error { return nil }

func fastEngine(t testing.TB, p pol) (*testEngine, *fakeKernel) {
	t.Helper()
	te := newTestEngine(t, p)
	k := newFakeKernel()
	if err := te.EnableFastpath(FastpathConfig{Open: k.open, Mark: nft.CtMarkFastpath}); err != nil {
		t.Fatal(err)
	}
	return te, k
}

func udp(src, dst string, sport, dport uint16) []byte {
	return tpkt{src: src, dst: dst, proto: 17, sport: sport, dport: dport}.bytes()
}

// offloadedSession is an engine in enforce whose first worker handed the
// session hmi:40000 to plc:502 (tt, its kernel entry) to the fast path.
func offloadedSession(t *testing.T) (*testEngine, *fakeKernel, *Worker, ctnl.Tuple) {
	t.Helper()
	te, k := fastEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	tt := k.add(6, hmi, plc, 40000, 502)
	if !handshake(w, hmi, plc, 40000, 502) || k.mark(tt) == 0 {
		t.Fatal("tcp session not offloaded")
	}
	return te, k, w, tt
}

// handshake runs a TCP session's opening through w: SYN, SYN-ACK, ACK.
func handshake(w *Worker, c, s string, cport, sport uint16) bool {
	return w.Decide(tcp(c, s, cport, sport, fSYN)) && w.Decide(tcp(s, c, sport, cport, fSYN|fACK)) &&
		w.Decide(tcp(c, s, cport, sport, fACK))
}

// TestFastpathDecides: which flows are handed to the kernel, and when.
func TestFastpathDecides(t *testing.T) {
	const extra = `  - {name: mb-read, from: supervisory, to: control, proto: tcp, dport: 503, modbus: {functions: [read_coils]}}
  - {name: slow, from: supervisory, to: control, proto: tcp, dport: 80, fastpath: false}
  - {name: cleanup, from: any, to: any, cleanup: true}
`
	for _, tc := range []struct {
		name, mode string
		proto      uint8
		dport      uint16
		src, dst   string
		want       bool
	}{
		{"plain tcp rule, enforce", "enforce", 6, 502, hmi, plc, true},
		{"plain tcp rule, monitor", "monitor", 6, 502, hmi, plc, true},
		{"passthrough evaluates nothing", "passthrough", 6, 502, hmi, plc, false},
		{"udp rule", "enforce", 17, 123, plc, hist, true},
		{"modbus condition stays in userspace", "enforce", 6, 503, hmi, plc, false},
		{"fastpath: false", "enforce", 6, 80, hmi, plc, false},
		{"cleanup rule", "monitor", 6, 9999, hist, plc, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te, k := fastEngine(t, pol{mode: tc.mode, extra: extra})
			w := te.Worker(0)
			tu := k.add(tc.proto, tc.src, tc.dst, 40000, tc.dport)
			switch tc.proto {
			case 6:
				// Nothing is offloaded before the handshake completes.
				w.Decide(tcp(tc.src, tc.dst, 40000, tc.dport, fSYN))
				w.Decide(tcp(tc.dst, tc.src, tc.dport, 40000, fSYN|fACK))
				if k.mark(tu) != 0 {
					t.Fatal("offloaded before the handshake completed")
				}
				if !w.Decide(tcp(tc.src, tc.dst, 40000, tc.dport, fACK)) {
					t.Fatal("handshake dropped")
				}
			case 17:
				w.Decide(udp(tc.src, tc.dst, 40000, tc.dport))
				if k.mark(tu) != 0 {
					t.Fatal("offloaded before a reply")
				}
				w.Decide(udp(tc.dst, tc.src, tc.dport, 40000))
			}
			if got := k.mark(tu)&nft.CtMarkFastpath != 0; got != tc.want {
				t.Errorf("kernel entry marked = %v, want %v", got, tc.want)
			}
			var offloaded bool
			te.Flows(func(fi FlowInfo) bool { offloaded = fi.Offloaded; return true })
			if offloaded != tc.want {
				t.Errorf("flows shows offloaded = %v, want %v", offloaded, tc.want)
			}
			if st := te.FastpathStats(); st.Offloads != map[bool]uint64{true: 1}[tc.want] || st.Method != "ctnetlink" {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestFastpathRetriesUnconfirmed: an entry the kernel has not confirmed
// yet is marked on a later packet; one it never has is given up.
func TestFastpathRetriesUnconfirmed(t *testing.T) {
	te, k := fastEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000)) // no kernel entry yet
	tu := k.add(17, plc, hist, 40000, 123)
	w.Decide(udp(plc, hist, 40000, 123))
	if k.mark(tu) != nft.CtMarkFastpath {
		t.Fatalf("mark %#x after the entry appeared", k.mark(tu))
	}
	// Another flow whose entry never appears: a few tries, then none.
	w.Decide(udp(plc, hist, 40001, 123))
	for range 10 {
		w.Decide(udp(hist, plc, 123, 40001))
	}
	if n := te.FastpathStats().Errors; n != 1 {
		t.Errorf("errors = %d, want 1 (given up once)", n)
	}
}

// TestFastpathKeepsOtherMarkBits: the mark of other software survives.
func TestFastpathKeepsOtherMarkBits(t *testing.T) {
	te, k := fastEngine(t, pol{mode: "enforce"})
	tu := k.add(17, plc, hist, 40000, 123)
	k.ents[tu].Mark = 0x5
	w := te.Worker(0)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	if m := k.mark(tu); m != 0x5|nft.CtMarkFastpath {
		t.Fatalf("mark %#x, want %#x", m, 0x5|nft.CtMarkFastpath)
	}
	if _, err := te.ClearFastpath(); err != nil {
		t.Fatal(err)
	}
	if m := k.mark(tu); m != 0x5 {
		t.Fatalf("mark %#x after clearing, want 0x5", m)
	}
}

// TestFastpathSyncAccounting: the kernel's counters become the flow's, it
// stays alive while the kernel forwards it, and conduit's idle timeout
// ends it (and removes the kernel entry) once the kernel saw nothing.
func TestFastpathSyncAccounting(t *testing.T) {
	const extra = "  - {name: short, from: supervisory, to: control, proto: udp, dport: 2000, idle_timeout: 10s}\n"
	te, k := fastEngine(t, pol{mode: "enforce", extra: extra})
	w := te.Worker(0)
	tu := k.add(17, hmi, plc, 40000, 2000)
	w.Decide(udp(hmi, plc, 40000, 2000))
	w.Decide(udp(plc, hmi, 2000, 40000))
	k.count(tu, 0, 1, 28) // the kernel counted what conduit saw, too
	k.count(tu, 1, 1, 28)
	get := func() FlowInfo {
		var fi FlowInfo
		te.Flows(func(f FlowInfo) bool { fi = f; return true })
		return fi
	}
	for i := range 5 {
		te.clock += int64(5 * time.Second) // beyond half the timeout each time
		k.count(tu, 0, 100, 28)
		k.count(tu, 1, 50, 28)
		te.syncKernel(te.clock)
		te.ct.Sweep(te.clock)
		fi := get()
		if fi.ID == 0 {
			t.Fatalf("sync %d: the flow idled out while the kernel forwarded it", i)
		}
		if want := uint64(1 + 100*(i+1)); fi.PacketsOrig != want || fi.PacketsReply != uint64(1+50*(i+1)) || fi.BytesOrig != want*28 {
			t.Fatalf("sync %d: counters %d/%d %dB, want %d/%d", i, fi.PacketsOrig, fi.PacketsReply, fi.BytesOrig, want, 1+50*(i+1))
		}
	}
	// A stray packet conduit saw itself is not counted twice.
	w.Decide(udp(hmi, plc, 40000, 2000))
	k.count(tu, 0, 1, 28)
	te.syncKernel(te.clock)
	if fi := get(); fi.PacketsOrig != 502 {
		t.Errorf("after a stray packet: %d packets, want 502", fi.PacketsOrig)
	}
	hits := te.Hits()
	for _, h := range hits {
		if h.Name == "short" && h.Packets != 502+251 {
			t.Errorf("rule hits %d packets, want %d", h.Packets, 502+251)
		}
	}
	if st := te.FastpathStats(); st.Flows != 1 || st.KernelPackets != 750 {
		t.Errorf("stats %+v, want 1 flow, 750 kernel packets", st)
	}
	// Silence: conduit's idle timeout ends it and the kernel entry goes.
	te.clock += int64(11 * time.Second)
	te.syncKernel(te.clock)
	te.verdicts() // drain
	te.ct.Sweep(te.clock)
	flowEnds := func() (n int) {
		for {
			select {
			case ev := <-te.events:
				if ev.kind == evConntrack && ev.ct.Kind == conntrack.EventFlowEnd && ev.ct.Reason == conntrack.ReasonIdle {
					n++
				}
			default:
				return n
			}
		}
	}
	if n := flowEnds(); n != 0 {
		t.Error("flow_end logged before the kernel entry was removed")
	}
	te.removeEnded()
	if n := flowEnds(); n != 1 {
		t.Errorf("%d idle flow_end events after the kernel entry went, want 1", n)
	}
	if fi := get(); fi.ID != 0 {
		t.Fatal("the idle flow is still tracked")
	}
	if _, err := k.Get(tu); !errors.Is(err, ctnl.ErrNoEntry) {
		t.Errorf("kernel entry of the ended flow: %v, want removed", err)
	}
}

// TestFastpathKernelEnds: a TCP flow whose kernel entry is gone ends; a
// UDP flow goes back to userspace and is handed over again; marked
// entries conduit does not track are unmarked; without accounting a flow
// stays in userspace.
func TestFastpathKernelEnds(t *testing.T) {
	te, k, w, tt := offloadedSession(t)
	tu := k.add(17, plc, hist, 40000, 123)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	stray := k.add(17, plc, hist, 9, 123)
	k.ents[stray].Mark = nft.CtMarkFastpath
	k.remove(tt)
	k.remove(tu)
	te.syncKernel(te.clock)
	n := 0
	te.Flows(func(fi FlowInfo) bool {
		n++
		if fi.Proto != "udp" || fi.Offloaded {
			t.Errorf("left: %+v, want only the udp flow, not offloaded", fi)
		}
		return true
	})
	if n != 1 {
		t.Errorf("%d flows left, want 1", n)
	}
	if k.mark(stray) != 0 {
		t.Error("a marked entry conduit does not track kept its mark")
	}
	var ended bool
	for {
		select {
		case ev := <-te.events:
			ended = ended || ev.kind == evConntrack && ev.ct.Reason == ReasonKernelClosed
			continue
		default:
		}
		break
	}
	if !ended {
		t.Error("no flow_end with reason kernel-closed")
	}
	// The UDP flow's next packets make a new kernel entry: handed over again.
	tu = k.add(17, hist, plc, 123, 40000)
	w.Decide(udp(hist, plc, 123, 40000))
	if k.mark(tu) == 0 {
		t.Error("udp flow not offloaded again")
	}

	te2, k2 := fastEngine(t, pol{mode: "enforce"})
	k2.noCount = true
	tu = k2.add(17, plc, hist, 40000, 123)
	w = te2.Worker(0)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	te2.syncKernel(te2.clock)
	w.Decide(udp(hist, plc, 123, 40000))
	if k2.mark(tu) != 0 {
		t.Error("an entry without accounting stays marked")
	}
}

// TestFastpathReloadClears: a reload takes every mark back; the next
// packet of a flow the new policy denies is dropped, one it still allows
// is handed over again.
func TestFastpathReloadClears(t *testing.T) {
	te, k := fastEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	ntp := k.add(17, plc, hist, 40000, 123)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	mb := k.add(6, hmi, plc, 40000, 502)
	handshake(w, hmi, plc, 40000, 502)
	if k.mark(ntp) == 0 || k.mark(mb) == 0 {
		t.Fatal("not offloaded")
	}
	// The new policy narrows hmi-polls-plcs to another port.
	swapPolicy(t, te, "dport: 502,", "dport: 5020,")
	if n, err := te.ClearFastpath(); err != nil || n != 2 {
		t.Fatalf("ClearFastpath = %d, %v; want 2", n, err)
	}
	if k.mark(ntp) != 0 || k.mark(mb) != 0 {
		t.Fatal("marks left after the reload")
	}
	if w.Decide(tcp(hmi, plc, 40000, 502, fACK|fPSH)) {
		t.Error("the narrowed flow's next packet passed")
	}
	if !w.Decide(udp(plc, hist, 40000, 123)) || k.mark(ntp) == 0 {
		t.Error("the still-allowed flow was not handed over again")
	}
}

// swapPolicy reloads te's policy with one replacement in its YAML.
func swapPolicy(t *testing.T, te *testEngine, old, new string) {
	t.Helper()
	y := pol{mode: "enforce"}.yaml()
	r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(string) (*rules.Policy, error) {
			return rules.Parse("test.yaml", []byte(strings.Replace(y, old, new, 1)))
		}}
	if res := r.Reload("test"); !res.Changed {
		t.Fatalf("reload did not change the policy: %+v", res)
	}
}

// TestFastpathVerdictMethod: with the verdict method the packet that
// completes the decision carries the mark (one NFQNL_MSG_VERDICT with
// NFQA_CT), the packets before it go in batches; a kernel that ignores it
// is detected by the sweep, which falls back to ctnetlink.
func TestFastpathVerdictMethod(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	k := newFakeKernel()
	if err := te.EnableFastpath(FastpathConfig{Open: k.open, Mark: nft.CtMarkFastpath, Verdict: true}); err != nil {
		t.Fatal(err)
	}
	q, kern, err := nfqtest.NewFake(0, 4, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s := server{e: te.Engine, w: te.Worker(0), q: q, rc: &te.reads[0], accepts: make([]uint32, 0, readBatch)}
	pkts := [][]byte{tcp(hmi, plc, 40000, 502, fSYN), tcp(plc, hmi, 502, 40000, fSYN|fACK), tcp(hmi, plc, 40000, 502, fACK), tcp(hmi, plc, 40000, 502, fACK|fPSH)}
	ps := make([]nfq.Packet, len(pkts))
	for i, b := range pkts {
		ps[i] = nfq.Packet{ID: uint32(i + 1), Payload: b}
	}
	k.add(6, hmi, plc, 40000, 502)
	s.batch(ps)
	var got []nfqtest.SentVerdict
	buf := make([]byte, 256)
	tv := unix.NsecToTimeval(int64(20 * time.Millisecond))
	if err := unix.SetsockoptTimeval(kern, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := unix.Read(kern, buf)
		if err != nil || n <= 0 {
			break
		}
		v, err := nfqtest.ParseVerdict(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	// SYN and SYN-ACK in one batch verdict, the ACK with the mark, the data alone.
	if len(got) != 3 || !got[0].Batch || got[0].ID != 2 || got[1].ID != 3 || !got[1].HasCt ||
		got[1].CtMark != nft.CtMarkFastpath || got[1].CtMask != nft.CtMarkFastpath || got[2].HasCt || got[2].ID != 4 {
		t.Fatalf("verdicts %+v", got)
	}
	if st := te.FastpathStats(); st.Method != "verdict" {
		t.Errorf("method %q", st.Method)
	}
	// This fake kernel, like one without CONFIG_NETFILTER_NETLINK_GLUE_CT,
	// never applied the mark: after a few sweeps the engine marks through
	// ctnetlink instead.
	w := te.Worker(0)
	for i := range 4 {
		te.syncKernel(te.clock)
		w.Decide(tcp(hmi, plc, 40000, 502, fACK|fPSH))
		_ = i
	}
	if st := te.FastpathStats(); st.Method != "ctnetlink" {
		t.Errorf("method %q after the kernel ignored the verdict marks", st.Method)
	}
	if k.mark(ctnl.Tuple{Proto: 6, Src: netip.MustParseAddr(hmi), Dst: netip.MustParseAddr(plc), SrcPort: 40000, DstPort: 502}) == 0 {
		t.Error("not marked through ctnetlink after the fallback")
	}
}

// TestDecideFastpathNoAllocs: deciding, and handing a flow to the
// kernel, allocate nothing.
func TestDecideFastpathNoAllocs(t *testing.T) {
	te, k := fastEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	port := uint16(1000)
	// Flows are created beforehand (a new flow's table entry is not
	// what this measures); their replies hand them over.
	pkts := make([][2][]byte, 0, 1100)
	for range cap(pkts) {
		port++
		k.add(17, plc, hist, port, 123)
		w.DecideVerdict(udp(plc, hist, port, 123))
		pkts = append(pkts, [2][]byte{udp(hist, plc, 123, port), udp(plc, hist, port, 123)})
	}
	te.verdicts()
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		p := pkts[i]
		i++
		w.DecideVerdict(p[0]) // offloads
		w.DecideVerdict(p[1])
	})
	if n != 0 {
		t.Errorf("%.1f allocations per offloaded flow", n)
	}
	if st := te.FastpathStats(); st.Offloads < 1000 {
		t.Errorf("offloads %d", st.Offloads)
	}
}

// BenchmarkDecideFastpath: a packet of an offloaded flow that reaches
// userspace all the same (queued before its mark), with the fast path on.
func BenchmarkDecideFastpath(b *testing.B) {
	te, k := fastEngine(b, pol{mode: "enforce"})
	w := te.Worker(0)
	k.add(6, hmi, plc, 40000, 502)
	handshake(w, hmi, plc, 40000, 502)
	pkt := tcp(hmi, plc, 40000, 502, fACK|fPSH)
	b.ReportAllocs()
	for b.Loop() {
		w.Decide(pkt)
	}
}

func TestDisableFastpath(t *testing.T) {
	te, k := fastEngine(t, pol{mode: "enforce"})
	te.DisableFastpath()
	tu := k.add(17, plc, hist, 40000, 123)
	w := te.Worker(0)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	te.syncKernel(te.clock)
	if k.mark(tu) != 0 || te.FastpathStats().Enabled {
		t.Error("offloaded with the fast path disabled")
	}
}

// TestFastpathBoundZonesStayInUserspace: the kernel's entry does not know
// the port a packet came in on, so a flow of a zone bound to ports or MACs
// is never offloaded (a forged source would ride it past the binding).
func TestFastpathBoundZonesStayInUserspace(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	bound := strings.Replace(pol{mode: "enforce"}.yaml(), "control:     {level: 1, cidrs: [10.10.0.0/24, \"fd00:10::/64\"]}",
		"control:     {level: 1, cidrs: [10.10.0.0/24, \"fd00:10::/64\"], ports: [vctl]}", 1)
	if bound == (pol{mode: "enforce"}).yaml() {
		t.Fatal("the test policy did not change")
	}
	r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(string) (*rules.Policy, error) { return rules.Parse("test.yaml", []byte(bound)) }}
	if res := r.Reload("test"); !res.Changed {
		t.Fatal("reload did not change the policy")
	}
	k := newFakeKernel()
	if err := te.EnableFastpath(FastpathConfig{Open: k.open, Mark: nft.CtMarkFastpath}); err != nil {
		t.Fatal(err)
	}
	w := te.Worker(0)
	tu := k.add(17, plc, hist, 40000, 123)
	w.Decide(udp(plc, hist, 40000, 123))
	w.Decide(udp(hist, plc, 123, 40000))
	w.Decide(udp(plc, hist, 40000, 123))
	if k.mark(tu) != 0 || k.setMarks != 0 {
		t.Errorf("a flow of a bound zone was offloaded (%d requests)", k.setMarks)
	}
}

// TestFastpathKernelCloses: an offloaded TCP session's close is seen by
// the kernel only; the sweep carries it over, so the flow's state, timeout
// and eviction class are those of a closing session.
func TestFastpathKernelCloses(t *testing.T) {
	te, k, _, tt := offloadedSession(t)
	state := func() string {
		var s string
		te.Flows(func(fi FlowInfo) bool { s = fi.State; return true })
		return s
	}
	te.syncKernel(te.clock)
	if s := state(); s != "established" {
		t.Fatalf("state %s before the close", s)
	}
	k.mu.Lock()
	k.find(tt).Closed = ctnl.ClosedOne
	k.mu.Unlock()
	te.syncKernel(te.clock)
	if s := state(); s != "closing" {
		t.Errorf("state %s after the kernel saw a FIN, want closing", s)
	}
}
