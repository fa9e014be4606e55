package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/rules"
	"golang.org/x/sys/unix"
)

// TestE2ESpoofedSource: the zones are bound to their bridge ports, and the
// supervisory zone to the HMI's MAC too. A host in the enterprise zone
// forges the HMI's source address (a raw Ethernet frame from its own port,
// carrying a datagram the policy allows the HMI to send). In enforce the
// frame never reaches the PLC, and the verdict line says spoofed-source and
// names the port it came in on; in monitor it passes, flagged as would
// drop. The HMI's genuine traffic, from its own port and MAC, passes in
// both, and its verdict lines name its port.
func TestE2ESpoofedSource(t *testing.T) {
	for _, mode := range []string{"enforce", "monitor"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t)
			sock := r.Socket()
			hmiMAC := linkMAC(t, r.P.Host(plant.Supervisory).NS)
			y := e2e.Policy{Mode: mode, FailOpen: true, Socket: sock}.Render(t)
			for zone, bind := range map[string]string{
				"enterprise":  "ports: [vent]",
				"operations":  "ports: [vops]",
				"supervisory": fmt.Sprintf("ports: [vsup], macs: [%q]", hmiMAC),
				"control":     "ports: [vctl]",
			} {
				i := strings.Index(y, "  "+zone+":")
				j := i + strings.Index(y[i:], "]}")
				if i < 0 || j < i {
					t.Fatalf("zone %s not in the policy", zone)
				}
				y = y[:j] + "], " + bind + "}" + y[j+2:]
			}
			e2e.WriteFile(t, r.Path, y)
			d := r.StartDaemon("")
			if l, found := d.Find(0, 0, func(l e2e.Line) bool { return l.Event() == "port_missing" }); found {
				t.Errorf("every bound port exists, but: %s", l.Raw)
			}

			// Genuine: the HMI from its own port and MAC.
			mark := d.Mark()
			for _, f := range []e2e.Flow{e2e.SupTCP, e2e.SupTCP6, e2e.SupICMP, e2e.SupUDP} {
				r.MustPass(f, "genuine HMI traffic")
			}
			d.ExpectVerdict(mark, e2e.SupUDP, map[string]string{"reason": "new-flow", "verdict": "accept", "in_port": "vsup"})

			// Forged: the HMI's address from the enterprise port.
			plc := r.P.Host(plant.Control)
			rx := openPacket(t, plc.NS)
			marker := []byte(fmt.Sprintf("conduit-spoof-%d", time.Now().UnixNano()))
			frame := forgedUDP(linkMAC(t, r.P.Host(plant.Enterprise).NS), linkMAC(t, plc.NS),
				r.P.Host(plant.Supervisory).IPv4.As4(), plc.IPv4.As4(), 33333, e2e.PLCUDP, marker)
			mark = d.Mark()
			tx := openPacket(t, r.P.Host(plant.Enterprise).NS)
			for range 5 {
				tx.send(t, frame)
				time.Sleep(50 * time.Millisecond)
			}
			arrived := rx.seen(marker, time.Second)
			switch {
			case mode == "enforce" && arrived:
				t.Error("enforce: the forged datagram reached the PLC")
			case mode == "monitor" && !arrived:
				t.Error("monitor: the forged datagram did not reach the PLC")
			}
			spoofed := func(l e2e.Line) bool { return l.Event() == "verdict" && l.Str("reason") == "spoofed-source" }
			l := d.Wait(mark, "a spoofed-source verdict", spoofed)
			want := map[string]string{"mode": mode, "verdict": "drop", "would": "drop", "in_port": "vent",
				"src": "10.20.0.10", "dst": "10.10.0.10", "proto": "udp", "from_zone": "supervisory",
				"to_zone": "control", "bound_zone": "supervisory"}
			if mode == "monitor" {
				want["verdict"] = "accept"
			}
			for k, v := range want {
				if l.Str(k) != v {
					t.Errorf("spoofed-source line: %s=%q, want %q: %s", k, l.Str(k), v, l.Raw)
				}
			}
			if !strings.Contains(l.Raw, `"expected_ports":["vsup"]`) {
				t.Errorf("spoofed-source line does not name the expected port: %s", l.Raw)
			}
			if n := len(d.Matching(mark, spoofed)); n != 1 {
				t.Errorf("%d spoofed-source lines for 5 forged frames from one port, want 1", n)
			}
			var st statusReport
			r.opsJSON(sock, &st, "status")
			if st.Verdicts.Spoofed != 5 {
				t.Errorf("status: spoofed %d, want 5", st.Verdicts.Spoofed)
			}

			// The HMI still gets through after the forgery.
			r.MustPass(e2e.SupTCP, "genuine HMI traffic after the forgery")
			r.MustPass(e2e.SupUDP, "genuine HMI traffic after the forgery")

			if mode == "enforce" {
				// A port renamed under its index: the binding's name no longer
				// names it, and the link event tells conduit at once.
				mark = d.Mark()
				cmd := exec.Command("ip", "-n", r.P.FW, "-batch", "-")
				cmd.Stdin = strings.NewReader("link set vent down\nlink set vent name ventx\nlink set ventx up\n")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("rename vent: %v: %s", err, out)
				}
				renamed := func(l e2e.Line) bool { return spoofed(l) && l.Str("in_port") == "ventx" }
				badSum := forgedUDP(linkMAC(t, r.P.Host(plant.Enterprise).NS), linkMAC(t, plc.NS),
					r.P.Host(plant.Enterprise).IPv4.As4(), plc.IPv4.As4(), 33334, e2e.PLCUDP, marker)
				binary.BigEndian.PutUint16(badSum[14+20+6:], 0x0001) // the UDP checksum
				for deadline := time.Now().Add(e2e.EventTimeout); len(d.Matching(mark, renamed)) == 0; {
					if time.Now().After(deadline) {
						ls := d.Matching(mark, func(l e2e.Line) bool { return l.Str("src") == "10.40.0.10" })
						last := ""
						if len(ls) > 0 {
							last = ls[len(ls)-1].Raw
						}
						t.Fatalf("no spoofed-source line from the renamed port ventx in %d enterprise lines (last: %s)", len(ls), last)
					}
					// A datagram from the enterprise host's own address, with
					// a bad checksum: conntrack calls it invalid, so the
					// kernel pre-filter queues it for conduit to name (a
					// denied probe would be dropped in the kernel).
					tx.send(t, badSum)
					time.Sleep(200 * time.Millisecond)
				}
			}

			// A reload that names a port this box does not have says so.
			mark = d.Mark()
			e2e.WriteFile(t, r.Path, strings.Replace(y, "ports: [vsup]", "ports: [vsup0]", 1))
			l = d.Wait(mark, "a port_missing warning", func(l e2e.Line) bool { return l.Event() == "port_missing" && l.Str("port") == "vsup0" })
			if !strings.Contains(l.Raw, `"zones":["supervisory"]`) {
				t.Errorf("port_missing: %s", l.Raw)
			}
		})
	}
}

