// Package synth generates a realistic capture of a small plant's OT
// traffic, for replay benchmarks and tests: Modbus/TCP polling with real
// MBAP framing, DNP3 with link-layer CRCs and unsolicited responses, S7comm
// over COTP, EtherNet/IP explicit messaging, a historian feed, NTP, DNS,
// ICMP echo and ARP, on a tapped trunk where the control network carries
// an 802.1Q tag. Some sessions start before the capture (no handshake),
// and some fall silent for long periods, as engineering sessions and
// maintenance pauses do.
//
// The plant (addresses are stable, so policies can be written for it):
//
//	10.30.0.0/24 operations   historian .10 (TCP 5450), DNS .5, NTP .6
//	10.20.0.0/24 supervisory  SCADA .10, HMIs .11-.14, engineering workstation .33
//	10.10.0.0/24 control      Modbus PLCs .10-.29, DNP3 RTUs .40-.43,
//	                          S7 PLCs .50-.52, EtherNet/IP PLCs .60-.63 (VLAN 10)
//
// Long gaps: the engineering workstation's S7 session to 10.10.0.50 idles
// for 2h30m after its first burst (starting at 5 min); HMI .14's Modbus
// session to PLC .29 pauses for 50 minutes at 20 min.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/proto/dnp3/dnp3test"
	"github.com/conduit-ot/conduit/proto/enip/eniptest"
	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
	"github.com/conduit-ot/conduit/proto/s7/s7test"
)

// Config sizes a generated capture. At least one of Packets and Duration
// must be set; generation stops at whichever comes first.
type Config struct {
	Start    time.Time     // capture start; default 2024-03-04 06:00 UTC
	Seed     uint64        // same seed, same capture
	Packets  int           // frames to write (0: no limit)
	Duration time.Duration // capture length (0: no limit)
	// PollScale multiplies every polling interval (default 1): 60 turns a
	// one-second poll into a one-minute poll, for small captures that
	// still span hours. Long gaps are not scaled.
	PollScale float64
}

// Stats describe a generated capture.
type Stats struct {
	Frames, IP  int
	First, Last time.Time
}

// Fixed gaps of the plant, for tests that look for them.
const (
	EWSGap         = 2*time.Hour + 30*time.Minute // S7 10.20.0.33 -> 10.10.0.50:102
	EWSGapStart    = 5 * time.Minute              // first burst starts here
	ModbusPause    = 50 * time.Minute             // Modbus 10.20.0.14 -> 10.10.0.29:502
	ModbusPauseAt  = 20 * time.Minute
	DefaultRatePPS = 83 // approximate frames per second at PollScale 1
)

// Write generates a capture into w as pcap (Ethernet, ns timestamps).
func Write(w io.Writer, cfg Config) (Stats, error) {
	if cfg.Packets <= 0 && cfg.Duration <= 0 {
		return Stats{}, fmt.Errorf("synth: set Packets or Duration")
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2024, 3, 4, 6, 0, 0, 0, time.UTC)
	}
	if cfg.PollScale <= 0 {
		cfg.PollScale = 1
	}
	out, err := capture.NewWriter(w, capture.LinkEthernet)
	if err != nil {
		return Stats{}, err
	}
	g := &gen{cfg: cfg, rng: rng{s: cfg.Seed}, out: out, start: cfg.Start.UnixNano()}
	if cfg.Duration > 0 {
		g.end = g.start + int64(cfg.Duration)
	}
	buildPlant(g)
	g.run()
	if g.err != nil {
		return g.stats, g.err
	}
	return g.stats, out.Flush()
}

// WriteFile generates a capture into the file at path, as Write does.
func WriteFile(path string, cfg Config) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	w := bufio.NewWriter(f)
	st, err := Write(w, cfg)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("synth: %s: %w", path, err)
	}
	return st, nil
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func hostsIn(prefix string, from, to int, vlan uint16) []*host {
	var hs []*host
	for i := from; i <= to; i++ {
		hs = append(hs, &host{addr: addr(fmt.Sprintf("%s.%d", prefix, i)), vlan: vlan})
	}
	return hs
}

