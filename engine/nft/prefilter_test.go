package nft

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// testPacket is one packet as the forward hook sees it.
type testPacket struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	flags        uint8 // TCP
	icmpType     uint8
	hop          uint8
	fragment     bool // IPv4 more-fragments
	extHeader    bool // IPv6 hop-by-hop header first
	ctState      uint32
}

// bytes builds the IP packet.
func (p testPacket) bytes() (b []byte, th int) {
	var l4 []byte
	switch p.proto {
	case rules.ProtoTCP:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], p.sport)
		binary.BigEndian.PutUint16(l4[2:], p.dport)
		l4[12] = 5 << 4
		l4[13] = p.flags
		binary.BigEndian.PutUint16(l4[14:], 1024)
	case rules.ProtoUDP:
		l4 = make([]byte, 8+4)
		binary.BigEndian.PutUint16(l4[0:], p.sport)
		binary.BigEndian.PutUint16(l4[2:], p.dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	case rules.ProtoICMP, rules.ProtoICMPv6:
		l4 = make([]byte, 8)
		l4[0] = p.icmpType
		binary.BigEndian.PutUint16(l4[4:], p.sport) // echo id
	default:
		l4 = make([]byte, 8)
	}
	if p.src.Is4() {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
		if p.fragment {
			h[6] = 0x20
		}
		h[8] = p.hop
		h[9] = p.proto
		putAddrs(h[12:], p.src, p.dst)
		return append(h, l4...), 20
	}
	h := make([]byte, 40)
	h[0] = 0x60
	h[6] = p.proto
	h[7] = p.hop
	putAddrs(h[8:], p.src, p.dst)
	if p.extHeader {
		h[6] = 0 // hop-by-hop options, 8 bytes, then the transport
		h = append(h, p.proto, 0, 1, 4, 0, 0, 0, 0)
	}
	binary.BigEndian.PutUint16(h[4:], uint16(len(h)-40+len(l4)))
	return append(h, l4...), len(h)
}

// putAddrs writes src then dst at h, as IPv4 and IPv6 headers carry them.
func putAddrs(h []byte, src, dst netip.Addr) {
	n := copy(h, src.AsSlice())
	copy(h[n:], dst.AsSlice())
}

func (p testPacket) String() string {
	return fmt.Sprintf("%s:%d -> %s:%d proto %d flags %#x type %d hop %d frag %v ext %v ct %d",
		p.src, p.sport, p.dst, p.dport, p.proto, p.flags, p.icmpType, p.hop, p.fragment, p.extHeader, p.ctState)
}

// The address pool: nested prefixes, so that longest-prefix zones matter.
var (
	prefixPool = []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.2.0.0/16",
		"192.168.0.0/16", "192.168.7.0/24", "fd00::/16", "fd00:1::/32", "fd00:1:2::/48", "fd00:9::/32"}
	addrPool = []string{"10.0.0.1", "10.1.0.5", "10.1.2.3", "10.1.2.200", "10.2.3.4", "10.9.9.9",
		"192.168.1.1", "192.168.7.7", "172.16.0.1", "fd00::1", "fd00:1::5", "fd00:1:2::3", "fd00:9::9",
		"fe80::1", "2001:db8::1", "::ffff:10.1.2.3", "::ffff:192.168.7.7"}
	portPool = []uint16{22, 80, 502, 1005, 2222, 20000, 40000, 65535}
)

