package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// l2frame is what the bridge forward chain sees of a frame: its Ethernet
// header as nft_payload rebuilds it (an 802.1Q tag included), its ports.
type l2frame struct {
	ethertype uint16
	inner     uint16 // with ethertype 0x8100
	in, out   string
}

func (f l2frame) header() []byte {
	b := make([]byte, 18)
	copy(b, []byte{0x01, 0x0c, 0xcd, 0x01, 0, 1, 2, 0, 0, 0, 0x20, 0x10})
	binary.BigEndian.PutUint16(b[12:], f.ethertype)
	binary.BigEndian.PutUint16(b[16:], f.inner)
	return b
}

// runL2 evaluates the bridge table's forward chain (policy accept) for f:
// the verdict, the named counters hit and the log prefixes.
func runL2(t *testing.T, p *l2program, f l2frame) (verdict string, counted, logged []string) {
	t.Helper()
	sets := map[string]*setSpec{}
	for _, s := range p.sets {
		sets[s.set.Name] = s
	}
	hdr := f.header()
rules:
	for _, r := range p.rules {
		var reg []byte
		var names, logs []string
		for _, e := range r {
			switch e := e.(type) {
			case *expr.Payload:
				if e.Base != expr.PayloadBaseLLHeader {
					t.Fatalf("payload base %v", e.Base)
				}
				reg = hdr[e.Offset : e.Offset+e.Len]
			case *expr.Cmp:
				switch e.Op {
				case expr.CmpOpEq:
					if !bytes.Equal(reg, e.Data) {
						continue rules
					}
				case expr.CmpOpLt:
					if bytes.Compare(reg, e.Data) >= 0 {
						continue rules
					}
				default:
					t.Fatalf("cmp op %v", e.Op)
				}
			case *expr.Meta:
				switch e.Key {
				case expr.MetaKeyIIFNAME:
					reg = ifname(f.in)
				case expr.MetaKeyOIFNAME:
					reg = ifname(f.out)
				default:
					t.Fatalf("meta key %v", e.Key)
				}
			case *expr.Lookup:
				if _, ok := lookup(sets[e.SetName], reg); !ok {
					continue rules
				}
			case *expr.Objref:
				names = append(names, e.Name)
			case *expr.Limit:
			case *expr.Log:
				logs = append(logs, string(e.Data))
			case *expr.Verdict:
				counted, logged = append(counted, names...), append(logged, logs...)
				switch e.Kind {
				case expr.VerdictAccept:
					return vAccept, counted, logged
				case expr.VerdictDrop:
					return vDrop, counted, logged
				}
				t.Fatalf("verdict %v", e.Kind)
			default:
				t.Fatalf("expression %T", e)
			}
		}
		counted, logged = append(counted, names...), append(logged, logs...)
	}
	return vAccept, counted, logged
}

const l2Policy = `mode: %s
zones:
  cell: {level: 1, cidrs: [10.10.0.0/24], ports: [vctl]}
  sup:  {level: 2, cidrs: [10.20.0.0/24], ports: [vsup]}
rules:
  - {name: a, from: sup, to: cell}
%s`

