package main

// End-to-end tests of orientation and odd packets on the netns plant: a
// session whose server speaks first after conduit started, under an
// enforce conduit, and packets no well-behaved stack sends, built by hand
// and sent from a raw socket in a zone host, watched for on the receiving
// host's interface with a packet socket (it sees them before that host's
// own IP layer, which would discard some).

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// --- raw packets ------------------------------------------------------

// rawPkt is an IPv4 TCP packet to build.
type rawPkt struct {
	src, dst     netip.Addr
	id           uint16 // IP identification: how the sniffer recognises it
	ipOpts       []byte // a multiple of 4 bytes
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	tcpOpts      []byte // a multiple of 4 bytes
	data         []byte
}

func (p rawPkt) bytes() []byte {
	ihl, thl := 20+len(p.ipOpts), 20+len(p.tcpOpts)
	b := make([]byte, ihl+thl+len(p.data))
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], p.id)
	b[8], b[9] = 64, 6
	s, d := p.src.As4(), p.dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], p.ipOpts)
	t := b[ihl:]
	binary.BigEndian.PutUint16(t[0:], p.sport)
	binary.BigEndian.PutUint16(t[2:], p.dport)
	binary.BigEndian.PutUint32(t[4:], p.seq)
	binary.BigEndian.PutUint32(t[8:], p.ack)
	t[12], t[13] = byte(thl/4)<<4, p.flags
	binary.BigEndian.PutUint16(t[14:], 65535)
	copy(t[20:], p.tcpOpts)
	copy(t[thl:], p.data)
	// The TCP checksum over the pseudo-header; the kernel fills the IP one.
	sum := uint32(0)
	add := func(x []byte) {
		for i := 0; i+1 < len(x); i += 2 {
			sum += uint32(x[i])<<8 | uint32(x[i+1])
		}
		if len(x)%2 == 1 {
			sum += uint32(x[len(x)-1]) << 8
		}
	}
	add(b[12:20])
	sum += 6 + uint32(len(t))
	add(t)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(t[16:], ^uint16(sum))
	return b
}

// sendRaw sends each packet as built (IP_HDRINCL) from namespace ns.
func (r *rig) sendRaw(ns string, pkts ...rawPkt) {
	r.T.Helper()
	err := r.P.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		for _, p := range pkts {
			if err := unix.Sendto(fd, p.bytes(), 0, &unix.SockaddrInet4{Addr: p.dst.As4()}); err != nil {
				return fmt.Errorf("send packet id %d: %w", p.id, err)
			}
		}
		return nil
	})
	if err != nil {
		r.T.Fatal(err)
	}
}

// sniffer records the IPv4 packets a zone host's eth0 receives.
type sniffer struct {
	fd   int
	stop atomic.Bool
	mu   sync.Mutex
	got  [][]byte
	done chan struct{}
}

func (r *rig) sniff(ns string) *sniffer {
	r.T.Helper()
	s := &sniffer{done: make(chan struct{})}
	proto := uint16(unix.ETH_P_IP<<8&0xff00 | unix.ETH_P_IP>>8) // network byte order
	err := r.P.Do(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(proto)); err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		tv := unix.Timeval{Usec: 100_000}
		if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index})
	})
	if err != nil {
		r.T.Fatal(err)
	}
	go func() {
		defer close(s.done)
		buf := make([]byte, 65536)
		for !s.stop.Load() {
			n, from, err := unix.Recvfrom(s.fd, buf, 0)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue // the receive timeout: look at stop again
			}
			if err != nil {
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			s.mu.Lock()
			s.got = append(s.got, append([]byte(nil), buf[:n]...))
			s.mu.Unlock()
		}
	}()
	// Closed once the reader is done, so that it never reads a reused fd.
	r.T.Cleanup(func() { s.stop.Store(true); <-s.done; unix.Close(s.fd) })
	return s
}

// seen reports whether a packet from src with IP identification id arrived.
func (s *sniffer) seen(src netip.Addr, id uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := src.As4()
	for _, b := range s.got {
		if len(b) >= 20 && binary.BigEndian.Uint16(b[4:]) == id && [4]byte(b[12:16]) == a {
			return true
		}
	}
	return false
}

// --- odd packets ------------------------------------------------------