// randomPolicy writes a random valid policy.
func randomPolicy(r *rand.Rand) string {
	var b strings.Builder
	modesW := []string{"enforce", "enforce", "monitor", "passthrough"}
	fmt.Fprintf(&b, "mode: %s\n", modesW[r.IntN(3)])
	b.WriteString("conntrack: {capacity: 1024}\nzones:\n")
	nz := 1 + r.IntN(4)
	perm := r.Perm(len(prefixPool))
	k := 0
	var zones []string
	for i := range nz {
		n := 1 + r.IntN(2)
		var c []string
		for j := 0; j < n && k < len(perm); j++ {
			c = append(c, `"`+prefixPool[perm[k]]+`"`)
			k++
		}
		name := fmt.Sprintf("z%d", i)
		zones = append(zones, name)
		fmt.Fprintf(&b, "  %s: {level: 2, cidrs: [%s]}\n", name, strings.Join(c, ", "))
	}
	if r.IntN(2) == 0 {
		b.WriteString("conduits:\n")
		for range 1 + r.IntN(3) {
			fmt.Fprintf(&b, "  - {from: %s, to: %s, mode: %s}\n", zones[r.IntN(nz)], zones[r.IntN(nz)], modesW[r.IntN(len(modesW))])
		}
	}
	endpoint := func() string {
		switch r.IntN(6) {
		case 0:
			return "any"
		case 1:
			return `"` + prefixPool[r.IntN(len(prefixPool))] + `"`
		case 2:
			return `"` + addrPool[r.IntN(len(addrPool))] + `"`
		case 3:
			return fmt.Sprintf("[%s, %q]", zones[r.IntN(nz)], prefixPool[r.IntN(len(prefixPool))])
		case 4:
			return "unknown"
		}
		return zones[r.IntN(nz)]
	}
	b.WriteString("rules:\n")
	for i := range 1 + r.IntN(8) {
		fmt.Fprintf(&b, "  - name: r%d\n    from: %s\n    to: %s\n", i, endpoint(), endpoint())
		switch r.IntN(6) {
		case 0, 1:
			b.WriteString("    proto: tcp\n")
			if r.IntN(3) > 0 {
				fmt.Fprintf(&b, "    dport: [%d, \"1000-1010\"]\n", portPool[r.IntN(len(portPool))])
			}
			if r.IntN(5) == 0 {
				fmt.Fprintf(&b, "    sport: %d\n", portPool[r.IntN(len(portPool))])
			}
		case 2:
			b.WriteString("    proto: udp\n")
			if r.IntN(3) > 0 {
				fmt.Fprintf(&b, "    dport: %d\n", portPool[r.IntN(len(portPool))])
			}
		case 3:
			b.WriteString("    proto: icmp\n")
			if r.IntN(2) == 0 {
				b.WriteString("    icmp_types: [8]\n")
			}
		case 4:
			b.WriteString("    proto: icmpv6\n")
			if r.IntN(2) == 0 {
				b.WriteString("    icmp_types: [128, 135]\n")
			}
		}
		if r.IntN(4) == 0 {
			b.WriteString("    action: deny\n")
		}
	}
	if r.IntN(8) == 0 {
		b.WriteString("default: allow\n")
	}
	return b.String()
}

func randomPacket(r *rand.Rand) testPacket {
	var p testPacket
	for {
		p.src = mustAddr(addrPool[r.IntN(len(addrPool))])
		p.dst = mustAddr(addrPool[r.IntN(len(addrPool))])
		if p.src.Is4() == p.dst.Is4() && p.src != p.dst {
			break
		}
	}
	protos := []uint8{rules.ProtoTCP, rules.ProtoTCP, rules.ProtoUDP, rules.ProtoICMP, rules.ProtoICMPv6, 47}
	p.proto = protos[r.IntN(len(protos))]
	p.sport, p.dport = portPool[r.IntN(len(portPool))], portPool[r.IntN(len(portPool))]
	if r.IntN(4) == 0 {
		p.dport = uint16(1000 + r.IntN(12))
	}
	flags := []uint8{0x02, 0x02, 0x12, 0x10, 0x04, 0x11, 0x18}
	p.flags = flags[r.IntN(len(flags))]
	types := []uint8{0, 8, 128, 129, 135, 136, 133, 130, 3}
	p.icmpType = types[r.IntN(len(types))]
	p.hop = 64
	if r.IntN(4) == 0 {
		p.hop = []uint8{1, 255}[r.IntN(2)]
	}
	p.fragment = p.src.Is4() && r.IntN(20) == 0
	p.extHeader = p.src.Is6() && r.IntN(20) == 0
	p.ctState = ctStateNew
	if r.IntN(10) == 0 {
		p.ctState = []uint32{1, 2, 4}[r.IntN(3)] // invalid, established, related
	}
	return p
}