func l2Pol(t *testing.T, mode, section string) *rules.Policy {
	t.Helper()
	pol, err := rules.Parse("l2.yaml", []byte(fmt.Sprintf(l2Policy, mode, section)))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// TestLayer2Program runs frames through the compiled bridge chain: IP is
// never judged, allowed EtherTypes pass (tagged or not, in their scope),
// the rest is dropped in enforce and accepted in monitor, counted once
// per frame on its EtherType's counter and logged under the limit; in
// passthrough every frame is counted as accepted, and nothing is logged.
func TestLayer2Program(t *testing.T) {
	const section = `layer2:
  allow:
    - arp
    - {ethertype: profinet, from: cell, to: cell}
    - {ethertype: goose, name: goose-sup, from: sup}
    - 0x9000
`
	goose := l2frame{ethertype: 0x88b8, in: "vsup", out: "vctl"}
	cases := []struct {
		name, mode, section string
		f                   l2frame
		verdict, counter    string
		logged              bool
	}{
		{"ipv4", "enforce", section, l2frame{ethertype: 0x0800, in: "vsup", out: "vctl"}, vAccept, "", false},
		{"ipv6", "enforce", section, l2frame{ethertype: 0x86dd}, vAccept, "", false},
		{"tagged ipv4", "enforce", section, l2frame{ethertype: 0x8100, inner: 0x0800}, vAccept, "", false},
		{"arp", "enforce", section, l2frame{ethertype: 0x0806, in: "vsup", out: "vctl"}, vAccept, "l2_arp_accept", false},
		{"tagged arp", "enforce", section, l2frame{ethertype: 0x8100, inner: 0x0806}, vAccept, "l2_arp_accept", false},
		{"goose from sup", "enforce", section, goose, vAccept, "l2_goose_accept", false},
		{"goose from the cell", "enforce", section, l2frame{ethertype: 0x88b8, in: "vctl", out: "vsup"}, vDrop, "l2_goose_drop", true},
		{"dcp from sup", "enforce", section, l2frame{ethertype: 0x8892, in: "vsup", out: "vctl"}, vDrop, "l2_profinet_drop", true},
		{"dcp inside the cell", "enforce", section, l2frame{ethertype: 0x8892, in: "vctl", out: "vctl"}, vAccept, "l2_profinet_accept", false},
		{"tagged dcp from sup", "enforce", section, l2frame{ethertype: 0x8100, inner: 0x8892, in: "vsup", out: "vctl"}, vDrop, "l2_profinet_drop", true},
		{"a number", "enforce", section, l2frame{ethertype: 0x9000}, vAccept, "l2_0x9000_accept", false},
		{"unknown", "enforce", section, l2frame{ethertype: 0x1234}, vDrop, "l2_other_drop", true},
		{"tagged unknown", "enforce", section, l2frame{ethertype: 0x8100, inner: 0x1234}, vDrop, "l2_vlan_drop", true},
		{"qinq", "enforce", section, l2frame{ethertype: 0x88a8, inner: 0x0800}, vDrop, "l2_qinq_drop", true},
		{"monitor: would drop", "monitor", section, l2frame{ethertype: 0x8892, in: "vsup"}, vAccept, "l2_profinet_would_drop", true},
		{"monitor: allowed", "monitor", section, goose, vAccept, "l2_goose_accept", false},
		{"section mode over the policy's", "monitor", section + "  mode: enforce\n", l2frame{ethertype: 0x8892}, vDrop, "l2_profinet_drop", true},
		{"passthrough counts", "passthrough", section, l2frame{ethertype: 0x8892, in: "vsup"}, vAccept, "l2_profinet_accept", false},
		{"passthrough other", "passthrough", section, l2frame{ethertype: 0x1234}, vAccept, "l2_other_accept", false},
		{"passthrough ip", "passthrough", section, l2frame{ethertype: 0x0800}, vAccept, "", false},
		{"default: arp", "enforce", "", l2frame{ethertype: 0x0806}, vAccept, "l2_arp_accept", false},
		{"default: goose refused", "enforce", "", goose, vDrop, "l2_goose_drop", true},
		{"default: tagged ip6", "enforce", "", l2frame{ethertype: 0x8100, inner: 0x86dd}, vAccept, "", false},
		{"vlan entry: any tagged frame", "enforce", "layer2: {allow: [vlan]}\n", l2frame{ethertype: 0x8100, inner: 0x88b8}, vAccept, "l2_vlan_accept", false},
		{"vlan entry: untagged goose", "enforce", "layer2: {allow: [vlan]}\n", goose, vDrop, "l2_goose_drop", true},
		{"stp refused by default", "enforce", "", l2frame{ethertype: 0x0026}, vDrop, "l2_llc_drop", true},
		{"llc allowed", "enforce", "layer2: {allow: [llc]}\n", l2frame{ethertype: 0x0026}, vAccept, "l2_llc_accept", false},
		{"llc does not allow an EtherType", "enforce", "layer2: {allow: [llc]}\n", l2frame{ethertype: 0x0600}, vDrop, "l2_other_drop", true},
		{"empty allow: arp refused", "enforce", "layer2:\n  allow:\n", l2frame{ethertype: 0x0806}, vDrop, "l2_arp_drop", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := compileLayer2(l2Pol(t, c.mode, c.section), 1700)
			verdict, counted, logged := runL2(t, p, c.f)
			if verdict != c.verdict {
				t.Errorf("verdict %s, want %s", verdict, c.verdict)
			}
			var want []string
			if c.counter != "" {
				want = []string{c.counter}
			}
			if fmt.Sprint(counted) != fmt.Sprint(want) {
				t.Errorf("counted %v, want %v", counted, want)
			}
			if c.logged != (len(logged) == 1) || len(logged) > 1 {
				t.Errorf("logged %v, want logged %v", logged, c.logged)
			}
			for _, l := range logged {
				if m, ok := ParseL2Prefix([]byte(l)); !ok || m.String() != p.modeWord(t, c) {
					t.Errorf("log prefix %q", l)
				}
			}
			for _, name := range counted {
				k, ok := p.keyOf[name]
				if !ok || "l2_"+k.EtherType+"_"+k.Verdict != name {
					t.Errorf("counter %s has key %+v", name, k)
				}
			}
			// Without an NFLOG group the same frame is counted, not logged.
			q := compileLayer2(l2Pol(t, c.mode, c.section), 0)
			v2, counted2, logged2 := runL2(t, q, c.f)
			if v2 != verdict || fmt.Sprint(counted2) != fmt.Sprint(counted) || len(logged2) != 0 {
				t.Errorf("without logging: %s %v %v", v2, counted2, logged2)
			}
		})
	}
}

// modeWord is the mode the case's frames are refused under.
func (p *l2program) modeWord(t *testing.T, c struct {
	name, mode, section string
	f                   l2frame
	verdict, counter    string
	logged              bool
}) string {
	if strings.Contains(c.section, "mode: enforce") {
		return "enforce"
	}
	return c.mode
}

