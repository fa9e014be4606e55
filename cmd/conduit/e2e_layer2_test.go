package main

// End-to-end test of the layer2 section: real PROFINET DCP and IEC 61850
// GOOSE frames, sent with scapy from the HMI's namespace, cross (or do
// not cross) the plant's bridge with conduit inline, as a tcpdump on the
// PLC's side sees them; the daemon logs the refused ones and counts every
// frame in its bridge table.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// scapyPython is the interpreter with scapy (the PATH's python3 may lack it).
const scapyPython = "/usr/bin/python3"

// l2Sender sends n PROFINET DCP Set-IP requests (0x8892, unicast to the
// PLC) and n GOOSE frames (0x88b8, to the IEC 61850 multicast address),
// then one ARP request for an unused address: the marker that tells the
// capture on the other side that everything before it has arrived.
const l2Sender = `
import sys
from scapy.all import Ether, ARP, Raw, sendp, get_if_hwaddr
iface, plc, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
# The source MAC written out: scapy may leave it 00:00:00:00:00:00, which a bridge drops.
src = get_if_hwaddr(iface)
# DCP Set request: FrameID 0xfefd, service Set (4), request, xid, reserved,
# 18 bytes of blocks: IP/IP parameter, qualifier permanent, 10.10.0.66/8 via 0.0.0.0.
dcp = bytes.fromhex("fefd" "04" "00" "00000a01" "0000" "0012" "0102" "000e" "0001" "0a0a0042" "ff000000" "00000000" "0000")
# GOOSE: APPID 1, length, reserved, a goosePdu with its gocbRef.
goose = bytes.fromhex("0001" "0020" "0000" "0000" "6116" "8014" + "49454431" + "2f4c4c4e30244f2447434230" + "2f2f2f2f")
for _ in range(n):
    sendp(Ether(src=src, dst=plc, type=0x8892)/Raw(dcp), iface=iface, verbose=False)
    sendp(Ether(src=src, dst="01:0c:cd:01:00:01", type=0x88b8)/Raw(goose), iface=iface, verbose=False)
sendp(Ether(src=src, dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc=src, pdst="10.10.0.99", psrc="10.20.0.10"), iface=iface, verbose=False)
`

// taggedSender sends n UDP datagrams to the PLC's port 2222 in 802.1Q
// VLAN 5 (no rule allows them), then the marker ARP.
const taggedSender = `
import sys
from scapy.all import Ether, Dot1Q, IP, UDP, ARP, Raw, sendp, get_if_hwaddr
iface, plc, n, src_ip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
src = get_if_hwaddr(iface)
for i in range(n):
    sendp(Ether(src=src, dst=plc)/Dot1Q(vlan=5)/IP(src=src_ip, dst="10.10.0.10")/UDP(sport=40000+i, dport=2222)/Raw(b"tagged"), iface=iface, verbose=False)
sendp(Ether(src=src, dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc=src, pdst="10.10.0.99", psrc=src_ip), iface=iface, verbose=False)
`

// l2Policy is the test's policy: the plant's zones bound to their bridge
// ports, the HMI's IP rules, and the layer2 section under test.
func l2E2EPolicy(mode, sock, layer2 string) string {
	return fmt.Sprintf(`mode: %s
queue: {num: 64, count: 1, fail_open: true}
log: {file: "-"}
control: {socket: %q}
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16, "fd00:40::/64"], ports: [vent]}
  operations:  {level: 3, cidrs: [10.30.0.0/24, "fd00:30::/64"], ports: [vops]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24, "fd00:20::/64"], ports: [vsup]}
  control:     {level: 1, cidrs: [10.10.0.0/24, "fd00:10::/64"], ports: [vctl]}
rules:
  - {name: hmi-pings-plc, from: supervisory, to: control, proto: icmp, icmp_types: [8]}
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502}
%s`, mode, sock, layer2)
}