// buildPlant schedules every activity of the plant.
func buildPlant(g *gen) {
	const controlVLAN = 10
	historian := &host{addr: addr("10.30.0.10")}
	dns := &host{addr: addr("10.30.0.5")}
	ntp := &host{addr: addr("10.30.0.6")}
	scada := &host{addr: addr("10.20.0.10")}
	hmis := hostsIn("10.20.0", 11, 14, 0)
	ews := &host{addr: addr("10.20.0.33")}
	modbusPLCs := hostsIn("10.10.0", 10, 29, controlVLAN)
	rtus := hostsIn("10.10.0", 40, 43, controlVLAN)
	s7PLCs := hostsIn("10.10.0", 50, 52, controlVLAN)
	enipPLCs := hostsIn("10.10.0", 60, 63, controlVLAN)

	// Modbus/TCP: each HMI polls five PLCs every second; half the sessions
	// predate the capture.
	for i, hmi := range hmis {
		for j := range 5 {
			plc := modbusPLCs[i*5+j]
			unit := uint8(1 + j%3)
			p := &poller{conn: newConn(g, hmi, plc, 502), every: time.Second, midway: (i+j)%2 == 0,
				poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
					var req, resp []byte
					tid := uint16(n)
					switch n % 3 {
					case 0:
						req, resp = modbustest.Read(tid, unit, 3, 0, 10, byte(n))
					case 1:
						req, resp = modbustest.Read(tid, unit, 1, 0, 16, byte(n))
					default:
						req, resp = modbustest.Read(tid, unit, 4, 100, 4, byte(n))
					}
					return k.exchange(g, t, req, resp)
				}}
			if hmi == hmis[3] && plc == modbusPLCs[19] {
				p.pauses = []pause{{after: ModbusPauseAt, length: ModbusPause}}
			}
			g.every(time.Duration(g.ms(0, 1000)), p.run)
		}
	}
	// The SCADA server writes setpoints to two PLCs every 30 seconds.
	for _, plc := range modbusPLCs[:2] {
		p := &poller{conn: newConn(g, scada, plc, 502), every: 30 * time.Second,
			poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
				req, resp := modbustest.WriteRegister(uint16(n), 1, 40, uint16(n*3))
				return k.exchange(g, t, req, resp)
			}}
		g.every(time.Duration(g.ms(0, 3000)), p.run)
	}

	// DNP3: the SCADA master polls class 0 every 5 s; each outstation
	// reports by exception once a minute and the master confirms.
	for i, rtu := range rtus {
		outstation := uint16(10 + i)
		k := newConn(g, scada, rtu, 20000)
		var seq uint8
		p := &poller{conn: k, every: 5 * time.Second, midway: i == 0,
			poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
				seq++
				req := dnp3test.Frame(dnp3test.MasterData, outstation, 1, dnp3test.Request(seq, 1, dnp3test.Class0))
				objs := append(dnp3test.Analogs(4, uint16(n)), dnp3test.Binaries(8, uint8(n))...)
				resp := dnp3test.Frame(dnp3test.OutstationData, 1, outstation, dnp3test.Response(seq, 129, false, objs))
				return k.exchange(g, t, req, resp)
			}}
		g.every(time.Duration(g.ms(0, 5000)), p.run)
		var useq uint8
		g.every(30*time.Second+time.Duration(g.ms(0, 30000)), func(g *gen, now int64) int64 {
			if !p.opened {
				return now + g.jitter(time.Minute, 0.1)
			}
			useq++
			unsol := dnp3test.Frame(dnp3test.OutstationData, 1, outstation, dnp3test.Response(useq, 130, true, dnp3test.Binaries(8, useq)))
			confirm := dnp3test.Frame(dnp3test.MasterData, outstation, 1, dnp3test.Request(useq, 0, nil))
			k.serverPush(g, now, unsol, confirm)
			return now + g.jitter(time.Minute, 0.1)
		})
	}

	// S7comm: the SCADA server reads a data block of two PLCs every second.
	for i, plc := range s7PLCs[1:] {
		db := uint16(10 + i)
		p := &poller{conn: newConn(g, scada, plc, 102), every: time.Second, midway: i == 0,
			setup: s7Open,
			poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
				req, resp := s7test.ReadDB(uint16(n), db, 0, 32, byte(n))
				return k.exchange(g, t, req, resp)
			}}
		g.every(time.Duration(g.ms(0, 1000)), p.run)
	}
	// The engineering workstation connects to PLC .50, works for a while,
	// leaves the session open and idle, and comes back.
	ewsConn := newConn(g, ews, s7PLCs[0], 102)
	burst := 0
	opened := false
	g.every(EWSGapStart, func(g *gen, now int64) int64 {
		t := now
		if !opened {
			opened = true
			t = s7Open(g, ewsConn, ewsConn.open(g, now)+g.ms(1, 5))
		}
		n := burst % 40
		var req, resp []byte
		if n%10 == 9 {
			req, resp = s7test.WriteDB(uint16(burst), 1, uint32(n*4), 4)
		} else {
			req, resp = s7test.ReadDB(uint16(burst), 1, uint32(n*4), 64, byte(n))
		}
		t = ewsConn.exchange(g, t+g.ms(1, 5), req, resp)
		burst++
		if burst%40 == 0 {
			return now + int64(EWSGap)
		}
		return t + g.ms(300, 700)
	})

	// EtherNet/IP explicit messaging: two HMIs read attributes every second.
	for i, plc := range enipPLCs {
		hmi := hmis[i/2]
		session := uint32(0x1000 + i)
		p := &poller{conn: newConn(g, hmi, plc, 44818), every: time.Second,
			setup: func(g *gen, k *tcpConn, t int64) int64 {
				req, resp := eniptest.Register(session, uint64(i))
				return k.exchange(g, t, req, resp)
			},
			poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
				creq, cresp := eniptest.GetAttr(0x04, 100, 3, uint32(n))
				return k.exchange(g, t, eniptest.RR(session, uint64(n), creq), eniptest.RR(session, uint64(n), cresp))
			}}
		g.every(time.Duration(g.ms(0, 1000)), p.run)
	}

	// The SCADA server pushes to the historian every 5 seconds.
	hist := &poller{conn: newConn(g, scada, historian, 5450), every: 5 * time.Second, midway: true,
		poll: func(g *gen, k *tcpConn, t int64, n int) int64 {
			data := make([]byte, 180+n%40)
			for i := range data {
				data[i] = byte(n + i)
			}
			return k.clientPush(g, t, data)
		}}
	g.every(time.Duration(g.ms(0, 5000)), hist.run)

	// NTP: controllers sync from the SCADA server, which syncs (as do the
	// HMIs and the workstation) from the site server; symmetric port 123.
	var controllers []*host
	for _, hs := range [][]*host{modbusPLCs, rtus, s7PLCs, enipPLCs} {
		controllers = append(controllers, hs...)
	}
	ntpPair := func(client, server *host, every time.Duration) {
		g.every(time.Duration(g.ms(0, 64000)), func(g *gen, now int64) int64 {
			ts := uint64(now/1e9+2208988800) << 32
			g.emit(now, udpFrame(client.spec(server), 123, 123, ntpPacket(3, 0, ts)))
			g.emit(now+g.ms(0.3, 3), udpFrame(server.spec(client), 123, 123, ntpPacket(4, 3, ts)))
			return now + g.jitter(every, 0.02)
		})
	}
	for _, c := range controllers {
		ntpPair(c, scada, 64*time.Second)
	}
	for _, c := range append([]*host{scada, ews}, hmis...) {
		ntpPair(c, ntp, 128*time.Second)
	}

	// DNS: supervisory hosts resolve plant names, each query from a fresh port.
	names := []string{"historian.plant.local", "scada.plant.local", "ntp.plant.local", "wsus.plant.local"}
	for _, c := range append([]*host{scada, ews}, hmis...) {
		g.every(time.Duration(g.ms(0, 30000)), func(g *gen, now int64) int64 {
			id := uint16(g.rng.next())
			req, resp := dnsQuery(id, names[g.rng.intn(len(names))], [4]byte{10, 30, 0, 10})
			sport := uint16(49152 + g.rng.intn(16000))
			g.emit(now, udpFrame(c.spec(dns), sport, 53, req))
			g.emit(now+g.ms(0.3, 5), udpFrame(dns.spec(c), 53, sport, resp))
			return now + g.jitter(30*time.Second, 0.5)
		})
	}

	// ICMP: the SCADA server pings each Modbus PLC in turn every 2 seconds.
	var pingSeq uint16
	g.every(time.Duration(g.ms(0, 2000)), func(g *gen, now int64) int64 {
		plc := modbusPLCs[int(pingSeq)%len(modbusPLCs)]
		id := uint16(0x4000 + int(pingSeq)%len(modbusPLCs))
		payload := []byte("conduit-synth-ping-0123456789abc")
		seq := pingSeq / uint16(len(modbusPLCs))
		g.emit(now, icmpEcho(scada.spec(plc), 8, id, seq, payload))
		g.emit(now+g.ms(0.2, 2), icmpEcho(plc.spec(scada), 0, id, seq, payload))
		pingSeq++
		return now + g.jitter(2*time.Second, 0.1)
	})

	// ARP: not IP; replay skips it, as the IP hooks never see it.
	g.every(time.Duration(g.ms(0, 30000)), func(g *gen, now int64) int64 {
		g.emit(now, arpRequest(scada.addr, modbusPLCs[g.rng.intn(len(modbusPLCs))].addr))
		return now + g.jitter(30*time.Second, 0.5)
	})
}

// s7Open is the COTP connection and S7 setup after the TCP handshake.
func s7Open(g *gen, k *tcpConn, t int64) int64 {
	t = k.exchange(g, t, s7test.ConnectRequest(1), s7test.ConnectConfirm(1, 0x44))
	req, resp := s7test.Setup(0)
	return k.exchange(g, t+g.ms(0.5, 2), req, resp)
}