// TestLayer2Table installs the tables in a namespace: the bridge table
// holds the section, counts frames, is replaced in place on reload
// (its base chain kept), left alone by Divert and deleted by Remove and
// RemoveAll.
func TestLayer2Table(t *testing.T) {
	fd, name := tempNetNS(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pol := l2Pol(t, "enforce", "layer2: {allow: [arp, {ethertype: profinet, from: cell, to: cell}]}\n")
	inst, err := Install(Config{QueueNum: 7, NetNS: fd, Policy: pol, Filter: FilterConfig{LogGroup: 1700}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !inst.Layer2 {
		t.Fatal("the kernel took no bridge table")
	}
	list := func() string {
		out, err := exec.Command("ip", "netns", "exec", name, "nft", "list", "table", "bridge", TableName).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("error %v: %s", err, out)
		}
		return string(out)
	}
	got := list()
	for _, want := range []string{"type filter hook forward priority filter; policy accept;", "ether type ip accept",
		`ether type 0x8892 iifname @l2p_0 oifname @l2p_0 counter name "l2_profinet_accept" accept`,
		`counter name "l2_goose_drop" limit rate 10/second burst 10 packets log prefix "l2:enforce" group 1700 drop`,
		`counter name "l2_other_drop"`, `elements = { "vctl" }`, `ether type < 0x0600 counter name "l2_llc_drop"`} {
		if !strings.Contains(got, want) {
			t.Errorf("bridge table lacks %q:\n%s", want, got)
		}
	}
	handle := func() string {
		out, err := exec.Command("ip", "netns", "exec", name, "nft", "-a", "list", "chain", "bridge", TableName, chainName).CombinedOutput()
		m := regexp.MustCompile(`chain forward \{ # handle (\d+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("nft -a list chain: %v: %s", err, out)
		}
		return string(m[1])
	}
	h := handle()
	c, err := inst.Counters()
	if err != nil || c.Layer2 == nil {
		t.Fatalf("Counters: %+v, %v", c, err)
	}
	// A reload to monitor replaces the rules, keeps the base chain.
	if err := inst.Replace(l2Pol(t, "monitor", "layer2: {allow: [goose]}\n")); err != nil {
		t.Fatal(err)
	}
	if handle() != h {
		t.Error("the reload replaced the bridge base chain (its hook would have gone)")
	}
	got = list()
	if !strings.Contains(got, `counter name "l2_profinet_would_drop"`) || strings.Contains(got, "l2p_0") ||
		!strings.Contains(got, `ether type 0x88b8 counter name "l2_goose_accept" accept`) {
		t.Errorf("after the reload:\n%s", got)
	}
	// Divert stops the queueing: the bridge table, which queues nothing, stays as it is.
	if _, err := Divert(fd, true); err != nil {
		t.Fatal(err)
	}
	if after := list(); after != got {
		t.Errorf("Divert changed the bridge table:\n%s", after)
	}
	// A new start over the kept tables refills the bridge table in place.
	inst2, err := Install(Config{QueueNum: 7, NetNS: fd, Policy: pol, Filter: FilterConfig{LogGroup: 1700}}, log)
	if err != nil || !inst2.Layer2 {
		t.Fatalf("Install over the kept tables: %v", err)
	}
	if handle() != h || !strings.Contains(list(), "l2_profinet_accept") {
		t.Errorf("the start over a kept table did not refill it in place:\n%s", list())
	}
	if err := inst2.Remove(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Present(fd); ok {
		t.Errorf("a conduit table is left after Remove:\n%s", list())
	}
	if _, err := Install(Config{QueueNum: 7, NetNS: fd, Policy: pol}, log); err != nil {
		t.Fatal(err)
	}
	fams, err := RemoveAll(fd)
	if err != nil || !strings.Contains(strings.Join(fams, ","), "bridge") {
		t.Errorf("RemoveAll = %v, %v; want the bridge table among them", fams, err)
	}
	if ok, _ := Present(fd); ok {
		t.Error("a conduit table is left after RemoveAll")
	}
}

// TestLayer2Probe: a kernel without nf_tables' bridge family still gets
// the inet table, and says it has no bridge table.
func TestLayer2Probe(t *testing.T) {
	var accepted [][]netlink.Message
	kernel := batchKernel(&accepted, func(req []netlink.Message) error {
		for _, m := range req {
			if len(m.Data) > 0 && m.Data[0] == unix.NFPROTO_BRIDGE && isBatch(req) {
				return unix.EAFNOSUPPORT
			}
		}
		return nil
	})
	inst, err := Install(Config{Dial: kernel, QueueNum: 20, Policy: l2Pol(t, "enforce", ""), Filter: FilterConfig{LogGroup: 9}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if inst.Layer2 || !inst.Prefilter || !inst.Logging || len(accepted) != 1 {
		t.Errorf("layer2 %v prefilter %v logging %v, %d batches; want the inet table alone, whole", inst.Layer2, inst.Prefilter, inst.Logging, len(accepted))
	}
	c, err := inst.Counters()
	if err != nil || c.Layer2 != nil {
		t.Errorf("Counters without a bridge table: %+v, %v", c.Layer2, err)
	}
}