// kernelDecide runs the program of a table holding fams on p.
func kernelDecide(t *testing.T, prog *program, fams []family, p testPacket) (string, *vm) {
	v := newVM(prog, &expr.Queue{Num: 1})
	b, th := p.bytes()
	v.pkt, v.th, v.ctState, v.l4proto = b, th, p.ctState, p.proto
	v.nfproto = unix.NFPROTO_IPV4
	if p.src.Is6() {
		v.nfproto = unix.NFPROTO_IPV6
	}
	if len(fams) == 1 && fams[0].v6 != p.src.Is6() {
		t.Fatal("packet of the other family")
	}
	return v.decide(), v
}

// TestPrefilterNeverDropsAllowed is the differential test: random
// policies and packets, the compiled kernel program run by the
// interpreter, and the engine's own decision for the packet as the first
// of its flow. The kernel may drop only what the engine drops, and must
// charge the rule the engine charges.
func TestPrefilterNeverDropsAllowed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 16))
	policies, packets := 200, 120
	if testing.Short() {
		policies = 60
	}
	var kernelDrops, engineDrops, checked int
	for range policies {
		src := randomPolicy(r)
		pol, err := rules.Parse("random.yaml", []byte(src))
		if err != nil {
			continue
		}
		inet := compile(pol, []family{fam4, fam6}, FilterConfig{LogGroup: 3}, nil)
		split := map[bool]*program{
			false: compile(pol, []family{fam4}, FilterConfig{}, nil),
			true:  compile(pol, []family{fam6}, FilterConfig{}, nil),
		}
		for range packets {
			p := randomPacket(r)
			got, v := kernelDecide(t, inet, []family{fam4, fam6}, p)
			got2, _ := kernelDecide(t, split[p.src.Is6()], []family{map[bool]family{false: fam4, true: fam6}[p.src.Is6()]}, p)
			if got != got2 {
				t.Fatalf("inet %s, ip/ip6 %s for %v\n%s", got, got2, p, src)
			}
			if got != vQueue && got != vDrop {
				t.Fatalf("verdict %s for %v", got, p)
			}
			checked++
			// The engine's decision, on a fresh engine: the packet is the
			// first of its flow, as ct state new says.
			e := engine.New(engine.Config{Store: inforce.NewStore(pol), EventBuffer: 4})
			b, _ := p.bytes()
			accept := e.Worker(0).Decide(b)
			if !accept {
				engineDrops++
			}
			if got != vDrop {
				continue
			}
			kernelDrops++
			if accept {
				t.Fatalf("kernel drops what the engine accepts: %v\n%s", p, src)
			}
			// The kernel charges the rule the engine charges.
			var charged string
			for _, h := range e.Hits() {
				if h.WouldDrop > 0 {
					charged = h.Name
				}
			}
			if len(v.counted) != 1 || inet.ruleOf[v.counted[0]] != charged {
				t.Fatalf("kernel counted %v (%v), engine charged %q: %v\n%s", v.counted, inet.ruleOf, charged, p, src)
			}
			if len(v.logged) != 1 || v.logged[0] != charged {
				t.Fatalf("kernel logged %v, engine charged %q", v.logged, charged)
			}
		}
	}
	t.Logf("%d packets: engine dropped %d, kernel %d", checked, engineDrops, kernelDrops)
	// The filter must do its job, not just stay safe: most of what the
	// engine drops in this model is decidable by L3/L4.
	if kernelDrops*3 < engineDrops {
		t.Errorf("kernel dropped %d of the engine's %d drops", kernelDrops, engineDrops)
	}
}