// l2Capture is a tcpdump on the PLC's port: the non-IP frames that reach it.
type l2Capture struct {
	out *e2e.SyncBuffer
}

func (r *rig) l2Capture(ns string) *l2Capture {
	r.T.Helper()
	c := &l2Capture{out: &e2e.SyncBuffer{}}
	r.StartCaptureIn(ns, c.out, "listening on", "tcpdump", "-i", "eth0", "-l", "-nn", "-e", "-Q", "in",
		"ether proto 0x8892 or ether proto 0x88b8 or (arp and host 10.10.0.99) or (vlan and udp port 2222)")
	return c
}

// count returns how many captured lines from byte offset from hold s.
func (c *l2Capture) count(from int, s string) int {
	return strings.Count(c.out.String()[from:], s)
}

func (c *l2Capture) mark() int { return len(c.out.String()) }

// send sends n DCP and n GOOSE frames from the HMI, then the marker, and
// waits until the capture has the marker: what it holds then is all that
// crossed. It returns the DCP and GOOSE frames that reached the PLC.
func (r *rig) l2Send(c *l2Capture, plcMAC string, n int) (dcp, goose int) {
	t := r.T
	t.Helper()
	from := c.mark()
	out, err := plant.NSCmd(r.P.Host(plant.Supervisory).NS, scapyPython, "-c", l2Sender, "eth0", plcMAC, fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("scapy: %v: %s", err, out)
	}
	deadline := time.Now().Add(e2e.PassTimeout)
	for c.count(from, "10.10.0.99") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the marker ARP never reached the PLC; capture:\n%s", c.out.String()[from:])
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c.count(from, "(0x8892)"), c.count(from, "(0x88b8)")
}

func hostMAC(t *testing.T, ns string) string {
	t.Helper()
	out, err := plant.NSCmd(ns, "ip", "-j", "link", "show", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link: %v: %s", err, out)
	}
	return links[0].Address
}

// l2Frames returns status's layer2 counters by "ethertype/verdict".
func (r *rig) l2Frames(sock string) (map[string]engine.Layer2Count, *layer2JSON) {
	r.T.Helper()
	var st statusReport
	r.opsJSON(sock, &st, "status")
	if st.Layer2 == nil || st.Layer2.Installed == nil || !*st.Layer2.Installed {
		r.T.Fatalf("status has no installed layer2 table: %+v", st.Layer2)
	}
	m := map[string]engine.Layer2Count{}
	for _, f := range st.Layer2.Frames {
		m[f.EtherType+"/"+f.Verdict] = f
	}
	return m, st.Layer2
}

