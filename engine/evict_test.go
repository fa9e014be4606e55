package engine

import (
	"net/netip"
	"testing"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/ctnl"
)

// TestEvictionSparesAllowedSessions: with a table of 8 and pickup off, an
// idle HMI session in an enforced conduit outlives a monitored zone's
// flood of denied SYNs (tracked, as monitor tracks what it would drop) and
// the HMI's own short connections: they evict their own kind, at INFO. Its
// next request passes. Only a table of established allowed sessions
// evicts it, at WARN, naming its rule.
func TestEvictionSparesAllowedSessions(t *testing.T) {
	const capacity = 8
	te, buf := jsonEngine(t, pol{mode: "monitor", pickup: "false, capacity: 8", // pol has no capacity field
		conduits: "{from: supervisory, to: control, mode: enforce}"})
	w := te.Worker(0)
	tick := func() { te.clock += 1e6 }
	session := func(port uint16) {
		for _, p := range [][]byte{tcp(hmi, plc, port, 502, fSYN), tcp(plc, hmi, 502, port, fSYN|fACK), tcp(hmi, plc, port, 502, fACK)} {
			if !w.Decide(p) {
				t.Fatalf("session %d: handshake dropped", port)
			}
			tick()
		}
	}
	session(40000)
	te.clock += 3600e9 // an hour of silence
	for i := range 5 * capacity {
		w.Decide(tcp(hist, plc, uint16(20000+i), 503, fSYN)) // monitor: passed, tracked, denied
		tick()
		if i%2 == 0 { // a short HMI connection
			port := uint16(41000 + i)
			session(port)
			w.Decide(tcp(hmi, plc, port, 502, fFIN|fACK))
			w.Decide(tcp(plc, hmi, 502, port, fFIN|fACK))
			tick()
		}
	}
	if !w.Decide(tcp(hmi, plc, 40000, 502, fACK|fPSH)) {
		t.Fatal("the idle HMI session's next request was dropped: its flow was evicted")
	}
	classes := map[string]int{}
	te.Flows(func(f FlowInfo) bool {
		classes[f.Class]++
		if f.Sport == 40000 && (f.Class != "established" || !f.Allowed) {
			t.Errorf("the HMI session is listed as %+v, want allowed, class established", f)
		}
		return true
	})
	if classes["established"] != 1 || classes["denied"] == 0 {
		t.Errorf("flows by class %v, want the HMI session established and the flood denied", classes)
	}
	st := te.Conntrack().Stats()
	if st.EvictionsByClass[conntrack.ClassEstablished] != 0 || st.EvictionsByClass[conntrack.ClassDenied] == 0 ||
		st.EvictionsByClass[conntrack.ClassClosing] == 0 || st.Evictions == 0 {
		t.Errorf("evictions %d by class %v, want denied and closing flows, no established", st.Evictions, st.EvictionsByClass)
	}
	evictions := ofEvent(drain(t, te, buf, DeniedLimit{}), "eviction")
	for _, l := range evictions {
		if c := l["class"]; c != "denied" && c != "closing" || l["level"] != "INFO" {
			t.Errorf("eviction line %v, want class denied or closing at INFO", l)
		}
	}
	if uint64(len(evictions)) != st.Evictions {
		t.Errorf("%d eviction lines, %d evictions counted", len(evictions), st.Evictions)
	}

	// Nothing but established allowed sessions: the least recently seen
	// of them goes, and the line says which and under which rule.
	for i := range capacity {
		session(uint16(42000 + i))
	}
	var warned []map[string]any
	for _, l := range drain(t, te, buf, DeniedLimit{}) {
		if l["event"] == "eviction" && l["class"] == "established" {
			warned = append(warned, l)
		}
	}
	if len(warned) == 0 {
		t.Fatal("no established eviction logged")
	}
	l := warned[0]
	if l["level"] != "WARN" || l["sport"] != float64(40000) || l["rule"] != "hmi-polls-plcs" || l["reason"] != "capacity" || l["state"] != "established" {
		t.Errorf("first established eviction %v, want the HMI session at WARN with its rule", l)
	}
}

// TestSeededFlowsAreEstablished: a session taken over from the kernel's
// table is in the established class at once, before its next packet, so
// a flood right after a restart cannot evict it ahead of the flood.
func TestSeededFlowsAreEstablished(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor", pickup: "false"})
	a := netip.MustParseAddr
	te.Seed([]ctnl.Entry{
		{Proto: 6, Src: a(hmi), Dst: a(plc), SrcPort: 40000, DstPort: 502, Established: true},
		{Proto: 6, Src: a(hist), Dst: a(plc), SrcPort: 40002, DstPort: 503, Established: true}, // denied, monitor tracks it
	})
	st := te.Conntrack().Stats()
	if st.EntriesByClass[conntrack.ClassEstablished] != 1 || st.EntriesByClass[conntrack.ClassDenied] != 1 || st.Entries != 2 {
		t.Errorf("entries by class %v, want the allowed session established and the denied one denied", st.EntriesByClass)
	}
}

// TestDecideAtCapacityNoAllocs: a new flow in a full table, which evicts
// on every packet, allocates nothing — allowed or denied, in any class.
func TestDecideAtCapacityNoAllocs(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor", pickup: "true, capacity: 64"})
	w := te.Worker(0)
	for i := range 32 {
		port := uint16(10000 + i)
		w.Decide(tcp(hmi, plc, port, 502, fSYN))
		w.Decide(tcp(plc, hmi, 502, port, fSYN|fACK))
		w.Decide(tcp(hmi, plc, port, 502, fACK))
	}
	for name, src := range map[string]string{"allowed": hmi, "denied": hist} {
		pkts := make([][]byte, 600)
		for i := range pkts {
			pkts[i] = tcp(src, plc, uint16(30000+i), 502, fSYN)
		}
		i := 0
		if n := testing.AllocsPerRun(500, func() { w.Decide(pkts[i]); i++ }); n != 0 {
			t.Errorf("%s: %.1f allocations per new flow at capacity", name, n)
		}
	}
	if st := te.Conntrack().Stats(); st.Evictions < 900 || st.EvictionsByClass[conntrack.ClassEstablished] != 0 {
		t.Errorf("evictions %d by class %v, want every packet to evict, never an established session", st.Evictions, st.EvictionsByClass)
	}
}
