package main

// End-to-end test of conduit observe: the plant's bridge forwards on its
// own (nothing inline), tc mirred copies what enters the bridge from the
// HMI and the enterprise to one monitor port and what enters from the PLC
// to another, like the two outputs of a network TAP, and conduit observe
// reads both. Real Modbus (simonvetter/modbus) crosses the bridge.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/conduit-ot/conduit/assets"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/learn"
)

// tapPorts are the monitor ports conduit observe reads in the firewall
// namespace; mirror ports feed them.
var tapPorts = [...]string{"tapa", "tapb"}

// buildTap adds the monitor ports and the mirrors (u32 match-all: this
// kernel has no matchall classifier): ingress of vsup and
// vent to tapa's peer, ingress of vctl to tapb's peer. IPv6 and ARP are
// off on the monitor ports, as on a real sensor, so the host itself has
// nothing to send on them.
func (r *rig) buildTap() {
	r.T.Helper()
	fw := r.P.FW
	run := func(args ...string) {
		r.T.Helper()
		if out, err := plant.NSCmd(fw, args[0], args[1:]...).CombinedOutput(); err != nil {
			r.T.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for i, tp := range tapPorts {
		mir := fmt.Sprintf("mir%d", i)
		run("ip", "link", "add", tp, "type", "veth", "peer", "name", mir)
		for _, dev := range []string{tp, mir} {
			run("sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1")
			run("ip", "link", "set", dev, "arp", "off", "up")
		}
	}
	for dev, mir := range map[string]string{"vsup": "mir0", "vent": "mir0", "vctl": "mir1"} {
		run("tc", "qdisc", "add", "dev", dev, "clsact")
		run("tc", "filter", "add", "dev", dev, "ingress", "protocol", "all", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "mirror", "dev", mir)
	}
}

// txPackets is the transmit counter of dev in the firewall namespace.
func (r *rig) txPackets(dev string) uint64 {
	r.T.Helper()
	out, err := exec.Command("ip", "-n", r.P.FW, "-j", "-s", "link", "show", dev).Output()
	if err != nil {
		r.T.Fatalf("ip -s link show %s: %v", dev, err)
	}
	var l []struct {
		Stats64 struct {
			RX, TX struct {
				Packets uint64 `json:"packets"`
			}
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &l); err != nil || len(l) != 1 {
		r.T.Fatalf("ip -s link show %s: %v: %s", dev, err, out)
	}
	return l[0].Stats64.TX.Packets
}

// devIDPort is where the PLC answers Modbus read device identification
// (function 43, MEI 14) in TestE2EObserve: simonvetter/modbus serves no
// function 43, so the test answers it itself, over TCP across the bridge.
const devIDPort = 5021

// devIDServer answers 43/14 requests on devIDPort in ns with the basic
// objects (vendor, product code, revision) until the test ends.
func (r *rig) devIDServer(ns string, objs ...string) {
	r.T.Helper()
	var ln net.Listener
	if err := r.P.Do(ns, func() (err error) { ln, err = net.Listen("tcp", fmt.Sprintf(":%d", devIDPort)); return }); err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var h [7]byte
					if _, err := io.ReadFull(c, h[:]); err != nil {
						return
					}
					req := make([]byte, int(binary.BigEndian.Uint16(h[4:]))-1)
					if _, err := io.ReadFull(c, req); err != nil || len(req) < 2 {
						return
					}
					pdu := []byte{0xab, 0x01} // illegal function
					if req[0] == 0x2b && req[1] == 0x0e {
						pdu = []byte{0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, byte(len(objs))}
						for i, o := range objs {
							pdu = append(append(pdu, byte(i), byte(len(o))), o...)
						}
					}
					binary.BigEndian.PutUint16(h[4:], uint16(1+len(pdu)))
					if _, err := c.Write(append(h[:], pdu...)); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// askDevID sends one 43/14 request from ns and returns the reply.
func (r *rig) askDevID(ns string, dst netip.Addr) []byte {
	r.T.Helper()
	var c net.Conn
	if err := r.P.Do(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, devIDPort).String(), e2e.PassTimeout)
		return
	}); err != nil {
		r.T.Fatalf("dial the PLC's identification port: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(e2e.PassTimeout))
	if _, err := c.Write([]byte{0, 7, 0, 0, 0, 5, 1, 0x2b, 0x0e, 0x01, 0x00}); err != nil {
		r.T.Fatal(err)
	}
	var h [7]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		r.T.Fatalf("identification reply: %v", err)
	}
	body := make([]byte, int(binary.BigEndian.Uint16(h[4:]))-1)
	if _, err := io.ReadFull(c, body); err != nil {
		r.T.Fatalf("identification reply: %v", err)
	}
	return body
}

func TestE2EObserve(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("needs tc (iproute2) for the mirror")
	}
	r := newModbusRig(t)
	r.buildTap()
	r.devIDServer(r.P.Host(plant.Control).NS, "Schneider Electric", "BMX P34 2020", "v3.1")
	sock := r.Socket()
	// Enforce: observe judges it as monitor and says what enforce would do.
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true, Socket: sock, Extra: mbRule("")}.Render(t))
	var tx [len(tapPorts)]uint64
	for i, tp := range tapPorts {
		tx[i] = r.txPackets(tp)
	}
	args := []string{"observe", "-c", r.Path, "-i", strings.Join(tapPorts[:], ","), "--workers", "2",
		"--ring-mb", "2", "--state", filepath.Join(r.Dir, "state.json"), "--matrix-state", filepath.Join(r.Dir, "matrix.json")}
	d := r.Launch(args...)
	d.WaitStart()
	if d.Start.Str("interfaces") != "tapa,tapb" || d.Start.Str("policy_mode") != "enforce" || d.Start.Str("mode") != "monitor" {
		t.Errorf("start event: %s", d.Start.Raw)
	}
	mark := d.Mark()

	// The HMI reads, then writes: nothing is inline, so the write reaches
	// the PLC, and the sensor records what enforce would have done.
	c := r.hmiClient(e2e.PassTimeout)
	const polls = 5
	for i := range polls {
		mustRead(t, c, fmt.Sprintf("poll %d", i))
	}
	if err := c.WriteRegister(100, 4242); err != nil {
		t.Fatalf("write (nothing inline): %v", err)
	}
	if v, err := c.ReadRegister(100, modbus.HOLDING_REGISTER); err != nil || v != 4242 {
		t.Fatalf("read after the write: %d, %v", v, err)
	}
	// The HMI asks the PLC who it is (the sensor reads the answer).
	if reply := r.askDevID(r.P.Host(plant.Supervisory).NS, r.P.Host(plant.Control).IPv4); !bytes.Contains(reply, []byte("Schneider Electric")) {
		t.Fatalf("identification reply %q", reply)
	}
	// Enterprise to the PLC: the policy denies it, the bridge forwards it.
	if err := r.Probe(e2e.EntTCP, e2e.PassTimeout); err != nil {
		t.Fatalf("enterprise->PLC (nothing inline): %v", err)
	}

	hmi, ctl := r.P.Host(plant.Supervisory).IPv4.String(), r.P.Host(plant.Control).IPv4.String()
	ent := r.P.Host(plant.Enterprise).IPv4.String()
	observed := func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.M["observed"] == true && l.Str("policy_mode") == "enforce" &&
			l.Str("mode") == "monitor" && l.Str("verdict") == "accept"
	}
	d.Wait(mark, "the HMI's Modbus flow", func(l e2e.Line) bool {
		return observed(l) && l.Str("src") == hmi && l.Str("dst") == ctl && l.Num("dport") == mbPort &&
			l.Str("rule") == "hmi-modbus" && l.Str("would") == "accept" && l.Str("reason") == "new-flow"
	})
	w := d.Wait(mark, "the write as a would-drop", func(l e2e.Line) bool {
		return observed(l) && l.Str("rule") == "hmi-modbus" && l.Str("would") == "drop"
	})
	if !strings.Contains(w.Raw, "write_single_register") {
		t.Errorf("violation line without the function: %s", w.Raw)
	}
	d.Wait(mark, "enterprise->PLC as a would-drop", func(l e2e.Line) bool {
		return observed(l) && l.Str("src") == ent && l.Str("rule") == "deny-enterprise-to-plant" && l.Str("would") == "drop"
	})

	// One flow for the session, although its two directions came in on
	// two interfaces, with packets each way.
	var fl flowsReply
	r.opsJSON(sock, &fl, "flows")
	n := 0
	for _, f := range fl.Flows {
		if f.Src.String() == hmi && f.Dport == mbPort {
			n++
			if f.PacketsOrig < polls || f.PacketsReply < polls || f.Rule != "hmi-modbus" || f.Mode != "monitor" {
				t.Errorf("HMI Modbus flow: %+v", f)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d flows for the HMI's one Modbus session, want 1: %+v", n, fl.Flows)
	}
	hits, _ := r.opsHits(sock)
	if h := hits["hmi-modbus"]; h.Requests < 2*polls+1 || h.WouldDrop < 1 || h.Flows != 1 {
		t.Errorf("hmi-modbus hits %+v: want >= %d requests, the write's would-drop, 1 flow", h, 2*polls+1)
	}
	if h := hits["deny-enterprise-to-plant"]; h.WouldDrop < 1 {
		t.Errorf("deny-enterprise-to-plant hits %+v: want the probe's would-drop", h)
	}
	var st statusReport
	r.opsJSON(sock, &st, "status")
	if st.Observe == nil || len(st.Observe.Interfaces) != 2 {
		t.Fatalf("status has no observe section for two interfaces: %+v", st.Observe)
	}
	for _, i := range st.Observe.Interfaces {
		if i.Rings != 2 || i.Packets == 0 || i.Err != "" {
			t.Errorf("status: interface %+v: want 2 rings that received frames", i)
		}
	}
	if st.Observe.RingDrops != 0 {
		t.Errorf("status: %d ring drops at a few packets per second", st.Observe.RingDrops)
	}
	if st.Verdicts.Drop != 0 || st.Verdicts.WouldDrop == 0 {
		t.Errorf("status verdicts %+v: want would-drops and no drop", st.Verdicts)
	}
	text := r.opsCLI(sock, 0, "status")
	if !strings.Contains(text, "tapa") || !strings.Contains(text, "RING DROPS") {
		t.Errorf("status text lacks the interfaces:\n%s", text)
	}

	// The inventory: the PLC with its MAC, serving the HMI's Modbus port.
	mac, err := exec.Command("ip", "-n", r.P.Host(plant.Control).NS, "-br", "link", "show", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	var inv assetsReply
	r.opsJSON(sock, &inv, "assets")
	found := false
	for _, a := range inv.Assets {
		if a.IP.String() != ctl {
			continue
		}
		found = true
		if len(a.MACs) != 1 || !strings.Contains(string(mac), a.MACs[0].Addr) {
			t.Errorf("PLC MACs %+v, want the one of `%s`", a.MACs, strings.TrimSpace(string(mac)))
		}
		served := false
		for _, s := range a.Serves {
			if s.Proto == "tcp" && s.Port == mbPort && len(s.Peers) == 1 && s.Peers[0].String() == hmi {
				served = true
			}
		}
		if !served {
			t.Errorf("PLC serves %+v, want tcp/%d to the HMI", a.Serves, mbPort)
		}
		want := assets.Identity{Source: "modbus-device-id", Unit: 1, Vendor: "Schneider Electric", ProductCode: "BMX P34 2020", Revision: "v3.1"}
		if len(a.Identity) != 1 || a.Identity[0] != want {
			t.Errorf("PLC identity %+v, want %+v", a.Identity, want)
		}
	}
	if !found {
		t.Errorf("no PLC in the inventory: %+v", inv.Assets)
	}

	// The live matrix, saved as a baseline: the Modbus session with its
	// health, and learn --diff reads it.
	base := filepath.Join(r.Dir, "baseline.json")
	if out := r.opsCLI(sock, 0, "baseline", "save", "-o", base); !strings.Contains(out, "saved to "+base) {
		t.Errorf("baseline save: %s", out)
	}
	f, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	m, err := learn.ReadBaseline(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var mb *learn.Service
	for _, s := range m.Services() {
		if s.Port == mbPort && s.Client.String() == hmi {
			mb = s
		}
	}
	if mb == nil || mb.Health == nil || mb.Health.Requests < 2*polls+1 || mb.Health.Replies < 2*polls+1 || mb.ToClient == 0 {
		t.Errorf("baseline's Modbus service: %+v", mb)
	}
	if code, out, errOut := evRun(t, runLearn, "--diff", base, base); code != 0 || !strings.Contains(out, "no service went missing or changed") {
		t.Errorf("learn --diff of the baseline with itself: exit %d\n%s%s", code, out, errOut)
	}

	// A draft from the live matrix, which check accepts.
	draft := filepath.Join(r.Dir, "draft.yaml")
	if code, out, errOut := evRun(t, runLearn, "--socket", sock, "-o", draft); code != 0 {
		t.Errorf("learn --socket: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := evRun(t, runCheck, "-c", draft); code != 0 {
		t.Errorf("check of the live draft: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(draft); !strings.Contains(string(b), fmt.Sprint(mbPort)) || !strings.Contains(string(b), ctl) {
		t.Errorf("the live draft lacks the HMI's Modbus service:\n%s", b)
	}

	d.Stop()
	for i, tp := range tapPorts {
		if got := r.txPackets(tp); got != tx[i] {
			t.Errorf("%s transmitted %d frames while observed", tp, got-tx[i])
		}
	}

	// A restart keeps the matrix: the Modbus service and its figures.
	d = r.Launch(args...)
	d.WaitTimeout(0, e2e.StartTimeout, "the matrix restored", func(l e2e.Line) bool {
		return l.Str("msg") == "live matrix restored" && l.Num("services") > 0
	})
	d.WaitStart()
	r.opsCLI(sock, 0, "baseline", "save", "-o", base)
	if m, err = learn.ReadBaselineFile(base); err != nil {
		t.Fatal(err)
	}
	restored := false
	for _, s := range m.Services() {
		if s.Port == mbPort && s.Client.String() == hmi && s.Health != nil && s.Health.Requests >= 2*polls+1 {
			restored = true
		}
	}
	if !restored {
		t.Errorf("after a restart the baseline lacks the HMI's Modbus service: %+v", m.Services())
	}
}

// TestE2EObserveFlood mirrors the bench's UDP 64-byte flood (plantpeer
// flood, HMI -> PLC across the bridge) to the sensor and checks that it
// accounts for every frame: what the kernel put in the rings was read,
// or is reported as a ring drop. It logs the rate and the drops; on this
// shared 2-core machine drops depend on the load, so they are reported,
// not forbidden.
func TestE2EObserveFlood(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("needs tc (iproute2) for the mirror")
	}
	r := newRig(t)
	r.buildTap()
	sock := r.Socket()
	// The policy's socket is an inline daemon's; the sensor gets its own.
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "monitor", FailOpen: true}.Render(t))
	d := r.Launch("observe", "-c", r.Path, "-i", strings.Join(tapPorts[:], ","), "--state", "", "--matrix-state", "", "--socket", sock)
	d.WaitStart()
	if d.Start.Str("control_socket") != sock {
		t.Errorf("start event: %s; want control_socket %s", d.Start.Raw, sock)
	}

	sup := r.P.Host(plant.Supervisory).NS
	dst := r.P.Host(plant.Control).IPv4.String() + ":" + fmt.Sprint(e2e.PLCUDP)
	out, err := plant.NSCmd(sup, r.Peer, "flood", "-addr", dst, "-size", "64", "-for", "3s").Output()
	if err != nil {
		t.Fatalf("flood: %v", err)
	}
	var fl struct {
		Sent uint64  `json:"sent"`
		PPS  float64 `json:"pps"`
	}
	if err := json.Unmarshal(out, &fl); err != nil {
		t.Fatalf("flood output %q: %v", out, err)
	}
	// The rings drain within their retire timeout and the merge's hold.
	var st statusReport
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.opsJSON(sock, &st, "status")
		var kernel uint64
		for _, i := range st.Observe.Interfaces {
			kernel += i.Packets
		}
		if st.Observe.Frames.Frames+st.Observe.RingDrops == kernel && kernel > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rings' kernel counters (%d) never matched frames read %d + ring drops %d", kernel,
				st.Observe.Frames.Frames, st.Observe.RingDrops)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sent := fl.Sent
	seen := st.Observe.Frames.IP
	t.Logf("flood: %d datagrams sent at %.0f/s; sensor: %d frames read (%d IP), %d ring drops, engine packets %d",
		sent, fl.PPS, st.Observe.Frames.Frames, seen, st.Observe.RingDrops, st.Verdicts.Packets)
	// Not asserted: tc mirred and the veth's backlog may lose copies before
	// they reach a ring under load; that loss is the mirror's, not the
	// sensor's, and a real TAP has its own.
	if seen+st.Observe.RingDrops < sent {
		t.Logf("%d datagrams never reached the rings (lost by the mirror)", sent-seen-st.Observe.RingDrops)
	}
	if st.Verdicts.Packets != seen {
		t.Errorf("engine judged %d packets of %d IP frames read", st.Verdicts.Packets, seen)
	}
}