// TestE2EOddPackets sends, in enforce, packets to the PLC's allowed Modbus
// port (and from it) that no stack sends: each is dropped with its reason
// on its verdict line, while the unusual but legitimate ones beside them
// (IPv4 Router Alert, a Linux SYN's options, a SYN-ACK whose SYN conduit
// did not see, a mid-stream segment with SACK) still arrive.
func TestE2EOddPackets(t *testing.T) {
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true})
	hmiNS, plcNS := r.P.Host(plant.Supervisory).NS, r.P.Host(plant.Control).NS
	plc, hmi := r.P.Host(plant.Control).IPv4, r.P.Host(plant.Supervisory).IPv4
	atPLC, atHMI := r.sniff(plcNS), r.sniff(hmiNS)
	// Each packet has its own source address in its zone: conduit logs
	// malformed packets once per address pair per 10 s.
	sup := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 20, 0, 100 + i}) }
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}
	linuxSyn := []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	const syn, ack, fin, rst, psh, urg = 0x02, 0x10, 0x01, 0x04, 0x08, 0x20
	type tc struct {
		name   string
		ns     string // the sender
		at     *sniffer
		p      rawPkt
		reason string // "": must arrive
	}
	cases := []tc{
		{"ip option length 0", hmiNS, atPLC, rawPkt{ipOpts: []byte{7, 0, 0, 0}, flags: syn}, "bad-ip-option"},
		{"ip option length 40", hmiNS, atPLC, rawPkt{ipOpts: []byte{7, 40, 0, 0}, flags: syn}, "bad-ip-option"},
		{"tcp mss option length 0", hmiNS, atPLC, rawPkt{tcpOpts: []byte{2, 0, 0, 0}, flags: syn}, "bad-tcp-option"},
		{"syn+fin", hmiNS, atPLC, rawPkt{flags: syn | fin}, "bad-tcp-flags"},
		{"syn+rst", hmiNS, atPLC, rawPkt{flags: syn | rst}, "bad-tcp-flags"},
		{"null flags", hmiNS, atPLC, rawPkt{flags: 0}, "bad-tcp-flags"},
		{"fin+psh+urg", hmiNS, atPLC, rawPkt{flags: fin | psh | urg}, "bad-tcp-flags"},
		{"syn with data", hmiNS, atPLC, rawPkt{flags: syn, data: []byte("hello plc")}, "syn-payload"},
		{"syn-ack with data from the plc", plcNS, atHMI, rawPkt{flags: syn | ack, data: []byte("hello hmi")}, "syn-payload"},
		{"router alert and a linux syn", hmiNS, atPLC, rawPkt{ipOpts: []byte{0x94, 4, 0, 0}, tcpOpts: linuxSyn, flags: syn}, ""},
		{"mid-stream with timestamps and sack", hmiNS, atPLC, rawPkt{tcpOpts: append(append([]byte{}, ts...), 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2), flags: ack | psh, data: []byte("x")}, ""},
		{"syn-ack whose syn was not seen", plcNS, atHMI, rawPkt{tcpOpts: linuxSyn, flags: syn | ack}, ""},
	}
	for i := range cases {
		c := &cases[i]
		c.p.id = uint16(0x7100 + i)
		c.p.seq, c.p.ack = 1000, 0
		if c.p.flags&ack != 0 {
			c.p.ack = 2000
		}
		if c.ns == hmiNS {
			c.p.src, c.p.dst, c.p.sport, c.p.dport = sup(byte(i)), plc, uint16(43000+i), e2e.PLCTCP
		} else {
			c.p.src, c.p.dst, c.p.sport, c.p.dport = netip.AddrFrom4([4]byte{10, 10, 0, 100 + byte(i)}), hmi, e2e.PLCTCP, uint16(43000+i)
		}
		r.sendRaw(c.ns, c.p)
	}
	// The legitimate ones arrive within e2e.PassTimeout; by then the others
	// would have too.
	deadline := time.Now().Add(e2e.PassTimeout)
	for _, c := range cases {
		if c.reason != "" {
			continue
		}
		for !c.at.seen(c.p.src, c.p.id) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range cases {
		arrived := c.at.seen(c.p.src, c.p.id)
		switch {
		case c.reason == "" && !arrived:
			t.Errorf("%s: dropped, want it delivered (never break what is allowed)", c.name)
		case c.reason != "" && arrived:
			t.Errorf("%s: delivered, want it dropped in enforce (%s)", c.name, c.reason)
		}
		if c.reason == "" {
			continue
		}
		src, sport := c.p.src.String(), c.p.sport
		l, ok := d.Find(0, e2e.EventTimeout, func(l e2e.Line) bool {
			return l.Event() == "verdict" && l.Str("src") == src && l.Num("sport") == int(sport)
		})
		if !ok {
			t.Errorf("%s: no verdict line from %s:%d", c.name, src, sport)
			continue
		}
		for k, v := range map[string]string{"reason": c.reason, "verdict": "drop", "would": "drop", "mode": "enforce", "dport": fmt.Sprint(c.p.dport)} {
			if l.Str(k) != v {
				t.Errorf("%s: verdict line %s=%q, want %q: %s", c.name, k, l.Str(k), v, l.Raw)
			}
		}
	}
}

