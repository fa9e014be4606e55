package tap

import (
	"io"
	"log/slog"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/assets"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/afpacket"
	"github.com/conduit-ot/conduit/engine/afpacket/afpackettest"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/rules"
	"golang.org/x/sys/unix"
)

const benchPolicy = `
mode: enforce
zones:
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: hmi-io, from: supervisory, to: control, proto: udp, dport: 2222}
`

func benchEngine(tb testing.TB, workers int) *engine.Engine {
	tb.Helper()
	p, err := rules.Parse("bench.yaml", []byte(benchPolicy))
	if err != nil {
		tb.Fatal(err)
	}
	return engine.New(engine.Config{Store: inforce.NewStore(p.Passive()), Workers: workers,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), EventBuffer: 1024})
}

// udpFrame is an Ethernet frame with a 64-byte UDP datagram HMI -> PLC.
func udpFrame() []byte {
	return afpackettest.UDPFrame([6]byte{0x00, 0x00, 0xbc, 0, 0, 2}, [4]byte{10, 20, 0, 10}, [4]byte{10, 10, 0, 10}, 40000, 2222, 64)
}

// BenchmarkFrame is the sensor's per-frame path after the ring: the
// Ethernet header off, the engine's decision, the asset inventory, on an
// established flow.
func BenchmarkFrame(b *testing.B) {
	for _, c := range []struct {
		name    string
		onFrame func() func(int, int64, []byte, []byte)
	}{
		{"engine", func() func(int, int64, []byte, []byte) { return nil }},
		{"engine+assets", func() func(int, int64, []byte, []byte) { return assets.New(1).Frame }},
		{"engine+assets+matrix", func() func(int, int64, []byte, []byte) {
			inv, lv := assets.New(1), learn.NewLive(1)
			return func(i int, ts int64, frame, ip []byte) { inv.Frame(i, ts, frame, ip); lv.Packet(i, ts, ip) }
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			eng := benchEngine(b, 1)
			s := &Sensor{cfg: Config{Engine: eng, OnFrame: c.onFrame()}, counts: make([]frameCounters, 1)}
			f := afpacket.Frame{Data: udpFrame(), Sec: 1}
			w := eng.Worker(0)
			s.frame(w, &s.counts[0], 0, &f)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.frame(w, &s.counts[0], 0, &f)
			}
		})
	}
}

// BenchmarkRing reads frames the kernel put in a TPACKET_V3 ring (a veth
// in a namespace, filled before the timer starts) through the frame path:
// the sensor's cost per frame, ring included.
func BenchmarkRing(b *testing.B) {
	if why := plant.Available(); why != "" {
		b.Skip(why)
	}
	ns := plant.UniquePrefix("tapb")
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "-n", ns, "link", "add", "tap", "type", "veth", "peer", "name", "peer")
	run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	run("ip", "-n", ns, "link", "set", "tap", "arp", "off", "up")
	run("ip", "-n", ns, "link", "set", "peer", "arp", "off", "up")
	const chunk = 200_000 // frames per fill: what 64 MiB holds of these
	eng := benchEngine(b, 1)
	inv := assets.New(1)
	var sens *Sensor
	var tx int
	var peer *net.Interface
	err := plant.Do(ns, func() error {
		var err error
		sens, err = Open(Config{Ifaces: []string{"tap"}, Engine: eng, Workers: 1, OnFrame: inv.Frame, RingBytes: 64 << 20,
			// Blocks hand over when full, however slowly the sender fills them.
			RetireMS: 300})
		if err != nil {
			return err
		}
		if tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		peer, err = net.InterfaceByName("peer")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sens.Close()
	defer unix.Close(tx)
	frame := udpFrame()
	sa := &unix.SockaddrLinklayer{Ifindex: peer.Index, Halen: 6}
	m := newMerger(sens.socks[0])
	w := eng.Worker(0)
	c := &sens.counts[0]
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		b.StopTimer()
		for range n {
			unix.Sendto(tx, frame, 0, sa)
		}
		time.Sleep(400 * time.Millisecond) // the last block retires
		b.StartTimer()
		for got := 0; got < n; {
			f, ok := m.pop(0, 0, true)
			if !ok {
				if m.wait(50) != nil || !m.socks[0].Ready() {
					break // fewer frames than sent: counted below
				}
				continue
			}
			sens.frame(w, c, 0, f)
			got++
		}
		done += n
	}
	b.StopTimer()
	if st := sens.Stats(); st[0].Drops > 0 || c.ip.Load() < uint64(b.N) {
		b.Fatalf("read %d of %d frames, %d dropped by the kernel", c.ip.Load(), b.N, st[0].Drops)
	}
}