// linkMAC is the MAC of eth0 in a zone host's namespace.
func linkMAC(t *testing.T, ns string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := plant.Do(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// packetSock is an AF_PACKET socket on eth0 of a zone host: it sends
// frames as they are and sees every frame the host receives.
type packetSock struct {
	fd      int
	ifindex int
}

func openPacket(t *testing.T, ns string) *packetSock {
	t.Helper()
	s := &packetSock{fd: -1}
	proto := int(htons(unix.ETH_P_ALL))
	err := plant.Do(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		s.ifindex = ifi.Index
		if s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			return err
		}
		return unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		t.Fatalf("packet socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *packetSock) send(t *testing.T, frame []byte) {
	t.Helper()
	to := &unix.SockaddrLinklayer{Ifindex: s.ifindex, Halen: 6}
	copy(to.Addr[:], frame[:6])
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		t.Fatalf("send frame: %v", err)
	}
}

// seen reports whether a frame holding marker arrives within d.
func (s *packetSock) seen(marker []byte, d time.Duration) bool {
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err == nil && bytes.Contains(buf[:n], marker) {
			return true
		}
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// forgedUDP is an Ethernet frame carrying an IPv4 UDP datagram with any
// source address (the UDP checksum is left 0: none, which IPv4 allows).
func forgedUDP(srcMAC, dstMAC net.HardwareAddr, src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:], dstMAC)
	copy(b[6:], srcMAC)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	return b
}

// TestE2ELearnPorts captures on the bridge ports with dumpcap (one pcapng,
// an interface per port, as an engineer would on the box) while the zone
// hosts talk to the PLC, and has `conduit learn` draft the policy: each
// zone gets the port its host is on.
func TestE2ELearnPorts(t *testing.T) {
	r := newRig(t)
	dumpcap, err := exec.LookPath("dumpcap")
	if err != nil {
		t.Skip("dumpcap (tshark) is not installed")
	}
	mergecap, err := exec.LookPath("mergecap")
	if err != nil {
		t.Skip("mergecap (tshark) is not installed")
	}
	// One dumpcap per port, each waited for until its socket is bound to
	// the port (dumpcap says "Capturing on" before it opens it, and a port
	// that opened late would miss its hosts' frames); then one pcapng with an
	// interface per port, as an engineer's `dumpcap -i eth1 -i eth2 …`
	// gives. Each forwarded frame is captured on the port it came in on and
	// again leaving by another, nanoseconds later: learn keeps the earlier
	// (learn/ingress.go). No "inbound" filter: on this kernel it loses most
	// frames (8 of 10 in a plain veth test).
	var caps []*e2e.Capture
	var files []string
	for _, port := range []string{"vent", "vops", "vsup", "vctl"} {
		files = append(files, filepath.Join(r.Dir, port+".pcapng"))
		caps = append(caps, r.StartCapture("Capturing on", dumpcap, "-q", "-i", port, "-w", files[len(files)-1]))
		r.CapturingOn(port)
	}
	for range 3 {
		for _, f := range []e2e.Flow{e2e.SupTCP, e2e.SupUDP, e2e.OpsTCP, e2e.EntICMP} {
			r.MustPass(f, "without conduit")
		}
	}
	time.Sleep(300 * time.Millisecond)
	for _, c := range caps {
		if err := c.Stop(); err != nil {
			t.Fatalf("dumpcap: %v", err)
		}
	}
	pcap := filepath.Join(r.Dir, "ports.pcapng")
	if out, err := exec.Command(mergecap, append([]string{"-w", pcap}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	draft := filepath.Join(r.Dir, "draft.yaml")
	if out, err := exec.Command(r.Conduit, "learn", "-o", draft, pcap).CombinedOutput(); err != nil {
		t.Fatalf("conduit learn: %v: %s", err, out)
	}
	pol, err := rules.Load(draft)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := os.ReadFile(draft)
	for zone, port := range map[string]string{"net-10-40-0": "vent", "net-10-30-0": "vops", "net-10-20-0": "vsup", "net-10-10-0": "vctl"} {
		id, ok := pol.ZoneByName(zone)
		if !ok || !slices.Equal(pol.Zones[id-1].Ports, []string{port}) {
			t.Errorf("zone %s: ports %v, want [%s]\n%s", zone, pol.Zones[max(int(id), 1)-1].Ports, port, y)
		}
	}
	if !strings.Contains(string(y), "came in on vsup") {
		t.Errorf("no evidence comment:\n%s", y)
	}
}