// TestE2ELayer2 sends PROFINET DCP Set-IP and GOOSE frames from the
// supervisory side to the PLC: in monitor they pass and are logged as
// would-drops; in enforce neither reaches the PLC and both are logged as
// drops with their EtherType's name; a layer2 section allowing GOOSE from
// the supervisory to the control zone lets GOOSE through (only to the
// PLC's port: the copies the bridge floods to other ports are dropped),
// and DCP still not. ARP passes throughout (the ping needs it), and the
// bridge table's counters match what was sent. IP in an 802.1Q tag is
// judged by the rules (denied UDP from the enterprise does not cross).
func TestE2ELayer2(t *testing.T) {
	e2e.Need(t, "tcpdump")
	e2e.Need(t, scapyPython, "-c", "import scapy.all")
	r := newRig(t)
	sock := r.Socket()
	e2e.WriteFile(t, r.Path, l2E2EPolicy("monitor", sock, ""))
	plcMAC := hostMAC(t, r.P.Host(plant.Control).NS)
	supMAC := hostMAC(t, r.P.Host(plant.Supervisory).NS)
	capture := r.l2Capture(r.P.Host(plant.Control).NS)
	d := r.StartDaemon("")
	const n = 5
	// The bridge learns the PLC's port from its reply (DCP is unicast to it).
	r.MustPass(e2e.SupICMP, "monitor")

	// A GOOSE frame to its multicast address is flooded to the three other
	// ports, each copy judged on its own; DCP goes to the PLC's port only.
	refusedLine := func(from int, name, mode, verdict, outPort string) {
		t.Helper()
		l := d.Wait(from, "the "+mode+" line of "+name, func(l e2e.Line) bool {
			return l.Str("layer2") == "true" && l.Str("ethertype_name") == name && l.Str("mode") == mode &&
				(outPort == "" || l.Str("out_port") == outPort)
		})
		want := map[string]string{"event": "verdict", "verdict": verdict, "would": "drop", "would_drop": "true",
			"rule": "default", "action": "deny", "src_mac": supMAC, "in_port": "vsup", "reason": "layer2-deny"}
		if name == "profinet" {
			want["ethertype"], want["dst_mac"], want["out_port"] = "0x8892", plcMAC, "vctl"
		} else {
			want["ethertype"], want["dst_mac"] = "0x88b8", "01:0c:cd:01:00:01"
		}
		for k, v := range want {
			if got := l.Str(k); got != v {
				t.Errorf("%s %s line: %s=%q, want %q: %s", mode, name, k, got, v, l.Raw)
			}
		}
	}

	// Monitor, no layer2 section: the defaults refuse both, so they pass
	// as would-drops.
	mark := d.Mark()
	if dcp, goose := r.l2Send(capture, plcMAC, n); dcp != n || goose != n {
		t.Errorf("monitor: %d DCP and %d GOOSE frames reached the PLC, want %d each; capture:\n%s", dcp, goose, n, capture.out.String())
	}
	refusedLine(mark, "profinet", "monitor", "accept", "vctl")
	refusedLine(mark, "goose", "monitor", "accept", "vctl")
	frames, l2 := r.l2Frames(sock)
	if l2.Mode != "monitor" || len(l2.Allow) != 1 || l2.Allow[0].Name != "arp" {
		t.Errorf("status layer2: %+v", l2)
	}
	if got := frames["profinet/would_drop"].Packets; got != n {
		t.Errorf("monitor: profinet would_drop %d, want %d: %+v", got, n, frames)
	}
	if got := frames["goose/would_drop"].Packets; got != 3*n {
		t.Errorf("monitor: goose would_drop %d, want %d (one per flooded copy): %+v", got, 3*n, frames)
	}
	if frames["arp/accept"].Packets == 0 {
		t.Errorf("monitor: no ARP counted as accepted: %+v", frames)
	}

	// Enforce: both dropped and logged as drops.
	reload := func(mode, layer2 string) {
		t.Helper()
		m := d.Mark()
		e2e.WriteFile(t, r.Path, l2E2EPolicy(mode, sock, layer2))
		d.WaitTimeout(m, e2e.EventTimeout, "the reload to "+mode, func(l e2e.Line) bool {
			return l.Event() == "reload" && l.Str("result") == "ok"
		})
	}
	reload("enforce", "")
	mark = d.Mark()
	if dcp, goose := r.l2Send(capture, plcMAC, n); dcp != 0 || goose != 0 {
		t.Errorf("enforce: %d DCP and %d GOOSE frames reached the PLC, want 0", dcp, goose)
	}
	refusedLine(mark, "profinet", "enforce", "drop", "vctl")
	refusedLine(mark, "goose", "enforce", "drop", "vctl")
	r.MustPass(e2e.SupICMP, "enforce: ARP and the allowed ping")
	frames, _ = r.l2Frames(sock)
	if frames["profinet/drop"].Packets != n || frames["goose/drop"].Packets != 3*n || frames["profinet/would_drop"].Packets != n {
		t.Errorf("enforce: want profinet drop %d, goose drop %d, and monitor's profinet would_drop %d kept across the reload: %+v",
			n, 3*n, n, frames)
	}
	// Several frames of a kind make one line per 10 s, not one per frame.
	if lines := d.Matching(mark, func(l e2e.Line) bool {
		return l.Str("ethertype_name") == "profinet" && l.Str("mode") == "enforce"
	}); len(lines) != 1 {
		t.Errorf("enforce: %d lines for %d DCP frames, want 1", len(lines), n)
	}

	// GOOSE allowed from the supervisory zone's port to the control zone's.
	reload("enforce", "layer2:\n  allow:\n    - arp\n    - {ethertype: goose, name: goose-hmi, from: supervisory, to: control}\n")
	mark = d.Mark()
	if dcp, goose := r.l2Send(capture, plcMAC, n); dcp != 0 || goose != n {
		t.Errorf("enforce, goose allowed: %d DCP and %d GOOSE frames reached the PLC, want 0 and %d", dcp, goose, n)
	}
	// The copies flooded to the enterprise and operations ports are outside
	// the scope: dropped and counted (their kind was logged less than 10 s
	// ago, so no new line).
	frames, l2 = r.l2Frames(sock)
	if frames["goose/accept"].Packets != n || frames["goose/drop"].Packets != 3*n+2*n || frames["profinet/drop"].Packets != 2*n {
		t.Errorf("enforce, goose allowed: want goose accept %d, goose drop %d, profinet drop %d: %+v", n, 5*n, 2*n, frames)
	}
	if len(l2.Allow) != 2 || l2.Allow[1].Name != "goose-hmi" || l2.Allow[1].EtherType != "0x88b8" ||
		strings.Join(l2.Allow[1].FromPorts, ",") != "vsup" || strings.Join(l2.Allow[1].ToPorts, ",") != "vctl" {
		t.Errorf("status layer2 allow: %+v", l2.Allow)
	}
	if lines := d.Matching(mark, func(l e2e.Line) bool {
		return l.Str("ethertype_name") == "goose" && l.Str("out_port") == "vctl"
	}); len(lines) != 0 {
		t.Errorf("an allowed GOOSE frame was logged as refused: %s", lines[0].Raw)
	}
	// IP in an 802.1Q tag is judged by the rules like any IP: conduit has
	// br_netfilter hand it to the inet table, whose pre-filter drops what
	// no rule allows. Without that sysctl it would cross unjudged.
	sendTagged := func() int {
		t.Helper()
		from := capture.mark()
		ent := r.P.Host(plant.Enterprise)
		out, err := plant.NSCmd(ent.NS, scapyPython, "-c", taggedSender, "eth0", plcMAC, fmt.Sprint(n), ent.IPv4.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("scapy: %v: %s", err, out)
		}
		deadline := time.Now().Add(e2e.PassTimeout)
		for capture.count(from, "10.10.0.99") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the marker ARP never reached the PLC")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return capture.count(from, ".2222:")
	}
	if got := sendTagged(); got != 0 {
		t.Errorf("enforce: %d of %d tagged UDP datagrams no rule allows reached the PLC", got, n)
	}
	const vlanSysctl = "/proc/sys/net/bridge/bridge-nf-filter-vlan-tagged"
	if err := r.P.Do(r.P.FW, func() error { return os.WriteFile(vlanSysctl, []byte("0"), 0) }); err != nil {
		t.Fatal(err)
	}
	if got := sendTagged(); got != n {
		t.Errorf("with bridge-nf-filter-vlan-tagged=0 %d of %d tagged datagrams crossed: the test does not show what the sysctl does", got, n)
	}
	_ = r.P.Do(r.P.FW, func() error { return os.WriteFile(vlanSysctl, []byte("1"), 0) })

	text := r.opsCLI(sock, 0, "status")
	if !strings.Contains(text, "layer2    enforce: allow arp 0x0806; goose-hmi (goose) 0x88b8 from supervisory [vsup] to control [vctl]") {
		t.Errorf("status text lacks the layer2 section:\n%s", text)
	}
	if os.Getenv("CONDUIT_E2E_VERBOSE") != "" {
		t.Log(text)
	}
}
