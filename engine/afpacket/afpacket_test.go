package afpacket

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine/afpacket/afpackettest"
	"github.com/conduit-ot/conduit/internal/plant"
	"golang.org/x/sys/unix"
)

// veth makes a namespace with a veth pair: tap (observed) and peer (where
// the test sends). IPv6 is off on both, so the kernel sends nothing of its
// own on them.
func veth(t *testing.T) string {
	t.Helper()
	if why := plant.Available(); why != "" {
		t.Skip(why)
	}
	ns := plant.UniquePrefix("afp")
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, c := range [][]string{
		{"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "add", "tap", "type", "veth", "peer", "name", "peer"},
		{"ip", "link", "set", "tap", "arp", "off", "up"},
		{"ip", "link", "set", "peer", "arp", "off", "up"},
	} {
		sh(t, append([]string{"ip", "netns", "exec", ns}, c...)...)
	}
	return ns
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// txPackets is the interface's transmit counter in ns.
func txPackets(t *testing.T, ns, iface string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "-s", "link", "show", iface).Output()
	if err != nil {
		t.Fatalf("ip -s link: %v", err)
	}
	var l []struct {
		Stats64 struct {
			TX struct {
				Packets uint64 `json:"packets"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &l); err != nil || len(l) != 1 {
		t.Fatalf("ip -s link: %v: %s", err, out)
	}
	return l[0].Stats64.TX.Packets
}

// frame is an Ethernet frame with an IPv4/UDP packet whose source port is sport.
func frame(sport uint16) []byte {
	return afpackettest.UDPFrame([6]byte{0x00, 0x80, 0xf4, 0, 0, 2}, [4]byte{10, 20, 0, 10}, [4]byte{10, 10, 0, 10}, sport, 502, 4)
}

// open opens a ring socket with cfg in ns, closed at the test's end.
func open(t *testing.T, ns string, cfg Config) *Socket {
	t.Helper()
	var s *Socket
	if err := plant.Do(ns, func() (err error) { s, err = Open(cfg); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sender opens the test's sender socket in ns, closed at the test's end,
// and returns it with the interface index of each of peers, where it sends.
func sender(t *testing.T, ns string, peers ...string) (tx int, index []int) {
	t.Helper()
	err := plant.Do(ns, func() (err error) {
		for _, name := range peers {
			ifc, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			index = append(index, ifc.Index)
		}
		tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(tx) })
	return tx, index
}

func TestRingReceivesAndNeverTransmits(t *testing.T) {
	ns := veth(t)
	s := open(t, ns, Config{Iface: "tap", BlockSize: 1 << 16, Blocks: 4, RetireMS: 2})
	tx, peer := sender(t, ns, "peer")
	txBefore := txPackets(t, ns, "tap")

	const n = 300 // more than one 64 KiB block holds
	for i := range n {
		sa := &unix.SockaddrLinklayer{Ifindex: peer[0], Halen: 6}
		if err := unix.Sendto(tx, frame(uint16(1000+i)), 0, sa); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	seen := map[uint16]bool{}
	fds := make([]unix.PollFd, 1)
	deadline := time.Now().Add(10 * time.Second)
	var f Frame
	for len(seen) < n && time.Now().Before(deadline) {
		if err := Wait([]*Socket{s}, fds, 100); err != nil {
			t.Fatal(err)
		}
		if !s.Ready() {
			continue
		}
		for s.Next(&f) {
			if len(f.Data) != 46 || f.WireLen != 46 {
				t.Fatalf("frame of %d bytes (wire %d), want 46", len(f.Data), f.WireLen)
			}
			if f.Sec == 0 {
				t.Fatal("no receive time")
			}
			seen[binary.BigEndian.Uint16(f.Data[34:])] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("read %d distinct frames of %d", len(seen), n)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets < n || st.Drops != 0 {
		t.Errorf("stats %+v, want >= %d packets and no drops", st, n)
	}
	if d := txPackets(t, ns, "tap") - txBefore; d != 0 {
		t.Errorf("the observed interface transmitted %d frames", d)
	}
}

// TestRingDropsAreCounted fills a small ring without reading it: the
// kernel's drops show in Stats.
func TestRingDropsAreCounted(t *testing.T) {
	ns := veth(t)
	s := open(t, ns, Config{Iface: "tap", BlockSize: 4096, Blocks: 2, RetireMS: 1})
	tx, peer := sender(t, ns, "peer")
	for i := range 500 {
		unix.Sendto(tx, frame(uint16(i)), 0, &unix.SockaddrLinklayer{Ifindex: peer[0], Halen: 6})
	}
	time.Sleep(50 * time.Millisecond)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Drops == 0 || st.Packets < 500 {
		t.Errorf("stats %+v: want the ring's drops counted", st)
	}
}

// TestFanoutKeepsBothDirectionsTogether: two groups (two interfaces of a
// TAP) of two sockets each; a flow's two directions land on the same
// member index.
func TestFanoutKeepsBothDirectionsTogether(t *testing.T) {
	ns := veth(t)
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "add", "tap2", "type", "veth", "peer", "name", "peer2")
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "tap2", "arp", "off", "up")
	sh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "peer2", "arp", "off", "up")
	var socks [2][2]*Socket // [iface][member]
	for i, name := range []string{"tap", "tap2"} {
		g := &Group{}
		for m := range 2 {
			socks[i][m] = open(t, ns, Config{Iface: name, Fanout: g, BlockSize: 1 << 16, Blocks: 4, RetireMS: 2})
		}
	}
	tx, peers := sender(t, ns, "peer", "peer2")
	const flows = 64
	for i := range flows {
		req := frame(uint16(2000 + i))
		// The reply: addresses and ports swapped, sent on the other side.
		rep := frame(502)
		copy(rep[26:30], []byte{10, 10, 0, 10})
		copy(rep[30:34], []byte{10, 20, 0, 10})
		binary.BigEndian.PutUint16(rep[36:], uint16(2000+i))
		unix.Sendto(tx, req, 0, &unix.SockaddrLinklayer{Ifindex: peers[0], Halen: 6})
		unix.Sendto(tx, rep, 0, &unix.SockaddrLinklayer{Ifindex: peers[1], Halen: 6})
	}
	// member[i] of flow client port
	got := [2]map[uint16]int{{}, {}}
	deadline := time.Now().Add(10 * time.Second)
	var f Frame
	for (len(got[0]) < flows || len(got[1]) < flows) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		for i := range 2 {
			for m, s := range socks[i] {
				if !s.Ready() {
					continue
				}
				for s.Next(&f) {
					sp, dp := binary.BigEndian.Uint16(f.Data[34:]), binary.BigEndian.Uint16(f.Data[36:])
					client := sp
					if sp == 502 {
						client = dp
					}
					got[i][client] = m
				}
			}
		}
	}
	if len(got[0]) < flows || len(got[1]) < flows {
		t.Fatalf("read %d and %d flows of %d", len(got[0]), len(got[1]), flows)
	}
	members := map[int]bool{}
	for c, m := range got[0] {
		members[m] = true
		if got[1][c] != m {
			t.Errorf("flow %d: request on member %d, reply on member %d", c, m, got[1][c])
		}
	}
	if len(members) != 2 {
		t.Errorf("fanout used members %v of 2", members)
	}
}