// --- server-first mid-stream sessions ----------------------------------

// midSession is a TCP session between the operations host and the PLC,
// opened in-process before conduit runs.
type midSession struct {
	client, server net.Conn
}

func (r *rig) midSession(port int) *midSession {
	r.T.Helper()
	plc := netip.AddrPortFrom(r.P.Host(plant.Control).IPv4, uint16(port))
	var ln net.Listener
	if err := r.P.Do(r.P.Host(plant.Control).NS, func() (err error) {
		ln, err = net.Listen("tcp4", plc.String())
		return err
	}); err != nil {
		r.T.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	s := &midSession{}
	if err := r.P.Do(r.P.Host(plant.Operations).NS, func() (err error) {
		s.client, err = net.DialTimeout("tcp4", plc.String(), e2e.PassTimeout)
		return err
	}); err != nil {
		r.T.Fatalf("dial the PLC's port %d: %v", port, err)
	}
	select {
	case s.server = <-accepted:
	case <-time.After(e2e.PassTimeout):
	}
	if s.server == nil {
		r.T.Fatalf("the PLC did not accept on port %d", port)
	}
	r.T.Cleanup(func() { s.client.Close(); s.server.Close() })
	return s
}

// send writes msg on from and reports whether to read it within timeout.
func send(from, to net.Conn, msg string, timeout time.Duration) bool {
	if _, err := io.WriteString(from, msg); err != nil {
		return false
	}
	_ = to.SetReadDeadline(time.Now().Add(timeout))
	got := make([]byte, len(msg))
	_, err := io.ReadFull(to, got)
	return err == nil && string(got) == msg
}

// TestE2EMidStreamServerFirst reproduces the issue: the global mode
// monitors, operations -> control is enforced, and a session on a port no
// rule allows runs when conduit starts. The PLC speaks first: its packet
// is dropped (the stricter of the two orientations' modes), and so are the
// client's requests after it — with pickup on and off. A session the
// policy allows, met the same way, is picked up and carries on.
func TestE2EMidStreamServerFirst(t *testing.T) {
	for _, pickup := range []bool{true, false} {
		t.Run(fmt.Sprintf("pickup %v", pickup), func(t *testing.T) {
			r := newRig(t)
			denied, allowed := r.midSession(20000), r.midSession(20001)
			for _, s := range []*midSession{denied, allowed} {
				if !send(s.client, s.server, "hello\n", e2e.PassTimeout) || !send(s.server, s.client, "hello\n", e2e.PassTimeout) {
					t.Fatal("without conduit the session does not run")
				}
			}
			conduits := "\n  - {from: operations, to: control, mode: enforce}"
			extra := "\n  - {name: ops-polls-plc-20001, from: operations, to: control, proto: tcp, dport: 20001}"
			text := e2e.Policy{Mode: "monitor", FailOpen: true, Conduits: conduits, Extra: extra}.Render(t)
			if !pickup {
				text += "conntrack: {pickup: false}\n"
			}
			e2e.WriteFile(t, r.Path, text)
			d := r.StartDaemon("")

			if send(denied.server, denied.client, "keepalive\n", e2e.BlockTimeout) {
				t.Error("the PLC's packet of a session no rule allows passed the enforce conduit's reverse")
			}
			if send(denied.client, denied.server, "request\n", e2e.BlockTimeout) {
				t.Error("the operations client's request reached the PLC through the enforce conduit")
			}
			ops, plc := r.P.Host(plant.Operations).IPv4.String(), r.P.Host(plant.Control).IPv4.String()
			l, ok := d.Find(0, e2e.EventTimeout, func(l e2e.Line) bool {
				return l.Event() == "verdict" && l.Num("dport") == 20000 && l.Str("src") == ops
			})
			if !ok {
				t.Fatal("no verdict line for the session on port 20000")
			}
			want := map[string]string{"verdict": "drop", "mode": "enforce", "rule": "default", "dst": plc,
				"from_zone": "operations", "to_zone": "control", "reason": "pickup-denied", "reverse_mode": "monitor", "reply": "true"}
			if !pickup {
				want["reason"] = "no-flow"
			}
			for k, v := range want {
				if l.Str(k) != v {
					t.Errorf("verdict line %s=%q, want %q: %s", k, l.Str(k), v, l.Raw)
				}
			}
			if !pickup {
				return // an allowed session met mid-stream is not adopted with pickup off
			}
			// Promise 1: the allowed session is picked up from its server's side.
			if !send(allowed.server, allowed.client, "keepalive\n", e2e.PassTimeout) || !send(allowed.client, allowed.server, "request\n", e2e.PassTimeout) ||
				!send(allowed.server, allowed.client, "reply\n", e2e.PassTimeout) {
				t.Error("the allowed session broke when conduit met it mid-stream")
			}
			l = d.Wait(0, "the allowed session's pickup", func(l e2e.Line) bool {
				return l.Event() == "verdict" && l.Num("dport") == 20001
			})
			for k, v := range map[string]string{"verdict": "accept", "reason": "pickup", "rule": "ops-polls-plc-20001", "mode": "enforce", "src": ops, "reply": "true"} {
				if l.Str(k) != v {
					t.Errorf("allowed session's verdict line %s=%q, want %q: %s", k, l.Str(k), v, l.Raw)
				}
			}
		})
	}
}

// TestE2ESeedKeepsDeniedSessionDenied: sessions that start while conduit
// is down (killed: the table stays and fail-open passes traffic, with the
// kernel tracking connections) are taken over from the kernel's table at
// the next start, pickup off. The one the policy allows is seeded and runs
// on; the one it denies is not, and stays denied whichever side speaks
// first.
func TestE2ESeedKeepsDeniedSessionDenied(t *testing.T) {
	r := newRig(t)
	conduits := "\n  - {from: operations, to: control, mode: enforce}"
	extra := "\n  - {name: ops-polls-plc-20001, from: operations, to: control, proto: tcp, dport: 20001}"
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "monitor", FailOpen: true, Conduits: conduits, Extra: extra}.Render(t)+"conntrack: {pickup: false}\n")
	d1 := r.StartDaemon("")
	r.KillKeepingTable(d1)
	// The kernel pre-filter would drop the denied session's SYN even with
	// conduit down; the test needs it running in the kernel's table.
	r.DivertTables()
	denied, allowed := r.midSession(20000), r.midSession(20001)
	for _, s := range []*midSession{denied, allowed} {
		if !send(s.client, s.server, "hello\n", e2e.PassTimeout) || !send(s.server, s.client, "hello\n", e2e.PassTimeout) {
			t.Fatal("while conduit is down (fail-open) the session does not run")
		}
	}
	d2 := r.StartDaemon("")
	seed := d2.Wait(0, "the seed event", func(l e2e.Line) bool { return l.Event() == "seed" })
	if seed.Num("seeded") < 1 || seed.Num("denied") < 1 {
		t.Errorf("seed event: %s; want the allowed session seeded and the denied one not", seed.Raw)
	}
	if send(denied.server, denied.client, "keepalive\n", e2e.BlockTimeout) {
		t.Error("the PLC's packet of the denied session passed after the restart")
	}
	if send(denied.client, denied.server, "request\n", e2e.BlockTimeout) {
		t.Error("the client's request of the denied session reached the PLC after the restart")
	}
	if !send(allowed.server, allowed.client, "keepalive\n", e2e.PassTimeout) || !send(allowed.client, allowed.server, "request\n", e2e.PassTimeout) {
		t.Error("the seeded allowed session broke after the restart")
	}
}
